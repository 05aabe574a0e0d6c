//! `secretzero migrate`: projects of the older SecretZero (fixtures/migrate/, written for these
//! tests, with lockfile hashes made as the older tool made them: bare SHA-256 hex of the value,
//! and of compact sorted JSON with non-ASCII escaped for a value of several fields) become
//! projects of the current format that sync and drift leave alone.

mod common;

use std::path::Path;

use common::{Project, Run, mtime};
use sha2::{Digest, Sha256};

/// Values the fixtures' targets hold; none may ever be printed.
const CANARIES: &[&str] = &[
    "CanaryApiKey7Qm2Xw9Lp4Zt",
    "Hv3Rt8Nw2Kx5Pq7M",
    "ghp_CanaryPersonalAccessToken0123456789",
    "billing-app",
    "Pässwörd-Ünïcode-9",
];

/// The local fixture's target files, which nothing after the migration may touch.
const LOCAL_TARGETS: &[&str] =
    &[".env", "secrets/db.env", "config.json", "legacy.json", "settings.yaml", "mail.env"];

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrate").join(name)
}

/// A temporary copy of one fixture project, so that no test writes into a tracked file.
fn project(name: &str) -> Project {
    let project = Project::empty();
    copy_tree(&fixture(name), project.dir.path());
    project
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture("expected").join(name)).unwrap()
}

fn assert_no_canary(run: &Run) {
    for canary in CANARIES {
        assert!(!run.all_output().contains(canary), "{canary} was printed: {run:?}");
    }
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn lockfile(project: &Project) -> serde_json::Value {
    common::json(&project.path(".gitsecrets.lock"))
}

const LOCAL_DONE: &str = "\
✓ Migrated Secretfile.yml (10 secrets) and .gitsecrets.lock (10 entries confirmed by a target \
and re-hashed)
The older Secretfile is kept as Secretfile.yml.v0.
The older lockfile is kept as .gitsecrets.lock.v0.
Next: `secretzero sync --dry-run` should show every target unchanged; then commit both files.
";

#[test]
fn local_project_migrates_and_the_next_sync_and_drift_find_nothing_to_do() {
    let project = project("local");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(project.path("Secretfile.yml"), mode).unwrap();
    }
    let older_secretfile = project.read("Secretfile.yml");
    let older_lockfile = project.read(".gitsecrets.lock");

    let run = project.run(&["migrate"]);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "", LOCAL_DONE));
    assert_no_canary(&run);
    assert_eq!(project.read("Secretfile.yml"), expected("local.yml"));
    assert_eq!(project.read("Secretfile.yml.v0"), older_secretfile);
    assert_eq!(project.read(".gitsecrets.lock.v0"), older_lockfile);
    #[cfg(unix)]
    for (name, mode) in [("Secretfile.yml", 0o640), (".gitsecrets.lock", 0o644)] {
        use std::os::unix::fs::PermissionsExt;
        let found = std::fs::metadata(project.path(name)).unwrap().permissions().mode();
        assert_eq!(found & 0o777, mode, "{name}");
    }

    // History carried over; provenance gone; every hash keyed.
    let lock = lockfile(&project);
    let text = project.read(".gitsecrets.lock");
    for gone in ["jdoe", "Jane Doe", "jdoe-laptop", "provenance", "sync_identity", "actor"] {
        assert!(!text.contains(gone), "{gone} is still in the lockfile:\n{text}");
    }
    let api_key = &lock["secrets"]["api_key"];
    assert_eq!(api_key["created_at"], "2025-03-01T10:00:00Z");
    assert_eq!(api_key["updated_at"], "2025-09-01T08:30:00Z");
    assert_eq!(api_key["last_rotated"], "2025-09-01T08:30:00Z");
    assert_eq!(api_key["rotation_count"], 2);
    assert_eq!(lock["secrets"]["session_secret"]["one_time"], true);
    let password = &lock["secrets"]["database.password"];
    let ids: Vec<&String> = password["targets"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["local-file:.env#password", "local-file:secrets/db.env#DB_PASS"]);
    assert_eq!(
        password["targets"]["local-file:.env#password"]["updated_at"],
        "2025-05-05T05:05:05Z"
    );
    // A template an older release locked as one JSON entry: each field's secret has its history.
    let mail = &lock["secrets"]["mail.smtp_pass"];
    assert_eq!(mail["created_at"], "2024-11-11T11:11:11Z");
    assert_eq!(mail["rotation_count"], 1);
    let ids: Vec<&String> = mail["targets"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["local-file:mail.env#smtp_pass"]);
    let names: Vec<&String> = lock["secrets"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "api_key",
            "app_user",
            "build_id",
            "database.password",
            "database.username",
            "db_admin_password",
            "legacy_token",
            "mail.smtp_pass",
            "mail.smtp_user",
            "session_secret"
        ]
    );
    let hashes = text.lines().filter(|l| l.contains("\"hash\": \"") || l.contains("\"value\": \""));
    for line in hashes {
        assert!(line.contains("hmac-sha256:"), "an older hash is left: {line}");
    }

    // The next sync writes nothing at all; drift and validate find nothing.
    let lock_bytes = project.read_bytes(".gitsecrets.lock");
    let lock_time = mtime(&project.path(".gitsecrets.lock"));
    let targets: Vec<_> = LOCAL_TARGETS
        .iter()
        .map(|name| (project.read_bytes(name), mtime(&project.path(name))))
        .collect();
    let run = project.run(&["sync"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "Summary: generated 0, targets updated 0, unchanged 11, failed 0\n")
    );
    assert_no_canary(&run);
    assert_eq!(project.read_bytes(".gitsecrets.lock"), lock_bytes);
    assert_eq!(mtime(&project.path(".gitsecrets.lock")), lock_time);
    for (name, (bytes, time)) in LOCAL_TARGETS.iter().zip(&targets) {
        assert_eq!(&project.read_bytes(name), bytes, "{name} changed");
        assert_eq!(&mtime(&project.path(name)), time, "{name} was rewritten");
    }

    let run = project.run(&["drift"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "✓ No drift: 10 secrets and 11 targets checked\n")
    );
    let run = project.run(&["validate"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "✓ Secretfile.yml is valid: 10 secrets, 11 targets\n")
    );
    assert_eq!(project.read_bytes(".gitsecrets.lock"), lock_bytes);
}

#[test]
fn dry_run_prints_the_new_files_with_static_values_masked_and_writes_nothing() {
    let project = project("local");
    let before: Vec<_> = ["Secretfile.yml", ".gitsecrets.lock"].map(|f| project.read(f)).into();

    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        "Dry run: Secretfile.yml (10 secrets) and .gitsecrets.lock (10 entries confirmed by a \
         target and re-hashed); nothing was written.\n"
    );
    assert_no_canary(&run);
    let (secretfile, lock) = run.stdout.split_once("\n==> .gitsecrets.lock <==\n").unwrap();
    let masked = expected("local.yml")
        .replace("value: billing-app\n", "value: \"********\"\n")
        .replace("value: billing\n", "value: \"********\"\n")
        .replace("value: mailer\n", "value: \"********\"\n");
    assert_eq!(secretfile, format!("==> Secretfile.yml <==\n{masked}"));
    let lock: serde_json::Value = serde_json::from_str(lock).unwrap();
    assert_eq!(lock["version"], 2);
    assert_eq!(lock["secrets"].as_object().unwrap().len(), 10);

    let run = project.run(&["-vv", "migrate", "--dry-run"]);
    assert!(run.stderr.contains("lockfile entry converted"), "{run:?}");
    assert_no_canary(&run);

    assert_eq!(["Secretfile.yml", ".gitsecrets.lock"].map(|f| project.read(f)).to_vec(), before);
    assert!(!project.exists("Secretfile.yml.v0") && !project.exists(".gitsecrets.lock.v0"));
}

#[test]
fn remote_targets_are_translated_and_validate_with_their_history() {
    let project = project("remote");
    let run = project.run(&["migrate"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        "✓ Migrated Secretfile.yml (6 secrets) and .gitsecrets.lock (6 entries keeping the older \
         hash (stripe_key, signing_key, vault_token, deploy_token, service, batch), 1 entry for \
         secrets the older Secretfile did not declare (retired_key))\n\
         The older Secretfile is kept as Secretfile.yml.v0.\n\
         The older lockfile is kept as .gitsecrets.lock.v0.\n\
         Next: `secretzero sync --dry-run` should show every target unchanged; then commit both \
         files.\n"
    );
    assert_eq!(project.read("Secretfile.yml"), expected("remote.yml"));

    let run = project.run(&["validate"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "✓ Secretfile.yml is valid: 6 secrets, 13 targets\n")
    );

    // No target can be read back here, so the older hashes stay: they still check a value.
    let lock = lockfile(&project);
    let stripe = &lock["secrets"]["stripe_key"];
    let stripe_hash = sha256("sk_live_remote_value_1234567890abcdefghij");
    assert_eq!(stripe["fields"]["value"], stripe_hash.as_str());
    assert_eq!(stripe["rotation_count"], 1);
    let ids: Vec<&String> = stripe["targets"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["aws-secretsmanager:aws:prod/stripe", "aws-ssm:aws:/prod/stripe"]);
    let vault: Vec<&String> =
        lock["secrets"]["vault_token"]["targets"].as_object().unwrap().keys().collect();
    assert_eq!(
        vault,
        ["vault-kv:vault:payments/token-copy", "vault-kv:vault:secret/payments/token"]
    );
    assert_eq!(lock["secrets"]["deploy_token"]["targets"].as_object().unwrap().len(), 4);

    // A template written to remote stores only is one secret with fields: the older entries
    // `service.user` and `service.pass` become its fields.
    let service = &lock["secrets"]["service"];
    assert_eq!(service["fields"]["user"], sha256("payments").as_str());
    assert_eq!(service["fields"]["pass"], sha256("service-pass-value").as_str());
    assert_eq!(service["updated_at"], "2025-08-01T00:00:00Z");
    // An entry that hashed the whole value as JSON keeps that hash for the engine to check.
    let batch_json = r#"{"pass":"B\u00e4tch-pass-with-\u00fcnicode-0123456","user":"payments"}"#;
    assert_eq!(lock["secrets"]["batch"]["fields"]["(legacy value)"], sha256(batch_json).as_str());
    assert_eq!(
        lock["secrets"]["retired_key"]["targets"]["aws/secrets_manager/prod/retired"]["hash"],
        sha256("retired").as_str()
    );
    assert!(!project.read(".gitsecrets.lock").contains("jdoe"));

    // Stores that cannot be reached (a closed port on this machine) cannot be read back, so
    // their recorded values are kept; nothing is generated.
    // (`VAULT_TOKEN` would be the override of secret `vault_token`: the token comes from
    // `~/.vault-token` instead.)
    let secretfile = project.read("Secretfile.yml");
    project.write(
        "Secretfile.yml",
        &secretfile
            .replace("https://vault.example.com:8200", "http://127.0.0.1:9")
            .replace("https://gitlab.example.com", "http://127.0.0.1:9")
            .replace("https://jenkins.example.com", "http://127.0.0.1:9")
            .replace(
                "    kind: github\n",
                "    kind: github\n    config: {api_url: \"http://127.0.0.1:9\"}\n",
            ),
    );
    project.write("home/.vault-token", "test-token\n");
    // A kubeconfig whose cluster is as unreachable as the other providers.
    project.write(
        "home/.kube/config",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: \
         http://127.0.0.1:9\ncontexts:\n- name: prod\n  context: {cluster: prod, user: ci}\n\
         current-context: prod\nusers:\n- name: ci\n  user: {token: test}\n",
    );
    let home = project.path("home").display().to_string();
    let unreachable = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("HOME", home.as_str()),
        ("GITLAB_TOKEN", "test"),
        ("JENKINS_USER", "ci"),
        ("JENKINS_API_TOKEN", "test"),
        ("GITHUB_TOKEN", "test"),
    ];
    // Nothing answers, so the dry run fails as the sync would: whether the stores still hold
    // the recorded values is unknown.
    let run = project.run_env(&["sync", "--dry-run"], &unreachable);
    assert_eq!(run.code, 1, "{run:?}");
    // The older SecretZero kept no ExternalSecret manifest file; a build that writes them would
    // make the two files, but with no store answering the value they point at is not known
    // here, so they wait (a sync with the stores reachable makes them). Every target that
    // holds a value is unchanged.
    let plan = if cfg!(feature = "kubernetes") {
        "Plan: 0 to create, 0 to update, 11 unchanged, 2 skipped.\n"
    } else {
        "Plan: 0 to create, 0 to update, 13 unchanged, 0 skipped.\n"
    };
    assert!(run.stdout.ends_with(plan), "{run:?}");
    assert!(!run.stdout.contains("generate"), "{run:?}");
}

const UNTRANSLATED: &str = "\
warning: Secretfile.yml:4: `labels` in `metadata` has no equivalent
warning: Secretfile.yml:9: secret `github_pat` has generator kind `github_pat`, which has no \
equivalent; it becomes `static` without a value: the value its targets hold is kept, but never \
generated again
warning: Secretfile.yml:12: `required` in secret `github_pat` has no equivalent
warning: Secretfile.yml:19: `merge: false` in the file target of `github_pat` has no equivalent: \
files are always merged
warning: Secretfile.yml:20: a target of `github_pat` has kind `onepassword_item`, which has no \
equivalent; left out
warning: Secretfile.yml:29: `prefix` in the `config` of secret `npm_token` has no equivalent
warning: Secretfile.yml:31: the file target of `npm_token` has format `ini`, which has no \
equivalent
";

#[test]
fn what_has_no_equivalent_is_listed_by_line_and_stops_the_write() {
    let project = project("untranslatable");
    let before = project.read("Secretfile.yml");

    let run = project.run(&["migrate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "{UNTRANSLATED}error: 7 parts of Secretfile.yml have no equivalent; nothing was \
             written\nhint: change the older file and migrate again, or pass \
             --allow-untranslated to leave those parts out\n"
        )
    );
    assert_eq!(project.read("Secretfile.yml"), before);
    assert!(!project.exists("Secretfile.yml.v0"));

    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.starts_with(UNTRANSLATED), "{run:?}");
    let header = "==> Secretfile.yml <==\n# `secretzero migrate` found no equivalent for these \
                  parts of the older Secretfile:\n#   line 4: `labels` in `metadata` has no \
                  equivalent\n";
    assert!(run.stdout.starts_with(header), "{run:?}");

    let run = project.run(&["migrate", "--allow-untranslated"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.starts_with(UNTRANSLATED), "{run:?}");
    assert_no_canary(&run);
    let listed: String = UNTRANSLATED
        .replace("warning: Secretfile.yml:", "#   line ")
        .lines()
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        project.read("Secretfile.yml"),
        "# `secretzero migrate` found no equivalent for these parts of the older Secretfile:\n"
            .to_string()
            + &listed
            + "version: \"1.0\"\n\nmetadata:\n  name: tools\n\nsecrets:\n  github_pat:\n    \
         generator:\n      type: static\n    targets:\n      - type: local-file\n        path: \
         .env\n        key: GITHUB_TOKEN\n\n  npm_token:\n    generator:\n      type: \
         random-string\n      length: 36\n"
    );

    // The token the older tool could make and this one cannot stays as the target holds it.
    let lock = project.read_bytes(".gitsecrets.lock");
    let env = project.read_bytes(".env");
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_no_canary(&run);
    assert_eq!(project.read_bytes(".gitsecrets.lock"), lock);
    assert_eq!(project.read_bytes(".env"), env);
    let run = project.run(&["drift"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn existing_copies_are_replaced_only_with_force() {
    let project = project("local");
    project.write("Secretfile.yml.v0", "an earlier copy\n");
    let before = project.read("Secretfile.yml");

    let run = project.run(&["migrate"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "error: Secretfile.yml.v0 already exists; not replacing it\n\
             hint: move it away, or pass --force to replace it\n"
        )
    );
    assert_eq!(project.read("Secretfile.yml"), before);
    assert_eq!(project.read("Secretfile.yml.v0"), "an earlier copy\n");
    assert!(!project.exists(".gitsecrets.lock.v0"));

    let run = project.run(&["migrate", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(project.read("Secretfile.yml.v0"), before);

    // Migrated once, the file is in the current format and is not migrated again.
    let run = project.run(&["migrate", "--force"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "error: Secretfile.yml is not a Secretfile of the older format: its `secrets` is a \
             mapping, as in the current format\n\
             hint: point at the older file with --from or --lockfile-from\n"
        )
    );
    assert_eq!(project.read("Secretfile.yml.v0"), before);
}

#[test]
fn older_files_elsewhere_are_read_in_place_and_kept_as_they_are() {
    let project = project("local");
    std::fs::rename(project.path("Secretfile.yml"), project.path("Secretfile.old.yml")).unwrap();
    std::fs::rename(project.path(".gitsecrets.lock"), project.path("old.lock")).unwrap();
    let (old_secretfile, old_lock) = (project.read("Secretfile.old.yml"), project.read("old.lock"));

    let args = ["migrate", "--from", "Secretfile.old.yml", "--lockfile-from", "old.lock"];
    let run = project.run(&args);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        "✓ Migrated Secretfile.yml (10 secrets) and .gitsecrets.lock (10 entries confirmed by a \
         target and re-hashed)\nNext: `secretzero sync --dry-run` should show every target \
         unchanged; then commit both files.\n"
    );
    assert_eq!(project.read("Secretfile.yml"), expected("local.yml"));
    assert_eq!(
        (project.read("Secretfile.old.yml"), project.read("old.lock")),
        (old_secretfile, old_lock)
    );
    assert!(!project.exists("Secretfile.old.yml.v0") && !project.exists("old.lock.v0"));

    let run = project.run(&args);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "error: Secretfile.yml already exists; not replacing it\n\
             hint: move it away, or pass --force to replace it\n"
        )
    );
    let run = project.run(&["sync"]);
    assert_eq!(run.stderr, "Summary: generated 0, targets updated 0, unchanged 11, failed 0\n");
}

#[test]
fn without_an_older_lockfile_the_next_sync_adopts_what_the_targets_hold() {
    let project = project("local");
    std::fs::remove_file(project.path(".gitsecrets.lock")).unwrap();
    let env = project.read(".env");

    let run = project.run(&["migrate"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            0,
            "✓ Migrated Secretfile.yml (10 secrets); there is no older lockfile at \
             .gitsecrets.lock\nThe older Secretfile is kept as Secretfile.yml.v0.\nNext: \
             `secretzero sync --dry-run` should show every target unchanged; then commit both \
             files.\n"
        )
    );
    assert!(!project.exists(".gitsecrets.lock"));
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("Generated"), "{run:?}");
    assert_eq!(project.read(".env"), env);
}

#[test]
fn a_keyed_lockfile_is_made_when_the_key_is_set() {
    let key = [("SECRETZERO_LOCK_KEY", "0123456789abcdef0123456789abcdef-migrate")];
    let project = project("local");
    let run = project.run_env(&["migrate"], &key);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(lockfile(&project)["hash"]["keyed"], true);
    let lock = project.read_bytes(".gitsecrets.lock");
    let run = project.run_env(&["sync"], &key);
    assert_eq!(run.stderr, "Summary: generated 0, targets updated 0, unchanged 11, failed 0\n");
    assert_eq!(project.read_bytes(".gitsecrets.lock"), lock);
}

#[test]
fn unreadable_older_files_are_load_errors() {
    let project = Project::new("secrets: [unclosed\n");
    let run = project.run(&["migrate"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: Secretfile.yml is not valid YAML at line 1: unclosed bracket '['\n"
    );

    let project = Project::new("version: '1.0'\nsecrets: []\n");
    project.write(".gitsecrets.lock", "{ not json");
    let run = project.run(&["migrate"]);
    assert_eq!(run.code, 5, "{run:?}");

    let run = Project::empty().run(&["migrate"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: cannot read Secretfile.yml\n  caused by: No such file or directory (os error 2)\n"
    );
}

#[test]
fn what_does_not_validate_is_listed_at_its_older_line_and_left_out() {
    let older = "version: '1.0'\nvariables:\n  region: ${AWS_REGION}\nsecrets:\n  - name: \
                 token\n    kind: random_string\n";
    let project = Project::new(older);
    let run = project.run(&["migrate"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            1,
            "",
            "warning: Secretfile.yml:3: variable `region` uses undefined name `env.AWS_REGION`; \
             variable `region` is left out\nerror: 1 part of Secretfile.yml has no equivalent; \
             nothing was written\nhint: change the older file and migrate again, or pass \
             --allow-untranslated to leave those parts out\n"
        )
    );
    assert_eq!(project.read("Secretfile.yml"), older);
    let run = project.run_env(&["migrate"], &[("AWS_REGION", "eu-west-1")]);
    assert_eq!(run.code, 0, "{run:?}");

    // A secret whose name the current format refuses is listed with the rest, and a path a
    // variable sends out of the folder loses its target, listed at the older line.
    let project = Project::new(
        "version: '1.0'\nsecrets:\n  - name: 1bad\n    kind: random_string\n  - name: ok\n    \
         kind: random_string\n    targets:\n      - {provider: local, kind: file, config: {path: \
         \"${OUTP:-..}/x.env\"}}\n",
    );
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "warning: Secretfile.yml:3: secret `1bad` is left out: a name holds letters, digits, \
         `_`, `-` and `.`, and starts with a letter or `_`\nwarning: Secretfile.yml:8: a \
         local-file target of secret `ok`: `../x.env` leaves the Secretfile's folder; this \
         target of `ok` is left out\nDry run: Secretfile.yml (1 secret); there is no older \
         lockfile at .gitsecrets.lock; nothing was written.\nerror: 2 parts of Secretfile.yml \
         have no equivalent; nothing was written\nhint: change the older file and migrate \
         again, or pass --allow-untranslated to leave those parts out\n"
    );
    assert!(
        run.stdout.ends_with("secrets:\n  ok:\n    generator:\n      type: random-string\n"),
        "{run:?}"
    );
}

#[test]
fn names_keys_and_paths_the_current_format_refuses_are_listed() {
    let project = Project::new(
        "version: '1.0'\nsecrets:\n  - name: token\n    kind: random_string\n  - name: token\n    \
         kind: static\n",
    );
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "warning: Secretfile.yml:5: secret `token` is declared twice (first at line 3); the \
             later one is left out\n"
        ),
        "{run:?}"
    );

    let project = Project::new(
        "version: '1.0'\nsecrets:\n  - name: token\n    kind: random_string\n    targets:\n      \
         - {provider: local, kind: file, config: {path: /etc/app.env}}\n",
    );
    let run = project.run(&["migrate", "--dry-run"]);
    assert!(
        run.stderr.starts_with(
            "warning: Secretfile.yml:6: the file target of `token`: `/etc/app.env` is absolute, \
             which the current format refuses\n"
        ),
        "{run:?}"
    );

    let project = Project::new(
        "version: '1.0'\nsecrets:\n  - name: 2fa seed\n    kind: random_string\n  - name: ok\n    \
         kind: random_string\n    targets:\n      - {provider: local, kind: file, config: {path: \
         .env, key: 'bad key'}}\n",
    );
    let run = project.run(&["migrate", "--dry-run"]);
    assert!(
        run.stderr.starts_with(
            "warning: Secretfile.yml:3: secret `2fa seed` is left out: a name holds letters, \
             digits, `_`, `-` and `.`, and starts with a letter or `_`\nwarning: \
             Secretfile.yml:8: the file target of `ok`: key `bad key`: a dotenv key must match \
             [A-Za-z_][A-Za-z0-9_.]*; left out\n"
        ),
        "{run:?}"
    );

    let run = project.run(&["migrate", "--lockfile-from", "missing.lock"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (5, "error: cannot read missing.lock\n  caused by: entity not found\n")
    );
}

#[test]
fn what_a_template_lacks_is_listed_once_whatever_its_fields() {
    let project = Project::new(
        "version: '1.0'\ntemplates:\n  login:\n    fields:\n      user:\n        generator: \
         {kind: static, config: {value: app}}\n      pass:\n        generator: {kind: \
         random_password}\n    targets:\n      - {provider: local, kind: file, config: {path: \
         .env, merge: false}}\nsecrets:\n  - {name: db, kind: templates.login}\n",
    );
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "warning: Secretfile.yml:10: `merge: false` in the file target of `db.user` has no \
         equivalent: files are always merged\nDry run: Secretfile.yml (2 secrets); there is no \
         older lockfile at .gitsecrets.lock; nothing was written.\nerror: 1 part of \
         Secretfile.yml has no equivalent; nothing was written\nhint: change the older file \
         and migrate again, or pass --allow-untranslated to leave those parts out\n"
    );
}

#[test]
fn help_describes_the_command() {
    let run = Project::empty().run(&["migrate", "--help"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with(
            "Convert the older SecretZero's Secretfile and lockfile without regenerating anything"
        ),
        "{run:?}"
    );
    for option in ["--from", "--lockfile-from", "--dry-run", "--allow-untranslated", "--force"] {
        assert!(run.stdout.contains(option), "{option}: {run:?}");
    }
}

/// The `quoting` fixture's files as the older tool wrote them: dotenv values in double quotes
/// without escapes, YAML through PyYAML, which leaves `12345e67` and `0o17` unquoted. The
/// lockfile holds the bare SHA-256 of each true value.
const OLDER_ENV: &str = "# app settings\nplain_key=Plain9k2\nquote_key=\"Qx\"7m\"\n\
                         newline_key=\"Lit\\nBs4\"\ndollar_key=\"Pa$wo#d1!x\"\n";
const OLDER_YAML: &str = "exp_key: 12345e67\noctal_key: 0o17\nyaml_ok: Yaml-ok-3\n";

#[test]
fn values_the_older_tool_quoted_its_own_way_are_requoted_by_their_recorded_hash() {
    let project = project("quoting");
    assert_eq!(
        (project.read(".env"), project.read("settings.yaml")),
        (OLDER_ENV.into(), OLDER_YAML.into())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(project.path(".env"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let requoted = "keys `quote_key`, `newline_key`, `dollar_key` of .env in the quoting every \
                    reader reads alike (no value changes).\n";
    let requoted_yaml = "keys `exp_key`, `octal_key` of settings.yaml in the quoting every \
                         reader reads alike (no value changes).\n";

    // The dry run says what it would requote, and writes nothing.
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "Would requote {requoted}Would requote {requoted_yaml}Dry run: Secretfile.yml (7 \
             secrets) and .gitsecrets.lock (7 entries confirmed by a target and re-hashed); \
             nothing was written.\n"
        )
    );
    assert_eq!(project.read(".env"), OLDER_ENV);
    assert_eq!(project.read("settings.yaml"), OLDER_YAML);

    let run = project.run(&["migrate"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            "",
            format!(
                "Requoted {requoted}Requoted {requoted_yaml}✓ Migrated Secretfile.yml (7 \
                 secrets) and .gitsecrets.lock (7 entries confirmed by a target and re-hashed)\n\
                 The older Secretfile is kept as Secretfile.yml.v0.\nThe older lockfile is kept \
                 as .gitsecrets.lock.v0.\nNext: `secretzero sync --dry-run` should show every \
                 target unchanged; then commit both files.\n"
            )
            .as_str()
        )
    );
    for value in ["Qx", "Lit", "Pa$wo", "12345e67"] {
        assert!(!run.all_output().contains(value), "{value} was printed: {run:?}");
    }
    // Only the quoting of those keys changed; every byte around them is kept.
    assert_eq!(
        project.read(".env"),
        "# app settings\nplain_key=Plain9k2\nquote_key='Qx\"7m'\nnewline_key='Lit\\nBs4'\n\
         dollar_key='Pa$wo#d1!x'\n"
    );
    assert_eq!(
        project.read("settings.yaml"),
        "exp_key: '12345e67'\noctal_key: '0o17'\nyaml_ok: Yaml-ok-3\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(project.path(".env")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The true values, as a reader of the current files reads them.
    let env = project.path(".env");
    assert_eq!(common::dotenv_value(&env, "quote_key").as_deref(), Some("Qx\"7m"));
    assert_eq!(common::dotenv_value(&env, "newline_key").as_deref(), Some("Lit\\nBs4"));
    assert_eq!(common::dotenv_value(&env, "dollar_key").as_deref(), Some("Pa$wo#d1!x"));

    // The new lockfile records those values, so the next sync writes nothing at all.
    let lock = project.read_bytes(".gitsecrets.lock");
    let files = [".env", "settings.yaml"].map(|f| project.read_bytes(f));
    let run = project.run(&["sync"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "Summary: generated 0, targets updated 0, unchanged 7, failed 0\n")
    );
    assert_eq!(project.read_bytes(".gitsecrets.lock"), lock);
    assert_eq!([".env", "settings.yaml"].map(|f| project.read_bytes(f)), files);
    let run = project.run(&["drift"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, "✓ No drift: 7 secrets and 7 targets checked\n")
    );
}

#[test]
fn local_targets_that_cannot_confirm_the_lockfile_are_listed_and_stop_the_write() {
    // A value that ends in a backslash: its recorded hash confirms it, but no dotenv quoting
    // carries it, and the file does not parse for the current reader.
    let project = project("unconfirmed");
    let env = project.read(".env");
    assert_eq!(env, "# app settings\nfirst_key=First7q\ntrail_key=\"abc\\\"\nafter_key=After8w\n");
    let unparsable = "cannot be read: .env cannot be parsed, so SecretZero leaves it as it is: \
                      the existing dotenv file does not parse at line 3, column 11: quoted \
                      value is never closed\n";
    let listed = format!(
        "warning: .env (secret `first_key`): {unparsable}warning: .env (secret `trail_key`): \
         key `trail_key` holds the recorded value, but it cannot be written so that every \
         dotenv reader reads it back (a trailing \\: python-dotenv takes a backslash before \
         the closing quote for an escaped quote and reads on past the value, and dotenvy drops \
         it from an unquoted value); give the secret another target format, or rotate it\n\
         warning: .env (secret `after_key`): {unparsable}"
    );
    let refused = "error: 3 local targets do not hold what the older lockfile records; nothing \
                   was written\nhint: resolve the targets listed above and migrate again, or \
                   pass --allow-untranslated to migrate anyway: their entries keep the older \
                   hashes\n";
    let run = project.run(&["migrate"]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert_eq!(run.stderr, format!("{listed}{refused}"));
    assert!(!project.exists("Secretfile.yml.v0"));
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.starts_with(&listed) && run.stderr.ends_with(refused), "{run:?}");

    // Migrated anyway, nothing promises an unchanged sync, and the file is left as it was.
    let run = project.run(&["migrate", "--allow-untranslated"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            0,
            format!(
                "{listed}✓ Migrated Secretfile.yml (3 secrets) and .gitsecrets.lock (3 entries \
                 keeping the older hash (first_key, trail_key, after_key))\nThe older \
                 Secretfile is kept as Secretfile.yml.v0.\nThe older lockfile is kept as \
                 .gitsecrets.lock.v0.\nNext: `secretzero sync --dry-run` shows what a sync \
                 would do to the local targets listed above; resolve them, then commit both \
                 files.\n"
            )
            .as_str()
        )
    );
    assert_eq!(project.read(".env"), env);

    // A value changed since the older tool recorded it.
    let project = self::project("changed");
    let run = project.run(&["migrate"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "warning: .env (secret `edited_key`): key `edited_key` holds a value other than the \
             one the older lockfile records\nerror: 1 local target does not hold what the older \
             lockfile records; nothing was written\nhint: resolve the targets listed above and \
             migrate again, or pass --allow-untranslated to migrate anyway: their entries keep \
             the older hashes\n"
        )
    );
}

#[test]
fn file_paths_are_rebased_onto_the_new_secretfiles_folder() {
    // The older Secretfile in a subfolder: its paths now start with that folder.
    let project = project("quoting");
    std::fs::create_dir(project.path("old")).unwrap();
    for name in ["Secretfile.yml", ".gitsecrets.lock", ".env", "settings.yaml"] {
        std::fs::rename(project.path(name), project.path(&format!("old/{name}"))).unwrap();
    }
    let run = project.run(&[
        "migrate",
        "--from",
        "old/Secretfile.yml",
        "--lockfile-from",
        "old/.gitsecrets.lock",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let secretfile = project.read("Secretfile.yml");
    assert_eq!(secretfile.matches("path: old/.env\n").count(), 4, "{secretfile}");
    assert_eq!(secretfile.matches("path: old/settings.yaml\n").count(), 3, "{secretfile}");
    let run = project.run(&["sync"]);
    assert_eq!(run.stderr, "Summary: generated 0, targets updated 0, unchanged 7, failed 0\n");

    // A new Secretfile in a subfolder cannot reach the files beside the older one.
    let project = self::project("quoting");
    std::fs::create_dir(project.path("sub")).unwrap();
    let run = project.run(&["migrate", "--from", "Secretfile.yml", "-f", "sub/Secretfile.yml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "warning: Secretfile.yml:8: the file target of `plain_key`: `.env`, relative to the \
             older Secretfile's folder, is outside the new Secretfile's folder, which the \
             current format refuses\n"
        ),
        "{run:?}"
    );
    assert!(!project.exists("sub/Secretfile.yml"));
}

#[test]
fn a_dry_run_is_refused_where_the_real_run_would_be() {
    let project = project("local");
    project.write("Secretfile.yml.v0", "an earlier copy\n");
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.ends_with(
            "error: Secretfile.yml.v0 already exists; not replacing it\nhint: move it away, or \
             pass --force to replace it\n"
        ),
        "{run:?}"
    );
    let run = project.run(&["migrate", "--dry-run", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_remote_target_without_its_name_is_listed_once() {
    let project = Project::new(
        "version: '1.0'\nproviders:\n  aws: {kind: aws}\nsecrets:\n  - name: token\n    kind: \
         random_string\n    targets:\n      - {provider: other, kind: secrets_manager, config: \
         {description: x}}\n",
    );
    let run = project.run(&["migrate", "--dry-run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "warning: Secretfile.yml:8: the secrets_manager target of `token` has no `name`; \
             left out\nDry run:"
        ),
        "{run:?}"
    );
}

#[test]
fn a_file_that_is_no_secretfile_at_all_is_a_load_error() {
    for (text, reason) in [("", "it is empty"), ("- a\n- b\n", "its top level is not a mapping")] {
        let project = Project::new(text);
        for args in [&["migrate"][..], &["migrate", "--dry-run"]] {
            let run = project.run(args);
            assert_eq!(
                (run.code, run.stdout.as_str(), run.stderr.as_str()),
                (5, "", format!("error: Secretfile.yml is not a Secretfile: {reason}\n").as_str())
            );
        }
    }
}

#[test]
fn a_static_value_read_from_a_variable_becomes_a_static_without_value() {
    let project = Project::new(
        "version: '1.0'\nsecrets:\n  - name: stripe_key\n    kind: static\n    config:\n      \
         default: ${STRIPE_SECRET}\n    targets:\n      - {provider: local, kind: file, config: \
         {path: .env}}\n",
    );
    project.write(".env", "stripe_key=sk_test_Canary42\n");
    let hash = sha256("sk_test_Canary42");
    project.write(
        ".gitsecrets.lock",
        &format!(
            "{{\"version\": \"1.0\", \"secrets\": {{\"stripe_key\": {{\"hash\": \"{hash}\", \
             \"created_at\": \"2025-01-01T00:00:00+00:00\", \"updated_at\": \
             \"2025-01-01T00:00:00+00:00\", \"targets\": {{\"local/file/.env\": \"{hash}\"}}}}}}}}"
        ),
    );
    let run = project.run(&["migrate"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "note: Secretfile.yml:6: secret `stripe_key` took its static value from \
             `${STRIPE_SECRET}`; it becomes `static` without a value, which the lockfile's \
             record keeps, and a new value is read from `STRIPE_KEY` (named after the secret), \
             not `STRIPE_SECRET`\n✓ Migrated"
        ),
        "{run:?}"
    );
    assert!(!run.all_output().contains("sk_test_Canary42"));
    assert_eq!(
        project.read("Secretfile.yml"),
        "version: \"1.0\"\n\nsecrets:\n  stripe_key:\n    generator:\n      type: static\n    \
         targets:\n      - type: local-file\n        path: .env\n        key: stripe_key\n"
    );
    // Without STRIPE_SECRET or STRIPE_KEY set, everything after works from the lockfile.
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = project.run(&["sync"]);
    assert_eq!(run.stderr, "Summary: generated 0, targets updated 0, unchanged 1, failed 0\n");
    assert_eq!(project.read(".env"), "stripe_key=sk_test_Canary42\n");
}
