//! No secret value reaches standard output, standard error or the lockfile, whatever the
//! command and however it fails.

mod common;

use common::Project;

const STATIC_CANARY: &str = "CANARY-static-5f1e9b";
const ENV_CANARY: &str = "CANARY-env-93ac07";

fn secretfile() -> String {
    format!(
        r#"version: "1.0"
providers:
  # Nothing listens there: the target fails, in builds with the feature or without it.
  gh: {{kind: github, config: {{api_url: "http://127.0.0.1:9", max_attempts: 1}}}}
secrets:
  literal:
    generator: {{type: static, value: {STATIC_CANARY}}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: local-file, path: broken.json}}
      - {{type: github-secret, provider: gh, name: LITERAL, owner: o, repo: r}}
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
    let env = [("API_KEY", ENV_CANARY), ("RUST_BACKTRACE", "1"), ("GITHUB_TOKEN", "t")];

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
        &["drift", "--format", "json", "--format", "sarif", "--output", "d.sarif"],
        &["drift", "--format", "github", "--format", "markdown", "--output", "d.md"],
        &["policy", "--format", "gitlab", "--format", "text", "--output", "p.txt"],
        &["rotate", "--dry-run", "--format", "json"],
        &["rotate", "--force", "-s", "api_key"],
    ] {
        let run = project.run_env(args, &env);
        assert!([0, 1, 4].contains(&run.code), "{args:?} {run:?}");
        seen.push_str(&run.all_output());
    }
    for report in ["d.sarif", "d.md", "p.txt"] {
        seen.push_str(&project.read(report));
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

#[test]
fn in_github_actions_every_value_is_masked_before_anything_else() {
    let project = Project::new(&format!(
        r#"version: "1.0"
secrets:
  api_key:
    generator: {{type: random-string}}
    targets: [{{type: local-file, path: .env}}]
  db:
    template:
      type: creds
      fields:
        - {{name: user, sensitive: false, generator: {{type: static, value: app}}}}
        - {{name: password, generator: {{type: static, value: "{STATIC_CANARY}%41"}}}}
    targets: [{{type: local-file, path: .env}}]
  pem:
    generator: {{type: script, command: printf, args: ["-----BEGIN-----\n{STATIC_CANARY}-pem\n"]}}
    targets: [{{type: local-file, path: .env}}]
"#
    ));
    let run = project.run_env(&["sync"], &[("GITHUB_ACTIONS", "true"), ("API_KEY", ENV_CANARY)]);
    assert_eq!(run.code, 0, "{run:?}");
    // One command per single-line sensitive value, `%` escaped as the runner unescapes it; the
    // user name is not secret and is left alone.
    assert_eq!(run.stdout, format!("::add-mask::{ENV_CANARY}\n::add-mask::{STATIC_CANARY}%2541\n"));
    assert!(
        run.stderr.starts_with(
            "warning: secret `pem`: the value has several lines, which GitHub Actions cannot \
             mask; SecretZero never prints it, but no later step may print it either\n"
        ),
        "the refusal comes before any progress line: {run:?}"
    );
    assert!(!run.stderr.contains("CANARY"), "{run:?}");

    // Outside GitHub Actions nothing is printed to standard output.
    let run = project.run_env(&["sync", "--force"], &[("API_KEY", ENV_CANARY)]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
}
