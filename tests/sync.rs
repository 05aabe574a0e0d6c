//! `secretzero sync` end to end: the real binary, real files, the lockfile.

mod common;

use common::{Project, dotenv_value, json, mtime};

const TWO_TARGETS: &str = r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string, length: 40}
    targets:
      - {type: local-file, path: .env}
      - {type: local-file, path: config.json}
  database:
    template:
      type: database_credentials
      fields:
        - name: username
          generator: {type: static, value: app}
        - name: password
          generator: {type: random-password, length: 24}
    targets:
      - {type: local-file, path: .env}
      - {type: local-file, path: config.json}
"#;

fn lock(project: &Project) -> serde_json::Value {
    json(&project.path(".gitsecrets.lock"))
}

#[test]
fn first_sync_writes_every_target_and_the_lockfile() {
    let project = Project::new(TWO_TARGETS);
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");

    let env = project.path(".env");
    let api_key = dotenv_value(&env, "API_KEY").unwrap();
    assert_eq!(api_key.len(), 40);
    assert!(api_key.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(dotenv_value(&env, "DATABASE_USERNAME").as_deref(), Some("app"));
    let password = dotenv_value(&env, "DATABASE_PASSWORD").unwrap();
    assert_eq!(password.chars().count(), 24);

    let config = json(&project.path("config.json"));
    assert_eq!(config["api_key"], api_key.as_str());
    assert_eq!(config["database"]["username"], "app");
    assert_eq!(config["database"]["password"], password.as_str());

    let lock = lock(&project);
    let entry = &lock["secrets"]["database"];
    assert_eq!(entry["rotation_count"], 0);
    assert_eq!(entry["last_rotated"], serde_json::Value::Null);
    let fields: Vec<&String> = entry["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["password", "username"]);
    let targets: Vec<&String> = entry["targets"].as_object().unwrap().keys().collect();
    assert_eq!(targets, ["local-file:.env#DATABASE", "local-file:config.json#database"]);
    assert!(entry["fields"]["password"].as_str().unwrap().starts_with("hmac-sha256:"));

    assert!(run.stderr.contains("Generated secret: api_key"), "{run:?}");
    assert!(
        run.stderr.contains("Summary: generated 2, targets updated 4, unchanged 0, failed 0"),
        "{run:?}"
    );
}

#[cfg(unix)]
#[test]
fn new_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new(TWO_TARGETS);
    project.write(".env.keep", "");
    assert_eq!(project.run(&["sync"]).code, 0);
    let mode = std::fs::metadata(project.path(".env")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_second_sync_writes_nothing() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let files = [".env", "config.json", ".gitsecrets.lock"];
    let before: Vec<_> = files.iter().map(|f| (project.read(f), mtime(&project.path(f)))).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    let after: Vec<_> = files.iter().map(|f| (project.read(f), mtime(&project.path(f)))).collect();
    assert_eq!(before, after);
    assert!(
        run.stderr.contains("Summary: generated 0, targets updated 0, unchanged 4, failed 0"),
        "{run:?}"
    );
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let project = Project::new(TWO_TARGETS);
    let run = project.run(&["sync", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "api_key: generate (new secret)\n  \
         + create    local-file:.env#API_KEY (not there yet)\n  \
         + create    local-file:config.json#api_key (not there yet)\n\
         database: username: static value; password: generate (new secret)\n  \
         + create    local-file:.env#DATABASE (not there yet)\n  \
         + create    local-file:config.json#database (not there yet)\n\
         \nPlan: 4 to create, 0 to update, 0 unchanged, 0 skipped.\n"
    );
    assert!(!project.exists(".env"));
    assert!(!project.exists("config.json"));
    assert!(!project.exists(".gitsecrets.lock"));

    assert_eq!(project.run(&["sync"]).code, 0);
    let run = project.run(&["sync", "--dry-run", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        plan["summary"],
        serde_json::json!({"create": 0, "update": 0, "unchanged": 4, "skip": 0})
    );
    assert_eq!(plan["secrets"][0]["fields"][0]["source"]["kind"], "keep");
}

#[test]
fn force_regenerates_but_keeps_rotation_history() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let old = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let created = lock(&project)["secrets"]["api_key"]["created_at"].clone();

    let run = project.run_env(
        &["sync", "--force", "-s", "api_key"],
        &[("SECRETZERO_NOW", "2030-01-01T00:00:00Z")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let new = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_ne!(old, new);
    assert_eq!(json(&project.path("config.json"))["api_key"], new.as_str());

    let lock = lock(&project);
    let entry = &lock["secrets"]["api_key"];
    assert_eq!(entry["created_at"], created);
    assert_eq!(entry["updated_at"], "2030-01-01T00:00:00Z");
    assert_eq!(entry["rotation_count"], 0);
    assert_eq!(entry["last_rotated"], serde_json::Value::Null);
    assert_ne!(lock["secrets"]["database"]["updated_at"], "2030-01-01T00:00:00Z");
}

#[test]
fn secret_selection_limits_the_run() {
    let project = Project::new(TWO_TARGETS);
    let run = project.run(&["sync", "-s", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(dotenv_value(&project.path(".env"), "API_KEY"), None);
    assert!(dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").is_some());
    let lock = lock(&project);
    assert!(lock["secrets"].get("api_key").is_none());

    let run = project.run(&["sync", "-s", "databse"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no secret named `databse`"), "{run:?}");
    assert!(run.stderr.contains("did you mean `database`?"), "{run:?}");
}

#[test]
fn a_changed_generator_is_an_update_but_one_time_secrets_stay() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let old_key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();

    project.write("Secretfile.yml", &TWO_TARGETS.replace("length: 40", "length: 50"));
    let run = project.run(&["sync", "--dry-run"]);
    assert!(run.stdout.contains("api_key: generate (its generator changed)"), "{run:?}");
    assert!(run.stdout.contains("~ update    local-file:.env#API_KEY"), "{run:?}");
    assert_eq!(project.run(&["sync"]).code, 0);
    let new_key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_eq!(new_key.len(), 50);
    assert_ne!(old_key, new_key);

    let one_time = TWO_TARGETS.replace("    template:\n", "    one_time: true\n    template:\n");
    project.write("Secretfile.yml", &one_time);
    assert_eq!(project.run(&["sync"]).code, 0);
    let password = dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").unwrap();
    project.write("Secretfile.yml", &one_time.replace("length: 24", "length: 30"));
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").unwrap(), password);

    let run = project.run(&["sync", "--force", "-s", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    let forced = dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").unwrap();
    assert_eq!(forced.chars().count(), 30);
}

#[test]
fn an_environment_variable_overrides_generation() {
    let project = Project::new(TWO_TARGETS);
    let run = project
        .run_env(&["sync"], &[("API_KEY", "from-the-environment"), ("DATABASE_PASSWORD", "")]);
    assert_eq!(run.code, 0, "{run:?}");
    let env = project.path(".env");
    assert_eq!(dotenv_value(&env, "API_KEY").as_deref(), Some("from-the-environment"));
    // An empty variable counts as unset: the password was generated.
    assert_eq!(dotenv_value(&env, "DATABASE_PASSWORD").unwrap().chars().count(), 24);
}

#[test]
fn a_lost_lockfile_adopts_the_values_in_place() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let env_before = project.read(".env");
    let json_before = project.read("config.json");
    std::fs::remove_file(project.path(".gitsecrets.lock")).unwrap();

    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Adopted the value its targets already hold: api_key"), "{run:?}");
    assert!(run.stderr.contains("Summary: generated 0, targets updated 0"), "{run:?}");
    assert_eq!(project.read(".env"), env_before);
    assert_eq!(project.read("config.json"), json_before);
    assert!(project.exists(".gitsecrets.lock"));
    assert!(project.run(&["sync"]).stderr.contains("unchanged 4"));
}

#[test]
fn adoption_fills_an_empty_target_with_the_value_another_holds() {
    let project = Project::new(TWO_TARGETS);
    project.write(".env", "API_KEY=kept-value-123\n");
    let run = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(json(&project.path("config.json"))["api_key"], "kept-value-123");
    assert_eq!(project.read(".env"), "API_KEY=kept-value-123\n");
}

#[test]
fn disagreeing_targets_are_left_alone_until_forced() {
    let project = Project::new(TWO_TARGETS);
    project.write(".env", "API_KEY=one\n");
    project.write("config.json", "{\"api_key\": \"two\"}\n");
    let run = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "Left api_key untouched: the targets of `api_key` hold 2 different values: \
             value 1: local-file:.env#API_KEY; value 2: local-file:config.json#api_key"
        ),
        "{run:?}"
    );
    assert_eq!(project.read(".env"), "API_KEY=one\n");
    assert_eq!(project.read("config.json"), "{\"api_key\": \"two\"}\n");

    let run = project.run(&["sync", "-s", "api_key", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_eq!(key.len(), 40);
    assert_eq!(json(&project.path("config.json"))["api_key"], key.as_str());
}

#[test]
fn one_failing_target_does_not_stop_the_others() {
    let project = Project::new(TWO_TARGETS);
    project.write("config.json", "{ not json");
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Failed to write api_key to local-file:config.json#api_key: config.json cannot be parsed, so SecretZero leaves it as it is"), "{run:?}");
    assert!(
        run.stderr.contains("Summary: generated 2, targets updated 2, unchanged 0, failed 2"),
        "{run:?}"
    );
    assert_eq!(project.read("config.json"), "{ not json");
    assert!(dotenv_value(&project.path(".env"), "API_KEY").is_some());
    let lock = lock(&project);
    let targets: Vec<&String> =
        lock["secrets"]["api_key"]["targets"].as_object().unwrap().keys().collect();
    assert_eq!(targets, ["local-file:.env#API_KEY"]);

    // Once the file is fixed, the next sync copies the recorded value there.
    project.write("config.json", "{}\n");
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_eq!(json(&project.path("config.json"))["api_key"], key.as_str());
}

// A build with the `github` feature writes `github-secret`, which this test needs unsupported.
#[cfg(not(feature = "github"))]
#[test]
fn remote_targets_fail_clearly_in_this_build() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string}
    targets:
      - {type: github-secret, name: API_KEY}
      - {type: local-file, path: .env}
"#,
    );
    let run = project.run(&["sync", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "api_key: generate (new secret)\n  \
         ! skip      github-secret::API_KEY (this build has no github-secret support \
         (target github-secret::API_KEY); build it with `--features github`)\n  \
         + create    local-file:.env#API_KEY (not there yet)\n\n\
         Plan: 1 to create, 0 to update, 0 unchanged, 1 skipped.\n"
    );
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "Failed to write api_key to github-secret::API_KEY: this build has no \
             github-secret support"
        ),
        "{run:?}"
    );
    assert!(dotenv_value(&project.path(".env"), "API_KEY").is_some());
}

#[test]
fn a_lockfile_with_conflict_markers_stops_every_command() {
    let project = Project::new(TWO_TARGETS);
    project
        .write(".gitsecrets.lock", "{\n  \"version\": 2,\n<<<<<<< HEAD\n=======\n>>>>>>> x\n}\n");
    for args in [&["sync"][..], &["sync", "--dry-run"], &["status"], &["validate"]] {
        let run = project.run(args);
        assert_eq!(run.code, 5, "{args:?} {run:?}");
        assert!(
            run.stderr.contains("has unresolved merge conflict markers, the first at line 3"),
            "{run:?}"
        );
    }
    assert!(!project.exists(".env"));
}

#[test]
fn a_missing_secretfile_is_a_load_error() {
    let project = Project::empty();
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("error: cannot read Secretfile.yml"), "{run:?}");
    assert!(run.stderr.contains("hint: run `secretzero init`"), "{run:?}");
}

#[test]
fn the_lockfile_option_chooses_the_file() {
    let project = Project::new(TWO_TARGETS);
    let run = project.run(&["sync", "--lockfile", "prod.lock"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(project.exists("prod.lock"));
    assert!(!project.exists(".gitsecrets.lock"));
}

#[test]
fn the_secretfile_folder_anchors_relative_paths() {
    let project = Project::empty();
    project.write("deploy/Secretfile.yml", TWO_TARGETS);
    let run = project.run(&["-f", "deploy/Secretfile.yml", "sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(project.exists("deploy/.env"));
    assert!(project.exists("deploy/.gitsecrets.lock"));
}

#[test]
fn script_generators_take_stdout_less_one_newline() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  token:
    generator: {type: script, command: printf, args: ["abc%s\n", "$HOME"]}
    targets: [{type: local-file, path: .env}]
  broken:
    generator: {type: script, command: sh, args: ["-c", "echo STDOUT-CANARY; echo bad >&2; exit 3"]}
    targets: [{type: local-file, path: other.env}]
"#,
    );
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(dotenv_value(&project.path(".env"), "TOKEN").as_deref(), Some("abc$HOME"));
    assert!(run.stderr.contains("Could not generate broken"), "{run:?}");
    assert!(run.stderr.contains("bad"), "{run:?}");
    assert!(!run.all_output().contains("STDOUT-CANARY"), "{run:?}");
    assert!(!project.exists("other.env"));
}

#[test]
fn an_older_lockfile_is_read_and_upgraded_without_regenerating() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  api_key:\n    generator: {type: random-string}\n    \
         targets: [{type: local-file, path: .env}]\n",
    );
    project.write(".env", "API_KEY=hello\n");
    // SHA-256 of "hello", as the older format recorded it.
    let digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    project.write(
        ".gitsecrets.lock",
        &format!(
            "{{\"version\": \"1.0\", \"secrets\": {{\"api_key\": {{\"hash\": \"{digest}\", \
             \"created_at\": \"2025-03-01T10:00:00.123456+00:00\", \"updated_at\": \
             \"2025-03-02T11:00:00+00:00\", \"rotation_count\": 2, \"targets\": \
             {{\"local-file:.env\": \"{digest}\"}}}}}}}}"
        ),
    );
    let run = project.run(&["sync", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("api_key: keep the recorded value\n"), "{run:?}");

    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(project.read(".env"), "API_KEY=hello\n");
    let lock = lock(&project);
    let entry = &lock["secrets"]["api_key"];
    assert_eq!(lock["version"], 2);
    assert_eq!(entry["created_at"], "2025-03-01T10:00:00Z");
    assert_eq!(entry["updated_at"], "2025-03-02T11:00:00Z");
    assert_eq!(entry["rotation_count"], 2);
    let fields: Vec<&String> = entry["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["value"]);
    assert!(!lock.to_string().contains(digest), "the bare hash was replaced: {lock}");
    assert!(project.run(&["sync"]).stderr.contains("unchanged 1"));
}

#[test]
fn a_secret_without_targets_is_recorded_once() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  spare:\n    generator: {type: random-string}\n",
    );
    assert_eq!(project.run(&["sync"]).code, 0);
    let lockfile = project.read(".gitsecrets.lock");
    assert!(lockfile.contains("\"spare\""), "{lockfile}");
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Summary: generated 0"), "{run:?}");
    assert_eq!(project.read(".gitsecrets.lock"), lockfile);
}

#[test]
fn changing_one_field_regenerates_that_field_alone() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let password = dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").unwrap();

    let edited = TWO_TARGETS
        .replace("value: app}", "value: app2}")
        .replace("type: database_credentials", "type: db")
        .replace(
            "        - name: password\n",
            "        - name: host\n          generator: {type: static, value: h}\n        - name: password\n",
        );
    project.write("Secretfile.yml", &edited);
    let run = project.run(&["sync", "--dry-run"]);
    assert!(
        run.stdout.contains(
            "database: username: static value; host: static value; password: keep the recorded value\n"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("~ update    local-file:.env#DATABASE (some fields are missing)"),
        "{run:?}"
    );
    assert_eq!(project.run(&["sync"]).code, 0);
    let env = project.path(".env");
    assert_eq!(dotenv_value(&env, "DATABASE_PASSWORD").unwrap(), password);
    assert_eq!(dotenv_value(&env, "DATABASE_USERNAME").as_deref(), Some("app2"));
    assert_eq!(dotenv_value(&env, "DATABASE_HOST").as_deref(), Some("h"));
}

#[test]
fn spelling_out_the_default_symbols_is_not_a_change() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let reordered = "~}|{_^][@?>=<;:/.-,+*)(&#!";
    project.write(
        "Secretfile.yml",
        &TWO_TARGETS.replace("length: 24}", &format!("length: 24, symbols: '{reordered}'}}")),
    );
    let run = project.run(&["sync", "--dry-run"]);
    assert!(run.stdout.contains("password: keep the recorded value"), "{run:?}");
}

#[test]
fn an_older_lockfile_keeps_multi_field_values() {
    let project = Project::new(TWO_TARGETS);
    project.write(".env", "DATABASE_USERNAME=app\nDATABASE_PASSWORD=kept-pw\n");
    // SHA-256 of {"password":"kept-pw","username":"app"}, as the older format hashed it.
    let whole = br#"{"password":"kept-pw","username":"app"}"#;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(whole));
    project.write(
        ".gitsecrets.lock",
        &format!(
            "{{\"version\": \"1.0\", \"secrets\": {{\"database\": {{\"hash\": \"{digest}\", \
             \"created_at\": \"2025-03-01T10:00:00Z\", \"updated_at\": \"2025-03-01T10:00:00Z\", \
             \"targets\": {{}}}}}}}}"
        ),
    );
    let run = project.run(&["sync", "-s", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").as_deref(),
        Some("kept-pw")
    );
    assert_eq!(json(&project.path("config.json"))["database"]["password"], "kept-pw");
}

#[test]
fn empty_placeholders_are_filled_not_adopted() {
    let project = Project::new(TWO_TARGETS);
    project.write(".env", "API_KEY=\n");
    let run = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(run.code, 0, "{run:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_eq!(key.len(), 40);
    assert_eq!(json(&project.path("config.json"))["api_key"], key.as_str());
}

#[test]
fn a_half_filled_multi_field_secret_is_adopted_field_by_field() {
    let project = Project::new(TWO_TARGETS);
    project.write(".env", "DATABASE_PASSWORD=changeme\n");
    let run = project.run(&["sync", "-s", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(project.read(".env"), "DATABASE_PASSWORD=changeme\nDATABASE_USERNAME=app\n");
}

#[test]
fn a_key_holding_another_shape_is_not_overwritten() {
    let project = Project::new(TWO_TARGETS);
    project.write("config.json", "{\"api_key\": {\"nested\": \"keep\"}}\n");
    let run = project.run(&["sync", "-s", "api_key", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "! skip      local-file:config.json#api_key (key `api_key` holds a mapping, not a string)"
        ),
        "{run:?}"
    );
    let run = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(project.read("config.json"), "{\"api_key\": {\"nested\": \"keep\"}}\n");
    assert!(dotenv_value(&project.path(".env"), "API_KEY").is_some());
}

#[test]
fn an_unwritable_lockfile_is_found_before_any_target_is_written() {
    let project = Project::new(TWO_TARGETS);
    let run = project.run(&["sync", "--lockfile", "missing/dir/l.lock"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("error: cannot write missing/dir/l.lock"), "{run:?}");
    assert!(!project.exists(".env"));

    let run = project.run(&["sync", "--lockfile", "./.env"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("has a target that writes into the lockfile"), "{run:?}");
}

#[test]
fn the_summary_counts_every_failure() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: script, command: false}\n    \
         targets: [{type: local-file, path: .env}]\n  b:\n    generator: {type: random-string}\n    \
         targets:\n      - {type: local-file, path: .env}\n      - {type: local-file, path: \
         b.json}\n",
    );
    project.write(".env", "B=one\n");
    project.write("b.json", "{\"b\": \"two\"}\n");
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("Summary: generated 0, targets updated 0, unchanged 0, failed 2"),
        "{run:?}"
    );
}

#[test]
fn a_static_value_from_the_environment_is_needed_only_when_a_value_is() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  tok:\n    generator: {type: static}\n    targets: \
         [{type: local-file, path: .env}]\n",
    );
    let run = project.run(&["--color", "never", "validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with(
            "error[secretfile/static-value]: the static generator of secret `tok` has no \
             `value`, TOK is not set, and the lockfile records no value\n --> \
             Secretfile.yml:4:5\n"
        ),
        "{run:?}"
    );
    assert_eq!(project.run_env(&["validate"], &[("TOK", "x")]).code, 0);

    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Could not generate tok"), "{run:?}");
    assert!(run.stderr.contains("hint: set TOK in the environment"), "{run:?}");

    assert_eq!(project.run_env(&["sync"], &[("TOK", "from-env")]).code, 0);
    // Recorded and in place: later runs without the variable keep it.
    for args in [&["sync"][..], &["status"], &["show", "tok"], &["validate"]] {
        let run = project.run(args);
        assert_eq!(run.code, 0, "{args:?} {run:?}");
    }
    assert_eq!(project.read(".env"), "TOK=from-env\n");
}

#[cfg(unix)]
#[test]
fn symlinks_survive_even_dangling_ones() {
    let project = Project::new(TWO_TARGETS);
    std::fs::create_dir(project.path("real")).unwrap();
    std::os::unix::fs::symlink("real/app.env", project.path(".env")).unwrap();
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(std::fs::symlink_metadata(project.path(".env")).unwrap().file_type().is_symlink());
    assert!(dotenv_value(&project.path("real/app.env"), "API_KEY").is_some());
}

#[cfg(unix)]
#[test]
fn read_only_files_are_refused_not_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new(TWO_TARGETS);
    project.write(".env", "OTHER=1\n");
    std::fs::set_permissions(project.path(".env"), std::fs::Permissions::from_mode(0o444)).unwrap();
    // The dry run already shows the write as skipped, with the reason.
    let run = project.run(&["sync", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "! skip      local-file:.env#API_KEY (.env is read-only; make it writable to let \
             SecretZero update it)"
        ),
        "{run:?}"
    );
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(".env is read-only; make it writable"), "{run:?}");
    assert_eq!(project.read(".env"), "OTHER=1\n");
}

#[test]
fn a_yaml_key_with_an_anchor_is_a_skip_in_the_plan_and_left_alone() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  k:\n    generator: {type: random-string}\n    targets: \
         [{type: local-file, path: c.yaml}]\n",
    );
    project.write("c.yaml", "k: &a old\nref: *a\n");
    for args in [&["sync", "--dry-run", "--force"][..], &["sync", "--force"]] {
        let run = project.run(args);
        assert_eq!(run.code, 1, "{args:?} {run:?}");
        assert!(
            run.all_output()
                .contains("c.yaml: key `k`: it holds a YAML anchor (&) that aliases may refer to"),
            "{args:?} {run:?}"
        );
    }
    assert_eq!(project.read("c.yaml"), "k: &a old\nref: *a\n");
}

#[cfg(unix)]
#[test]
fn symbolic_links_cannot_lead_writes_astray() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets:\n      \
         - {type: local-file, path: link.yml, format: yaml}\n      - {type: local-file, path: \
         out.env}\n      - {type: local-file, path: lk.json}\n      - {type: local-file, path: \
         fifo.env}\n      - {type: local-file, path: ok.env}\n",
    );
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("Secretfile.yml", project.path("link.yml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.env"), project.path("out.env")).unwrap();
    std::os::unix::fs::symlink(".gitsecrets.lock", project.path("lk.json")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(project.path("fifo.env")).status();
    assert!(fifo.unwrap().success());
    let before = project.read("Secretfile.yml");

    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    for (target, reason) in [
        ("link.yml", "it leads to the Secretfile or the lockfile"),
        ("out.env", "it leads outside the Secretfile's folder through a symbolic link"),
        ("lk.json", "it leads to the Secretfile or the lockfile"),
        ("fifo.env", "it is not a regular file"),
    ] {
        assert!(
            run.stderr.contains(&format!("local-file:{target}#A: {target} is not used: {reason}"))
                || run
                    .stderr
                    .contains(&format!("local-file:{target}#a: {target} is not used: {reason}")),
            "{target}: {run:?}"
        );
    }
    assert_eq!(project.read("Secretfile.yml"), before);
    assert!(!outside.path().join("x.env").exists());
    assert!(dotenv_value(&project.path("ok.env"), "A").is_some());
    assert!(project.read(".gitsecrets.lock").starts_with("{\n  \"version\": 2"));
}

#[test]
fn targets_that_always_fail_do_not_churn_the_lockfile() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: local-file, path: c.json}]\n  b:\n    generator: {type: random-string}\n    \
         targets: [{type: local-file, path: b.env}]\n",
    );
    project.write("c.json", "{\"a\": [1]}\n");
    assert_eq!(project.run(&["sync"]).code, 1);
    let lockfile = project.read(".gitsecrets.lock");
    assert!(!lockfile.contains("\"a\""), "{lockfile}");
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(project.read(".gitsecrets.lock"), lockfile);
}

#[test]
fn a_lost_one_time_value_is_not_regenerated_without_force() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    one_time: true\n    generator: {type: \
         random-string}\n    targets: [{type: local-file, path: .env}]\n",
    );
    assert_eq!(project.run(&["sync"]).code, 0);
    std::fs::remove_file(project.path(".env")).unwrap();
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "the one_time value is in none of the targets; `sync --force -s a` makes a new one"
        ),
        "{run:?}"
    );
    assert!(!project.exists(".env"));
    assert_eq!(project.run(&["sync", "--force", "-s", "a"]).code, 0);
    assert!(dotenv_value(&project.path(".env"), "A").is_some());
}

#[test]
fn nested_fields_merge_into_a_mapping_with_other_entries() {
    let project = Project::new(TWO_TARGETS);
    project.write("config.json", "{\"database\": {\"port\": 5432, \"username\": 7}}\n");
    let run = project.run(&["sync", "-s", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    let config = json(&project.path("config.json"));
    assert_eq!(config["database"]["port"], 5432);
    assert_eq!(config["database"]["username"], "app");
    assert_eq!(
        config["database"]["password"].as_str(),
        dotenv_value(&project.path(".env"), "DATABASE_PASSWORD").as_deref()
    );
}

#[test]
fn a_key_written_twice_with_different_values_is_left_alone() {
    let project = Project::new(TWO_TARGETS);
    // Copies that agree are one value, adopted; the file already holds it.
    project.write(".env", "API_KEY=same\nAPI_KEY=same\n");
    let run = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(project.read(".env"), "API_KEY=same\nAPI_KEY=same\n");
    assert_eq!(common::json(&project.path("config.json"))["api_key"], "same");

    // Copies that differ: no reader agrees which wins, so neither is adopted, kept or replaced.
    assert_eq!(project.run(&["sync"]).code, 0);
    let env = format!("{}API_KEY=handadded\n", project.read(".env"));
    project.write(".env", &env);
    let lock = project.read(".gitsecrets.lock");
    let run = project.run(&["sync", "--dry-run", "-s", "api_key"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "! skip      local-file:.env#API_KEY (key `API_KEY` is written more than once with \
             different values; keep one copy)"
        ),
        "{run:?}"
    );
    let run = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(project.read(".env"), env);
    assert_eq!(project.read(".gitsecrets.lock"), lock);
    let run = project.run(&["drift", "api_key"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.contains("error[drift/target-broken]"), "{run:?}");
}

#[test]
fn renaming_a_key_moves_the_value_instead_of_rotating_it() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    std::fs::remove_file(project.path("config.json")).unwrap();
    project.write(
        "Secretfile.yml",
        &TWO_TARGETS
            .replacen(
                "- {type: local-file, path: .env}",
                "- {type: local-file, path: .env, key: NEW_KEY}",
                1,
            )
            .replacen("      - {type: local-file, path: config.json}\n", "", 1),
    );
    let run = project.run(&["sync", "-s", "api_key", "--dry-run"]);
    assert!(run.stdout.starts_with("api_key: keep the recorded value\n"), "{run:?}");
    assert_eq!(project.run(&["sync", "-s", "api_key"]).code, 0);
    assert_eq!(dotenv_value(&project.path(".env"), "NEW_KEY").unwrap(), key);
}

#[test]
fn excluding_characters_no_class_holds_is_no_change() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    project.write(
        "Secretfile.yml",
        &TWO_TARGETS.replace("length: 24}", "length: 24, exclude_characters: '$'}"),
    );
    let run = project.run(&["sync", "--dry-run"]);
    assert!(run.stdout.contains("password: keep the recorded value"), "{run:?}");
}

/// A target whose write of a new value failed still holds the older value: status and show
/// say so rather than calling the secret synced.
#[test]
fn a_target_left_with_an_older_value_is_pending_in_status_and_show() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  k:\n    generator: {type: random-string}\n    targets:\n      \
         - {type: local-file, path: .env}\n      - {type: local-file, path: c.json}\n",
    );
    let at = |now: &str, args: &[&str]| project.run_env(args, &[("SECRETZERO_NOW", now)]);
    assert_eq!(at("2027-01-01T00:00:00Z", &["sync"]).code, 0);
    assert!(at("2027-01-01T00:00:00Z", &["status"]).stdout.contains("k       synced  2/2"));
    // The same second: a forced value that reaches one file of two.
    project.write("c.json", "{broken");
    assert_eq!(at("2027-01-01T00:00:00Z", &["sync", "--force"]).code, 1);
    let status = at("2027-01-01T00:00:00Z", &["status", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows["secrets"][0]["state"], "targets pending", "{status:?}");
    project.write("c.json", "{}");
    assert_eq!(at("2027-01-01T00:00:00Z", &["sync"]).code, 0);
    project.write("c.json", "{broken");
    assert_eq!(at("2027-01-02T00:00:00Z", &["sync", "--force"]).code, 1);

    let status = at("2027-01-02T00:00:00Z", &["status", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows["secrets"][0]["state"], "targets pending", "{status:?}");
    assert_eq!(rows["secrets"][0]["pending_targets"], serde_json::json!(["local-file:c.json#k"]));
    let show = at("2027-01-02T00:00:00Z", &["show", "k"]);
    assert!(
        show.stdout.ends_with(
            "targets:\n  local-file:.env#K  2027-01-02T00:00:00Z\n  local-file:c.json#k  \
             2027-01-01T00:00:00Z  (holds an older value: the last write failed)\n"
        ),
        "{show:?}"
    );

    // Once the file is repaired, a sync writes it and the secret is synced again.
    project.write("c.json", "{}");
    assert_eq!(at("2027-01-03T00:00:00Z", &["sync"]).code, 0);
    let status = at("2027-01-03T00:00:00Z", &["status", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows["secrets"][0]["state"], "synced", "{status:?}");
}

/// A lockfile shared by machines whose clocks differ: a target written later by a machine whose
/// clock is behind holds the current value all the same, and is not pending.
#[test]
fn a_clock_behind_the_lockfile_does_not_make_a_written_target_pending() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  k:\n    generator: {type: random-string}\n    targets:\n      \
         - {type: local-file, path: .env}\n",
    );
    let at = |now: &str, args: &[&str]| project.run_env(args, &[("SECRETZERO_NOW", now)]);
    assert_eq!(at("2027-01-01T00:02:00Z", &["sync"]).code, 0);
    let file = project.read("Secretfile.yml");
    project.write("Secretfile.yml", &format!("{file}      - {{type: local-file, path: b.json}}\n"));
    let sync = at("2027-01-01T00:00:00Z", &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let status = at("2027-01-01T00:00:00Z", &["status", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows["secrets"][0]["state"], "synced", "{status:?}");
    assert_eq!(at("2027-01-01T00:00:00Z", &["drift"]).code, 0);
}

/// A dotenv value that readers expand (`${A}`, `$A`) is not what applications read, so it is
/// never adopted, copied elsewhere or overwritten (the file is reported and left alone, like one
/// that does not parse); a single-quoted `$` is plain text.
#[test]
fn a_dotenv_value_that_readers_expand_is_not_adopted() {
    let secretfile = "version: \"1.0\"\nsecrets:\n  k:\n    generator: {type: random-string}\n    \
                      targets: [{type: local-file, path: .env}, {type: local-file, path: c.json}]\n";
    for env in [
        "A=1\nK=${A}x\n",
        "A=1\nK=\"$A-x\"\nB=2\n",
        "K='pre${A}post'\n",
        "K=Pa55$1word\n",
        "K=a$-b\n",
    ] {
        let project = Project::new(secretfile);
        project.write(".env", env);
        let run = project.run(&["sync"]);
        assert_eq!(run.code, 1, "{env}: {run:?}");
        assert!(
            run.stderr.contains(
                "key `K` refers to another variable with `$`, which dotenv readers expand; \
                 SecretZero does not, so it cannot tell the value an application reads"
            ),
            "{env}: {run:?}"
        );
        assert_eq!(project.read(".env"), env);
        let json = project.read("c.json");
        assert!(!json.contains("${A}") && !json.contains("$A"), "{env}: not adopted: {json}");
    }
    let project = Project::new(secretfile);
    project.write(".env", "K='pa$word'\n");
    assert_eq!(project.run(&["sync"]).code, 0);
    assert_eq!(common::json(&project.path("c.json"))["k"], "pa$word");
}

/// A lockfile that is a link to a target file (even one that does not exist yet) would be
/// written over the secrets: refused before anything is written.
#[cfg(unix)]
#[test]
fn a_lockfile_linked_to_a_target_is_refused() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  k:\n    generator: {type: random-string}\n    targets: \
         [{type: local-file, path: .env}]\n",
    );
    std::os::unix::fs::symlink(".env", project.path(".gitsecrets.lock")).unwrap();
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("secret `k` has a target that writes into the lockfile"),
        "{run:?}"
    );
    assert!(!project.exists(".env"));
}

/// A secret taken out of the Secretfile leaves the lockfile with the next whole sync, which
/// names the targets that may still hold its value; a sync of named secrets keeps it.
#[test]
fn a_whole_sync_drops_the_entry_of_a_secret_no_longer_declared() {
    let project = Project::new(TWO_TARGETS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let only_api_key = TWO_TARGETS.split("  database:").next().unwrap().to_string();
    project.write("Secretfile.yml", &only_api_key);
    let drift = project.run(&["drift"]);
    assert!(drift.stdout.contains("warning[drift/removed]"), "{drift:?}");

    let named = project.run(&["sync", "-s", "api_key"]);
    assert_eq!(named.code, 0, "{named:?}");
    assert!(lock(&project)["secrets"].get("database").is_some(), "kept: {named:?}");

    let plan = project.run(&["sync", "--dry-run"]);
    assert!(
        plan.stdout.contains(
            "database: drop from the lockfile (the Secretfile no longer declares it; its value \
             may still be in local-file:.env#DATABASE, local-file:config.json#database)\n"
        ),
        "{plan:?}"
    );
    assert!(lock(&project)["secrets"].get("database").is_some(), "a dry run drops nothing");

    let whole = project.run(&["sync"]);
    assert_eq!(whole.code, 0, "{whole:?}");
    assert!(
        whole.stderr.contains(
            "✓ Dropped database from the lockfile: the Secretfile no longer declares it\n"
        ),
        "{whole:?}"
    );
    assert!(lock(&project)["secrets"].get("database").is_none(), "{whole:?}");
    assert!(lock(&project)["secrets"].get("api_key").is_some());
    let drift = project.run(&["drift"]);
    assert_eq!(drift.code, 0, "{drift:?}");
}
