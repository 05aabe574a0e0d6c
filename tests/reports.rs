//! `--format` and `--output` end to end: several reports from one run, where each goes, and
//! the SARIF checked by Microsoft's SARIF Multitool with GitHub's ingestion rules.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Project, json};
use serde_json::Value;

const INVALID: &str =
    "version: \"1.0\"\nsecrest: {}\nsecrets:\n  a:\n    generator: {type: random-pasword}\n";

/// A valid file whose secret `path` draws a warning (shells set PATH).
const WARNS: &str = "version: \"1.0\"\nsecrets:\n  path:\n    generator: {type: random-string}\n";

const EXCERPTS: &str = "error[secretfile/unknown-key]: unknown key `secrest` in the top level\n \
     --> Secretfile.yml:2:1\n  \
     |\n\
     2 | secrest: {}\n  \
     | ^^^^^^^ expected one of: version, metadata, variables, providers, policies, secrets\n  \
     |\n  \
     = help: did you mean `secrets`?\n\n\
     error[secretfile/unknown-generator]: secret `a` has unknown generator type `random-pasword`\n \
     --> Secretfile.yml:5:23\n  \
     |\n\
     5 |     generator: {type: random-pasword}\n  \
     |                       ^^^^^^^^^^^^^^ expected one of: random-password, \
     random-string, static, script\n  \
     |\n  \
     = help: did you mean `random-password`?\n\n";

#[test]
fn one_run_writes_sarif_annotations_and_a_summary() {
    let project = Project::new(INVALID);
    let run = project.run(&[
        "validate",
        "--format",
        "sarif",
        "--output",
        "r.sarif",
        "--format",
        "github",
        "--format",
        "markdown",
        "--output",
        "summary.md",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "::error file=Secretfile.yml,line=2,col=1,title=secretfile/unknown-key::unknown key \
         `secrest` in the top level%0Ahelp: did you mean `secrets`?\n\
         ::error file=Secretfile.yml,line=5,col=23,title=secretfile/unknown-generator::secret \
         `a` has unknown generator type `random-pasword`%0Ahelp: did you mean `random-password`?\n"
    );
    // Standard output holds the annotations, so the excerpts go to standard error.
    assert_eq!(run.stderr, format!("{EXCERPTS}✗ Secretfile.yml has 2 problems\n"));
    assert_eq!(
        project.read("summary.md"),
        "## SecretZero validate\n\n\
         2 errors, 0 warnings, 0 info.\n\n\
         | Severity | Rule | Location | Secret | Message |\n\
         | --- | --- | --- | --- | --- |\n\
         | error | `secretfile/unknown-key` | `Secretfile.yml:2:1` |  | unknown key `secrest` in \
         the top level<br>help: did you mean `secrets`? |\n\
         | error | `secretfile/unknown-generator` | `Secretfile.yml:5:23` | `a` | secret `a` has \
         unknown generator type `random-pasword`<br>help: did you mean `random-password`? |\n\n"
    );
    let sarif = json(&project.path("r.sarif"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["properties"]["secret"], "a");
}

#[test]
fn text_keeps_standard_output_when_reports_go_to_files() {
    let project = Project::new(INVALID);
    let run = project.run(&["validate", "--format", "json", "--output", "out/r.json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, EXCERPTS);
    assert_eq!(run.stderr, "✗ Secretfile.yml has 2 problems\n");

    let report = json(&project.path("out/r.json"));
    let findings = report["checks"][0]["findings"].as_array().unwrap();
    let places: Vec<(&str, u64, u64)> = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(places, [("secretfile/unknown-key", 2, 1), ("secretfile/unknown-generator", 5, 23)]);
    assert_eq!(findings[1]["secret"], "a");
    assert_eq!(report["checks"][0]["counts"]["error"], 2);
}

#[test]
fn quiet_keeps_the_text_off_standard_error_and_reports_still_come() {
    let project = Project::new(WARNS);
    let run = project.run(&["-q", "validate", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["checks"][0]["findings"][0]["rule"], "secretfile/ambient-variable");
    assert_eq!(report["checks"][0]["findings"][0]["severity"], "warning");
}

#[test]
fn paths_are_relative_to_the_git_root() {
    let project = Project::empty();
    project.write(".git/HEAD", "ref: refs/heads/main\n");
    project.write("deploy/Secretfile.yml", INVALID);
    let run = project.run(&["-f", "deploy/Secretfile.yml", "validate", "--format", "gitlab"]);
    assert_eq!(run.code, 1, "{run:?}");
    let issues: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(issues[0]["location"]["path"], "deploy/Secretfile.yml");
}

#[test]
fn pairs_that_make_no_sense_are_usage_errors() {
    let project = Project::new(WARNS);
    for (args, message) in [
        (
            &["validate", "--format", "json", "--format", "sarif"][..],
            "error: more than one --format would go to standard output\n\
             hint: add --output FILE after all but one of them\n",
        ),
        (
            &["validate", "--output", "r.json", "--format", "json"],
            "error: --output r.json comes before any --format\n\
             hint: write --format FORMAT --output FILE, the format first\n",
        ),
        (
            &[
                "validate", "--format", "json", "--output", "a", "--format", "sarif", "--output",
                "a",
            ],
            "error: --output a is given twice\nhint: write each report to its own file\n",
        ),
    ] {
        let run = project.run(args);
        assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (2, "", message));
    }
    let run = project.run(&["validate", "--format", "html"]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = project.run(&["sync", "--format", "markdown"]);
    assert_eq!(run.code, 2, "--format needs --dry-run: {run:?}");
    assert!(!project.exists(".gitsecrets.lock"));
}

#[test]
fn a_syntax_error_reaches_the_reports_and_keeps_its_exit_code() {
    let project = Project::new("version: \"1.0\"\nsecrets: [\n");
    let run = project.run(&["validate", "--format", "github", "--format", "json", "--output", "r"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stdout.starts_with("::error file=Secretfile.yml,line="), "{run:?}");
    assert!(run.stdout.contains(",title=secretfile/syntax::invalid YAML"), "{run:?}");
    assert!(run.stderr.contains("error: Secretfile.yml is not valid YAML"), "{run:?}");
    assert_eq!(json(&project.path("r"))["checks"][0]["findings"][0]["rule"], "secretfile/syntax");
}

#[test]
fn a_valid_file_writes_empty_reports() {
    let project = Project::new("version: \"1.0\"\nsecrets: {}\n");
    let run = project.run(&["validate", "--format", "sarif", "--output", "r.sarif"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(json(&project.path("r.sarif"))["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn the_help_describes_formats_and_outputs() {
    let project = Project::empty();
    let run = project.run(&["validate", "--help"]);
    for text in ["--format <FORMAT>", "--output <FILE>", "sarif", "github", "gitlab", "markdown"] {
        assert!(run.stdout.contains(text), "{text}: {run:?}");
    }
    let run = project.run(&["sync", "--help"]);
    assert!(run.stdout.contains("--output <FILE>"), "{run:?}");
}

#[test]
fn the_sync_plan_as_markdown_json_and_text_at_once() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  api_key:\n    generator: {type: random-string}\n    \
         targets: [{type: local-file, path: .env}]\n",
    );
    let run = project.run(&[
        "sync",
        "--dry-run",
        "--format",
        "json",
        "--output",
        "plan.json",
        "--format",
        "markdown",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "## SecretZero sync plan\n\n\
         1 to create, 0 to update, 0 unchanged, 0 skipped.\n\n\
         | Secret | Value | Target | Action | Reason |\n\
         | --- | --- | --- | --- | --- |\n\
         | `api_key` | generate (new secret) | `local-file:.env#API_KEY` | create | \
         not there yet |\n"
    );
    assert_eq!(
        run.stderr,
        "api_key: generate (new secret)\n  \
         + create    local-file:.env#API_KEY (not there yet)\n\
         \nPlan: 1 to create, 0 to update, 0 unchanged, 0 skipped.\n"
    );
    assert_eq!(json(&project.path("plan.json"))["summary"]["create"], 1);
    assert!(!project.exists(".env"));
}

#[test]
fn code_quality_output_has_the_shape_gitlab_reads() {
    let project = Project::new(INVALID);
    let run = project.run(&["validate", "--format", "gitlab"]);
    assert_eq!(run.code, 1, "{run:?}");
    let issues: Value = serde_json::from_str(&run.stdout).unwrap();
    let issues = issues.as_array().expect("a JSON array of issues");
    assert_eq!(issues.len(), 2);
    let mut fingerprints = std::collections::HashSet::new();
    for issue in issues {
        let text = |key: &str| issue[key].as_str().unwrap_or_else(|| panic!("{key}: {issue}"));
        assert!(!text("description").is_empty());
        assert!(text("check_name").starts_with("secretfile/"));
        let severity = text("severity");
        assert!(["info", "minor", "major", "critical", "blocker"].contains(&severity));
        assert!(fingerprints.insert(text("fingerprint").to_string()), "fingerprints are unique");
        assert_eq!(issue["location"]["path"], "Secretfile.yml");
        assert!(issue["location"]["lines"]["begin"].as_u64().is_some_and(|l| l >= 1), "{issue}");
    }

    // The same findings after lines were added above them keep their fingerprints.
    project.write("Secretfile.yml", &format!("# moved\n\n{INVALID}"));
    let moved: Value =
        serde_json::from_str(&project.run(&["validate", "--format", "gitlab"]).stdout).unwrap();
    let moved: std::collections::HashSet<String> = moved
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(moved, fingerprints);
}

/// The Multitool's Linux binary: `SECRETZERO_TEST_SARIF_MULTITOOL`, which scripts/test sets.
fn multitool() -> Option<PathBuf> {
    match std::env::var_os("SECRETZERO_TEST_SARIF_MULTITOOL") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "SECRETZERO_TEST_SARIF_MULTITOOL is not set: in CI, SARIF must be checked by the \
                 SARIF Multitool (scripts/test installs it and sets the variable)"
            );
            None
        }
    }
}

/// Fails unless the SARIF Multitool, with GitHub's ingestion rules, finds no error in `sarif`.
fn assert_multitool_accepts(multitool: &Path, sarif: &Path, name: &str) {
    // The binary itself, not the node wrapper: the wrapper hands its arguments to a shell,
    // which would split `Gh;Sarif` at the `;`.
    let output = Command::new(multitool)
        .args(["validate", "--rule-kind", "Gh;Sarif"])
        .arg(sarif)
        .output()
        .expect("run the SARIF Multitool");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // It exits 0 even when it reports errors, so its output is what counts.
    assert!(output.status.success(), "{name}: the Multitool failed:\n{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error ")).collect();
    assert!(errors.is_empty(), "{name}: the Multitool reports errors:\n{out}");
    assert!(out.contains("Analysis completed successfully"), "{name}: {out}");
}

#[test]
#[expect(clippy::print_stderr, reason = "a skipped check says so in the test output")]
fn sarif_passes_the_multitool_with_githubs_rules() {
    let Some(multitool) = multitool() else {
        eprintln!("skipped: SECRETZERO_TEST_SARIF_MULTITOOL is not set (scripts/test sets it)");
        return;
    };
    let cases = [
        ("invalid", INVALID.to_string()),
        ("warnings", WARNS.to_string()),
        ("clean", "version: \"1.0\"\nsecrets: {}\n".to_string()),
        ("syntax", "version: \"1.0\"\nsecrets: [\n".to_string()),
        ("duplicate", format!("{WARNS}  path:\n    generator: {{type: random-string}}\n")),
    ];
    for (name, secretfile) in cases {
        let project = Project::new(&secretfile);
        let run = project.run(&["validate", "--format", "sarif", "--output", "r.sarif"]);
        assert!([0, 1, 5].contains(&run.code), "{name}: {run:?}");
        assert_multitool_accepts(&multitool, &project.path("r.sarif"), name);
    }
}

/// A project with findings in every check: soc2 and a custom policy break, a target is edited
/// by hand (drift), and a secret is past its period (rotation).
const EVERY_CHECK: &str = r#"version: "1.0"
metadata:
  compliance: [soc2]
policies:
  no-github:
    kind: access
    denied_targets: [github-secret]
    severity: warning
secrets:
  api_key:
    generator: {type: random-string, length: 24}
    rotation_period: 30d
    targets: [{type: local-file, path: .env}]
  token:
    generator: {type: random-password}
    targets:
      - {type: local-file, path: .env}
      - {type: github-secret, owner: acme, repo: app, name: deploy_token}
providers:
  github: {kind: github, config: {api_url: "http://127.0.0.1:9"}}
"#;

/// The project above, synced on 1 January 2028 and with `API_KEY` edited by hand since. The
/// GitHub provider's address answers nothing, so its target fails with the `github` feature as
/// without it.
fn every_check() -> Project {
    let project = Project::new(EVERY_CHECK);
    let run = project.run_env(
        &["sync"],
        // `TOKEN` gives `token` its value: with the GitHub target unreadable and no lockfile
        // yet, none would be made.
        &[("SECRETZERO_NOW", "2028-01-01T00:00:00Z"), ("GITHUB_TOKEN", "test"), ("TOKEN", "t-1")],
    );
    assert_eq!(run.code, 1, "the github-secret target cannot be written here: {run:?}");
    let env = project.read(".env");
    let edited: String = env
        .lines()
        .map(|line| match line.starts_with("API_KEY=") {
            true => "API_KEY=edited-by-hand\n".to_string(),
            false => format!("{line}\n"),
        })
        .collect();
    project.write(".env", &edited);
    project
}

/// Runs one check with SARIF, Code Quality and JSON reports into files; returns its exit code.
fn reports_of(project: &Project, check: &[&str]) -> i32 {
    let mut args = check.to_vec();
    args.extend([
        "--format", "sarif", "--output", "r.sarif", "--format", "gitlab", "--output", "r.gitlab",
        "--format", "json", "--output", "r.json",
    ]);
    project
        .run_env(&args, &[("SECRETZERO_NOW", "2028-03-01T00:00:00Z"), ("GITHUB_TOKEN", "test")])
        .code
}

#[test]
#[expect(clippy::print_stderr, reason = "a skipped check says so in the test output")]
fn every_check_reports_in_every_format_as_its_own_run() {
    let project = every_check();
    for (check, args, code, run_id) in [
        ("policy", &["policy"][..], 1, "secretzero/policy/"),
        ("drift", &["drift"], 4, "secretzero/drift/"),
        ("rotation", &["rotate", "--dry-run"], 0, "secretzero/rotation/"),
    ] {
        assert_eq!(reports_of(&project, args), code, "{check}");
        let sarif = project.read("r.sarif");
        let log: Value = serde_json::from_str(&sarif).unwrap();
        assert_eq!(log["runs"].as_array().unwrap().len(), 1, "{check}");
        assert_eq!(log["runs"][0]["automationDetails"]["id"], run_id, "{check}");
        // Every result's rule is among the run's rules, and every rule belongs to the check.
        let rules = log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        for result in log["runs"][0]["results"].as_array().unwrap() {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"], "{check}");
        }
        let json = json(&project.path("r.json"));
        assert_eq!(json["checks"][0]["check"], check);

        insta::assert_snapshot!(format!("{check}_sarif"), sarif);
        insta::assert_snapshot!(format!("{check}_gitlab"), project.read("r.gitlab"));
        match multitool() {
            Some(multitool) => {
                assert_multitool_accepts(&multitool, &project.path("r.sarif"), check)
            }
            None => eprintln!(
                "skipped the Multitool for {check}: SECRETZERO_TEST_SARIF_MULTITOOL is not set"
            ),
        }
    }
    assert!(!project.read(".env").contains("edited-by-hand\nAPI_KEY"), "no check wrote a target");
}

#[test]
fn policy_writes_its_reports_even_when_no_policy_applies() {
    let project = Project::new(WARNS);
    let run =
        project.run(&["policy", "--format", "sarif", "--output", "r.sarif", "--format", "gitlab"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "[]\n");
    let log = json(&project.path("r.sarif"));
    assert_eq!(log["runs"][0]["automationDetails"]["id"], "secretzero/policy/");
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn reports_do_not_depend_on_how_the_secretfile_is_named() {
    let project = every_check();
    // A secret removed from the Secretfile gives a finding about the lockfile too.
    project.write("Secretfile.yml", &EVERY_CHECK.replace("  token:", "  renamed:"));
    let absolute = project.path("Secretfile.yml").display().to_string();
    let mut reports = Vec::new();
    for file in ["Secretfile.yml", "./Secretfile.yml", ".//Secretfile.yml", absolute.as_str()] {
        let run = project
            .run_env(&["-f", file, "drift", "--format", "sarif"], &[("GITHUB_TOKEN", "test")]);
        assert_eq!(run.code, 4, "{file}: {run:?}");
        reports.push(run.stdout);
    }
    assert!(reports[0].contains("no longer in the Secretfile"), "{}", reports[0]);
    assert!(!reports[0].contains(&absolute));
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report, &reports[0], "spelling {i}");
    }
}

#[test]
fn a_secretfile_that_cannot_load_still_gets_its_reports() {
    let project = Project::new(INVALID);
    for (args, run_id) in [
        (&["policy"][..], "secretzero/policy/"),
        (&["drift"], "secretzero/drift/"),
        (&["rotate", "--dry-run"], "secretzero/rotation/"),
    ] {
        let mut all = args.to_vec();
        all.extend(["--format", "sarif", "--output", "r.sarif", "--format", "gitlab"]);
        let run = project.run(&all);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        let issues: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(issues[0]["check_name"], "secretfile/unknown-key", "{args:?}");
        // The excerpts go to standard error once, with the error.
        assert_eq!(run.stderr, format!("{EXCERPTS}error: Secretfile.yml has 2 problems\n"));
        let log = json(&project.path("r.sarif"));
        assert_eq!(log["runs"][0]["automationDetails"]["id"], run_id, "{args:?}");
        assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 2, "{args:?}");
    }
    // Not YAML at all: exit 5, and the reports carry the syntax error.
    let project = Project::new("version: \"1.0\"\nsecrets: [\n");
    let run = project.run(&["drift", "--format", "json", "--output", "r.json"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(
        json(&project.path("r.json"))["checks"][0]["findings"][0]["rule"],
        "secretfile/syntax"
    );
}

#[test]
fn one_file_spelled_two_ways_is_one_file() {
    let project = Project::new(WARNS);
    let run = project.run(&[
        "validate",
        "--format",
        "json",
        "--output",
        "a.json",
        "--format",
        "sarif",
        "--output",
        "./sub/../a.json",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: --output ./sub/../a.json is given twice\nhint: write each report to its own file\n"
    );
}

#[test]
fn a_report_never_overwrites_the_secretfile_or_the_lockfile() {
    let project = Project::new(WARNS);
    assert_eq!(project.run(&["sync"]).code, 0);
    let lock = project.read(".gitsecrets.lock");
    for (output, what) in
        [(".gitsecrets.lock", "the lockfile"), ("./Secretfile.yml", "the Secretfile")]
    {
        let run = project.run(&["drift", "--format", "sarif", "--output", output]);
        assert_eq!(run.code, 2, "{run:?}");
        assert_eq!(
            run.stderr,
            format!(
                "error: --output {output} would overwrite {what}\nhint: write the report to another file\n"
            )
        );
    }
    assert_eq!(project.read(".gitsecrets.lock"), lock);
    assert_eq!(project.read("Secretfile.yml"), WARNS);
}

/// A report sent to a pipe or a device is written into it: renaming a file over it would
/// destroy it (`--output /dev/null`, run as root, would replace the machine's /dev/null).
#[cfg(unix)]
#[test]
fn a_report_to_a_pipe_is_written_into_it_not_over_it() {
    use std::os::unix::fs::FileTypeExt;
    let project = Project::new(WARNS);
    let fifo = project.path("report.pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let run = project.run(&["validate", "--format", "json", "--output", "report.pipe"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(report["checks"][0]["check"], "validate");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a pipe");
}
