use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::report::Finding;

fn load_with_env(text: &str, env: &[(&str, &str)]) -> Result<Secretfile, LoadError> {
    let env: BTreeMap<String, String> =
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    load_str(text, Path::new("Secretfile.yml"), Templater::new(env))
}

fn findings(text: &str) -> Vec<Finding> {
    match load_with_env(text, &[]) {
        Err(LoadError::Invalid { findings, .. }) => findings,
        Err(other) => panic!("expected findings, got {other:?}"),
        Ok(_) => panic!("expected findings, the file loaded"),
    }
}

/// `(rule, line, message)` of every finding, for exact comparisons.
fn summary(text: &str) -> Vec<(&'static str, usize, String)> {
    findings(text).into_iter().map(|f| (f.rule, f.loc.map_or(0, |l| l.line), f.message)).collect()
}

const HEAD: &str = "version: \"1.0\"\nsecrets:\n";

#[test]
fn a_minimal_secretfile_loads_with_defaults() {
    let file = load_with_env(
        &format!(
            "{HEAD}  api_key:\n    generator: {{type: random-string}}\n    targets:\n      \
             - {{type: local-file, path: .env}}\n"
        ),
        &[],
    )
    .unwrap();
    let secret = &file.secrets["api_key"];
    assert!(secret.is_single());
    assert_eq!(secret.fields[0].env_var, "API_KEY");
    let TargetKind::LocalFile(target) = &secret.targets[0].kind else { panic!() };
    assert_eq!((target.format, target.key.as_str()), (Format::Dotenv, "API_KEY"));
    assert_eq!(secret.targets[0].id, "local-file:.env#API_KEY");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "version: \"1.0\"\nsecrest: {}\nsecrets:\n  a:\n    generator: {type: random-pasword}\n  \
                b:\n    generator: {type: random-string, lenght: 3}\n";
    assert_eq!(
        summary(text),
        [
            ("secretfile/unknown-key", 2, "unknown key `secrest` in the top level".to_string()),
            (
                "secretfile/unknown-generator",
                5,
                "secret `a` has unknown generator type `random-pasword`".to_string()
            ),
            (
                "secretfile/unknown-key",
                7,
                "unknown key `lenght` in the random-string generator of secret `b`".to_string()
            ),
        ]
    );
    let all = findings(text);
    assert_eq!(all[0].help.as_deref(), Some("did you mean `secrets`?"));
    assert_eq!(all[1].help.as_deref(), Some("did you mean `random-password`?"));
    assert_eq!(all[2].help.as_deref(), Some("did you mean `length`?"));
}

#[test]
fn case_9_duplicate_secret_names_both_lines() {
    let text = format!(
        "{HEAD}  db_password:\n    generator: {{type: random-password}}\n  \
         db_password:\n    generator: {{type: random-string}}\n"
    );
    let all = findings(&text);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].rule, "secretfile/duplicate-key");
    assert_eq!(all[0].message, "`db_password` is defined twice in `secrets` (lines 3 and 5)");
    assert_eq!(all[0].related[0].0.line, 3);
}

#[test]
fn case_10_merge_keys_keep_the_rotation_period() {
    let text = "version: \"1.0\"\ndefaults: &d {rotation_period: 90d}\nsecrets:\n  api_key: \
                {<<: *d, generator: {type: random-string, length: 40}}\n";
    // `defaults` is not a Secretfile key: the merge must still have given api_key its period.
    let all = findings(text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].message, "unknown key `defaults` in the top level");

    let text = "version: \"1.0\"\nsecrets:\n  base: &d\n    rotation_period: 90d\n    \
                generator: {type: random-string}\n  api_key: {<<: *d, generator: \
                {type: random-string, length: 40}}\n";
    let file = load_with_env(text, &[]).unwrap();
    let (period, _) = file.secrets["api_key"].rotation_period.unwrap();
    assert_eq!(period.to_string(), "90d");
}

#[test]
fn case_11_environment_values_cannot_change_the_structure() {
    let text = "version: \"1.0\"\nvariables: {region: \"{{ env.REGION }}\"}\nsecrets:\n  a:\n    \
                generator: {type: random-string}\n    targets:\n      - {type: local-file, path: \
                .env}\n";
    let file = load_with_env(text, &[("REGION", "eu-west-1\ntargets: []")]).unwrap();
    assert_eq!(file.variables["region"], "eu-west-1\ntargets: []");
    assert_eq!(file.variables.len(), 1);
    assert_eq!(file.secrets["a"].targets.len(), 1);
}

#[test]
fn case_12_undefined_names_are_named_with_their_line() {
    let text = "version: \"1.0\"\nvariables:\n  environment: prod\nsecrets:\n  db:\n    \
                generator: {type: random-string}\n    targets:\n      - type: aws-secretsmanager\n        \
                name: \"/{{ var.enviroment }}/db\"\n";
    let all = findings(text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].rule, "secretfile/undefined-name");
    assert_eq!(all[0].loc.unwrap().line, 9);
    assert_eq!(all[0].message, "`name` uses undefined name `var.enviroment`");
    assert_eq!(all[0].help.as_deref(), Some("did you mean `var.environment`?"));

    let ok = text.replace("var.enviroment }}", "var.environment or 'dev' }}");
    let file = load_with_env(&ok, &[]).unwrap();
    let TargetKind::Remote(remote) = &file.secrets["db"].targets[0].kind else { panic!() };
    assert_eq!(remote.options["name"], "/prod/db");
}

#[test]
fn variables_use_earlier_variables_and_env_defaults() {
    let text = "version: \"1.0\"\nvariables:\n  env: \"{{ env.STAGE or 'dev' }}\"\n  prefix: \
                \"/{{ var.env }}/app\"\nsecrets: {}\n";
    let file = load_with_env(text, &[]).unwrap();
    assert_eq!(file.variables["prefix"], "/dev/app");
    let file = load_with_env(text, &[("STAGE", "prod")]).unwrap();
    assert_eq!(file.variables["prefix"], "/prod/app");
}

#[test]
fn malformed_rotation_period_is_an_error_at_its_line() {
    let text = format!(
        "{HEAD}  a:\n    generator: {{type: random-string}}\n    rotation_period: 90 days\n"
    );
    let all = summary(&text);
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].0, all[0].1), ("secretfile/rotation-period", 5));
}

#[test]
fn impossible_password_is_an_error_at_the_option() {
    let text =
        format!("{HEAD}  a:\n    generator:\n      type: random-password\n      length: 2\n");
    let all = summary(&text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].0, all[0].1), ("secretfile/generator", 6));
}

#[test]
fn remote_targets_need_their_options_and_a_matching_provider() {
    let text = "version: \"1.0\"\nproviders:\n  gh:\n    kind: github\nsecrets:\n  a:\n    \
                generator: {type: random-string}\n    targets:\n      - {type: \
                aws-secretsmanager, provider: gh}\n      - {type: kubernetes-secret, name: x}\n";
    let all = summary(text);
    assert_eq!(
        all,
        [
            (
                "secretfile/missing-key",
                9,
                "the aws-secretsmanager target of secret `a` has no `name`".to_string()
            ),
            (
                "secretfile/provider",
                9,
                "the aws-secretsmanager target of secret `a` uses provider `gh`, which is of \
                 kind `github`; it needs one of kind `aws`"
                    .to_string()
            ),
            (
                "secretfile/missing-key",
                10,
                "the kubernetes-secret target of secret `a` has no `namespace`".to_string()
            ),
        ]
    );
}

#[test]
fn two_secrets_writing_one_key_collide() {
    let text = format!(
        "{HEAD}  a:\n    generator: {{type: random-string}}\n    targets: [{{type: local-file, \
         path: .env, key: X}}]\n  b:\n    generator: {{type: random-string}}\n    targets: \
         [{{type: local-file, path: .env, key: X}}]\n"
    );
    let all = summary(&text);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].2, "secrets `a` and `b` both write key `X` in `.env`");
}

#[test]
fn static_values_are_masked_in_excerpts() {
    let text =
        format!("{HEAD}  a:\n    generator: {{type: static, value: CANARY-7731}}\n    oops: 1\n");
    match load_with_env(&text, &[]) {
        Err(LoadError::Invalid { masked_source, .. }) => {
            assert!(!masked_source.contains("CANARY-7731"), "{masked_source}");
            assert!(masked_source.contains("value: ***********}"), "{masked_source}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_template_with_only_a_value_field_is_a_one_value_secret() {
    let text = format!(
        "{HEAD}  api_key:\n    template:\n      type: api_key\n      fields:\n        - name: \
         value\n          generator: {{type: random-string}}\n"
    );
    let file = load_with_env(&text, &[]).unwrap();
    assert!(file.secrets["api_key"].is_single());
    assert_eq!(file.secrets["api_key"].fields[0].env_var, "API_KEY");
}

#[test]
fn yaml_syntax_errors_are_load_errors_with_a_line() {
    match load_with_env("version: \"1.0\"\nsecrets: [\n", &[]) {
        Err(LoadError::Syntax { finding, .. }) => assert!(finding.loc.is_some()),
        other => panic!("{other:?}"),
    }
}

fn with_target(target: &str) -> String {
    format!("{HEAD}  a:\n    generator: {{type: random-string}}\n    targets:\n      - {target}\n")
}

#[test]
fn target_paths_stay_inside_the_secretfile_folder() {
    for (path, reason) in [
        ("../escaped.env", "`../escaped.env` leaves the Secretfile's folder"),
        ("/etc/x.env", "`/etc/x.env` is absolute"),
        ("~/home.env", "`~/home.env` starts with `~`, which is not expanded"),
        ("./", "`./` names the Secretfile's folder, not a file"),
        ("dir/", "`dir/` names a folder, not a file"),
        ("dir/sub/..", "`dir/sub/..` names a folder, not a file"),
    ] {
        let all =
            summary(&with_target(&format!("{{type: local-file, path: '{path}', format: dotenv}}")));
        assert_eq!(
            all,
            [("secretfile/path", 6, format!("a local-file target of secret `a`: {reason}"))],
            "{path}"
        );
    }
    let file = load_with_env(&with_target("{type: local-file, path: ./sub/../.env}"), &[]).unwrap();
    assert_eq!(file.secrets["a"].targets[0].id, "local-file:.env#A");
}

#[test]
fn targets_cannot_overwrite_the_secretfile_or_the_lockfile() {
    for path in ["Secretfile.yml", ".gitsecrets.lock", "./Secretfile.yml"] {
        let all =
            summary(&with_target(&format!("{{type: local-file, path: '{path}', format: yaml}}")));
        assert_eq!(all.len(), 1, "{path}: {all:?}");
        assert!(all[0].2.ends_with("which SecretZero itself keeps"), "{all:?}");
    }
}

#[test]
fn two_spellings_of_one_file_collide() {
    let text = format!(
        "{HEAD}  a:\n    generator: {{type: random-string}}\n    targets: [{{type: local-file, \
         path: c.json, key: shared}}]\n  b:\n    generator: {{type: random-string}}\n    targets: \
         [{{type: local-file, path: ./c.json, key: shared}}]\n"
    );
    assert_eq!(summary(&text)[0].2, "secrets `a` and `b` both write key `shared` in `c.json`");
}

#[test]
fn fields_that_meet_in_one_dotenv_key_collide() {
    let text = format!(
        "{HEAD}  e:\n    template:\n      fields:\n        - {{name: x, generator: {{type: \
         random-string}}}}\n        - {{name: X, generator: {{type: random-string}}}}\n    \
         targets: [{{type: local-file, path: .env}}]\n"
    );
    assert_eq!(
        summary(&text),
        [(
            "secretfile/key-collision",
            8,
            "fields `x` and `X` of secret `e` both write key `E_X` in `.env`".to_string()
        )]
    );
}

#[test]
fn numbers_used_as_static_values_keep_their_spelling() {
    let text = format!(
        "{HEAD}  a:\n    generator: {{type: static, value: 0x1F}}\n  b:\n    generator: {{type: \
         static, value: 1.10}}\n  c:\n    generator: {{type: static, value: +12}}\n"
    );
    let file = load_with_env(&text, &[]).unwrap();
    let values: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|name| match &file.secrets[*name].fields[0].generator {
            crate::generate::Spec::Static(spec) => {
                secrecy::ExposeSecret::expose_secret(spec.value.as_ref().unwrap()).to_string()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(values, ["0x1F", "1.10", "+12"]);
}

#[test]
fn a_missing_static_value_loads_for_commands_that_do_not_need_it() {
    // `validate` decides whether it is an error, with the lockfile at hand.
    let text = format!("{HEAD}  tok_zz9:\n    generator: {{type: static}}\n");
    let file = load_with_env(&text, &[]).unwrap();
    assert!(file.warnings.is_empty(), "{:?}", file.warnings);
    assert!(matches!(
        &file.secrets["tok_zz9"].fields[0].generator,
        crate::generate::Spec::Static(spec) if spec.value.is_none()
    ));
}

#[test]
fn an_index_past_the_end_is_an_undefined_value() {
    let text = with_target("{type: aws-ssm, name: \"{{ env.TOK[100] }}\"}");
    match load_with_env(&text, &[("TOK", "abc")]) {
        Err(LoadError::Invalid { findings, .. }) => {
            assert_eq!(findings[0].message, "`name` uses an undefined value", "{findings:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_under_any_value_key_are_masked() {
    let text = format!("{HEAD}  a:\n    generatr: {{type: static, value: CANARY-42}}\n");
    match load_with_env(&text, &[]) {
        Err(LoadError::Invalid { masked_source, .. }) => {
            assert!(!masked_source.contains("CANARY-42"), "{masked_source}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn syntax_error_excerpts_hide_values() {
    let text = format!("{HEAD}  a:\n    generator: {{type: static, value: !vault hunter2}}\n");
    match load_with_env(&text, &[]) {
        Err(LoadError::Syntax { source_text, .. }) => {
            assert!(!source_text.contains("hunter2"), "{source_text}");
            assert_eq!(source_text.len(), text.len());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_a_format_cannot_hold_are_found_by_validate() {
    let all = summary(&with_target("{type: local-file, path: a.yaml, key: '<<'}"));
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].0, all[0].1), ("secretfile/key", 6));
    assert!(all[0].2.starts_with("key `<<`: "), "{all:?}");
    let all = summary(&with_target("{type: local-file, path: a.tfvars, key: 1x}"));
    assert_eq!((all[0].0, all[0].1), ("secretfile/key", 6), "{all:?}");
}

#[test]
fn syntax_error_excerpts_hide_multi_line_values() {
    for text in [
        "version: \"1.0\"\nsecrets:\n  a:\n    generator:\n      type: static\n      value: \"CANARY-q1\n        CANARY-q2\" x\n",
        "version: \"1.0\"\nsecrets:\n  a:\n    generator:\n      type: static\n      value:\n        CANARY-p1\n        CANARY-p2: x\n",
    ] {
        match load_with_env(text, &[]) {
            Err(LoadError::Syntax { source_text, .. }) => {
                assert!(!source_text.contains("CANARY"), "{source_text}");
                assert_eq!(source_text.len(), text.len());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_misspelt_charset_is_an_error_not_a_custom_set() {
    let text =
        format!("{HEAD}  a:\n    generator: {{type: random-string, charset: alphnumeric}}\n");
    let all = findings(&text);
    assert_eq!(
        all[0].message,
        "unknown charset `alphnumeric` in the random-string generator of secret `a`"
    );
    assert_eq!(all[0].help.as_deref(), Some("did you mean `alphanumeric`?"));
    let custom = format!("{HEAD}  a:\n    generator: {{type: random-string, charset: xyz}}\n");
    assert!(load_with_env(&custom, &[]).is_ok());
}

#[test]
fn secrets_named_like_shell_variables_warn() {
    let text = format!("{HEAD}  path:\n    generator: {{type: random-string}}\n");
    let file = load_with_env(&text, &[]).unwrap();
    assert_eq!(
        file.warnings[0].message,
        "secret `path` takes its value from the environment variable PATH when it is set, and \
         most shells set it"
    );
}

#[test]
fn a_masked_block_scalar_keeps_its_lines_so_later_excerpts_stay_in_place() {
    let text = "version: \"1.0\"\nsecrets:\n  a:\n    generator:\n      type: static\n      \
                value: |\n        CANARY-b1\n        CANARY-b2\n    bogus: x\n";
    match load_with_env(text, &[]) {
        Err(LoadError::Invalid { masked_source, findings, .. }) => {
            assert_eq!(
                masked_source,
                "version: \"1.0\"\nsecrets:\n  a:\n    generator:\n      type: static\n      \
                 value: |\n        *********\n        *********\n    bogus: x\n"
            );
            let loc = findings[0].loc.unwrap();
            assert_eq!((loc.line, loc.column), (9, 5));
            let text = crate::report::render_text(&findings, Some(&masked_source), false);
            assert!(text.contains(" --> Secretfile.yml:9:5\n"), "{text}");
            assert!(text.contains("9 |     bogus: x\n"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_secret_with_an_invalid_name_still_has_its_body_checked() {
    let text = format!(
        "{HEAD}  \"bad name!\": {{generator: {{type: random-sting}}, rotation_period: 9q, \
         targets: [{{type: local-fil}}]}}\n"
    );
    let rules: Vec<&str> = findings(&text).iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [
            "secretfile/secret-name",
            "secretfile/unknown-generator",
            "secretfile/rotation-period",
            "secretfile/unknown-target"
        ]
    );
}

#[test]
fn a_field_with_an_invalid_name_still_has_its_generator_checked() {
    let text = format!(
        "{HEAD}  a:\n    template:\n      type: t\n      fields:\n        - {{name: \"bad field!\", \
         generator: {{type: random-sting}}}}\n"
    );
    let rules: Vec<&str> = findings(&text).iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["secretfile/field-name", "secretfile/unknown-generator"]);
}

#[test]
fn two_secrets_writing_one_remote_object_collide_and_other_settings_do_not_make_a_new_one() {
    let text = format!(
        "{HEAD}  d:\n    generator: {{type: random-string}}\n    targets: [{{type: \
         aws-secretsmanager, name: shared/one}}]\n  e:\n    generator: {{type: random-string}}\n    \
         targets: [{{type: aws-secretsmanager, name: shared/one, description: other}}]\n"
    );
    let all = findings(&text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].rule, "secretfile/key-collision");
    assert_eq!(all[0].message, "secrets `d` and `e` both write aws-secretsmanager::shared/one");
    // A tier or a description is not part of which parameter a target is.
    let text = format!(
        "{HEAD}  a:\n    generator: {{type: random-string}}\n    targets:\n      - {{type: aws-ssm, \
         name: /col/x, tier: Standard}}\n      - {{type: aws-ssm, name: /col/x/Standard}}\n"
    );
    let file = load_with_env(&text, &[]).unwrap();
    let ids: Vec<&str> = file.secrets["a"].targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["aws-ssm::/col/x", "aws-ssm::/col/x/Standard"]);
}

#[test]
fn provider_blocks_are_checked_against_their_kind_with_lines() {
    let text = "version: \"1.0\"\nproviders:\n  aws:\n    kind: aws\n    auth: {kind: asume_role, \
                role_arn: x}\n    config: {regon: eu-west-1, max_in_flight: 0}\n  vault:\n    \
                kind: vault\n    auth:\n      kind: approle\n      role: x\n    config: \
                {max_attempts: \"99\", namespace: team}\nsecrets: {}\n";
    assert_eq!(
        summary(text),
        vec![
            (
                "secretfile/unknown-key",
                5,
                "provider `aws` has auth kind `asume_role`, which it does not know".to_string()
            ),
            (
                "secretfile/unknown-key",
                6,
                "unknown key `regon` in the `config` of provider `aws`".to_string()
            ),
            (
                "secretfile/limit",
                6,
                "`max_in_flight` in the `config` of provider `aws` is `0`; it must be a whole \
                 number from 1 to 256"
                    .to_string()
            ),
            (
                "secretfile/unknown-key",
                11,
                "unknown key `role` in the `auth` of provider `vault` (auth kind `approle`)"
                    .to_string()
            ),
            (
                "secretfile/limit",
                12,
                "`max_attempts` in the `config` of provider `vault` is `99`; it must be a whole \
                 number from 1 to 20"
                    .to_string()
            ),
        ]
    );
    let help: Vec<Option<String>> = findings(text).into_iter().map(|f| f.help).collect();
    assert_eq!(help[0].as_deref(), Some("did you mean `assume_role`?"));
    assert_eq!(help[1].as_deref(), Some("did you mean `region`?"));

    // Every auth kind each checked provider documents loads as written.
    let good = "version: \"1.0\"\nproviders:\n  a: {kind: aws, auth: {kind: profile, profile: \
                dev}, config: {region: eu-west-1, max_in_flight: 4}}\n  v: {kind: vault, auth: \
                {kind: jwt, role: ci, token_env: CI_JOB_JWT}, config: {address: \
                \"https://v:8200\"}}\n  z: {kind: azure, auth: {kind: workload_identity, \
                tenant_id: t, client_id: c}, config: {request_timeout: 10}}\nsecrets: {}\n";
    let loaded = load_with_env(good, &[]).expect("every documented auth kind loads");
    assert_eq!(loaded.providers["v"].auth_kind, "jwt");
}

#[test]
fn provider_blocks_need_their_auth_kinds_keys_and_numbers_in_range() {
    let text = "version: \"1.0\"\nproviders:\n  a: {kind: aws, auth: {kind: assume_role}, config: \
                {max_in_flight: \"+5\"}}\n  v: {kind: vault, auth: {kind: jwt, token_env: X}}\n  \
                z: {kind: azure, config: {request_timeout: \"30s\"}}\n  g: {kind: github, auth: \
                {kind: app, app_id: \"1\", installation_id: \"2\"}}\nsecrets: {}\n";
    assert_eq!(
        summary(text),
        vec![
            (
                "secretfile/missing-key",
                3,
                "provider `a` (auth kind `assume_role`) has no `role_arn` under `auth`".to_string()
            ),
            (
                "secretfile/limit",
                3,
                "`max_in_flight` in the `config` of provider `a` is `+5`; it must be a whole \
                 number from 1 to 256"
                    .to_string()
            ),
            (
                "secretfile/missing-key",
                4,
                "provider `v` (auth kind `jwt`) has no `role` under `auth`".to_string()
            ),
            (
                "secretfile/limit",
                5,
                "`request_timeout` in the `config` of provider `z` is `30s`; it must be a whole \
                 number from 1 to 300"
                    .to_string()
            ),
            (
                "secretfile/missing-key",
                6,
                "provider `g` (auth kind `app`) has no `private_key_file` or `private_key_env` \
                 under `auth`"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn gitlab_variables_that_meet_in_one_name_collide() {
    let text = "version: \"1.0\"\nsecrets:\n  api-key:\n    generator: {type: random-string}\n    \
                targets: [{type: gitlab-variable, project: team/app}]\n  api_key:\n    generator: \
                {type: random-string}\n    targets: [{type: gitlab-variable, project: \
                team/app}]\n  db:\n    template:\n      type: creds\n      fields:\n        - \
                {name: password, generator: {type: random-string}}\n    targets: [{type: \
                gitlab-variable, project: team/app}]\n  db_password:\n    generator: {type: \
                random-string}\n    targets: [{type: gitlab-variable, project: team/app}]\n  \
                scoped:\n    generator: {type: random-string}\n    targets: [{type: \
                gitlab-variable, project: team/app, key: API_KEY, environment_scope: prod}]\n  \
                grouped:\n    generator: {type: random-string}\n    targets: [{type: \
                gitlab-variable, group: team/app, key: API_KEY}]\n";
    assert_eq!(
        summary(text),
        vec![
            (
                "secretfile/key-collision",
                8,
                "secrets `api-key` and `api_key` both write variable `API_KEY` of \
                 gitlab-variable::team/app[*]"
                    .to_string()
            ),
            (
                "secretfile/key-collision",
                17,
                "secrets `db` and `db_password` both write variable `DB_PASSWORD` of \
                 gitlab-variable::team/app[*]"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn github_secrets_are_named_upper_cased_and_meet_whatever_the_case() {
    let text = "version: \"1.0\"\nsecrets:\n  api-key:\n    generator: {type: random-string}\n    \
                targets: [{type: github-secret, owner: acme, repo: app}]\n  other:\n    \
                generator: {type: random-string}\n    targets: [{type: github-secret, owner: \
                ACME, repo: App, name: api_key}]\n  prod:\n    generator: {type: \
                random-string}\n    targets: [{type: github-secret, owner: acme, repo: app, environment: prod, name: \
                api_key}]\n  shared:\n    generator: {type: random-string}\n    targets: [{type: \
                github-secret, org: acme, name: api_key}]\n";
    assert_eq!(
        summary(text),
        vec![(
            "secretfile/key-collision",
            8,
            "secrets `api-key` and `other` both write secret `API_KEY` of \
             github-secret::ACME/App"
                .to_string()
        )]
    );
    let apart = text.replace("owner: ACME, repo: App", "owner: acme, repo: web");
    let file = load_with_env(&apart, &[]).unwrap();
    let ids: Vec<&str> =
        file.secrets.values().flat_map(|s| s.targets.iter().map(|t| t.id.as_str())).collect();
    assert_eq!(
        ids,
        [
            "github-secret::acme/app/API_KEY",
            "github-secret::acme/web/API_KEY",
            "github-secret::acme/app[prod]/API_KEY",
            "github-secret::org:acme/API_KEY"
        ]
    );
}

#[test]
fn one_object_spelled_two_ways_is_one_object() {
    let text = r#"version: "1.0"
providers:
  aws: {kind: aws, config: {region: eu-west-1}}
  gh: {kind: github}
secrets:
  a:
    generator: {type: random-string}
    targets:
      - {type: vault-kv, path: app/x}
      - {type: aws-secretsmanager, name: x}
      - {type: github-secret, owner: o, repo: r}
      - {type: external-secret, name: m, secret_store: s, remote_key: k}
  b:
    generator: {type: random-string}
    targets:
      - {type: vault-kv, path: /app/x/, mount: secret/}
      - {type: aws-secretsmanager, name: x, provider: aws, region: eu-west-1}
      - {type: github-secret, owner: o, repo: r, name: a, provider: gh}
      - {type: external-secret, name: n, secret_store: s, remote_key: k, path: ./m.externalsecret.yaml}
  c:
    generator: {type: random-string}
    targets:
      - {type: aws-secretsmanager, name: x, region: us-east-1}
"#;
    assert_eq!(
        summary(text),
        vec![
            (
                "secretfile/key-collision",
                16,
                "secrets `a` and `b` both write vault-kv::secret/app/x".to_string()
            ),
            (
                "secretfile/key-collision",
                17,
                "secrets `a` and `b` both write aws-secretsmanager:aws:eu-west-1/x".to_string()
            ),
            (
                "secretfile/key-collision",
                18,
                "secrets `a` and `b` both write secret `A` of github-secret:gh:o/r".to_string()
            ),
            (
                "secretfile/key-collision",
                19,
                "secrets `a` and `b` both write external-secret::m.externalsecret.yaml".to_string()
            ),
        ]
    );
}

#[test]
fn one_kubernetes_secret_in_two_clusters_is_two_objects() {
    let text = r#"version: "1.0"
providers:
  staging: {kind: kubernetes, config: {context: staging}}
  prod: {kind: kubernetes, config: {context: prod}}
secrets:
  api_key:
    generator: {type: random-string}
    targets:
      - {type: kubernetes-secret, provider: staging, namespace: apps, name: web}
      - {type: kubernetes-secret, provider: prod, namespace: apps, name: web, secret_type: Other}
  other:
    generator: {type: random-string}
    targets:
      - {type: kubernetes-secret, provider: prod, namespace: apps, name: web, key: api_key}
"#;
    assert_eq!(
        summary(text),
        vec![
            (
                "secretfile/key-collision",
                14,
                "secrets `api_key` and `other` both write key `api_key` of kubernetes-secret \
                 apps/web (provider `prod`)"
                    .to_string()
            ),
            (
                "secretfile/target",
                14,
                "secret `other` sets the type of Secret apps/web (provider `prod`) to `Opaque`, \
                 and secret `api_key` to `Other`"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn a_manifest_of_a_value_vault_keeps_points_at_its_key() {
    let text = "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    \
                targets:\n      - {type: vault-kv, path: app/a}\n      - {type: external-secret, \
                name: a, secret_store: s, remote_key: app/a}\n";
    let file = load_with_env(text, &[]).unwrap();
    let TargetKind::Remote(manifest) = &file.secrets["a"].targets[1].kind else { panic!() };
    assert_eq!(manifest.options.get("property").map(String::as_str), Some("value"));
}

#[test]
fn a_yaml_boolean_option_is_the_flag_whatever_its_case() {
    let text = "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    \
                targets: [{type: gitlab-variable, project: a/b, protected: True, masked: FALSE, \
                description: \"True\"}]\n";
    let file = load_with_env(text, &[]).unwrap();
    let TargetKind::Remote(target) = &file.secrets["a"].targets[0].kind else { panic!() };
    let option = |key: &str| target.options.get(key).map(String::as_str);
    assert_eq!(
        (option("protected"), option("masked"), option("description")),
        (Some("true"), Some("false"), Some("True"))
    );
}
