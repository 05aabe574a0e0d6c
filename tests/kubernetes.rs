//! The `kubernetes-secret` and `external-secret` targets; the first against an in-process double
//! of the Kubernetes API server (`tests/common/kubernetes_double.rs`, which names the documents
//! it follows). Every run points `KUBECONFIG` at a file in the temporary project, so nothing
//! under `~/.kube` is read.

#![cfg(feature = "kubernetes")]

mod common;

#[path = "common/kubernetes_double.rs"]
mod kubernetes_double;

use common::{Project, Run};
use kubernetes_double::{KubernetesDouble, TOKEN, encode};
use serde_json::json;

fn run_as(double: &KubernetesDouble, project: &Project, args: &[&str], token: &str) -> Run {
    project.write("kubeconfig.yml", &double.kubeconfig(token));
    let kubeconfig = project.path("kubeconfig.yml");
    let home = project.path("home");
    project.run_env(
        args,
        &[("KUBECONFIG", kubeconfig.to_str().unwrap()), ("HOME", home.to_str().unwrap())],
    )
}

fn run(double: &KubernetesDouble, project: &Project, args: &[&str]) -> Run {
    run_as(double, project, args, TOKEN)
}

const CANARY: &str = "canary-k8s-7f3a9e";

fn project() -> Project {
    Project::new(&format!(
        r#"version: "1.0"
secrets:
  api_key:
    generator: {{type: static, value: {CANARY}}}
    targets:
      - type: kubernetes-secret
        namespace: apps
        name: web
        key: API_KEY
        labels: {{app: web}}
        annotations: {{example.com/owner: platform}}
  db:
    template:
      type: creds
      fields:
        - {{name: username, generator: {{type: static, value: app}}}}
        - {{name: password, generator: {{type: random-password}}}}
    targets:
      - {{type: kubernetes-secret, namespace: apps, name: web}}
"#
    ))
}

#[test]
fn create_unchanged_drift_update_and_other_keys_kept() {
    let double = KubernetesDouble::start();
    let project = project();

    let first = run(&double, &project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let data = double.data("apps", "web").unwrap();
    assert_eq!(data["API_KEY"], CANARY);
    assert_eq!(data["username"], "app");
    assert_eq!(data["password"].len(), 32, "{data:?}");
    let secret = double.secret("apps", "web").unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(secret["metadata"]["annotations"], json!({"example.com/owner": "platform"}));
    assert!(!first.all_output().contains(CANARY), "{first:?}");

    let writes = double.writes();
    let second = run(&double, &project, &["sync"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stderr.contains("targets updated 0, unchanged 2, failed 0"), "{second:?}");
    assert_eq!(double.writes(), writes, "an unchanged run writes nothing");
    assert_eq!(run(&double, &project, &["drift"]).code, 0);

    // Someone changes one of SecretZero's keys and adds their own key, label and annotation.
    let mut changed = double.secret("apps", "web").unwrap();
    changed["data"]["API_KEY"] = json!(encode("by-hand"));
    changed["data"]["theirs"] = json!(encode("kept"));
    changed["metadata"]["labels"]["team"] = json!("blue");
    changed["metadata"]["annotations"]["note"] = json!("kept too");
    double.put("apps", "web", changed);
    let drift = run(&double, &project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("drift/value-changed"), "{drift:?}");
    assert!(!drift.all_output().contains("by-hand"), "{drift:?}");

    let restore = run(&double, &project, &["sync"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    let data = double.data("apps", "web").unwrap();
    assert_eq!(data["API_KEY"], CANARY);
    assert_eq!(data["theirs"], "kept");
    let secret = double.secret("apps", "web").unwrap();
    assert_eq!(secret["metadata"]["labels"], json!({"app": "web", "team": "blue"}));
    assert_eq!(secret["metadata"]["annotations"]["note"], "kept too");
    assert!(!restore.all_output().contains(CANARY), "{restore:?}");
}

#[test]
fn a_conflicting_writer_is_read_again_and_its_change_kept() {
    let double = KubernetesDouble::start();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  token:\n    generator: {type: random-string}\n    \
         targets: [{type: kubernetes-secret, namespace: apps, name: shared}]\n",
    );
    double.put("apps", "shared", json!({"type": "Opaque", "data": {"theirs": encode("x")}}));
    // The next two reads are each followed by another writer's change.
    double.state.lock().unwrap().conflicts = 2;
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let data = double.data("apps", "shared").unwrap();
    assert_eq!(data["token"].len(), 32, "{data:?}");
    assert_eq!(data["theirs"], "x");
    assert!(data.contains_key("other-writer"), "the other writer's change is kept: {data:?}");
    let puts = double.state.lock().unwrap().log.iter().filter(|(m, _)| m == "PUT").count();
    assert!(puts >= 2, "the first write met a conflict and was made again ({puts} PUTs)");
}

#[test]
fn a_create_that_meets_already_exists_updates_instead() {
    let double = KubernetesDouble::start();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  token:\n    generator: {type: random-string}\n    \
         targets: [{type: kubernetes-secret, namespace: apps, name: raced}]\n",
    );
    // The prefetch finds nothing; right after the write's own read, someone creates it.
    double.state.lock().unwrap().create_race = Some(1);
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let data = double.data("apps", "raced").unwrap();
    assert_eq!(data["theirs"], "first", "the other creator's key is kept");
    assert_eq!(data["token"].len(), 32);
    let methods: Vec<String> = double
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(_, p)| p.contains("/secrets"))
        .map(|(m, _)| m.clone())
        .collect();
    // The prefetch read, the write's read, the refused create, the read again, the update.
    assert_eq!(methods, ["GET", "GET", "POST", "GET", "PUT"]);
}

#[test]
fn a_conflict_that_never_ends_fails_after_bounded_attempts() {
    let double = KubernetesDouble::start();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  token:\n    generator: {type: random-string}\n    \
         targets: [{type: kubernetes-secret, namespace: apps, name: busy}]\n",
    );
    double.put("apps", "busy", json!({"type": "Opaque", "data": {}}));
    double.state.lock().unwrap().conflicts = 1000;
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.all_output().contains("Conflict (HTTP 409)"), "{sync:?}");
    assert!(sync.all_output().contains("kept changing under 5 attempts"), "{sync:?}");
    let puts = double.state.lock().unwrap().log.iter().filter(|(m, _)| m == "PUT").count();
    assert_eq!(puts, 5);
}

#[test]
fn names_keys_and_labels_kubernetes_refuses_stop_every_command_at_their_line() {
    let double = KubernetesDouble::start();
    let long_key = "k".repeat(254);
    let project = Project::new(&format!(
        r#"version: "1.0"
secrets:
  upper:
    generator: {{type: random-string}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: Web}}]
  bad_namespace:
    generator: {{type: random-string}}
    targets: [{{type: kubernetes-secret, namespace: apps_1, name: web}}]
  bad_key:
    generator: {{type: random-string}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: web, key: "a/b"}}]
  long_key:
    generator: {{type: random-string}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: web, key: {long_key}}}]
  bad_label:
    generator: {{type: random-string}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: web2, labels: {{app: "-x"}}}}]
"#
    ));
    let validate = run(&double, &project, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let found: Vec<&str> = validate.stdout.lines().filter(|l| l.starts_with("error[")).collect();
    assert_eq!(found.len(), 5, "{validate:?}");
    for (line, expected) in found.iter().zip([
        "secret `upper`: kubernetes-secret `apps/Web`: the name must be a DNS subdomain",
        "secret `bad_namespace`: kubernetes-secret `apps_1/web`: the namespace must be a DNS \
         label",
        "secret `bad_key`: kubernetes-secret `apps/web`: data key `a/b` may hold only letters, \
         digits, `-`, `_` and `.`",
        "secret `long_key`: kubernetes-secret `apps/web`: data key `kkk",
        "secret `bad_label`: kubernetes-secret `apps/web2`: the value of label `app` must be empty",
    ]) {
        assert!(line.starts_with(&format!("error[secretfile/target]: {expected}")), "{line}");
    }
    for at in [":5:15", ":8:15", ":11:15", ":14:15", ":17:15"] {
        assert!(validate.stdout.contains(&format!("Secretfile.yml{at}")), "{at} {validate:?}");
    }
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert_eq!(double.requests(), 0, "{sync:?}");
}

#[test]
fn the_one_mib_of_a_secret_counts_every_secret_writing_to_it() {
    let double = KubernetesDouble::start();
    let half = "x".repeat(600_000);
    let project = Project::new(&format!(
        r#"version: "1.0"
secrets:
  first:
    generator: {{type: static, value: {half}}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: big, key: A}}]
  second:
    generator: {{type: static, value: {half}}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: big, key: B}}]
  exact:
    generator: {{type: static, value: {mib}}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: full, key: K}}]
"#,
        mib = "y".repeat(1024 * 1024)
    ));
    // The API server counts values only: exactly 1 MiB of value fits.
    let dry = run(&double, &project, &["sync", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(dry.stdout.contains("+ create    kubernetes-secret::apps/big/A"), "{dry:?}");
    assert!(dry.stdout.contains("+ create    kubernetes-secret::apps/full/K"), "{dry:?}");
    assert!(
        dry.stdout.contains(
            "! skip      kubernetes-secret::apps/big/B (kubernetes-secret `apps/big`: the value \
             of `second` makes the Secret's data 1200000 bytes; Kubernetes allows 1 MiB \
             (1048576 bytes) of values per Secret)"
        ),
        "{dry:?}"
    );
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    let big = double.data("apps", "big").unwrap();
    assert_eq!(big.keys().collect::<Vec<_>>(), ["A"]);
    assert_eq!(double.data("apps", "full").unwrap()["K"].len(), 1024 * 1024);
}

#[test]
fn a_secret_of_another_type_is_skipped_before_any_write() {
    let double = KubernetesDouble::start();
    double.put("apps", "tls", json!({"type": "kubernetes.io/tls", "data": {}}));
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: kubernetes-secret, namespace: apps, name: tls}]\n",
    );
    let dry = run(&double, &project, &["sync", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(
        dry.stdout.contains(
            "! skip      kubernetes-secret::apps/tls (Secret apps/tls has type \
             `kubernetes.io/tls` and the target asks for `Opaque`; a Secret's type cannot \
             change: delete the Secret or set `secret_type: kubernetes.io/tls`)"
        ),
        "{dry:?}"
    );
    assert_eq!(run(&double, &project, &["sync"]).code, 1);
    assert_eq!(double.writes(), 0);
}

#[test]
fn a_store_that_could_not_be_read_is_never_written() {
    let double = KubernetesDouble::start();
    double.put("apps", "web", json!({"type": "Opaque", "data": {"A": encode("in-use-value")}}));
    let project = Project::new(
        r#"version: "1.0"
providers:
  cluster: {kind: kubernetes, config: {max_attempts: "1"}}
secrets:
  a:
    generator: {type: random-string}
    targets:
      - {type: local-file, path: .env}
      - {type: kubernetes-secret, namespace: apps, name: web, key: A}
"#,
    );
    // No lockfile, and the read fails: whether the Secret holds a value is unknown, so no new
    // one is made (it would replace the one in use once the cluster answers), and nothing is
    // written anywhere.
    double.state.lock().unwrap().unavailable = 1;
    let dry = run(&double, &project, &["sync", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(
        dry.stdout.starts_with("a: unknown (kubernetes-secret::apps/web/A could not be read)\n")
    );
    double.state.lock().unwrap().unavailable = 1;
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "Failed to write a to kubernetes-secret::apps/web/A: it could not be read \
             (ServiceUnavailable (HTTP 503)"
        ),
        "{sync:?}"
    );
    assert!(!project.exists(".env"), "{sync:?}");
    assert_eq!(double.writes(), 0);

    // Once the cluster answers, the value in use is adopted, not replaced.
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert_eq!(common::dotenv_value(&project.path(".env"), "A").as_deref(), Some("in-use-value"));
    assert_eq!(double.data("apps", "web").unwrap()["A"], "in-use-value");

    // With a lockfile entry, a target whose read fails is left alone, and the others are
    // written.
    double.state.lock().unwrap().unavailable = 1;
    let forced = run(&double, &project, &["sync", "--force"]);
    assert_eq!(forced.code, 1, "{forced:?}");
    assert!(
        forced.stderr.contains(
            "Failed to write a to kubernetes-secret::apps/web/A: could not be read \
             (ServiceUnavailable (HTTP 503)"
        ),
        "{forced:?}"
    );
    assert_ne!(common::dotenv_value(&project.path(".env"), "A").as_deref(), Some("in-use-value"));
    assert_eq!(double.data("apps", "web").unwrap()["A"], "in-use-value");
}

#[test]
fn an_api_server_that_stays_unavailable_fails_after_max_attempts() {
    let double = KubernetesDouble::start();
    double.state.lock().unwrap().unavailable = 1000;
    let project = Project::new(
        r#"version: "1.0"
providers:
  cluster: {kind: kubernetes, config: {max_attempts: "2"}}
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: kubernetes-secret, namespace: apps, name: web}]
"#,
    );
    // The read fails, so the dry run cannot say what the sync would do.
    let dry = run(&double, &project, &["sync", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(dry.all_output().contains("ServiceUnavailable (HTTP 503)"), "{dry:?}");
    // kube's own retries are off: two attempts are two requests.
    assert_eq!(double.requests(), 2, "{dry:?}");
}

#[test]
fn throttling_is_retried() {
    let double = KubernetesDouble::start();
    double.state.lock().unwrap().throttle = 3;
    let project = project();
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert_eq!(double.state.lock().unwrap().throttle, 0, "every 429 was served");
    assert_eq!(double.data("apps", "web").unwrap()["API_KEY"], CANARY);
}

#[test]
fn a_bad_token_and_a_forbidden_verb_exit_3() {
    let double = KubernetesDouble::start();
    let project = project();
    let bad = run_as(&double, &project, &["sync"], "wrong-token");
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(bad.all_output().contains("Unauthorized (HTTP 401)"), "{bad:?}");

    double.state.lock().unwrap().forbidden = vec!["create".into()];
    let forbidden = run(&double, &project, &["sync"]);
    assert_eq!(forbidden.code, 3, "{forbidden:?}");
    assert!(forbidden.all_output().contains("Forbidden (HTTP 403)"), "{forbidden:?}");
    assert!(
        forbidden.all_output().contains("get, create and update on secrets in the namespace"),
        "{forbidden:?}"
    );
    assert!(!forbidden.all_output().contains(CANARY));
}

#[test]
fn test_command_checks_permissions_per_namespace() {
    let double = KubernetesDouble::start();
    let project = project();
    let ok = run(&double, &project, &["test"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.all_output().contains("get, create and update on secrets allowed in `apps`"),
        "{ok:?}"
    );
    let reviews = double
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(_, p)| p.contains("/selfsubjectaccessreviews"))
        .count();
    assert_eq!(reviews, 3);

    double.state.lock().unwrap().forbidden = vec!["update".into()];
    let missing = run(&double, &project, &["test"]);
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(
        missing.all_output().contains("the identity may not update secrets in namespace `apps`"),
        "{missing:?}"
    );
}

#[test]
fn validate_refuses_bad_options_and_shared_keys() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: kubernetes-secret, namespace: apps, name: web, key: K, colour: red}]
"#,
    );
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.all_output().contains("colour"), "{run:?}");

    // Keys that come from the secret (its name, or its fields) follow the same rules, and
    // `key` is for one-value secrets only.
    let project = Project::new(&format!(
        r#"version: "1.0"
secrets:
  {long}:
    generator: {{type: random-string}}
    targets: [{{type: kubernetes-secret, namespace: apps, name: web}}]
  db:
    template:
      type: creds
      fields: [{{name: password, generator: {{type: random-string}}}}]
    targets: [{{type: kubernetes-secret, namespace: apps, name: web, key: DB}}]
"#,
        long = "s".repeat(254)
    ));
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.error_headlines(),
        [
            format!(
                "error[secretfile/target]: secret `{long}`: kubernetes-secret `apps/web`: data \
                 key `{long}` must be 1 to 253 characters",
                long = "s".repeat(254)
            ),
            " --> Secretfile.yml:5:15".to_string(),
            "error[secretfile/target]: secret `db`: kubernetes-secret `apps/web`: `key` names \
             the data key of a one-value secret; the fields of `db` are written as keys named \
             after them (password)"
                .to_string(),
            "  --> Secretfile.yml:10:15".to_string(),
        ],
        "{run:?}"
    );

    let project = Project::new(
        r#"version: "1.0"
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: kubernetes-secret, namespace: apps, name: web, key: K}]
  b:
    generator: {type: random-string}
    targets: [{type: kubernetes-secret, namespace: apps, name: web, key: K}]
  c:
    generator: {type: random-string}
    targets: [{type: kubernetes-secret, namespace: apps, name: web, key: L}]
"#,
    );
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.all_output()
            .contains("secrets `a` and `b` both write key `K` of kubernetes-secret apps/web"),
        "{run:?}"
    );
    assert!(!run.all_output().contains("`c`"), "a different key of one Secret is fine: {run:?}");
}

const MANIFEST_PROJECT: &str = r#"version: "1.0"
secrets:
  db:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password}}
    targets:
      - type: external-secret
        path: deploy/db-external-secret.yaml
        name: db
        namespace: apps
        secret_store: vault-backend
        secret_store_kind: ClusterSecretStore
        remote_key: app/db
        refresh_interval: 30m
  api_key:
    generator: {type: static, value: canary-k8s-7f3a9e}
    targets:
      - {type: local-file, path: .env}
      - {type: external-secret, path: deploy/api.yaml, name: api-key, secret_store: aws, remote_key: prod/api_key}
"#;

#[test]
fn external_secret_writes_a_manifest_without_the_value() {
    let project = Project::new(MANIFEST_PROJECT);
    let first = project.run(&["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let db = project.read("deploy/db-external-secret.yaml");
    insta::assert_snapshot!("external_secret_multi_field", db);
    let api = project.read("deploy/api.yaml");
    insta::assert_snapshot!("external_secret_one_value", api);
    assert!(!api.contains(CANARY) && !db.contains("password: \""), "no value in a manifest");

    // It parses as YAML with the shape the ExternalSecret v1 CRD asks for.
    let parsed: serde_json::Value = serde_saphyr::from_str(&db).unwrap();
    assert_eq!(parsed["apiVersion"], "external-secrets.io/v1");
    assert_eq!(parsed["kind"], "ExternalSecret");
    assert_eq!(
        parsed["spec"]["secretStoreRef"],
        json!({"name": "vault-backend", "kind": "ClusterSecretStore"})
    );
    assert_eq!(parsed["spec"]["target"]["name"], "db");
    assert_eq!(
        parsed["spec"]["data"][1],
        json!({"secretKey": "password", "remoteRef": {"key": "app/db", "property": "password"}})
    );

    let mtime = common::mtime(&project.path("deploy/api.yaml"));
    let second = project.run(&["sync"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(common::mtime(&project.path("deploy/api.yaml")), mtime, "{second:?}");

    // A manifest changed by hand is written again.
    project.write("deploy/api.yaml", "kind: Other\n");
    let third = project.run(&["sync"]);
    assert_eq!(third.code, 0, "{third:?}");
    assert_eq!(project.read("deploy/api.yaml"), api);
    assert!(!third.all_output().contains(CANARY));
}

#[test]
fn external_secret_options_are_checked() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  a:
    generator: {type: random-string}
    targets:
      - {type: external-secret, path: a.yaml, name: A, secret_store: s, remote_key: k}
  b:
    generator: {type: random-string}
    targets:
      - {type: external-secret, path: b.yaml, name: b, secret_store: s, remote_key: k, secret_store_kind: Vault}
  c:
    generator: {type: random-string}
    targets:
      - {type: external-secret, path: ../c.yaml, name: c, secret_store: s, remote_key: k}
"#,
    );
    let validate = project.run(&["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert!(validate.all_output().contains("leaves the Secretfile's folder"), "{validate:?}");
    project.write("Secretfile.yml", &project.read("Secretfile.yml").replace("../c.yaml", "c.yaml"));
    let validate = project.run(&["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert!(validate.stdout.contains("`name` `A` must be a DNS subdomain name"), "{validate:?}");
    assert!(
        validate.stdout.contains("it must be SecretStore or ClusterSecretStore"),
        "{validate:?}"
    );
}

/// A one-value secret that a Kubernetes Secret (or Vault) keeps is one key of a mapping there;
/// without `remoteRef.property` ESO would copy the whole mapping as JSON.
#[test]
fn a_one_value_manifest_points_at_the_key_its_store_keeps_it_under() {
    let double = KubernetesDouble::start();
    let project = Project::new(
        r#"version: "1.0"
secrets:
  in_cluster:
    generator: {type: random-string}
    targets:
      - {type: kubernetes-secret, namespace: apps, name: web, key: API}
      - {type: external-secret, path: k.yaml, name: k, secret_store: s, remote_key: web}
  chosen:
    generator: {type: random-string}
    targets:
      - {type: kubernetes-secret, namespace: apps, name: web}
      - {type: external-secret, path: c.yaml, name: c, secret_store: s, remote_key: web, property: ""}
  plain:
    generator: {type: random-string}
    targets:
      - {type: external-secret, path: p.yaml, name: p, secret_store: s, remote_key: k, property: inner}
  fields:
    template:
      type: creds
      fields: [{name: password, generator: {type: random-string}}]
    targets:
      - {type: external-secret, path: f.yaml, name: f, secret_store: s, remote_key: k, property: x}
"#,
    );
    let validate = run(&double, &project, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert_eq!(
        validate.error_headlines(),
        [
            "error[secretfile/target]: secret `fields`: external-secret `f.yaml`: `property` is \
             for a one-value secret; each field of `fields` is its own property",
            "  --> Secretfile.yml:22:9",
        ],
        "{validate:?}"
    );
    project.write("Secretfile.yml", &project.read("Secretfile.yml").replace(", property: x}", "}"));
    let sync = run(&double, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let reference = |file: &str| {
        let parsed: serde_json::Value = serde_saphyr::from_str(&project.read(file)).unwrap();
        parsed["spec"]["data"][0]["remoteRef"].clone()
    };
    assert_eq!(reference("k.yaml"), json!({"key": "web", "property": "API"}));
    assert_eq!(reference("c.yaml"), json!({"key": "web"}), "`property: \"\"` leaves it out");
    assert_eq!(reference("p.yaml"), json!({"key": "k", "property": "inner"}));
    assert_eq!(reference("f.yaml")["property"], "password");
}

#[test]
#[cfg(unix)]
fn a_manifest_never_leaves_the_folder_through_a_link() {
    let outside = tempfile::tempdir().unwrap();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: external-secret, path: linked/a.yaml, name: a, secret_store: s, remote_key: k}]\n",
    );
    std::os::unix::fs::symlink(outside.path(), project.path("linked")).unwrap();
    let sync = project.run(&["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains("it leads outside the Secretfile's folder through a symbolic link"),
        "{sync:?}"
    );
    assert!(!outside.path().join("a.yaml").exists());
}

#[test]
fn the_provider_chooses_the_kubeconfig_and_its_context() {
    let double = KubernetesDouble::start();
    // The file's current context points at a closed port; the provider names the other.
    let kubeconfig = double
        .kubeconfig(TOKEN)
        .replace("current-context: double", "current-context: elsewhere")
        .replace(
            "contexts:\n",
            "contexts:\n- name: elsewhere\n  context:\n    cluster: closed\n    user: tester\n",
        )
        .replace(
            "clusters:\n",
            "clusters:\n- name: closed\n  cluster:\n    server: http://127.0.0.1:9\n",
        );
    let project = Project::new(
        r#"version: "1.0"
providers:
  cluster:
    kind: kubernetes
    auth: {kind: kubeconfig}
    config: {kubeconfig: conf/kube.yml, context: double, max_attempts: "1"}
secrets:
  a:
    generator: {type: static, value: x}
    targets: [{type: kubernetes-secret, namespace: apps, name: web, key: A}]
"#,
    );
    project.write("conf/kube.yml", &kubeconfig);
    let home = project.path("home");
    let env = [("HOME", home.to_str().unwrap())];
    let sync = project.run_env(&["sync"], &env);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert_eq!(double.data("apps", "web").unwrap()["A"], "x");

    // In-cluster auth outside a pod is an authentication failure, before any request.
    let in_cluster = project.read("Secretfile.yml").replace(
        "auth: {kind: kubeconfig}\n    config: {kubeconfig: conf/kube.yml, context: double, max_attempts: \"1\"}",
        "auth: {kind: in_cluster}",
    );
    project.write("Secretfile.yml", &in_cluster);
    let requests = double.requests();
    let run = project.run_env(&["sync"], &env);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.all_output().contains("not inside a pod"), "{run:?}");
    assert_eq!(double.requests(), requests);
}

#[test]
fn targets_sharing_a_secret_must_agree_on_its_type_and_labels() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: kubernetes-secret, namespace: apps, name: web, key: A, labels: {tier: web}}]
  b:
    generator: {type: random-string}
    targets:
      - {type: kubernetes-secret, namespace: apps, name: web, key: B, secret_type: Other, labels: {tier: api}}
"#,
    );
    let validate = project.run(&["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert_eq!(
        validate.error_headlines(),
        [
            "error[secretfile/target]: secret `b` sets the label `tier` of Secret apps/web to \
             `api`, and secret `a` to `web`",
            " --> Secretfile.yml:9:9",
            "error[secretfile/target]: secret `b` sets the type of Secret apps/web to `Other`, \
             and secret `a` to `Opaque`",
            " --> Secretfile.yml:9:9",
        ],
        "{validate:?}"
    );
}

#[test]
fn a_manifest_is_neither_a_local_file_nor_the_lockfile() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: external-secret, path: x.env, name: a, secret_store: s, remote_key: k}]
  b:
    generator: {type: random-string}
    targets: [{type: local-file, path: x.env}]
"#,
    );
    let validate = project.run(&["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert!(
        validate.stdout.contains(
            "error[secretfile/key-collision]: secret `a` writes an ExternalSecret manifest to \
             `x.env`, which secret `b` writes as a local file"
        ),
        "{validate:?}"
    );
    project.write(
        "Secretfile.yml",
        &project.read("Secretfile.yml").replace("path: x.env}", "path: y.env}"),
    );
    let sync = project.run(&["sync", "--lockfile", "x.env"]);
    assert_eq!(sync.code, 2, "{sync:?}");
    assert!(
        sync.stderr.contains("secret `a` has a target that writes into the lockfile"),
        "{sync:?}"
    );
    assert!(!project.exists("x.env"));
}
