//! `secretzero drift` end to end: every kind of difference, where it points, and the exit code.

mod common;

use common::Project;

const SECRETFILE: &str = r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string, length: 20}
    targets:
      - {type: local-file, path: .env}
      - {type: local-file, path: config.json}
  database:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password, length: 20}}
    targets:
      - {type: local-file, path: .env}
  plain:
    generator: {type: random-string}
    targets:
      - {type: local-file, path: .env}
"#;

fn synced() -> Project {
    let project = Project::new(SECRETFILE);
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    project
}

fn drift(project: &Project, args: &[&str]) -> common::Run {
    let mut all = vec!["--color", "never", "drift"];
    all.extend_from_slice(args);
    project.run(&all)
}

/// The `rule: message @ line:column` lines of a text report, for exact comparison.
fn headlines(run: &common::Run) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = run.stdout.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((level_rule, message)) = line.split_once("]: ") else { continue };
        let rule = level_rule.split_once('[').map_or("", |(_, r)| r);
        let place = lines.next().unwrap_or("").trim().trim_start_matches("--> ");
        out.push(format!("{rule}: {message} @ {place}"));
    }
    out
}

#[test]
fn nothing_changed_is_no_drift() {
    let project = synced();
    let run = drift(&project, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "✓ No drift: 3 secrets and 4 targets checked\n");
}

#[test]
fn hand_edits_and_missing_targets_are_drift_at_their_target() {
    let project = synced();
    let env = project.read(".env");
    let edited: String = env
        .lines()
        .filter(|l| !l.starts_with("DATABASE_USERNAME="))
        .map(|l| if l.starts_with("API_KEY=") { "API_KEY=edited-by-hand" } else { l })
        .map(|l| format!("{l}\n"))
        .collect();
    project.write(".env", &edited);
    std::fs::remove_file(project.path("config.json")).unwrap();

    let run = drift(&project, &[]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(
        headlines(&run),
        [
            "drift/value-changed: local-file:.env#API_KEY of secret `api_key` holds a value the \
             lockfile does not record @ Secretfile.yml:6:9",
            "drift/target-missing: local-file:config.json#api_key of secret `api_key` is gone: \
             the lockfile records it as written @ Secretfile.yml:7:9",
            "drift/target-missing: local-file:.env#DATABASE of secret `database` lacks field \
             `username` @ Secretfile.yml:15:9",
        ]
    );
    assert_eq!(run.stderr, "✗ Drift found: 3 difference(s); 3 secrets and 4 targets checked\n");
    assert!(!run.all_output().contains("edited-by-hand"));

    // One secret only.
    let run = drift(&project, &["database"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(headlines(&run).len(), 1);
}

#[test]
fn definition_changes_and_unsynced_or_removed_secrets_are_drift() {
    let project = synced();
    let changed = SECRETFILE
        .replace("length: 20}\n    targets", "length: 21}\n    targets")
        .replace(
            "  plain:\n    generator: {type: random-string}\n    targets:\n      - {type: \
                  local-file, path: .env}\n",
            "",
        )
        .replace(
            "      - {type: local-file, path: config.json}\n",
            "      - {type: local-file, path: config.json}\n      - {type: local-file, path: \
             app.yaml}\n",
        )
        + "  fresh:\n    generator: {type: random-string}\n    targets:\n      - {type: \
           local-file, path: .env}\n";
    project.write("Secretfile.yml", &changed);

    let run = drift(&project, &[]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(
        headlines(&run),
        [
            "drift/removed: secret `plain` is in the lockfile but no longer in the \
             Secretfile; 1 target may still hold its value @ .gitsecrets.lock",
            "drift/definition-changed: secret `api_key`: its generator changed since the last \
             sync @ Secretfile.yml:4:5",
            "drift/target-not-synced: local-file:app.yaml#api_key of secret `api_key` has never \
             been written @ Secretfile.yml:8:9",
            "drift/not-synced: secret `fresh` has never been synced @ Secretfile.yml:17:3",
        ]
    );
    assert!(run.stdout.starts_with("warning[drift/removed]"), "{run:?}");

    // A secret only the lockfile knows can still be named.
    let run = drift(&project, &["plain"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(headlines(&run).len(), 1);
    let run = drift(&project, &["nope"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn a_target_whose_last_write_failed_is_stale() {
    let project = synced();
    let config = project.read("config.json");
    // A key that holds a mapping is never overwritten: the rotation skips this file.
    project.write("config.json", "{\"api_key\": {\"nested\": true}}\n");
    let run = project.run(&["sync", "--force", "-s", "api_key"]);
    assert_eq!(run.code, 1, "{run:?}");
    project.write("config.json", &config);

    let run = drift(&project, &["api_key"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(
        headlines(&run),
        ["drift/stale-target: local-file:config.json#api_key of secret `api_key` still holds \
          an older value: the last write to it failed @ Secretfile.yml:7:9"]
    );
}

// A build with the `github` feature writes `github-secret`, which this test needs unsupported.
#[cfg(not(feature = "github"))]
#[test]
fn targets_that_cannot_be_read_back_say_so_without_claiming_drift() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string}
    targets:
      - {type: local-file, path: .env}
      - {type: github-secret, name: API_KEY}
"#,
    );
    assert_eq!(project.run(&["sync"]).code, 1);
    let run = drift(&project, &[]);
    assert_eq!(run.code, 4, "the GitHub secret was never written: {run:?}");
    assert_eq!(
        headlines(&run),
        ["drift/target-not-synced: github-secret::API_KEY of secret `api_key` has never been \
          written @ Secretfile.yml:7:9"]
    );

    // Once the lockfile records it as written, all drift can say is that it cannot look.
    let mut lock = common::json(&project.path(".gitsecrets.lock"));
    let entry = &mut lock["secrets"]["api_key"]["targets"];
    entry["github-secret::API_KEY"] = entry["local-file:.env#API_KEY"].clone();
    project.write(".gitsecrets.lock", &serde_json::to_string_pretty(&lock).unwrap());
    // A check that could not look is not a clean result: it fails, though nothing drifted.
    let run = drift(&project, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        headlines(&run),
        ["drift/unreadable: github-secret::API_KEY of secret `api_key` could not be read, so \
          drift is unknown: this build has no github-secret support (target \
          github-secret::API_KEY); build it with `--features github` @ Secretfile.yml:7:9"]
    );
    assert_eq!(
        run.stderr,
        "✗ Drift unknown: 1 target(s) could not be read; 1 secret and 2 targets checked\n"
    );
}

/// The help for a value changed by hand says what a sync will really do: restore the recorded
/// value from a target that still holds it, or, when none does, record the new one.
#[test]
fn a_changed_value_gets_help_that_sync_bears_out() {
    let project = synced();
    let json_value = || common::json(&project.path("config.json"))["api_key"].clone();
    let recorded = json_value();

    // One of two targets edited: sync restores it from the other.
    let env = project.read(".env");
    let line = env.lines().find(|l| l.starts_with("API_KEY=")).unwrap().to_string();
    project.write(".env", &env.replace(&line, "API_KEY=edited-by-hand"));
    let run = drift(&project, &["--format", "json"]);
    assert_eq!(run.code, 4, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["checks"][0]["findings"][0]["help"],
        "`secretzero sync -s api_key` writes the recorded value back from the targets that still \
         hold it; to keep the new value instead, supply it in API_KEY when you run that sync"
    );
    assert_eq!(project.run(&["sync", "-s", "api_key"]).code, 0);
    assert_eq!(common::dotenv_value(&project.path(".env"), "API_KEY").unwrap(), recorded);
    assert_eq!(drift(&project, &[]).code, 0);

    // The only target edited: sync records the new value.
    let env = project.read(".env");
    let line = env.lines().find(|l| l.starts_with("PLAIN=")).unwrap().to_string();
    project.write(".env", &env.replace(&line, "PLAIN=edited-by-hand"));
    let run = drift(&project, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["checks"][0]["findings"][0]["help"],
        "no target holds the recorded value any more: `secretzero sync -s plain` records the \
         value the targets hold now, and `secretzero sync --force -s plain` replaces it with a \
         new one"
    );
    assert_eq!(project.run(&["sync", "-s", "plain"]).code, 0);
    assert_eq!(
        common::dotenv_value(&project.path(".env"), "PLAIN").as_deref(),
        Some("edited-by-hand")
    );
    assert_eq!(drift(&project, &[]).code, 0);
}

#[test]
fn the_help_for_a_changed_value_follows_static_values_and_disagreeing_targets() {
    let project = synced();
    let help = |project: &Project| {
        let run = drift(project, &["--format", "json"]);
        assert_eq!(run.code, 4, "{run:?}");
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        report["checks"][0]["findings"][0]["help"].as_str().unwrap().to_string()
    };

    // Both targets of `api_key` edited, each differently: sync leaves them alone.
    let env = project.read(".env");
    let line = env.lines().find(|l| l.starts_with("API_KEY=")).unwrap().to_string();
    project.write(".env", &env.replace(&line, "API_KEY=one"));
    project.write("config.json", "{\"api_key\": \"two\"}\n");
    assert_eq!(
        help(&project),
        "the targets hold different values and none the recorded one: remove the wrong ones by \
         hand, or `secretzero sync --force -s api_key` replaces them all with a new value"
    );
    assert_eq!(project.run(&["sync", "-s", "api_key"]).code, 1, "the targets disagree");

    // A static value decides the value whatever the target holds.
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  st:\n    generator: {type: static, value: fixed}\n    \
         targets: [{type: local-file, path: .env}]\n",
    );
    assert_eq!(project.run(&["sync"]).code, 0);
    project.write(".env", "ST=edited\n");
    assert_eq!(
        help(&project),
        "`secretzero sync -s st` writes the value from the Secretfile or the environment back; \
         to keep the new one, put it there"
    );
    assert_eq!(project.run(&["sync", "-s", "st"]).code, 0);
    assert_eq!(project.read(".env"), "ST=fixed\n");
}
