//! `secretzero rotate` end to end: which secrets fall due, what a rotation writes and records.
//! Times are fixed with SECRETZERO_NOW so that every due date is exact.

mod common;

use common::{Project, dotenv_value, json, mtime};

const SECRETFILE: &str = r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string, length: 24}
    rotation_period: 1m
    targets: [{type: local-file, path: .env}]
  weekly:
    generator: {type: random-string, length: 24}
    rotation_period: 2W
    targets: [{type: local-file, path: .env}]
  database:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password, length: 20}}
    one_time: true
    rotation_period: 30d
    targets: [{type: local-file, path: .env}]
  forever:
    generator: {type: random-string}
    targets: [{type: local-file, path: .env}]
"#;

/// A project synced on 31 January 2028 (a leap year) at 10:00 UTC.
fn synced() -> Project {
    let project = Project::new(SECRETFILE);
    let run = at(&project, "2028-01-31T10:00:00Z", &["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    project
}

fn at(project: &Project, now: &str, args: &[&str]) -> common::Run {
    project.run_env(args, &[("SECRETZERO_NOW", now)])
}

fn env_value(project: &Project, key: &str) -> String {
    dotenv_value(&project.path(".env"), key).unwrap()
}

fn entry(project: &Project, name: &str) -> serde_json::Value {
    json(&project.path(".gitsecrets.lock"))["secrets"][name].clone()
}

#[test]
fn a_dry_run_lists_what_is_due_and_when_and_writes_nothing() {
    let project = synced();
    let before = project.read(".gitsecrets.lock");
    let env = project.read(".env");

    // One second before the month is up, only the two-week secret is due.
    let run = at(&project, "2028-02-29T09:59:59Z", &["rotate", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "SECRET    ACTION  PERIOD  WHY\n\
         api_key   wait    1m      not due until 2028-02-29T10:00:00Z\n\
         weekly    rotate  2w      due since 2028-02-14T10:00:00Z\n\
         database  wait    30d     it is one_time; `rotate -s database` rotates it\n\
         \n\
         1 to rotate.\n"
    );

    let run = at(&project, "2028-02-29T10:00:00Z", &["rotate", "--dry-run", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let check = &report["checks"][0];
    assert_eq!(check["check"], "rotation");
    let found: Vec<(&str, &str, &str, u64)> = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    // `database` is not due before 1 March, and `forever` has no period.
    assert_eq!(
        found,
        [("api_key", "rotation/due", "warning", 5), ("weekly", "rotation/due", "warning", 9)],
        "{report}"
    );
    assert_eq!(
        check["findings"][0]["message"],
        "secret `api_key` is due for rotation since 2028-02-29T10:00:00Z (every 1m)"
    );

    assert_eq!(project.read(".gitsecrets.lock"), before);
    assert_eq!(project.read(".env"), env);
}

#[test]
fn due_secrets_get_a_new_value_and_a_rotation_record() {
    let project = synced();
    let old_key = env_value(&project, "API_KEY");
    let old_weekly = env_value(&project, "WEEKLY");
    let old_password = env_value(&project, "DATABASE_PASSWORD");
    let old_forever = env_value(&project, "FOREVER");

    let run = at(&project, "2028-03-01T00:00:00Z", &["rotate"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("✓ Rotated api_key\n✓ Rotated weekly\n"), "{run:?}");

    assert_ne!(env_value(&project, "API_KEY"), old_key);
    assert_eq!(env_value(&project, "API_KEY").len(), 24);
    assert_ne!(env_value(&project, "WEEKLY"), old_weekly);
    assert_eq!(env_value(&project, "DATABASE_PASSWORD"), old_password, "one_time");
    assert_eq!(env_value(&project, "FOREVER"), old_forever, "no period");

    let api_key = entry(&project, "api_key");
    assert_eq!(api_key["last_rotated"], "2028-03-01T00:00:00Z");
    assert_eq!(api_key["rotation_count"], 1);
    assert_eq!(api_key["created_at"], "2028-01-31T10:00:00Z");
    assert_eq!(entry(&project, "database")["rotation_count"], 0);

    // The next due date counts from the rotation: 1 March + 1 month.
    let run = at(&project, "2028-03-01T00:00:00Z", &["status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status["secrets"][0]["next_rotation"], "2028-04-01T00:00:00Z");
    assert_eq!(status["secrets"][0]["rotation_due"], false);
    assert_eq!(status["secrets"][3]["next_rotation"], serde_json::Value::Null);

    // Nothing more is due: a second run changes nothing at all.
    let lock_time = mtime(&project.path(".gitsecrets.lock"));
    let run = at(&project, "2028-03-01T00:00:00Z", &["rotate"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "Nothing to rotate\n");
    assert_eq!(mtime(&project.path(".gitsecrets.lock")), lock_time);
}

#[test]
fn force_rotates_everything_with_a_period_and_one_time_only_by_name() {
    let project = synced();
    let old_password = env_value(&project, "DATABASE_PASSWORD");
    let old_forever = env_value(&project, "FOREVER");

    let run = at(&project, "2028-02-01T00:00:00Z", &["rotate", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(entry(&project, "api_key")["rotation_count"], 1);
    assert_eq!(entry(&project, "weekly")["rotation_count"], 1);
    assert_eq!(env_value(&project, "DATABASE_PASSWORD"), old_password);
    assert_eq!(env_value(&project, "FOREVER"), old_forever);

    let run = at(&project, "2028-02-01T00:00:00Z", &["rotate", "--force", "-s", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_ne!(env_value(&project, "DATABASE_PASSWORD"), old_password);
    assert_eq!(env_value(&project, "DATABASE_USERNAME"), "app");
    let database = entry(&project, "database");
    assert_eq!(database["rotation_count"], 1);
    assert_eq!(database["last_rotated"], "2028-02-01T00:00:00Z");
    assert_eq!(entry(&project, "api_key")["rotation_count"], 1, "-s limits the run");
}

#[test]
fn a_named_secret_that_is_not_due_or_has_no_period_says_why() {
    let project = synced();
    let run = at(&project, "2028-02-01T00:00:00Z", &["rotate", "-s", "api_key", "-s", "forever"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        "Not rotating api_key: not due until 2028-02-29T10:00:00Z\n\
         Not rotating forever: it has no rotation_period\n\
         Nothing to rotate\n"
    );
    let run = at(&project, "2028-02-01T00:00:00Z", &["rotate", "-s", "api_kye"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("did you mean `api_key`?"), "{run:?}");
}

#[test]
fn an_environment_override_that_keeps_the_value_is_reported_not_counted() {
    let project = synced();
    let key = env_value(&project, "API_KEY");
    let now = ("SECRETZERO_NOW", "2028-03-01T00:00:00Z");

    // The dry run says so before the real run does, in the table and in the findings.
    let run = project.run_env(&["rotate", "--dry-run", "-s", "api_key"], &[now, ("API_KEY", &key)]);
    assert_eq!(
        run.stdout,
        "SECRET   ACTION  PERIOD  WHY\n\
         api_key  fixed   1m      due since 2028-02-29T10:00:00Z, but its value comes from the \
         Secretfile or the environment and is still the recorded one\n\
         \n\
         0 to rotate.\n\
         1 due but fixed: set a new value where it comes from, then run rotate.\n"
    );
    let findings = |env: &[(&str, &str)]| {
        let run = project.run_env(&["rotate", "--dry-run", "--format", "json"], env);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        report["checks"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["secret"].as_str().unwrap(), f["rule"].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        findings(&[now, ("API_KEY", &key)]),
        ["api_key rotation/fixed-value", "weekly rotation/due"]
    );
    assert_eq!(
        findings(&[now, ("API_KEY", "n3w-v4lue")]),
        ["api_key rotation/due", "weekly rotation/due"],
        "a new value in the variable rotates"
    );

    let run = project.run_env(&["rotate", "-s", "api_key"], &[now, ("API_KEY", &key)]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "✗ Did not rotate api_key: its value comes from environment variable API_KEY and \
             is still the recorded one; set a new value there to rotate it\n"
        ),
        "{run:?}"
    );
    assert_eq!(entry(&project, "api_key")["rotation_count"], 0);
    assert_eq!(entry(&project, "api_key")["last_rotated"], serde_json::Value::Null);

    // A new value in the variable is a real rotation.
    let run = project.run_env(&["rotate", "-s", "api_key"], &[now, ("API_KEY", "n3w-v4lue")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env_value(&project, "API_KEY"), "n3w-v4lue");
    assert_eq!(entry(&project, "api_key")["rotation_count"], 1);
    assert!(!run.all_output().contains("n3w-v4lue"));
}

#[test]
fn sync_force_leaves_rotation_history_alone() {
    let project = synced();
    let run = at(&project, "2028-03-01T00:00:00Z", &["rotate", "-s", "api_key"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = at(&project, "2028-03-05T00:00:00Z", &["sync", "--force", "-s", "api_key"]);
    assert_eq!(run.code, 0, "{run:?}");
    let api_key = entry(&project, "api_key");
    assert_eq!(api_key["rotation_count"], 1);
    assert_eq!(api_key["last_rotated"], "2028-03-01T00:00:00Z");
    assert_eq!(api_key["updated_at"], "2028-03-05T00:00:00Z");
}

#[test]
fn due_dates_do_not_depend_on_the_host_time_zone() {
    // 23:30 UTC on 31 January is already 1 February east of UTC and still 31 January west of
    // it; the month is added in UTC either way.
    for zone in ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"] {
        let project = Project::new(SECRETFILE);
        let env = |now| [("SECRETZERO_NOW", now), ("TZ", zone)];
        let run = project.run_env(&["sync"], &env("2027-01-31T23:30:00Z"));
        assert_eq!(run.code, 0, "{run:?}");
        let run = project.run_env(&["status", "--format", "json"], &env("2027-02-01T00:00:00Z"));
        let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(status["secrets"][0]["next_rotation"], "2027-02-28T23:30:00Z", "TZ={zone}");
        assert_eq!(status["secrets"][1]["next_rotation"], "2027-02-14T23:30:00Z", "TZ={zone}");
    }
}
