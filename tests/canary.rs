//! No secret value reaches standard output, standard error or the lockfile, whatever the
//! command and however it fails.

mod common;

use common::Project;

const STATIC_CANARY: &str = "CANARY-static-5f1e9b";
const ENV_CANARY: &str = "CANARY-env-93ac07";

fn secretfile() -> String {
    format!(
        r#"version: "1.0"
secrets:
  literal:
    generator: {{type: static, value: {STATIC_CANARY}}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: local-file, path: broken.json}}
      - {{type: aws-ssm, name: /x/literal}}
  api_key:
    generator: {{type: random-string}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: local-file, path: other.env}}
  pem:
    generator: {{type: script, command: printf, args: ["-----BEGIN-----\n{STATIC_CANARY}-script\n"]}}
    targets: [{{type: local-file, path: .env}}]
"#
    )
}

#[test]
fn no_value_reaches_output_or_the_lockfile() {
    let project = Project::new(&secretfile());
    project.write("broken.json", "[1, 2");
    project.write("other.env", "API_KEY=one\n");
    let env = [("API_KEY", ENV_CANARY), ("RUST_BACKTRACE", "1")];

    let mut seen = String::new();
    for args in [
        &["validate"][..],
        &["validate", "--format", "sarif", "--format", "json", "--output", "r.json"],
        &["sync", "--dry-run", "--format", "markdown"],
        &["sync", "--dry-run"],
        &["sync", "--dry-run", "--format", "json"],
        &["-vv", "sync"],
        &["-vv", "sync"],
        &["status"],
        &["status", "--format", "json"],
        &["show", "literal"],
        &["show", "api_key", "--format", "json"],
        &["sync", "--force", "-vv"],
    ] {
        let run = project.run_env(args, &env);
        assert!(run.code == 0 || run.code == 1, "{args:?} {run:?}");
        seen.push_str(&run.all_output());
    }
    // The values really were written, so their absence above means something.
    let written = project.read(".env");
    assert!(written.contains(ENV_CANARY) && written.contains(STATIC_CANARY), "{written}");

    let lockfile = project.read(".gitsecrets.lock");
    for canary in [STATIC_CANARY, ENV_CANARY, "CANARY"] {
        assert!(!seen.contains(canary), "{canary} leaked into output:\n{seen}");
        assert!(!lockfile.contains(canary), "{canary} leaked into the lockfile");
    }
}

#[test]
fn validation_excerpts_mask_literal_values() {
    let project = Project::new(&format!(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {{type: static, value: {STATIC_CANARY}, lenght: 3}}\n"
    ));
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("unknown key `lenght`"), "{run:?}");
    assert!(!run.all_output().contains(STATIC_CANARY), "{run:?}");

    // Every report format, to files and to standard output.
    let formats = ["text", "json", "sarif", "github", "gitlab", "markdown"];
    let mut args = vec!["validate"];
    for format in formats {
        args.extend(["--format", format, "--output", format]);
    }
    let run = project.run(&args);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.all_output().contains(STATIC_CANARY), "{run:?}");
    for format in formats {
        let report = project.read(format);
        assert!(report.contains("lenght"), "{format}: {report}");
        assert!(!report.contains(STATIC_CANARY), "{format}: {report}");
        let run = project.run(&["validate", "--format", format]);
        assert!(!run.all_output().contains(STATIC_CANARY), "{format}: {run:?}");
    }
}
