//! The `github-secret` target against an in-process double of GitHub's REST API
//! (`tests/common/github_double.rs`, which names the documents it follows). Every value the
//! double holds is a sealed box; the tests open it with the scope's private key.

#![cfg(feature = "github")]

mod common;

#[path = "common/github_double.rs"]
mod github_double;

use common::{Project, Run, dotenv_value};
use github_double::{APP_ID, GithubDouble, INSTALLATION_ID, NO_SECRETS, TOKEN};

const REPO: &str = "repos/acme/app/actions";
const PROD: &str = "repos/acme/app/environments/prod";
const ORG: &str = "orgs/acme/actions";

/// A Secretfile with provider `gh` pointed at the double, and `secrets` after it.
fn secretfile(github: &GithubDouble, config: &str, secrets: &str) -> String {
    format!(
        "version: \"1.0\"\nproviders:\n  gh: {{kind: github, config: {{api_url: \
         \"{}\"{config}}}}}\nsecrets:\n{secrets}",
        github.url
    )
}

fn run_as(project: &Project, token: &str, args: &[&str]) -> Run {
    project.run_env(args, &[("GITHUB_TOKEN", token)])
}

fn run(project: &Project, args: &[&str]) -> Run {
    run_as(project, TOKEN, args)
}

const SECRETS: &str = r#"  api_key:
    generator: {type: random-string, length: 24}
    targets:
      - {type: local-file, path: .env}
      - {type: github-secret, provider: gh, owner: acme, repo: app}
  db:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-string, length: 16}}
    targets:
      - {type: local-file, path: .env}
      - {type: github-secret, provider: gh, owner: acme, repo: app, environment: prod}
  deploy_key:
    generator: {type: random-string}
    targets:
      - {type: local-file, path: .env}
      - type: github-secret
        provider: gh
        org: acme
        visibility: selected
        selected_repositories: "app, web"
        name: deploy
"#;

#[test]
fn create_unchanged_drift_by_stamp_and_rewrite() {
    let github = GithubDouble::start();
    let project = Project::new(&secretfile(&github, "", SECRETS));

    let first = run(&project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let env = |key| dotenv_value(&project.path(".env"), key).unwrap();
    assert_eq!(github.open(REPO, "API_KEY"), Some(env("API_KEY")));
    assert_eq!(github.open(PROD, "DB_USERNAME").as_deref(), Some("app"));
    assert_eq!(github.open(PROD, "DB_PASSWORD"), Some(env("DB_PASSWORD")));
    assert_eq!(github.open(ORG, "DEPLOY"), Some(env("DEPLOY_KEY")));
    let org = github.secret(ORG, "DEPLOY").unwrap();
    assert_eq!((org.visibility.as_deref(), org.selected), (Some("selected"), vec![1001, 1002]));
    // The public key of each scope was fetched once.
    let log = github.state.lock().unwrap().log.clone();
    let keys = log.iter().filter(|(_, path, _)| path.ends_with("/public-key")).count();
    assert_eq!(keys, 3, "{log:?}");
    let lock = project.read(".gitsecrets.lock");
    assert!(lock.contains(&github.secret(REPO, "API_KEY").unwrap().updated_at), "{lock}");

    // Unchanged: the stamps match, nothing is written.
    let writes = github.writes();
    let second = run(&project, &["sync"]);
    assert!(second.stderr.contains("targets updated 0, unchanged 6, failed 0"), "{second:?}");
    assert_eq!(github.writes(), writes, "an unchanged run writes nothing");
    assert_eq!(run(&project, &["drift"]).code, 0);

    // A PUT behind SecretZero's back: a new `updated_at`, which drift reports.
    github.tamper(PROD, "DB_PASSWORD", "changed-by-hand");
    let drift = run(&project, &["drift", "--format", "json"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("\"rule\": \"drift/value-changed\""), "{drift:?}");
    assert!(
        drift.stderr.contains(
            "github-secret:gh:acme/app[prod]/DB of secret `db` was written by someone else"
        ),
        "{drift:?}"
    );
    let restore = run(&project, &["sync"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    assert!(restore.stderr.contains("targets updated 1, unchanged 5, failed 0"), "{restore:?}");
    assert_eq!(github.open(PROD, "DB_PASSWORD"), Some(env("DB_PASSWORD")));
    assert_eq!(run(&project, &["drift"]).code, 0);

    // One field's secret deleted: the target is missing in part, and said to be.
    github.remove(PROD, "DB_USERNAME");
    let drift = run(&project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(
        drift.stdout.contains(
            "github-secret:gh:acme/app[prod]/DB of secret `db` is gone, whole or in part (a \
             secret per field): the lockfile records it as written"
        ),
        "{drift:?}"
    );
    assert_eq!(run(&project, &["sync"]).code, 0);
    assert_eq!(github.open(PROD, "DB_USERNAME").as_deref(), Some("app"));

    // A forced update seals a new value.
    let forced = run(&project, &["sync", "--force", "-s", "api_key"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_ne!(github.open(REPO, "API_KEY"), None);
    assert_eq!(github.open(REPO, "API_KEY"), Some(env("API_KEY")));
    let log = github.state.lock().unwrap().log.clone();
    let put = log.iter().rev().find(|(method, _, _)| method == "PUT").unwrap();
    assert_eq!(put.1, "/repos/acme/app/actions/secrets/API_KEY");
    let fields: Vec<&String> = put.2.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["encrypted_value", "key_id"]);
    assert!(!log.iter().any(|(_, _, body)| body.to_string().contains(&env("API_KEY"))));
}

#[test]
fn names_and_scopes_github_refuses_stop_every_command_at_their_line() {
    let github = GithubDouble::start();
    let secrets = format!(
        r#"  dashed:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app, name: bad-name}}]
  reserved:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app, name: github_token}}]
  digit:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app, name: 1password}}]
  both:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app, org: acme}}]
  selected:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, org: acme, visibility: selected}}]
  long_env:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app, environment: "{env}"}}]
  github:
    template:
      type: t
      fields: [{{name: key, generator: {{type: static, value: "x"}}}}]
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app}}]
  fine:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app}}]
"#,
        env = "e".repeat(256)
    );
    let project = Project::new(&secretfile(&github, "", &secrets));
    let validate = project.run(&["validate", "--format", "json"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let report: serde_json::Value = serde_json::from_str(&validate.stdout).unwrap();
    let found: Vec<String> = report["checks"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}: {}", f["rule"], f["line"], f["message"]))
        .collect();
    let expected = [
        "\"secretfile/target\" 7: \"secret `dashed`: github-secret `BAD-NAME` of repository \
         `acme/app`: the secret name `BAD-NAME` may hold only letters, digits and `_` (GitHub's \
         rule)\"",
        "\"secretfile/target\" 10: \"secret `reserved`: github-secret `GITHUB_TOKEN` of \
         repository `acme/app`: the secret name `GITHUB_TOKEN` starts with `GITHUB_`, which \
         GitHub keeps for itself\"",
        "\"secretfile/target\" 13: \"secret `digit`: github-secret `1PASSWORD` of repository \
         `acme/app`: the secret name `1PASSWORD` starts with a digit, which GitHub refuses\"",
        "\"secretfile/target\" 16: \"secret `both`: github-secret `BOTH`: set `org`, or `owner` \
         and `repo`, not both\"",
        "\"secretfile/target\" 19: \"secret `selected`: github-secret `SELECTED`: \
         `visibility: selected` needs `selected_repositories`, a comma-separated list of \
         repository names\"",
        "\"secretfile/target\" 22: \"secret `long_env`: github-secret `LONG_ENV`: \
         `environment` has 256 characters; GitHub allows 1 to 255\"",
        "\"secretfile/target\" 27: \"secret `github`: github-secret `GITHUB_KEY` of \
         repository `acme/app`: field `key` of `github`: the secret name `GITHUB_KEY` starts \
         with `GITHUB_`, which GitHub keeps for itself\"",
    ];
    assert_eq!(found, expected, "{validate:?}");

    // Every command stops before any request, the valid secret's included.
    for args in [&["sync"][..], &["sync", "--dry-run"], &["drift"], &["test"]] {
        let run = run(&project, args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains("Secretfile.yml has 7 problems"), "{args:?}: {run:?}");
    }
    assert_eq!(github.requests(), 0);
}

#[test]
fn a_value_over_48_kb_is_refused_before_any_request() {
    let github = GithubDouble::start();
    let big = "x".repeat(48 * 1024 + 1);
    let secrets = format!(
        r#"  big:
    generator: {{type: static, value: "{big}"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app}}]
  fine:
    generator: {{type: static, value: "x"}}
    targets: [{{type: github-secret, provider: gh, owner: acme, repo: app}}]
"#
    );
    let project = Project::new(&secretfile(&github, "", &secrets));
    let plan = run(&project, &["sync", "--dry-run"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.stdout.contains(
            "! skip      github-secret:gh:acme/app/BIG (github-secret `BIG` of repository \
             `acme/app`: the value of `big` is 49153 bytes; GitHub secrets hold at most 48 KB \
             (49152 bytes))"
        ),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("+ create    github-secret:gh:acme/app/FINE (not there yet)"));
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    let puts: Vec<String> = github
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(method, _, _)| method == "PUT")
        .map(|(_, path, _)| path.clone())
        .collect();
    assert_eq!(puts, ["/repos/acme/app/actions/secrets/FINE"]);
}

#[test]
fn validate_refuses_options_keys_and_colliding_names() {
    let project = Project::new(
        r#"version: "1.0"
providers:
  gh: {kind: github, auth: {kind: token, password: x}, config: {url: "https://x"}}
  app: {kind: github, auth: {kind: app, private_key_file: key.pem}}
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: github-secret, provider: gh, owner: acme, repository: app}]
  b:
    generator: {type: random-string}
    targets: [{type: github-secret, provider: gh, owner: acme, repo: app, name: shared}]
  c:
    generator: {type: random-string}
    targets: [{type: github-secret, provider: gh, owner: ACME, repo: app, name: SHARED}]
  d:
    template:
      type: creds
      fields:
        - {name: api-key, generator: {type: random-string}}
        - {name: api_key, generator: {type: random-string}}
    targets: [{type: github-secret, provider: gh, owner: acme, repo: app}]
  e:
    generator: {type: random-string}
    targets:
      - {type: github-secret, provider: gh, owner: acme, repo: app, name: twice}
      - {type: github-secret, provider: gh, owner: Acme, repo: APP, name: TWICE}
"#,
    );
    let validate = project.run(&["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let output = validate.all_output();
    for expected in [
        "`repository`",
        "`password`",
        "`url`",
        "`app_id`",
        "`installation_id`",
        "secrets `b` and `c` both write secret `SHARED`",
        "fields `api-key` and `api_key` of secret `d` both write secret `D_API_KEY`",
        "secret `e` writes secret `TWICE` of github-secret:gh:Acme/APP twice",
    ] {
        assert!(output.contains(expected), "{expected} {validate:?}");
    }
}

#[test]
fn rate_limits_and_server_errors_are_retried_and_the_in_flight_limit_holds() {
    let github = GithubDouble::start();
    let mut secrets = String::new();
    for i in 0..12 {
        secrets.push_str(&format!(
            "  s{i}:\n    generator: {{type: random-string}}\n    targets: [{{type: \
             github-secret, provider: gh, owner: acme, repo: app}}]\n"
        ));
    }
    let project = Project::new(&secretfile(&github, ", max_in_flight: 2", &secrets));
    {
        let mut state = github.state.lock().unwrap();
        state.throttle = 2;
        state.fail = 2;
    }
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 12, unchanged 0, failed 0"), "{sync:?}");
    assert_eq!(github.state.lock().unwrap().scopes[REPO].secrets.len(), 12);
    let max = github.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 2, "{max} requests were in flight at once");
    // (That the key is fetched once per scope, not once per secret, is checked without faults
    // in `create_unchanged_drift_by_stamp_and_rewrite`: here a fetch may be retried.)
}

#[test]
fn an_organization_secrets_visibility_changed_in_the_secretfile_is_written() {
    let github = GithubDouble::start();
    // The value is also in a file: a sealed store alone could not give it back for the write.
    let secrets = "  token:\n    generator: {type: random-string}\n    targets: [{type: \
                   local-file, path: .env}, {type: github-secret, provider: gh, org: acme}]\n";
    let project = Project::new(&secretfile(&github, "", secrets));
    assert_eq!(run(&project, &["sync"]).code, 0);
    let before = github.secret(ORG, "TOKEN").unwrap();
    assert_eq!((before.visibility.as_deref(), before.selected.len()), (Some("private"), 0));

    let selected = project
        .read("Secretfile.yml")
        .replace("org: acme}", "org: acme, visibility: selected, selected_repositories: api}");
    project.write("Secretfile.yml", &selected);
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 1, unchanged 1, failed 0"), "{sync:?}");
    let after = github.secret(ORG, "TOKEN").unwrap();
    assert_eq!((after.visibility.as_deref(), after.selected), (Some("selected"), vec![1003]));
    assert_eq!(github.open(ORG, "TOKEN"), dotenv_value(&project.path(".env"), "TOKEN"));

    let unknown = selected.replace("selected_repositories: api", "selected_repositories: nope");
    project.write("Secretfile.yml", &unknown);
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains("HTTP 404: looking up repository `acme/nope`: Not Found"),
        "{sync:?}"
    );

    // For a secret not there yet, the plan already knows: nothing is created where it would
    // fail.
    let new = unknown.replace("  token:", "  other:");
    project.write("Secretfile.yml", &new);
    let plan = run(&project, &["sync", "--dry-run", "-s", "other"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.stdout.contains(
            "! skip      github-secret:gh:org:acme/OTHER (HTTP 404: looking up repository \
             `acme/nope`: Not Found; it does not exist, or the token cannot see it"
        ),
        "{plan:?}"
    );
}

#[test]
fn a_write_that_stays_rate_limited_fails_without_exit_3() {
    let github = GithubDouble::start();
    let secrets = "  a:\n    generator: {type: random-string}\n    targets: [{type: github-secret, \
                   provider: gh, owner: acme, repo: app}]\n";
    let project = Project::new(&secretfile(&github, ", max_attempts: 2", secrets));
    github.state.lock().unwrap().throttle = 10;
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.stderr.contains("HTTP 403"), "{sync:?}");
    assert!(sync.stderr.contains("secondary rate limit"), "{sync:?}");
    assert!(sync.stderr.contains("lower `max_in_flight`"), "{sync:?}");
}

#[test]
fn bad_tokens_and_missing_permissions_exit_3() {
    let github = GithubDouble::start();
    let project = Project::new(&secretfile(&github, "", SECRETS));

    let bad = run_as(&project, "ghp-revoked", &["sync"]);
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(
        bad.stderr.contains(
            "HTTP 401: reading secret `API_KEY` of repository `acme/app`: Bad \
                             credentials; the token is missing, expired or revoked"
        ),
        "{bad:?}"
    );
    assert!(!bad.all_output().contains("ghp-revoked"), "{bad:?}");

    let denied = run_as(&project, NO_SECRETS, &["sync"]);
    assert_eq!(denied.code, 3, "{denied:?}");
    assert!(
        denied.stderr.contains(
            "HTTP 403: reading secret `API_KEY` of repository `acme/app`: \
                                Resource not accessible by personal access token; the token \
                                needs the Secrets permission"
        ),
        "{denied:?}"
    );

    let none = project.run_env(&["sync"], &[]);
    assert_eq!(none.code, 3, "{none:?}");
    assert!(none.stderr.contains("no GitHub token: neither GITHUB_TOKEN nor GH_TOKEN is set"));
    let gh = project.run_env(&["sync"], &[("GH_TOKEN", TOKEN)]);
    assert_eq!(gh.code, 0, "GH_TOKEN is read too: {gh:?}");
}

#[test]
fn test_reads_each_scopes_public_key() {
    let github = GithubDouble::start();
    let project = Project::new(&secretfile(&github, "", SECRETS));
    let test = run(&project, &["test"]);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(
        test.stderr.contains(
            "(github-secret, 3 targets): may read the secrets' public key of repository \
             `acme/app`; may read the secrets' public key of environment `prod` of repository \
             `acme/app`; may read the secrets' public key of organization `acme`; found the \
             selected repositories of `acme`"
        ),
        "{test:?}"
    );
    let denied = run_as(&project, NO_SECRETS, &["test"]);
    assert_eq!(denied.code, 3, "{denied:?}");
    assert!(denied.stderr.contains("Resource not accessible by personal access token"));
    assert_eq!(github.writes(), 0, "test writes nothing");
}

#[test]
fn an_unknown_repository_or_environment_says_what_404_means() {
    let github = GithubDouble::start();
    let secrets = r#"  a:
    generator: {type: random-string}
    targets: [{type: github-secret, provider: gh, owner: acme, repo: app, environment: staging}]
  b:
    generator: {type: random-string}
    targets: [{type: github-secret, provider: gh, owner: acme, repo: app}]
"#;
    let project = Project::new(&secretfile(&github, "", secrets));
    // The read finds no environment: the dry run already shows the target skipped.
    let dry = run(&project, &["sync", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(
        dry.stdout.contains(
            "! skip      github-secret:gh:acme/app[staging]/A (HTTP 404: the public key of \
             environment `staging` of repository `acme/app`: Not Found;"
        ),
        "{dry:?}"
    );
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "environment `staging` of repository `acme/app` does not exist, or \
                              the token cannot see it"
        ),
        "{sync:?}"
    );
    assert_eq!(github.writes(), 1, "only `b` is written: {sync:?}");
    assert!(sync.stderr.contains("SecretZero does not create it"), "{sync:?}");
    assert!(github.secret(REPO, "B").is_some(), "the other target is still written");
}

#[test]
fn a_github_app_signs_a_jwt_and_uses_its_installation_token() {
    let github = GithubDouble::start();
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/github/app-key.pem");
    let project = Project::new(&format!(
        "version: \"1.0\"\nproviders:\n  gh: {{kind: github, config: {{api_url: \"{}\"}}, auth: \
         {{kind: app, app_id: \"{APP_ID}\", installation_id: \"{INSTALLATION_ID}\", \
         private_key_env: APP_KEY}}}}\nsecrets:\n  a:\n    generator: {{type: random-string}}\n    \
         targets: [{{type: github-secret, provider: gh, owner: acme, repo: app}}]\n  b:\n    \
         generator: {{type: random-string}}\n    targets: [{{type: github-secret, provider: gh, \
         owner: acme, repo: app}}]\n",
        github.url
    ));
    let pem = std::fs::read_to_string(key).unwrap();
    let sync = project.run_env(&["sync"], &[("APP_KEY", &pem)]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(github.secret(REPO, "A").is_some() && github.secret(REPO, "B").is_some());
    let log = github.state.lock().unwrap().log.clone();
    let exchanges = log.iter().filter(|(_, path, _)| path.starts_with("/app/")).count();
    assert_eq!(exchanges, 1, "one token for the run: {log:?}");
    assert!(!sync.all_output().contains("PRIVATE KEY"), "{sync:?}");

    let wrong = Project::new(&project.read("Secretfile.yml").replace("\"77\"", "\"78\""));
    let failed = wrong.run_env(&["sync"], &[("APP_KEY", &pem)]);
    assert_eq!(failed.code, 3, "{failed:?}");
    assert!(failed.stderr.contains("check `installation_id`"), "{failed:?}");
}

#[test]
fn no_value_reaches_any_output() {
    let github = GithubDouble::start();
    let secrets = r#"  leak:
    template:
      type: creds
      fields:
        - {name: user, generator: {type: static, value: CANARY-github-user}}
        - {name: pass, generator: {type: static, value: CANARY-github-pass}}
    targets: [{type: github-secret, provider: gh, org: acme, visibility: all}]
"#;
    let project = Project::new(&secretfile(&github, "", secrets));
    let mut seen = String::new();
    for args in [&["-vv", "sync"][..], &["sync", "--force"], &["drift"], &["test"]] {
        let done = run(&project, args);
        assert_eq!(done.code, 0, "{args:?} {done:?}");
        seen.push_str(&done.all_output());
    }
    assert_eq!(github.open(ORG, "LEAK_PASS").as_deref(), Some("CANARY-github-pass"));
    assert_eq!(github.secret(ORG, "LEAK_USER").unwrap().visibility.as_deref(), Some("all"));
    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
    let log = github.state.lock().unwrap().log.clone();
    assert!(!log.iter().any(|(_, _, body)| body.to_string().contains("CANARY")));
}

#[test]
fn an_answer_without_updated_at_is_never_recorded() {
    let github = GithubDouble::start();
    let project = Project::new(&secretfile(&github, ", max_attempts: 1", SECRETS));
    assert_eq!(run(&project, &["sync"]).code, 0);
    let lock = project.read(".gitsecrets.lock");

    // The read after a write gets no JSON: the write is reported as failed, not recorded.
    github.state.lock().unwrap().garble_after_put = true;
    let forced = run(&project, &["sync", "--force", "-s", "api_key"]);
    assert_eq!(forced.code, 1, "{forced:?}");
    assert!(
        forced.stderr.contains(
            "Failed to write api_key to github-secret:gh:acme/app/API_KEY: answer: reading \
             secret `API_KEY` of repository `acme/app`: GitHub's answer for secret `API_KEY` has \
             no `updated_at` timestamp; the value was written, but its stamp could not be read \
             back; the next `sync` writes it again"
        ),
        "{forced:?}"
    );
    let after = project.read(".gitsecrets.lock");
    assert!(!after.contains("\"unknown\""), "{after}");
    assert_ne!(after, lock, "the local file's new value is recorded");

    // A drift check whose read gets no JSON still knows from the lockfile that the new value
    // is not recorded there: the target is stale, whatever the read says.
    github.state.lock().unwrap().garble = 1;
    let drift = run(&project, &["drift", "api_key"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("error[drift/stale-target]: github-secret"), "{drift:?}");

    // The next sync writes it again, as the message said, and records its stamp.
    let again = run(&project, &["sync"]);
    assert_eq!(again.code, 0, "{again:?}");
    let env = |key| dotenv_value(&project.path(".env"), key).unwrap();
    assert_eq!(github.open(REPO, "API_KEY"), Some(env("API_KEY")));
    assert_eq!(run(&project, &["drift"]).code, 0);
}

#[test]
fn a_field_deleted_behind_secretzeros_back_is_missing_and_written_again() {
    let github = GithubDouble::start();
    let project = Project::new(&secretfile(&github, "", SECRETS));
    assert_eq!(run(&project, &["sync"]).code, 0);
    github.remove(PROD, "DB_PASSWORD");
    let drift = run(&project, &["drift", "db"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(
        drift.stdout.contains(
            "error[drift/target-missing]: github-secret:gh:acme/app[prod]/DB of secret `db` is \
             gone"
        ),
        "{drift:?}"
    );
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let env = |key| dotenv_value(&project.path(".env"), key).unwrap();
    assert_eq!(github.open(PROD, "DB_PASSWORD"), Some(env("DB_PASSWORD")));
    assert_eq!(run(&project, &["drift"]).code, 0);
}

#[test]
fn a_write_that_fails_after_some_fields_says_which_landed() {
    let github = GithubDouble::start();
    let project = Project::new(&secretfile(&github, ", max_attempts: 1", SECRETS));
    assert_eq!(run(&project, &["sync"]).code, 0);
    github.state.lock().unwrap().refuse_put = Some("DB_PASSWORD".into());
    let forced = run(&project, &["sync", "--force", "-s", "db"]);
    assert_eq!(forced.code, 1, "{forced:?}");
    assert!(
        forced.stderr.contains(
            "HTTP 500: writing secret `DB_PASSWORD` of environment `prod` of repository \
             `acme/app`: Server Error; GitHub failed on its side after every retry; check \
             githubstatus.com (or your Enterprise server), then sync again (raise `max_attempts` \
             to retry longer); `DB_USERNAME` already holds the new value and the other fields \
             the old one, until a write of every field succeeds"
        ),
        "{forced:?}"
    );
}

#[test]
fn a_value_only_github_holds_is_neither_lost_silently_nor_undone() {
    let github = GithubDouble::start();
    let secrets = "  a:\n    generator: {type: random-string}\n    targets: [{type: local-file, \
                   path: .env}, {type: github-secret, provider: gh, owner: acme, repo: app}]\n";
    let project = Project::new(&secretfile(&github, ", max_attempts: 1", secrets));
    assert_eq!(run(&project, &["sync"]).code, 0);

    // A forced value that GitHub refuses: the lockfile knows GitHub holds the older one, and
    // drift says so without a read.
    github.state.lock().unwrap().refuse_put = Some("A".into());
    assert_eq!(run(&project, &["sync", "--force"]).code, 1);
    github.state.lock().unwrap().refuse_put = None;
    let drift = run(&project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(
        drift.stdout.contains(
            "error[drift/stale-target]: github-secret:gh:acme/app/A of secret `a` still holds an \
             older value: the current one was not written there (the write failed or was not \
             made)"
        ),
        "{drift:?}"
    );
    assert_eq!(run(&project, &["sync"]).code, 0);
    assert_eq!(run(&project, &["drift"]).code, 0);

    // The local file goes; the value is only in GitHub, which never gives it back. The run
    // says so and fails, rather than planning a write it cannot make.
    std::fs::remove_file(project.path(".env")).unwrap();
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "Failed to write a to local-file:.env#A: the recorded value is only in targets that \
             cannot be read back now; set A to it, or `sync --force -s a` makes a new one"
        ),
        "{sync:?}"
    );
}
