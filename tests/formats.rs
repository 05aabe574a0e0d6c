//! The known-hard inputs of `shared/cases/local-formats.md`, end to end: the binary writes them,
//! and independent readers (dotenvy, python-dotenv, PyYAML, serde-saphyr, the toml crate,
//! tomllib) read back exactly the value written.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{Project, dotenv_value};
use hmac::{KeyInit, Mac};

/// A Python with python-dotenv and PyYAML: `SECRETZERO_TEST_PYTHON` (set by scripts/test), or a
/// virtual environment this test makes under target/ the first time.
fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(path) = std::env::var_os("SECRETZERO_TEST_PYTHON") {
            return PathBuf::from(path);
        }
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv");
        let python = venv.join("bin/python");
        let ready = |python: &PathBuf| {
            let check = "import yaml, importlib.metadata as m, sys; \
                         sys.exit(m.version('python-dotenv') != '1.2.2')";
            Command::new(python).args(["-c", check]).status().is_ok_and(|s| s.success())
        };
        if !ready(&python) {
            let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
            assert!(made.is_ok_and(|s| s.success()), "python3 -m venv failed");
            let pip = Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "python-dotenv==1.2.2", "PyYAML==6.0.2"])
                .status();
            assert!(pip.is_ok_and(|s| s.success()), "pip install of the readers failed");
        }
        assert!(ready(&python), "the Python readers are not importable");
        python
    })
}

/// Checks with the Python readers that `key` (and `field`) in `file` holds exactly `expected`.
fn python_reads(project: &Project, format: &str, file: &str, key: &str, expected: &str) {
    let checks = serde_json::json!([{
        "format": format,
        "file": project.path(file),
        "key": key,
        "expected_hex": hex::encode(expected.as_bytes()),
    }]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/readers/check_readers.py");
    let input = project.path("checks.json");
    std::fs::write(&input, checks.to_string()).unwrap();
    let output = Command::new(python()).arg(script).arg(&input).output().unwrap();
    assert!(
        output.status.success(),
        "python {format} reader disagrees on {key}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn secretfile(secrets: &[(&str, &str, &str, &str)]) -> String {
    // (name, static value as a YAML double-quoted scalar, path, key)
    let mut text = String::from("version: \"1.0\"\nsecrets:\n");
    for (name, value, path, key) in secrets {
        text.push_str(&format!(
            "  {name}:\n    generator: {{type: static, value: {value}}}\n    targets:\n      \
             - {{type: local-file, path: {path}, key: {key}}}\n"
        ));
    }
    text
}

fn sync(project: &Project) {
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn case_1_hash_spaces_and_empty_values() {
    let project = Project::new(&secretfile(&[
        ("db_password", "\"s3cr#t pa55\"", ".env", "DB_PASSWORD"),
        ("empty_one", "\"\"", ".env", "EMPTY_ONE"),
        ("plain", "\"Az09_./:@+=-\"", ".env", "PLAIN"),
    ]));
    sync(&project);
    assert_eq!(project.read(".env"), "DB_PASSWORD='s3cr#t pa55'\nEMPTY_ONE=\nPLAIN=Az09_./:@+=-\n");
    for (key, value) in
        [("DB_PASSWORD", "s3cr#t pa55"), ("EMPTY_ONE", ""), ("PLAIN", "Az09_./:@+=-")]
    {
        assert_eq!(dotenv_value(&project.path(".env"), key).as_deref(), Some(value));
        python_reads(&project, "dotenv", ".env", key, value);
    }
}

#[test]
fn case_2_dollar_signs_are_never_double_quoted() {
    let project =
        Project::new(&secretfile(&[("db_password", "\"pa$word1\"", ".env", "DB_PASSWORD")]));
    sync(&project);
    assert_eq!(project.read(".env"), "DB_PASSWORD='pa$word1'\n");
    assert_eq!(dotenv_value(&project.path(".env"), "DB_PASSWORD").as_deref(), Some("pa$word1"));
    python_reads(&project, "dotenv", ".env", "DB_PASSWORD", "pa$word1");
}

#[test]
fn case_3_quotes_inside_values() {
    let project = Project::new(&secretfile(&[
        ("greeting", "\"it's-s3cret\"", ".env", "GREETING"),
        ("quoted", "\"a\\\"b\"", ".env", "QUOTED"),
    ]));
    sync(&project);
    assert_eq!(project.read(".env"), "GREETING=\"it's-s3cret\"\nQUOTED='a\"b'\n");
    for (key, value) in [("GREETING", "it's-s3cret"), ("QUOTED", "a\"b")] {
        assert_eq!(dotenv_value(&project.path(".env"), key).as_deref(), Some(value));
        python_reads(&project, "dotenv", ".env", key, value);
    }
}

#[test]
fn case_4_multi_line_values_and_their_hash() {
    let pem = "-----BEGIN KEY-----\nMIIB\n-----END KEY-----";
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  tls_key:\n    generator: {type: script, command: printf, \
         args: [\"-----BEGIN KEY-----\\nMIIB\\n-----END KEY-----\\n\"]}\n    targets: \
         [{type: local-file, path: .env}]\n",
    );
    sync(&project);
    assert_eq!(
        project.read(".env"),
        "TLS_KEY=\"-----BEGIN KEY-----\\nMIIB\\n-----END KEY-----\"\n"
    );
    assert_eq!(dotenv_value(&project.path(".env"), "TLS_KEY").as_deref(), Some(pem));
    python_reads(&project, "dotenv", ".env", "TLS_KEY", pem);

    // The lockfile's hash is over the real newlines, computed as docs/lockfile.md describes.
    let lock = common::json(&project.path(".gitsecrets.lock"));
    let salt = hex::decode(lock["hash"]["salt"].as_str().unwrap()).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&salt).unwrap();
    for part in [&b"secretzero-lockfile-v2"[..], b"value", b"tls_key", b"value", pem.as_bytes()] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    let expected = format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(lock["secrets"]["tls_key"]["fields"]["value"], expected.as_str());
}

#[test]
fn case_5_merging_keeps_bom_crlf_export_comments_and_other_keys() {
    let project =
        Project::new(&secretfile(&[("db_password", "\"n3w-value\"", ".env", "DB_PASSWORD")]));
    let mut existing = vec![0xEF, 0xBB, 0xBF];
    existing.extend_from_slice(b"# hand edited\r\nexport DB_PASSWORD=old\r\nOTHER=1\r\n");
    project.write_bytes(".env", &existing);

    sync(&project);
    let mut expected = vec![0xEF, 0xBB, 0xBF];
    expected.extend_from_slice(b"# hand edited\r\nexport DB_PASSWORD=n3w-value\r\nOTHER=1\r\n");
    assert_eq!(project.read_bytes(".env"), expected);
    python_reads(&project, "dotenv", ".env", "DB_PASSWORD", "n3w-value");
}

#[test]
fn case_5_reading_a_crlf_value_drops_the_carriage_return() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  db_password:\n    generator: {type: random-string}\n    \
         targets:\n      - {type: local-file, path: .env}\n      - {type: local-file, path: \
         b.json}\n",
    );
    project
        .write_bytes(".env", b"\xEF\xBB\xBF# hand edited\r\nexport DB_PASSWORD=old\r\nOTHER=1\r\n");
    sync(&project);
    assert_eq!(common::json(&project.path("b.json"))["db_password"], "old");
}

#[test]
fn case_6_yaml_strings_stay_strings() {
    let project = Project::new(&secretfile(&[
        ("country", "\"NO\"", "app.yaml", "COUNTRY"),
        ("mode", "\"0755\"", "app.yaml", "MODE"),
        ("token", "\"@ocIdZ7Jq7jSiL6\\\"\"", "app.yaml", "TOKEN"),
    ]));
    sync(&project);
    assert_eq!(
        project.read("app.yaml"),
        "COUNTRY: 'NO'\nMODE: '0755'\nTOKEN: '@ocIdZ7Jq7jSiL6\"'\n"
    );
    let yaml12: std::collections::BTreeMap<String, String> =
        serde_saphyr::from_str(&project.read("app.yaml")).unwrap();
    for (key, value) in [("COUNTRY", "NO"), ("MODE", "0755"), ("TOKEN", "@ocIdZ7Jq7jSiL6\"")] {
        assert_eq!(yaml12[key], value);
        python_reads(&project, "yaml", "app.yaml", key, value);
    }
}

#[test]
fn case_7_toml_escaping() {
    let value = "a\"b\\c\nd\u{5}";
    let project =
        Project::new(&secretfile(&[("key", "\"a\\\"b\\\\c\\nd\\x05\"", "s.toml", "KEY")]));
    sync(&project);
    assert_eq!(project.read("s.toml"), "KEY = \"a\\\"b\\\\c\\nd\\u0005\"\n");
    let parsed: toml::Table = project.read("s.toml").parse().unwrap();
    assert_eq!(parsed["KEY"].as_str(), Some(value));
    python_reads(&project, "toml", "s.toml", "KEY", value);
}

#[test]
fn case_8_tfvars_template_sequences() {
    let project = Project::new(&secretfile(&[(
        "db_password",
        "\"p${x}%{y}\\\"\\\\\"",
        "prod.tfvars",
        "db_password",
    )]));
    sync(&project);
    assert_eq!(project.read("prod.tfvars"), "db_password = \"p$${x}%%{y}\\\"\\\\\"\n");
    // Read back through our own reader, which undoes exactly those escapes: a second sync finds
    // the value in place and changes nothing.
    let run = project.run(&["sync"]);
    assert!(run.stderr.contains("unchanged 1"), "{run:?}");
}

#[test]
fn a_value_no_dotenv_quoting_can_carry_is_refused_by_name() {
    let project = Project::new(&secretfile(&[
        ("bad", "\"it's $HOME\"", ".env", "BAD"),
        ("good", "\"fine\"", ".env", "GOOD"),
    ]));
    let run = project.run(&["sync", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "! skip      local-file:.env#BAD (the value of `bad` cannot be written to .env: "
        ),
        "{run:?}"
    );
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Failed to write bad to local-file:.env#BAD"), "{run:?}");
    assert!(!run.all_output().contains("it's $HOME"), "{run:?}");
    assert_eq!(project.read(".env"), "GOOD=fine\n");
    let lock = common::json(&project.path(".gitsecrets.lock"));
    assert!(lock["secrets"].get("bad").is_none(), "{lock}");
}
