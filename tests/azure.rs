//! The `azure-keyvault` target against an in-process double of Key Vault and of the identity
//! platform's token endpoint (`tests/common/keyvault_double.rs`, which names the documents it
//! follows), over HTTPS with the test certificates in `fixtures/tls/`.

#![cfg(feature = "azure")]

mod common;

#[path = "common/keyvault_double.rs"]
mod keyvault_double;

use common::{Project, Run, dotenv_value};
use keyvault_double::{CLIENT_ID, CLIENT_SECRET, KeyVaultDouble, TENANT, ca_file};
use serde_json::json;

fn secretfile(vault: &KeyVaultDouble, targets: &str) -> String {
    format!(
        r#"version: "1.0"
providers:
  azure:
    kind: azure
    auth: {{kind: service_principal, tenant_id: {TENANT}, client_id: {CLIENT_ID}}}
    # The double's host is not under the challenge's resource, as a real vault's is.
    config: {{vault_url: "{url}", authority_host: "{url}", verify_challenge_resource: "false"}}
secrets:
{targets}"#,
        url = vault.url
    )
}

fn run_with_secret(project: &Project, args: &[&str], secret: &str) -> Run {
    project.run_env(args, &[("SSL_CERT_FILE", &ca_file()), ("AZURE_CLIENT_SECRET", secret)])
}

fn run(project: &Project, args: &[&str]) -> Run {
    run_with_secret(project, args, CLIENT_SECRET)
}

const TARGETS: &str = r#"  api-key:
    generator: {type: random-string}
    targets:
      - {type: local-file, path: .env}
      - {type: azure-keyvault, name: api-key, tags: {team: platform}}
  db:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password}}
    targets:
      - {type: local-file, path: .env}
      - {type: azure-keyvault, name: db-credentials}
"#;

#[test]
fn create_unchanged_drift_and_update_through_the_challenge() {
    let vault = KeyVaultDouble::start();
    let project = Project::new(&secretfile(&vault, TARGETS));

    let first = run(&project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let password = dotenv_value(&project.path(".env"), "DB_PASSWORD").unwrap();
    assert_eq!(vault.value("api-key"), Some(key.clone()));
    assert_eq!(vault.latest("api-key").unwrap()["tags"], json!({"team": "platform"}));
    let db = vault.latest("db-credentials").unwrap();
    assert_eq!(db["contentType"], "application/json");
    let fields: serde_json::Value = serde_json::from_str(db["value"].as_str().unwrap()).unwrap();
    assert_eq!(fields, json!({"username": "app", "password": password}));
    {
        // The client met the 401 challenge, then asked for a token for the vault's resource.
        let state = vault.state.lock().unwrap();
        assert!(!state.log[0].1, "the first request carries no token: {:?}", state.log);
        assert!(
            state.scopes.iter().all(|s| s == "https://localhost/.default"),
            "{:?}",
            state.scopes
        );
    }

    let again = run(&project, &["sync"]);
    assert!(again.stderr.contains("targets updated 0, unchanged 4, failed 0"), "{again:?}");
    assert_eq!(run(&project, &["drift"]).code, 0);

    vault.set("api-key", "changed-by-hand");
    let drift = run(&project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("drift/value-changed"), "{drift:?}");
    assert!(!drift.all_output().contains("changed-by-hand"));
    assert_eq!(run(&project, &["sync"]).code, 0);
    assert_eq!(vault.value("api-key"), Some(key));

    let test = run(&project, &["test"]);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(
        test.stderr.contains(
            "✓ provider `azure` (azure-keyvault, 2 targets): token accepted; secrets/get \
             allowed; `api-key` exists and may be read"
        ),
        "{test:?}"
    );
}

#[test]
fn soft_deleted_names_and_limits_are_left_alone() {
    let vault = KeyVaultDouble::start();
    // Names Key Vault cannot take stop every command when the Secretfile is loaded, each at
    // its target's line, before any request: not even the target that is fine is written.
    let long = "n".repeat(128);
    let named = Project::new(&secretfile(
        &vault,
        &format!(
            "  fine:\n    generator: {{type: random-string}}\n    targets: [{{type: \
             azure-keyvault, name: fine}}]\n  under_score:\n    generator: {{type: \
             random-string}}\n    targets: [{{type: azure-keyvault, name: under_score}}]\n  \
             long:\n    generator: {{type: random-string}}\n    targets: [{{type: \
             azure-keyvault, name: {long}}}]\n  nowhere:\n    generator: {{type: \
             random-string}}\n    targets: [{{type: azure-keyvault, name: nowhere, vault_url: \
             \"not a url\"}}]\n"
        ),
    ));
    let validate = run(&named, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let expected = [
        "error[secretfile/target]: secret `under_score`: azure-keyvault `under_score`: the \
         secret name holds `_`; Key Vault allows ASCII letters, digits and - only\n  --> \
         Secretfile.yml:14:15\n"
            .to_string(),
        format!(
            "error[secretfile/target]: secret `long`: azure-keyvault `{long}`: the secret name is \
             128 characters long; Key Vault allows 1 to 127\n  --> Secretfile.yml:17:15\n"
        ),
        "error[secretfile/target]: secret `nowhere`: azure-keyvault `nowhere`: vault_url `not a \
         url` is not a URL: relative URL without a base\n  --> Secretfile.yml:20:15\n"
            .to_string(),
    ];
    for line in &expected {
        assert!(validate.stdout.contains(line.as_str()), "missing {line}\n{validate:?}");
    }
    assert_eq!(validate.stdout.matches("error[").count(), 3, "{validate:?}");
    assert_eq!(validate.stderr, "✗ Secretfile.yml has 3 problems\n", "{validate:?}");
    let sync = run(&named, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    for line in &expected {
        assert!(sync.stderr.contains(line.as_str()), "missing {line}\n{sync:?}");
    }
    assert!(sync.stderr.ends_with("error: Secretfile.yml has 3 problems\n"), "{sync:?}");
    {
        let state = vault.state.lock().unwrap();
        assert!(state.log.is_empty(), "no request: {:?}", state.log);
        assert!(state.secrets.is_empty(), "nothing was written: {:?}", state.secrets.keys());
    }

    // A soft-deleted name and a value over the size limit are known only from the store and
    // the value: the dry run shows them skipped, and the sync fails them alone.
    vault.state.lock().unwrap().deleted.push("gone".into());
    let big = "x".repeat(26_000);
    let project = Project::new(&secretfile(
        &vault,
        &format!(
            "  gone:\n    generator: {{type: random-string}}\n    targets: [{{type: \
             azure-keyvault, name: gone}}]\n  big:\n    generator: {{type: static, value: \
             {big}}}\n    targets: [{{type: azure-keyvault, name: big}}]\n  fine:\n    \
             generator: {{type: random-string}}\n    targets: [{{type: azure-keyvault, name: \
             fine}}]\n"
        ),
    ));
    let plan = run(&project, &["sync", "--dry-run"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    for expected in [
        "! skip      azure-keyvault::gone (secret `gone` is deleted but recoverable (soft \
         delete), so it is left alone;",
        "! skip      azure-keyvault::big (the value of `big` is 26000 bytes; azure-keyvault \
         `big` holds at most 25600 bytes (25 KiB))",
    ] {
        assert!(plan.stdout.contains(expected), "missing {expected}\n{plan:?}");
    }
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "✗ Failed to write big to azure-keyvault::big: the value of `big` is 26000 bytes; \
             azure-keyvault `big` holds at most 25600 bytes (25 KiB)\n"
        ),
        "{sync:?}"
    );
    assert!(
        sync.stderr.contains(
            "✗ Failed to write gone to azure-keyvault::gone: secret `gone` is \
             deleted but recoverable (soft delete), so it is left alone;"
        ),
        "{sync:?}"
    );
    assert!(sync.stderr.contains("targets updated 1, unchanged 0, failed 2"), "{sync:?}");
    let state = vault.state.lock().unwrap();
    let written: Vec<&String> = state.secrets.keys().collect();
    assert_eq!(written, ["fine"], "only the target that fits was written");
    let puts: Vec<&String> =
        state.log.iter().map(|(r, _)| r).filter(|r| r.starts_with("PUT ")).collect();
    assert_eq!(puts, ["PUT /secrets/fine"], "{:?}", state.log);
}

#[test]
fn a_refused_client_secret_exits_3() {
    let vault = KeyVaultDouble::start();
    let project = Project::new(&secretfile(&vault, TARGETS));
    for args in [&["sync"][..], &["drift"], &["test"]] {
        let run = run_with_secret(&project, args, "wrong-secret");
        assert_eq!(run.code, 3, "{args:?} {run:?}");
        assert!(run.stderr.contains("AADSTS7000215"), "{run:?}");
        assert!(!run.all_output().contains("wrong-secret"), "{run:?}");
    }
    assert!(vault.state.lock().unwrap().secrets.is_empty());
}

#[test]
fn no_value_reaches_any_output() {
    const CANARY: &str = "CANARY-azure-4e1a77";
    let vault = KeyVaultDouble::start();
    let project = Project::new(&secretfile(
        &vault,
        &format!(
            "  c:\n    generator: {{type: static, value: {CANARY}}}\n    targets: [{{type: \
             azure-keyvault, name: c}}]\n"
        ),
    ));
    let mut seen = String::new();
    for args in [&["-vv", "sync"][..], &["sync", "--dry-run", "--format", "json"]] {
        seen.push_str(&run(&project, args).all_output());
    }
    vault.set("c", &format!("{CANARY}-hand"));
    for args in [&["-vv", "drift", "--format", "sarif"][..], &["-vv", "sync"], &["test"]] {
        seen.push_str(&run(&project, args).all_output());
    }
    assert_eq!(vault.value("c").as_deref(), Some(CANARY));
    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
}

#[test]
fn a_vault_that_never_answers_fails_the_target_after_the_request_timeout() {
    // Accepts connections and reads requests, but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let project = Project::new(&format!(
        r#"version: "1.0"
providers:
  azure:
    kind: azure
    auth: {{kind: service_principal, tenant_id: {TENANT}, client_id: {CLIENT_ID}}}
    config: {{vault_url: "{url}", authority_host: "{url}", verify_challenge_resource: "false", request_timeout: 1, max_attempts: 1}}
secrets:
  a:
    generator: {{type: random-string}}
    targets: [{{type: local-file, path: .env}}, {{type: azure-keyvault, name: a}}]
"#
    ));
    // Without a transport timeout the run would not end; with one, the read times out, and
    // since whether the vault already holds a value is unknown, no new one is made or written.
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "✗ Failed to write a to azure-keyvault::a: it could not be read (connect: retry \
             policy expired"
        ),
        "{sync:?}"
    );
    assert!(sync.stderr.contains("no new value is made until it answers"), "{sync:?}");
    assert!(sync.stderr.contains("operation timed out"), "{sync:?}");
    assert!(!project.exists(".env"), "{sync:?}");
    assert!(!held.lock().unwrap().is_empty(), "the client connected");
}
