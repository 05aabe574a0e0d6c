//! `secretzero policy` on the fixtures under `fixtures/policy/`: every rule has a file that
//! breaks it and one that keeps it, and each finding's rule, line and column is exact. The
//! fixtures are copied into a temporary folder, so no test writes into them.

mod common;

use common::Project;

fn fixture(name: &str) -> Project {
    let path = format!("{}/fixtures/policy/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Project::new(&text)
}

/// `rule @ line:column` for each finding of a text report, in order.
fn findings(run: &common::Run) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = run.stdout.lines();
    while let Some(line) = lines.next() {
        let Some((head, _)) = line.split_once("]: ") else { continue };
        let rule = head.split_once('[').map_or("", |(_, rule)| rule);
        let place = lines.next().unwrap_or("").trim().trim_start_matches("--> ");
        let place = place.trim_start_matches("Secretfile.yml:");
        out.push(format!("{rule} @ {place}"));
    }
    out
}

fn policy(project: &Project, args: &[&str]) -> common::Run {
    let mut all = vec!["--color", "never", "policy"];
    all.extend_from_slice(args);
    project.run(&all)
}

/// Runs the fixture (synced first, so that `soc2/tracked` holds) and checks its findings.
fn check(name: &str, sync_first: bool, expected: &[&str]) -> common::Run {
    let project = fixture(name);
    if sync_first {
        let run = project.run(&["sync"]);
        assert!(run.code == 0 || run.code == 1, "{name}: {run:?}");
    }
    let run = policy(&project, &[]);
    assert_eq!(findings(&run), expected, "{name}: {run:?}");
    run
}

#[test]
fn soc2_rotation_required() {
    let run = check("soc2-rotation-required.fail.yml", true, &["soc2/rotation-required @ 4:3"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("error[soc2/rotation-required]: secret `api_key` has no rotation period")
    );
    let run = check("soc2-rotation-required.pass.yml", true, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        "✓ Policy check passed: 0 error(s), 0 warning(s), 0 note(s) from soc2\n"
    );
}

#[test]
fn soc2_rotation_max_90d() {
    let run = check("soc2-rotation-max-90d.fail.yml", true, &["soc2/rotation-max-90d @ 6:22"]);
    assert!(
        run.stdout.contains("secret `api_key` rotates every 13w (91 days), more than 90 days"),
        "{run:?}"
    );
    check("soc2-rotation-max-90d.pass.yml", true, &[]);
}

#[test]
fn soc2_tracked() {
    let project = fixture("soc2-tracked.yml");
    let run = policy(&project, &[]);
    assert_eq!(findings(&run), ["soc2/tracked @ 4:3"], "{run:?}");
    assert_eq!(run.code, 1);
    assert_eq!(project.run(&["sync"]).code, 0);
    let run = policy(&project, &[]);
    assert_eq!((run.code, findings(&run)), (0, vec![]), "{run:?}");
}

#[test]
fn soc2_no_literal_values() {
    let run = check(
        "soc2-no-literal-values.fail.yml",
        true,
        &["soc2/no-literal-values @ 8:17", "soc2/no-literal-values @ 10:17"],
    );
    assert!(!run.all_output().contains("hunter2-canary"), "{run:?}");
    assert!(run.stdout.contains("field `password` of secret `database` has its value written"));
    check("soc2-no-literal-values.pass.yml", true, &[]);
}

#[test]
fn iso27001_rotation_required() {
    check("iso27001-rotation-required.fail.yml", false, &["iso27001/rotation-required @ 4:3"]);
    check("iso27001-rotation-required.pass.yml", false, &[]);
}

#[test]
fn iso27001_rotation_max_365d() {
    check("iso27001-rotation-max-365d.fail.yml", false, &["iso27001/rotation-max-365d @ 6:22"]);
    check("iso27001-rotation-max-365d.pass.yml", false, &[]);
}

#[test]
fn iso27001_password_length() {
    let run = check(
        "iso27001-password-length.fail.yml",
        false,
        &["iso27001/password-length @ 5:5", "iso27001/password-length @ 9:5"],
    );
    assert!(run.stdout.contains("secret `pin` draws 15 characters; at least 16 are required"));
    check("iso27001-password-length.pass.yml", false, &[]);
}

#[test]
fn custom_rotation_policy_with_a_selector_and_its_severity() {
    let run = check(
        "custom-rotation.fail.yml",
        false,
        &["custom/rotation @ 11:22", "custom/rotation @ 13:3"],
    );
    assert!(run.stdout.starts_with("warning[custom/rotation]"), "{run:?}");
    assert!(run.stdout.contains("= note: policy `databases-rotate-monthly`"), "{run:?}");
    // Warnings pass by default and fail with --fail-on warning.
    assert_eq!(run.code, 0, "{run:?}");
    let project = fixture("custom-rotation.fail.yml");
    assert_eq!(policy(&project, &["--fail-on", "warning"]).code, 1);
    assert_eq!(policy(&project, &["--fail-on", "never"]).code, 0);
    check("custom-rotation.pass.yml", false, &[]);
}

#[test]
fn custom_access_policy_per_environment() {
    let run = check(
        "custom-access.fail.yml",
        false,
        &["custom/access @ 17:9", "custom/access @ 19:9", "custom/access @ 19:9"],
    );
    assert!(
        run.stdout.contains(
            "secret `api_key` may not be written to local-file targets in environment \
             `production`"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "   = note: policy `cloud-only-in-production`\n   \
             = help: write it to `aws-secretsmanager` or `kubernetes-secret` instead\n"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("   = note: policy `never-github`\n"), "{run:?}");
    assert_eq!(run.code, 1);
    // The same file outside production: only the environment-free policy applies.
    let project = fixture("custom-access.fail.yml");
    let run = project.run_env(&["--color", "never", "policy"], &[("ENVIRONMENT", "staging")]);
    assert_eq!(findings(&run), ["custom/access @ 19:9"], "{run:?}");
    assert!(run.stdout.contains("policy `never-github`"), "{run:?}");
    assert_eq!(run.code, 0, "an info finding does not fail: {run:?}");
    check("custom-access.pass.yml", false, &[]);
}

#[test]
fn custom_generator_policy() {
    let run = check(
        "custom-generator.fail.yml",
        false,
        &["custom/generator @ 9:5", "custom/generator @ 12:5", "custom/generator @ 15:5"],
    );
    assert!(run.stdout.contains("secret `short` draws 20 characters; at least 24 needed"));
    assert!(run.stdout.contains("secret `no_symbols` does not guarantee symbols characters"));
    assert!(run.stdout.contains("secret `token` does not guarantee upper, symbols characters"));
    check("custom-generator.pass.yml", false, &[]);
}

#[test]
fn a_file_without_policies_says_so() {
    let project =
        Project::new("version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n");
    let run = policy(&project, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        "warning: Secretfile.yml switches on no policy: list packs in `metadata.compliance` \
         (soc2, iso27001) or add `policies`\n"
    );
}

#[test]
fn broken_policies_are_validation_errors_at_their_line() {
    let project = Project::new(
        r#"version: "1.0"
metadata: {compliance: [soc3]}
policies:
  a: {kind: rotaton}
  b: {kind: access, allowed_targets: [aws-secretmanager]}
  c: {kind: generator, min_length: 8, severity: fatal, required_classes: [digits]}
  d: {kind: rotation, require: false}
  e: {kind: rotation, max_age: 2 weeks}
  f: {kind: access, denied_targets: [local-file], secrets: ["db_[x"]}
secrets: {}
"#,
    );
    let run = project.run(&["--color", "never", "validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    let found = findings(&run);
    assert_eq!(
        found,
        [
            "secretfile/unknown-compliance @ 2:25",
            "secretfile/unknown-policy-kind @ 4:13",
            "secretfile/unknown-target @ 5:39",
            "secretfile/unknown-severity @ 6:49",
            "secretfile/unknown-class @ 6:75",
            "secretfile/empty @ 7:3",
            "secretfile/rotation-period @ 8:32",
            "secretfile/pattern @ 9:61",
        ],
        "{run:?}"
    );
    for hint in
        ["did you mean `soc2`?", "did you mean `rotation`?", "did you mean `aws-secretsmanager`?"]
    {
        assert!(run.stdout.contains(hint), "{hint}: {run:?}");
    }
}
