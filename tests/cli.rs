//! The commands around sync: init, validate, status, show, help and version.

mod common;

use common::Project;

#[test]
fn init_writes_a_starter_that_validates_and_syncs_and_refuses_to_overwrite() {
    let project = Project::empty();
    let run = project.run(&["init"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Created Secretfile.yml"), "{run:?}");
    let starter = project.read("Secretfile.yml");
    assert!(starter.starts_with("# Secretfile.yml"), "{starter}");

    let run = project.run(&["validate"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "✓ Secretfile.yml is valid: 2 secrets, 2 targets\n");
    assert_eq!(project.run(&["sync"]).code, 0);

    let run = project.run(&["init"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: Secretfile.yml already exists; not overwriting it\n\
         hint: remove it first, or choose another path with -f\n"
    );
    assert_eq!(project.read("Secretfile.yml"), starter);
}

#[test]
fn validate_reports_every_problem_with_its_excerpt() {
    let project = Project::new(
        "version: \"1.0\"\nsecrest: {}\nsecrets:\n  a:\n    generator: {type: random-pasword}\n",
    );
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "error[secretfile/unknown-key]: unknown key `secrest` in the top level\n \
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
         |                       ^^^^^^^^^^^^^^ expected one of: random-password, random-string, static, script\n  \
         |\n  \
         = help: did you mean `random-password`?\n\n"
    );
    assert_eq!(run.stderr, "✗ Secretfile.yml has 2 problems\n");
}

#[test]
fn invalid_yaml_is_a_load_error_with_a_location() {
    let project = Project::new("version: \"1.0\"\nsecrets: [\n");
    let run = project.run(&["validate"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("error[secretfile/syntax]: invalid YAML"), "{run:?}");
    assert!(run.stderr.contains("--> Secretfile.yml:"), "{run:?}");
    assert!(run.stderr.contains("error: Secretfile.yml is not valid YAML"), "{run:?}");
}

const ONE: &str = r#"version: "1.0"
secrets:
  api_key:
    description: Clients send it
    generator: {type: random-string}
    rotation_period: 90d
    targets:
      - {type: local-file, path: .env}
      - {type: local-file, path: app.yaml}
  database:
    one_time: true
    template:
      type: db
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password}}
    targets: [{type: local-file, path: .env}]
"#;

#[test]
fn status_shows_state_and_times_from_the_lockfile() {
    let project = Project::new(ONE);
    let run = project.run(&["status"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "SECRET    STATE       TARGETS  UPDATED  LAST ROTATED  ROTATION  NEXT ROTATION\n\
         api_key   not synced  0/2      -        never         90d       -\n\
         database  not synced  0/1      -        never         -         -\n"
    );
    assert!(run.stderr.contains("warning: no lockfile at .gitsecrets.lock"), "{run:?}");

    let now = [("SECRETZERO_NOW", "2026-03-01T10:00:00Z")];
    assert_eq!(project.run_env(&["sync", "-s", "api_key"], &now).code, 0);
    let run = project.run_env(&["status"], &[("SECRETZERO_NOW", "2026-05-30T10:00:00Z")]);
    assert_eq!(
        run.stdout,
        "SECRET    STATE       TARGETS  UPDATED               LAST ROTATED  ROTATION  \
         NEXT ROTATION\n\
         api_key   synced      2/2      2026-03-01T10:00:00Z  never         90d       \
         due since 2026-05-30T10:00:00Z\n\
         database  not synced  0/1      -                     never         -         -\n"
    );

    project.write("Secretfile.yml", &ONE.replace("random-string}", "random-string, length: 9}"));
    let run = project.run(&["status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status["secrets"][0]["state"], "definition changed");
    assert_eq!(status["secrets"][0]["created_at"], "2026-03-01T10:00:00Z");
}

#[test]
fn show_describes_one_secret_without_its_value() {
    let project = Project::new(ONE);
    let now = [("SECRETZERO_NOW", "2026-03-01T10:00:00Z")];
    assert_eq!(project.run_env(&["sync"], &now).code, 0);
    let run = project.run(&["show", "database"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "secret:        database\n\
         state:         synced\n\
         description:   -\n\
         template:      db\n  \
         field username: static\n  \
         field password: random-password\n\
         rotation:      -\n\
         one_time:      true\n\
         created:       2026-03-01T10:00:00Z\n\
         updated:       2026-03-01T10:00:00Z\n\
         last rotated:  -\n\
         rotations:     0\n\
         next rotation: -\n\
         targets:\n  \
         local-file:.env#DATABASE  2026-03-01T10:00:00Z\n"
    );

    let run = project.run(&["show", "api_keys"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("did you mean `api_key`?"), "{run:?}");
}

#[test]
fn every_command_has_help_and_the_binary_a_version() {
    let project = Project::empty();
    let run = project.run(&["--version"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, concat!("secretzero ", env!("CARGO_PKG_VERSION"), "\n"))
    );
    for command in ["init", "validate", "sync", "status", "show", "rotate"] {
        let run = project.run(&[command, "--help"]);
        assert_eq!(run.code, 0, "{command}: {run:?}");
        assert!(
            run.stdout.starts_with(match command {
                "init" => "Write a commented starter",
                "validate" => "Check the Secretfile",
                "sync" => "Generate missing values",
                "status" => "Show every secret",
                "rotate" => "Give every secret that has fallen due a new value",
                _ => "Show one secret",
            }),
            "{command}: {run:?}"
        );
    }
    let run = project.run(&["sync", "--bogus"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn quiet_prints_only_errors() {
    let project = Project::new(ONE);
    let run = project.run(&["-q", "sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let project = Project::new("version: \"1.0\"\nsecrest: {}\nsecrets: {}\n");
    let plain = project.run(&["validate"]);
    assert!(!plain.all_output().contains('\u{1b}'), "{plain:?}");
    let coloured = project.run(&["--color", "always", "validate"]);
    assert!(coloured.stdout.contains('\u{1b}'), "{coloured:?}");
}
