//! The `gitlab-variable` target against an in-process double of GitLab's REST API
//! (`tests/common/gitlab_double.rs`, which names the documents it follows).

#![cfg(feature = "gitlab")]

mod common;

#[path = "common/gitlab_double.rs"]
mod gitlab_double;

use common::{Project, Run, dotenv_value};
use gitlab_double::{DEVELOPER, GitlabDouble, MAINTAINER, plain};

fn run_as(gitlab: &GitlabDouble, project: &Project, token: &str, args: &[&str]) -> Run {
    project.run_env(args, &[("CI_SERVER_URL", &gitlab.url), ("GITLAB_TOKEN", token)])
}

fn run(gitlab: &GitlabDouble, project: &Project, args: &[&str]) -> Run {
    run_as(gitlab, project, MAINTAINER, args)
}

const SECRETS: &str = r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string, length: 24}
    targets:
      - {type: local-file, path: .env}
      - {type: gitlab-variable, project: team/app, masked: "true", protected: "true"}
  db:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-string, length: 16}}
    targets:
      - {type: local-file, path: .env}
      - {type: gitlab-variable, group: "7", variable_type: file, description: "database"}
"#;

#[test]
fn create_unchanged_drift_and_update() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(SECRETS);

    let first = run(&gitlab, &project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let password = dotenv_value(&project.path(".env"), "DB_PASSWORD").unwrap();
    let stored = gitlab.variable("team/app", "API_KEY", "*").unwrap();
    assert_eq!(
        (stored.value.as_str(), stored.masked, stored.protected),
        (key.as_str(), true, true)
    );
    let user = gitlab.variable("team", "DB_USERNAME", "*").unwrap();
    assert_eq!((user.value.as_str(), user.variable_type.as_str()), ("app", "file"));
    assert_eq!(user.description.as_deref(), Some("database"));
    assert_eq!(gitlab.variable("team", "DB_PASSWORD", "*").unwrap().value, password);

    // Unchanged: read back, nothing written.
    let writes = gitlab.writes();
    let second = run(&gitlab, &project, &["sync"]);
    assert!(second.stderr.contains("targets updated 0, unchanged 4, failed 0"), "{second:?}");
    assert_eq!(gitlab.writes(), writes, "an unchanged run writes nothing");
    assert_eq!(run(&gitlab, &project, &["drift"]).code, 0);

    // Changed in the UI: drift sees it, sync puts the recorded value back.
    gitlab.put("team", plain("DB_PASSWORD", "changed-by-hand", "*"));
    let drift = run(&gitlab, &project, &["drift"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("drift/value-changed"), "{drift:?}");
    assert!(!drift.all_output().contains("changed-by-hand"));
    let restore = run(&gitlab, &project, &["sync"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(gitlab.variable("team", "DB_PASSWORD", "*").unwrap().value, password);

    // A forced update: a PUT in the variable's own scope.
    let forced = run(&gitlab, &project, &["sync", "--force", "-s", "api_key"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    let new_key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_ne!(new_key, key);
    assert_eq!(gitlab.variable("team/app", "API_KEY", "*").unwrap().value, new_key);
    let log = gitlab.state.lock().unwrap().log.clone();
    assert!(
        log.iter().any(|(method, path, _)| method == "PUT"
            && path == "/api/v4/projects/team/app/variables/API_KEY?filter[environment_scope]=*"),
        "{log:?}"
    );
}

#[test]
fn a_key_in_several_scopes_is_written_only_in_its_own() {
    let gitlab = GitlabDouble::start();
    gitlab.put("team/app", plain("TOKEN", "production-value", "production"));
    gitlab.put("team/app", plain("TOKEN", "review-value", "review/*"));
    let project = Project::new(
        r#"version: "1.0"
secrets:
  token:
    generator: {type: random-string}
    targets:
      - {type: gitlab-variable, project: "42", environment_scope: staging}
"#,
    );
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let staging = gitlab.variable("team/app", "TOKEN", "staging").unwrap();
    assert_eq!(gitlab.variables("team/app").len(), 3);

    let forced = run(&gitlab, &project, &["sync", "--force"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_ne!(gitlab.variable("team/app", "TOKEN", "staging").unwrap().value, staging.value);
    assert_eq!(
        gitlab.variable("team/app", "TOKEN", "production").unwrap().value,
        "production-value"
    );
    assert_eq!(gitlab.variable("team/app", "TOKEN", "review/*").unwrap().value, "review-value");

    // Every read and update named the scope: without it GitLab answers 409.
    let log = gitlab.state.lock().unwrap().log.clone();
    for (method, path, _) in &log {
        if path.contains("/variables/") {
            assert!(path.ends_with("?filter[environment_scope]=staging"), "{method} {path}");
        }
    }
}

#[test]
fn limits_are_refused_before_any_request() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(
        r#"version: "1.0"
secrets:
  short:
    generator: {type: static, value: "abc"}
    targets: [{type: gitlab-variable, project: team/app, masked: "true"}]
  spaced:
    generator: {type: static, value: "two words here"}
    targets: [{type: gitlab-variable, project: team/app, masked: "true", raw: "true"}]
  symbols:
    generator: {type: static, value: "pa$$w0rd!!"}
    targets: [{type: gitlab-variable, project: team/app, masked: "true"}]
  raw_symbols:
    generator: {type: static, value: "pa$$w0rd!!"}
    targets: [{type: gitlab-variable, project: team/app, masked: "true", raw: "true"}]
  db:
    template:
      type: creds
      fields:
        - {name: user, generator: {type: static, value: app}}
        - {name: password, generator: {type: static, value: long-enough-1}}
    targets: [{type: gitlab-variable, project: team/app, masked: "true"}]
"#,
    );
    let plan = run(&gitlab, &project, &["sync", "--dry-run"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    for expected in [
        "! skip      gitlab-variable::team/app[*]/SHORT (the value of `short` cannot be masked in \
         gitlab-variable `SHORT` of project `team/app` (scope `*`): GitLab masks only values of \
         at least 8 characters; it has 3; SecretZero never writes a masked variable unmasked)",
        "`SPACED` of project `team/app` (scope `*`): GitLab masks only one line without spaces \
         or other whitespace",
        "`SYMBOLS` of project `team/app` (scope `*`): GitLab masks a variable that is not `raw` \
         only when its value holds letters, digits and `+ / = - _ @ : . ~`; set `raw: \"true\"` \
         to mask any value without whitespace",
        "(field `user` of `db` cannot be masked in gitlab-variable `DB_USER` of project \
         `team/app` (scope `*`): GitLab masks only values of at least 8 characters; it has 3;",
    ] {
        assert!(plan.stdout.contains(expected), "missing {expected:?} in {plan:?}");
    }
    let raw = "+ create    gitlab-variable::team/app[*]/RAW_SYMBOLS (not there yet)";
    assert!(plan.stdout.contains(raw), "a raw value may hold symbols: {plan:?}");
    // A value the store refuses is read (the plan needs to know what is there) but never
    // written.
    let log = gitlab.state.lock().unwrap().log.clone();
    assert!(log.iter().all(|(method, _, _)| method == "GET"), "{log:?}");

    // A real sync refuses the same targets and writes the one that may be written.
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    let stored: Vec<String> = gitlab.variables("team/app").into_iter().map(|v| v.key).collect();
    assert_eq!(stored, ["RAW_SYMBOLS"]);
    assert!(!sync.all_output().contains("pa$$w0rd"), "{sync:?}");
}

#[test]
fn keys_scopes_and_flags_gitlab_refuses_stop_every_command_at_their_line() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(
        &r#"version: "1.0"
secrets:
  dashed:
    generator: {type: static, value: "x"}
    targets: [{type: gitlab-variable, project: team/app, key: "bad-key"}]
  both:
    generator: {type: static, value: "x"}
    targets: [{type: gitlab-variable, project: team/app, group: team}]
  scoped:
    generator: {type: static, value: "x"}
    targets: [{type: gitlab-variable, project: team/app, environment_scope: "prod|staging"}]
  nowhere:
    generator: {type: static, value: "x"}
    targets: [{type: gitlab-variable}]
  yes:
    generator: {type: static, value: "x"}
    targets: [{type: gitlab-variable, project: team/app, masked: "yes"}]
  fields:
    template:
      type: creds
      fields: [{name: password, generator: {type: static, value: "x"}}]
    targets: [{type: gitlab-variable, project: team/app, key: LONG}]
"#
        .replace("LONG", &"K".repeat(250)),
    );
    let validate = run(&gitlab, &project, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let headlines = validate.error_headlines();
    assert_eq!(
        headlines,
        [
            "error[secretfile/target]: secret `dashed`: gitlab-variable `bad-key` of project \
             `team/app` (scope `*`): the key `bad-key` may hold only letters, digits and `_` \
             (GitLab's rule)",
            " --> Secretfile.yml:5:15",
            "error[secretfile/target]: secret `both`: gitlab-variable `BOTH` of project \
             `team/app` (scope `*`): set `project` or `group`, not both",
            " --> Secretfile.yml:8:15",
            "error[secretfile/target]: secret `scoped`: gitlab-variable `SCOPED` of project \
             `team/app` (scope `prod|staging`): `environment_scope` may hold only letters, \
             digits, spaces (not at either end) and `- _ / $ { } . *` (GitLab's rule); `*` is \
             every environment",
            "  --> Secretfile.yml:11:15",
            "error[secretfile/target]: secret `nowhere`: gitlab-variable `NOWHERE` of no project \
             or group (scope `*`): set `project` (an id or a full path) or `group`",
            "  --> Secretfile.yml:14:15",
            "error[secretfile/target]: secret `yes`: gitlab-variable `YES` of project `team/app` \
             (scope `*`): `masked` must be \"true\" or \"false\"",
            "  --> Secretfile.yml:17:15",
            &format!(
                "error[secretfile/target]: secret `fields`: gitlab-variable `{long}` of project \
                 `team/app` (scope `*`): field `password` of `fields`: the key `{long}` is 259 \
                 characters; GitLab allows at most 255",
                long = format!("{}_PASSWORD", "K".repeat(250))
            ),
            "  --> Secretfile.yml:22:15",
        ],
        "{validate:?}"
    );
    for args in [&["sync"][..], &["sync", "--dry-run"], &["drift"]] {
        let run = run(&gitlab, &project, args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains("Secretfile.yml has 6 problems"), "{args:?}: {run:?}");
    }
    assert_eq!(gitlab.requests(), 0);
}

#[test]
fn validate_refuses_options_and_provider_keys_gitlab_does_not_know() {
    let project = Project::new(
        r#"version: "1.0"
providers:
  gl: {kind: gitlab, auth: {kind: token, password: x}, config: {uri: "https://x"}}
secrets:
  a:
    generator: {type: random-string}
    targets: [{type: gitlab-variable, provider: gl, project: team/app, scope: production}]
"#,
    );
    let validate = project.run(&["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    for expected in ["`scope`", "`password`", "`uri`"] {
        assert!(validate.all_output().contains(expected), "{expected} {validate:?}");
    }
}

#[test]
fn throttling_and_server_errors_are_retried_and_the_in_flight_limit_holds() {
    let gitlab = GitlabDouble::start();
    let mut file = String::from(
        "version: \"1.0\"\nproviders:\n  gl: {kind: gitlab, auth: {kind: token}, config: \
         {max_in_flight: 2}}\nsecrets:\n",
    );
    for i in 0..20 {
        file.push_str(&format!(
            "  s{i}:\n    generator: {{type: random-string}}\n    targets: [{{type: \
             gitlab-variable, project: team/app}}]\n"
        ));
    }
    let project = Project::new(&file);
    {
        let mut state = gitlab.state.lock().unwrap();
        state.throttle = 2;
        state.fail = 2;
    }
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 20, unchanged 0, failed 0"), "{sync:?}");
    assert_eq!(gitlab.variables("team/app").len(), 20);
    let max = gitlab.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 2, "{max} requests were in flight at once");
}

#[test]
fn a_write_that_stays_throttled_fails_and_is_not_recorded() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(
        "version: \"1.0\"\nproviders:\n  gl: {kind: gitlab, auth: {kind: token}, config: \
         {max_attempts: 2}}\nsecrets:\n  a:\n    generator: {type: random-string}\n    \
         targets: [{type: gitlab-variable, project: team/app}]\n",
    );
    gitlab.state.lock().unwrap().throttle = 10;
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.stderr.contains("HTTP 429"), "{sync:?}");
    assert!(sync.stderr.contains("lower `max_in_flight`"), "{sync:?}");
}

#[test]
fn bad_tokens_and_missing_roles_exit_3() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(SECRETS);

    let bad = run_as(&gitlab, &project, "glpat-revoked", &["sync"]);
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(
        bad.stderr.contains(
            "HTTP 401: reading `API_KEY`: 401 Unauthorized; the token is missing, expired or \
             revoked"
        ),
        "{bad:?}"
    );
    assert!(!bad.all_output().contains("glpat-revoked"), "{bad:?}");

    let developer = run_as(&gitlab, &project, DEVELOPER, &["sync"]);
    assert_eq!(developer.code, 3, "{developer:?}");
    assert!(
        developer.stderr.contains("HTTP 403: reading `API_KEY`: 403 Forbidden"),
        "{developer:?}"
    );
    assert!(developer.stderr.contains("Maintainer role"), "{developer:?}");
    assert!(gitlab.variables("team/app").is_empty());

    let none = project.run_env(&["sync"], &[("CI_SERVER_URL", &gitlab.url)]);
    assert_eq!(none.code, 3, "{none:?}");
    assert!(none.stderr.contains("no GitLab token: GITLAB_TOKEN is not set"), "{none:?}");
    assert_eq!(gitlab.writes(), 0);
}

#[test]
fn test_proves_the_token_and_the_role() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(SECRETS);
    let test = run(&gitlab, &project, &["test"]);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(
        test.stderr.contains(
            "(gitlab-variable, 2 targets): token accepted (user `maintainer`); may manage the \
             variables of project `team/app`; may manage the variables of group `7`"
        ),
        "{test:?}"
    );
    let developer = run_as(&gitlab, &project, DEVELOPER, &["test"]);
    assert_eq!(developer.code, 3, "{developer:?}");
    assert!(
        developer.stderr.contains(
            "HTTP 403: listing the variables of project `team/app`: 403 Forbidden; the token \
             needs the `api` scope"
        ),
        "{developer:?}"
    );
    // Every scope refused is named, not only the first.
    assert!(developer.stderr.contains("listing the variables of group `7`"), "{developer:?}");
    assert!(developer.stderr.contains("  passed: token accepted (user `developer`)\n"));
    assert_eq!(gitlab.writes(), 0, "test writes nothing");
}

#[test]
fn a_masked_and_hidden_variable_reads_as_sealed() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(
        r#"version: "1.0"
secrets:
  deploy:
    generator: {type: random-string, length: 32}
    targets: [{type: gitlab-variable, project: team/app, masked_and_hidden: "true"}]
"#,
    );
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let stored = gitlab.variable("team/app", "DEPLOY", "*").unwrap();
    assert!(stored.hidden && stored.masked, "{stored:?}");

    // GitLab shows no value and no change time for it: a sync trusts the lockfile's record,
    // as for any store that never gives values back, and drift says it cannot tell.
    let writes = gitlab.writes();
    let again = run(&gitlab, &project, &["sync"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("targets updated 0, unchanged 1, failed 0"), "{again:?}");
    assert_eq!(gitlab.writes(), writes, "{again:?}");
    let drift = run(&gitlab, &project, &["drift"]);
    assert_eq!(drift.code, 0, "{drift:?}");
    assert!(
        drift.all_output().contains("GitLab never shows the value of a masked and hidden variable"),
        "{drift:?}"
    );

    // A forced sync writes it again in place: the value is updated, the variable stays hidden.
    let forced = run(&gitlab, &project, &["sync", "--force"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    let after = gitlab.variable("team/app", "DEPLOY", "*").unwrap();
    assert!(after.hidden && after.value != stored.value, "{after:?}");
}

#[test]
fn no_value_reaches_any_output() {
    const CANARY: &str = "CANARY-gitlab-7d1f3a";
    let gitlab = GitlabDouble::start();
    let project = Project::new(&format!(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {{type: static, value: {CANARY}}}\n    \
         targets: [{{type: gitlab-variable, project: team/app, masked: \"true\"}}]\n  b:\n    \
         generator: {{type: static, value: \"{CANARY} spaced\"}}\n    targets: [{{type: \
         gitlab-variable, project: team/app, masked: \"true\"}}]\n"
    ));
    let mut seen = String::new();
    for args in [&["-vv", "sync"][..], &["sync", "--dry-run", "--format", "json"]] {
        seen.push_str(&run(&gitlab, &project, args).all_output());
    }
    gitlab.put("team/app", plain("A", &format!("{CANARY}-hand"), "*"));
    for args in [&["-vv", "drift", "--format", "sarif"][..], &["-vv", "sync"], &["test"]] {
        seen.push_str(&run(&gitlab, &project, args).all_output());
    }
    seen.push_str(&run_as(&gitlab, &project, DEVELOPER, &["-vv", "sync", "--force"]).all_output());
    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
}

#[test]
fn an_unknown_project_fails_its_targets_without_stopping_the_run() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(
        r#"version: "1.0"
secrets:
  a:
    generator: {type: random-string}
    targets:
      - {type: gitlab-variable, project: team/gone}
      - {type: gitlab-variable, group: team}
"#,
    );
    // The read says the project is not there: a dry run shows the target skipped and fails,
    // and the sync writes nothing there, only elsewhere.
    let reason = "GitLab has no project `team/gone`, or the token cannot see it (HTTP 404: 404 \
                  Project Not Found)";
    let dry = run(&gitlab, &project, &["sync", "--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(dry.stdout.contains(reason), "{dry:?}");
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr
            .contains(&format!("Failed to write a to gitlab-variable::team/gone[*]/A: {reason}")),
        "{sync:?}"
    );
    let puts = gitlab.state.lock().unwrap().log.iter().filter(|(m, ..)| m != "GET").count();
    assert_eq!(puts, 1, "only the group's variable is written");
    assert_eq!(gitlab.variables("team").len(), 1, "the group's variable is still written");
    let test = run(&gitlab, &project, &["test"]);
    assert_eq!(test.code, 1, "{test:?}");
    assert!(
        test.stderr.contains("listing the variables of project `team/gone`: 404 Project Not Found"),
        "{test:?}"
    );
}

#[test]
fn a_generated_value_that_cannot_be_masked_is_refused_at_write() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(
        r#"version: "1.0"
secrets:
  password:
    generator: {type: random-password, length: 24, symbols: "!#%"}
    targets:
      - {type: gitlab-variable, project: team/app, masked: "true"}
      - {type: gitlab-variable, project: team/app, key: PASSWORD_RAW, masked: "true", raw: "true"}
"#,
    );
    // Whether one value could be masked is chance; the generator's characters settle it before
    // any value is made, so the dry run already shows the write as refused.
    let dry = run(&gitlab, &project, &["sync", "--dry-run"]);
    assert!(
        dry.stdout.contains(
            "! skip      gitlab-variable::team/app[*]/PASSWORD (the values `password` generates \
             (random-password) cannot always be masked in gitlab-variable `PASSWORD` of project \
             `team/app` (scope `*`): GitLab masks a variable that is not `raw` only when"
        ),
        "{dry:?}"
    );
    assert!(
        dry.stdout.contains("+ create    gitlab-variable::team/app[*]/PASSWORD_RAW"),
        "{dry:?}"
    );
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "Failed to write password to gitlab-variable::team/app[*]/PASSWORD: the values \
             `password` generates (random-password) cannot always be masked"
        ),
        "{sync:?}"
    );
    let stored: Vec<String> = gitlab.variables("team/app").into_iter().map(|v| v.key).collect();
    assert_eq!(stored, ["PASSWORD_RAW"], "never written unmasked");
    assert!(gitlab.variable("team/app", "PASSWORD_RAW", "*").unwrap().masked);
}

#[test]
fn an_attribute_changed_in_the_secretfile_alone_is_written() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(SECRETS);
    assert_eq!(run(&gitlab, &project, &["sync"]).code, 0);
    let before = gitlab.variable("team/app", "API_KEY", "*").unwrap();
    assert!(before.protected);

    project
        .write("Secretfile.yml", &SECRETS.replace("protected: \"true\"", "protected: \"false\""));
    let sync = run(&gitlab, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 1, unchanged 3, failed 0"), "{sync:?}");
    let after = gitlab.variable("team/app", "API_KEY", "*").unwrap();
    assert_eq!((after.protected, after.masked, &after.value), (false, true, &before.value));
}

/// The double itself: a key in two scopes needs `filter[environment_scope]`, as GitLab's
/// "The filter parameter" section says; this is why every request names the scope.
#[test]
fn the_double_answers_409_for_a_key_in_several_scopes_without_a_filter() {
    let gitlab = GitlabDouble::start();
    gitlab.put("team/app", plain("TOKEN", "production-value", "production"));
    gitlab.put("team/app", plain("TOKEN", "staging-value", "staging"));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let get = |query: &str| {
        let url = format!("{}/api/v4/projects/team%2Fapp/variables/TOKEN{query}", gitlab.url);
        let mut reply = agent.get(&url).header("PRIVATE-TOKEN", MAINTAINER).call().unwrap();
        let status = reply.status().as_u16();
        (status, reply.body_mut().read_to_string().unwrap())
    };
    let (status, body) = get("");
    assert_eq!(status, 409);
    assert!(body.contains("Please use 'filter[environment_scope]'"), "{body}");
    let (status, body) = get("?filter%5Benvironment_scope%5D=staging");
    assert_eq!(status, 200);
    assert!(body.contains("\"value\":\"staging-value\""), "{body}");
}

#[test]
fn an_answer_that_is_no_variable_leaves_the_target_unread() {
    let gitlab = GitlabDouble::start();
    let project = Project::new(SECRETS);
    assert_eq!(run(&gitlab, &project, &["sync"]).code, 0);

    // A 200 with an HTML page is not a hidden variable: the check fails and says why.
    gitlab.state.lock().unwrap().garble = 1;
    let drift = run(&gitlab, &project, &["drift", "api_key"]);
    assert_eq!(drift.code, 1, "{drift:?}");
    assert!(
        drift.stdout.contains(
            "gitlab-variable::team/app[*]/API_KEY of secret `api_key` could not be read, so drift \
             is unknown: answer: GitLab's answer for `API_KEY` is not a variable with a value"
        ),
        "{drift:?}"
    );
    gitlab.state.lock().unwrap().garble = 1;
    let sync = run(&gitlab, &project, &["sync", "-s", "api_key"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.stderr.contains("1 target could not be read back"), "{sync:?}");
}

#[test]
fn hiding_a_variable_that_exists_is_refused() {
    let gitlab = GitlabDouble::start();
    gitlab.put("team/app", plain("DEPLOY", "visible-value-1", "*"));
    let project = Project::new(
        r#"version: "1.0"
secrets:
  deploy:
    generator: {type: random-string, length: 32}
    targets: [{type: gitlab-variable, project: team/app, masked_and_hidden: "true"}]
"#,
    );
    let sync = run(&gitlab, &project, &["sync", "--force"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "variable `DEPLOY` exists and is not hidden, and GitLab hides only a new variable; \
             delete it in GitLab so that `sync` creates it hidden, or drop `masked_and_hidden`"
        ),
        "{sync:?}"
    );
    let stored = gitlab.variable("team/app", "DEPLOY", "*").unwrap();
    assert_eq!((stored.value.as_str(), stored.hidden), ("visible-value-1", false));
}
