//! The `vault-kv` target against an in-process double of Vault's HTTP API
//! (`tests/common/vault_double.rs`, which names the documents it follows).

#![cfg(feature = "vault")]

mod common;

#[path = "common/vault_double.rs"]
mod vault_double;

use common::{Project, Run, dotenv_value};
use serde_json::json;
use vault_double::{ROOT_TOKEN, VaultDouble};

fn run(vault: &VaultDouble, project: &Project, args: &[&str]) -> Run {
    project.run_env(args, &[("VAULT_ADDR", &vault.url), ("VAULT_TOKEN", ROOT_TOKEN)])
}

fn project(extra_target: &str) -> Project {
    Project::new(&format!(
        r#"version: "1.0"
secrets:
  api_key:
    generator: {{type: random-string}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: vault-kv, path: app/api_key}}
  db:
    template:
      type: creds
      fields:
        - {{name: username, generator: {{type: static, value: app}}}}
        - {{name: password, generator: {{type: random-password}}}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: vault-kv, mount: kv, path: app/db}}
      {extra_target}
"#
    ))
}

#[test]
fn kv2_and_kv1_create_unchanged_drift_and_update() {
    let vault = VaultDouble::start();
    let project = project("");

    let first = run(&vault, &project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let password = dotenv_value(&project.path(".env"), "DB_PASSWORD").unwrap();
    // `secret` is detected as KV v2, `kv` as KV v1.
    assert_eq!(vault.kv2("secret", "app/api_key"), Some(json!({"value": key})));
    assert_eq!(vault.kv1("kv", "app/db"), Some(json!({"username": "app", "password": password})));

    let writes = vault.writes();
    let second = run(&vault, &project, &["sync"]);
    assert!(second.stderr.contains("targets updated 0, unchanged 4, failed 0"), "{second:?}");
    assert_eq!(vault.writes(), writes, "an unchanged run writes nothing");
    assert_eq!(run(&vault, &project, &["drift"]).code, 0);

    vault.put_kv2("secret", "app/api_key", json!({"value": "by-hand"}));
    let drift = run(&vault, &project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("drift/value-changed"), "{drift:?}");
    assert!(!drift.all_output().contains("by-hand"));

    let restore = run(&vault, &project, &["sync"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(vault.kv2("secret", "app/api_key"), Some(json!({"value": key})));
}

#[test]
fn check_and_set_refuses_a_concurrent_change() {
    let vault = VaultDouble::start();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: vault-kv, path: cas/a, cas: \"true\", version: \"2\"}]\n",
    );
    assert_eq!(run(&vault, &project, &["sync"]).code, 0);
    vault.state.lock().unwrap().race = true;
    let raced = run(&vault, &project, &["sync", "--force"]);
    assert_eq!(raced.code, 1, "{raced:?}");
    assert!(
        raced.stderr.contains(
            "✗ Failed to write a to vault-kv::cas/a: HTTP 400: check-and-set parameter did not \
             match the current version; the secret changed since it was read; run `secretzero \
             drift`, then sync again\n"
        ),
        "{raced:?}"
    );
    assert_eq!(vault.kv2("secret", "cas/a"), Some(json!({"raced": "yes"})), "not overwritten");

    // Check-and-set that KV cannot do is refused when the Secretfile is loaded, at its line.
    let requests = vault.state.lock().unwrap().log.len();
    let refused = Project::new(
        "version: \"1.0\"\nsecrets:\n  b:\n    generator: {type: random-string}\n    targets: \
         [{type: vault-kv, path: cas/b, cas: \"true\", version: \"1\"}]\n  c:\n    generator: \
         {type: random-string}\n    targets: [{type: vault-kv, path: cas/c, cas: \"yes\"}]\n",
    );
    let validate = run(&vault, &refused, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    for expected in [
        "error[secretfile/target]: secret `b`: vault-kv `cas/b`: check-and-set (`cas`) needs KV \
         version 2\n --> Secretfile.yml:5:15\n",
        "error[secretfile/target]: secret `c`: vault-kv `cas/c`: `cas` must be \"true\" or \
         \"false\"\n --> Secretfile.yml:8:15\n",
    ] {
        assert!(validate.stdout.contains(expected), "missing {expected}\n{validate:?}");
    }
    assert_eq!(validate.stdout.matches("error[").count(), 2, "{validate:?}");
    assert_eq!(validate.stderr, "✗ Secretfile.yml has 2 problems\n", "{validate:?}");
    let sync = run(&vault, &refused, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.stderr.ends_with("error: Secretfile.yml has 2 problems\n"), "{sync:?}");
    assert_eq!(vault.state.lock().unwrap().log.len(), requests, "no request reached Vault");
    assert_eq!((vault.kv2("secret", "cas/b"), vault.kv2("secret", "cas/c")), (None, None));
}

#[test]
fn throttling_is_retried_and_the_in_flight_limit_holds() {
    let vault = VaultDouble::start();
    let mut file = String::from(
        "version: \"1.0\"\nproviders:\n  vault: {kind: vault, auth: {kind: token}, config: \
         {max_in_flight: 2}}\nsecrets:\n",
    );
    for i in 0..30 {
        file.push_str(&format!(
            "  s{i}:\n    generator: {{type: random-string}}\n    targets: [{{type: vault-kv, \
             path: burst/s{i}}}]\n"
        ));
    }
    let project = Project::new(&file);
    // Fewer 429s than attempts: even a request that meets them all gets through.
    vault.state.lock().unwrap().throttle = 5;
    let sync = run(&vault, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 30, unchanged 0, failed 0"), "{sync:?}");
    assert_eq!(vault.state.lock().unwrap().kv2.len(), 30);
    let max = vault.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 2, "{max} requests were in flight at once");
}

#[test]
fn approle_and_jwt_log_in_and_a_bad_token_exits_3() {
    let vault = VaultDouble::start();
    let project = Project::new(
        r#"version: "1.0"
providers:
  ci:
    kind: vault
    auth: {kind: jwt, role: ci, token_file: id-token}
  app:
    kind: vault
    auth: {kind: approle, role_id: role-1}
    config: {namespace: team-a}
secrets:
  a:
    generator: {type: random-string}
    targets:
      - {type: vault-kv, provider: ci, path: ci/a}
      - {type: vault-kv, provider: app, path: app/a}
"#,
    );
    project.write("id-token", "id-token-from-ci\n");
    let env = [("VAULT_ADDR", vault.url.as_str()), ("VAULT_SECRET_ID", "secret-1")];
    let sync = project.run_env(&["sync"], &env);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(vault.kv2("secret", "ci/a").is_some() && vault.kv2("secret", "app/a").is_some());
    let namespaces: Vec<Option<String>> =
        vault.state.lock().unwrap().log.iter().map(|(_, _, n)| n.clone()).collect();
    assert!(namespaces.contains(&Some("team-a".into())), "{namespaces:?}");

    let test = project.run_env(&["test"], &env);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(
        test.stderr.contains(
            "✓ provider `ci` (vault-kv, 1 target): token accepted (policies: default, app); \
             read, create and update allowed on `secret/data/ci/a`"
        ),
        "{test:?}"
    );

    // A wrong JWT: the login is refused, and every command says so with exit 3.
    project.write("id-token", "stolen\n");
    for args in [&["sync", "--force"][..], &["drift"], &["test"]] {
        let run = project.run_env(args, &env);
        assert_eq!(run.code, 3, "{args:?} {run:?}");
        assert!(run.stderr.contains("HTTP 400: error validating token"), "{run:?}");
        assert!(!run.all_output().contains("stolen"), "{run:?}");
    }
    let bad = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: vault-kv, path: x/a}]\n",
    );
    let run = bad.run_env(&["sync"], &[("VAULT_ADDR", &vault.url), ("VAULT_TOKEN", "wrong")]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("HTTP 403: permission denied"), "{run:?}");
}

#[test]
fn paths_vault_cannot_take_are_refused_before_any_request() {
    let vault = VaultDouble::start();
    let project = project(
        "- {type: vault-kv, path: \"app/../escape\"}\n      - {type: vault-kv, mount: \
         \"kv/./x\", path: app/db2}",
    );
    let validate = run(&vault, &project, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let expected = [
        "error[secretfile/target]: secret `db`: vault-kv `app/../escape`: the path \
         `app/../escape` has an empty, `.` or `..` segment\n  --> Secretfile.yml:17:9\n",
        "error[secretfile/target]: secret `db`: vault-kv `app/db2`: the mount `kv/./x` has an \
         empty, `.` or `..` segment\n  --> Secretfile.yml:18:9\n",
    ];
    for line in expected {
        assert!(validate.stdout.contains(line), "missing {line}\n{validate:?}");
    }
    assert_eq!(validate.stdout.matches("error[").count(), 2, "{validate:?}");
    assert_eq!(validate.stderr, "✗ Secretfile.yml has 2 problems\n", "{validate:?}");

    // Every command stops at the Secretfile: not one request reaches Vault, not even for the
    // targets that are fine.
    for args in [&["sync"][..], &["sync", "--dry-run"], &["drift"]] {
        let refused = run(&vault, &project, args);
        assert_eq!(refused.code, 1, "{args:?} {refused:?}");
        for line in expected {
            assert!(refused.stderr.contains(line), "{args:?} missing {line}\n{refused:?}");
        }
        assert!(refused.stderr.ends_with("error: Secretfile.yml has 2 problems\n"), "{refused:?}");
    }
    let log = vault.state.lock().unwrap().log.clone();
    assert!(log.is_empty(), "{log:?}");
    assert!(!project.exists(".env"), "nothing was written");
}

/// A value taken over from a file is recorded, and said to be taken over, only once it has
/// reached the targets that lacked it; until then the next run adopts it again.
#[test]
fn a_value_adopted_but_written_nowhere_is_not_reported_as_adopted() {
    let vault = VaultDouble::start();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: local-file, path: .env}, {type: vault-kv, path: cas/a, cas: \"true\"}]\n",
    );
    project.write(".env", "A=kept-by-hand\n");
    vault.state.lock().unwrap().race = true;
    let raced = run(&vault, &project, &["sync"]);
    assert_eq!(raced.code, 1, "{raced:?}");
    assert!(!raced.stderr.contains("Adopted"), "{raced:?}");
    assert!(raced.stderr.contains("✗ Failed to write a to vault-kv::cas/a"), "{raced:?}");
    assert!(!project.exists(".gitsecrets.lock"), "nothing recorded, no lockfile: {raced:?}");

    vault.state.lock().unwrap().kv2.clear();
    let adopted = run(&vault, &project, &["sync"]);
    assert_eq!(adopted.code, 0, "{adopted:?}");
    assert!(
        adopted.stderr.contains("✓ Adopted the value its targets already hold: a\n"),
        "{adopted:?}"
    );
    assert_eq!(vault.kv2("secret", "cas/a"), Some(json!({"value": "kept-by-hand"})));
}

/// A store that does not answer leaves its targets as recorded, and the run says why.
#[test]
fn a_store_that_stops_answering_is_named_with_the_reason() {
    let vault = VaultDouble::start();
    let project = project("");
    assert_eq!(run(&vault, &project, &["sync"]).code, 0);
    // Port 1 on loopback: nothing listens there.
    let closed = "http://127.0.0.1:1";
    let gone = project.run_env(&["sync"], &[("VAULT_ADDR", closed), ("VAULT_TOKEN", ROOT_TOKEN)]);
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(
        gone.stderr.contains(
            "✗ 2 targets could not be read back, so whether they still hold the recorded value \
             is unknown: vault-kv::app/api_key, vault-kv::kv/app/db\n"
        ),
        "{gone:?}"
    );
    assert!(
        gone.stderr.contains(
            "\n  recorded in the lockfile; cannot read back: connect: error sending request for \
             url (http://127.0.0.1:1/v1/sys/internal/ui/mounts/secret)"
        ),
        "the reason is shown: {gone:?}"
    );
}

/// Naming the only provider a target used anyway changes its id, not its object: drift says
/// so, and a sync records it under the new id without writing.
#[test]
fn a_provider_named_where_it_was_implicit_is_the_same_object() {
    let vault = VaultDouble::start();
    let file = "version: \"1.0\"\nPROVIDERSsecrets:\n  a:\n    generator: {type: random-string}\n    \
                targets: [{type: local-file, path: .env}, {type: vault-kv, path: app/aTARGET}]\n";
    let project = Project::new(&file.replace("PROVIDERS", "").replace("TARGET", ""));
    assert_eq!(run(&vault, &project, &["sync"]).code, 0);
    let named = file
        .replace("PROVIDERS", "providers:\n  v: {kind: vault}\n")
        .replace("TARGET", ", provider: v");
    project.write("Secretfile.yml", &named);
    let drift = run(&vault, &project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(
        drift.stdout.contains(
            "secret `a` was written to vault-kv::app/a, which the Secretfile now names \
             vault-kv:v:app/a (the same object, another provider spelling)"
        ),
        "{drift:?}"
    );
    assert!(drift.stdout.contains("`secretzero sync -s a` records it under its new name"));
    let writes = vault.writes();
    let sync = run(&vault, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert_eq!(vault.writes(), writes, "nothing written: {sync:?}");
    assert_eq!(run(&vault, &project, &["drift"]).code, 0);

    // Another provider is another object, as far as anyone can tell.
    let other = file
        .replace("PROVIDERS", "providers:\n  v: {kind: vault}\n  w: {kind: vault}\n")
        .replace("TARGET", ", provider: w");
    project.write("Secretfile.yml", &other);
    let drift = run(&vault, &project, &["drift"]);
    assert!(
        drift.stdout.contains(
            "secret `a` was written to vault-kv:v:app/a, which the Secretfile no longer lists"
        ),
        "{drift:?}"
    );
}

#[test]
fn no_value_reaches_any_output() {
    const CANARY: &str = "CANARY-vault-51c2e8";
    let vault = VaultDouble::start();
    let project = Project::new(&format!(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {{type: static, value: {CANARY}}}\n    \
         targets: [{{type: vault-kv, path: c/a, cas: \"true\"}}]\n"
    ));
    let mut seen = String::new();
    for args in [&["-vv", "sync"][..], &["sync", "--dry-run", "--format", "json"]] {
        seen.push_str(&run(&vault, &project, args).all_output());
    }
    vault.put_kv2("secret", "c/a", json!({"value": format!("{CANARY}-hand")}));
    vault.state.lock().unwrap().race = true;
    for args in [&["-vv", "drift", "--format", "sarif"][..], &["-vv", "sync"], &["test"]] {
        seen.push_str(&run(&vault, &project, args).all_output());
    }
    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
}
