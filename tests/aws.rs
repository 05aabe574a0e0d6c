//! AWS Secrets Manager and Parameter Store targets against moto's server, an independent
//! implementation of both APIs. `scripts/test` installs moto, starts it and exports
//! `SECRETZERO_TEST_MOTO` (its URL) and `SECRETZERO_TEST_MOTO_PYTHON` (a Python with boto3,
//! which reads and changes what the tests check independently of SecretZero).
//!
//! Every test uses names of its own, so tests run side by side against one server.

#![cfg(feature = "aws")]

mod common;

use common::{Project, Run, dotenv_value};

fn endpoint() -> String {
    std::env::var("SECRETZERO_TEST_MOTO")
        .expect("SECRETZERO_TEST_MOTO is not set: run scripts/test, which starts moto's server")
}

/// A prefix no other test or earlier run uses.
fn unique(test: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("/t{}-{nanos}/{test}", std::process::id())
}

fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        // Never ask the instance metadata service, which is not on this machine.
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn run(project: &Project, args: &[&str]) -> Run {
    run_with(project, args, &[])
}

fn run_with(project: &Project, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let env = env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    project.run_env(args, &all)
}

/// Runs Python with boto3 against moto; `code` prints what the test checks.
fn boto(code: &str) -> String {
    let python = std::env::var("SECRETZERO_TEST_MOTO_PYTHON")
        .expect("SECRETZERO_TEST_MOTO_PYTHON is not set: run scripts/test");
    let script = format!(
        "import boto3, json, sys\n\
         sm = boto3.client('secretsmanager', endpoint_url='{ep}', region_name='us-east-1',\n\
             aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         ssm = boto3.client('ssm', endpoint_url='{ep}', region_name='us-east-1',\n\
             aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         {code}\n",
        ep = endpoint()
    );
    let out = std::process::Command::new(python).arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "boto3 failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim_end().to_string()
}

fn secret_string(name: &str) -> String {
    boto(&format!("print(sm.get_secret_value(SecretId='{name}')['SecretString'])"))
}

fn parameter(name: &str) -> String {
    boto(&format!(
        "print(ssm.get_parameter(Name='{name}', WithDecryption=True)['Parameter']['Value'])"
    ))
}

fn exists_in_moto(kind: &str, name: &str) -> bool {
    let call = match kind {
        "sm" => format!("sm.describe_secret(SecretId='{name}')"),
        _ => format!("ssm.get_parameter(Name='{name}')"),
    };
    boto(&format!("try:\n    {call}\n    print('yes')\nexcept Exception:\n    print('no')"))
        == "yes"
}

fn project(prefix: &str) -> Project {
    Project::new(&format!(
        r#"version: "1.0"
providers:
  aws:
    kind: aws
    config: {{region: us-east-1}}
secrets:
  api_key:
    generator: {{type: random-string}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: aws-secretsmanager, provider: aws, name: "{prefix}/api_key",
          description: Key for clients, tags: {{team: platform}}}}
      - {{type: aws-ssm, provider: aws, name: "{prefix}/api_key"}}
  db:
    template:
      type: database_credentials
      fields:
        - {{name: username, generator: {{type: static, value: app}}}}
        - {{name: password, generator: {{type: random-password, length: 24}}}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: aws-secretsmanager, provider: aws, name: "{prefix}/db"}}
      - {{type: aws-ssm, provider: aws, name: "{prefix}/db",
          parameter_type: String, tier: Standard}}
"#
    ))
}

#[test]
fn create_unchanged_drift_and_update() {
    let prefix = unique("lifecycle");
    let project = project(&prefix);

    // Create: every target holds the value the .env holds.
    let first = run(&project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_eq!(secret_string(&format!("{prefix}/api_key")), key);
    assert_eq!(parameter(&format!("{prefix}/api_key")), key);
    let tags = boto(&format!(
        "d = sm.describe_secret(SecretId='{prefix}/api_key'); \
         print(d['Description'], d['Tags'][0]['Key'], d['Tags'][0]['Value'])"
    ));
    assert_eq!(tags, "Key for clients team platform");
    let kind =
        boto(&format!("print(ssm.get_parameter(Name='{prefix}/api_key')['Parameter']['Type'])"));
    assert_eq!(kind, "SecureString");

    // Multi-field secrets are one JSON object of their fields.
    let password = dotenv_value(&project.path(".env"), "DB_PASSWORD").unwrap();
    for stored in [secret_string(&format!("{prefix}/db")), parameter(&format!("{prefix}/db"))] {
        let object: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(object, serde_json::json!({"username": "app", "password": password}));
    }

    // Unchanged: a second run writes nothing.
    let second = run(&project, &["sync"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(!second.stderr.contains("Wrote"), "{second:?}");
    assert!(second.stderr.contains("targets updated 0, unchanged 6, failed 0"), "{second:?}");
    assert_eq!(run(&project, &["drift"]).code, 0);

    // Drift: a value changed in the store by hand is found by reading it back.
    boto(&format!("sm.put_secret_value(SecretId='{prefix}/api_key', SecretString='by-hand')"));
    let drift = run(&project, &["drift", "--format", "json"]);
    assert_eq!(drift.code, 4, "{drift:?}");
    assert!(drift.stdout.contains("drift/value-changed"), "{drift:?}");
    assert!(
        drift.stdout.contains(&format!("aws-secretsmanager:aws:{prefix}/api_key")),
        "{drift:?}"
    );
    assert!(!drift.all_output().contains("by-hand"), "{drift:?}");

    // Update: sync puts the recorded value back, and --force writes a new one everywhere.
    let restore = run(&project, &["sync"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(secret_string(&format!("{prefix}/api_key")), key);
    let force = run(&project, &["sync", "--force", "-s", "api_key"]);
    assert_eq!(force.code, 0, "{force:?}");
    let new_key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_ne!(new_key, key);
    assert_eq!(secret_string(&format!("{prefix}/api_key")), new_key);
    assert_eq!(parameter(&format!("{prefix}/api_key")), new_key);
    assert_eq!(run(&project, &["drift"]).code, 0);
}

#[test]
fn limits_are_refused_before_any_request() {
    let prefix = unique("limits");
    let deep = format!("{prefix}{}", "/level".repeat(14));

    // Names the stores refuse stop every command when the Secretfile is loaded, each at its
    // target's line, before any request: not even the target that is fine is written.
    let named = Project::new(&format!(
        r#"version: "1.0"
secrets:
  named:
    generator: {{type: random-string}}
    targets:
      - {{type: aws-ssm, name: "{prefix}/fine"}}
      - {{type: aws-secretsmanager, name: "{prefix}/has space"}}
      - {{type: aws-ssm, name: "{deep}"}}
      - {{type: aws-ssm, name: "/aws/reserved{prefix}"}}
"#
    ));
    let validate = run(&named, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let expected = [
        format!(
            "error[secretfile/target]: secret `named`: aws-secretsmanager `{prefix}/has space`: \
             the secret name holds ` `; Secrets Manager allows ASCII letters, digits and \
             /_+=.@- only\n --> Secretfile.yml:7:9\n"
        ),
        format!(
            "error[secretfile/target]: secret `named`: aws-ssm `{deep}`: the parameter name has \
             16 levels; Parameter Store allows 15\n --> Secretfile.yml:8:9\n"
        ),
        format!(
            "error[secretfile/target]: secret `named`: aws-ssm `/aws/reserved{prefix}`: a \
             parameter name must not start with `aws` or `ssm`, which AWS reserves\n --> \
             Secretfile.yml:9:9\n"
        ),
    ];
    for line in &expected {
        assert!(validate.stdout.contains(line.as_str()), "missing {line}\n{validate:?}");
    }
    assert_eq!(validate.stdout.matches("error[").count(), 3, "{validate:?}");
    assert_eq!(validate.stderr, "✗ Secretfile.yml has 3 problems\n", "{validate:?}");
    for args in [&["sync"][..], &["sync", "--dry-run"], &["drift"]] {
        let refused = run(&named, args);
        assert_eq!(refused.code, 1, "{args:?} {refused:?}");
        for line in &expected {
            assert!(refused.stderr.contains(line.as_str()), "{args:?} missing {line}\n{refused:?}");
        }
        assert!(refused.stderr.ends_with("error: Secretfile.yml has 3 problems\n"), "{refused:?}");
    }
    assert!(!exists_in_moto("ssm", &format!("{prefix}/fine")));
    assert!(!exists_in_moto("sm", &format!("{prefix}/has space")));
    assert!(!exists_in_moto("ssm", &deep));
    assert!(!named.exists(".gitsecrets.lock"));

    // A value over a limit is known only once there is a value: the dry run shows its target
    // skipped, and the sync fails that target alone.
    let sized = Project::new(&format!(
        r#"version: "1.0"
secrets:
  big:
    generator: {{type: static, value: "{big}"}}
    targets:
      - {{type: aws-ssm, name: "{prefix}/big", tier: Standard}}
      - {{type: aws-ssm, name: "{prefix}/big-auto"}}
"#,
        big = "x".repeat(5000)
    ));
    let plan = run(&sized, &["sync", "--dry-run"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    for line in [
        format!(
            "! skip      aws-ssm::{prefix}/big (the value of `big` is 5000 bytes; aws-ssm \
             `{prefix}/big`: a Standard parameter holds at most 4096 bytes (4 KB); set `tier: \
             Advanced` for 8 KB)"
        ),
        format!("+ create    aws-ssm::{prefix}/big-auto (not there yet)"),
    ] {
        assert!(plan.stdout.contains(line.as_str()), "missing {line}\n{plan:?}");
    }

    let sync = run(&sized, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(&format!(
            "✗ Failed to write big to aws-ssm::{prefix}/big: the value of `big` is 5000 bytes; \
             aws-ssm `{prefix}/big`: a Standard parameter holds at most 4096 bytes (4 KB); set \
             `tier: Advanced` for 8 KB\n"
        )),
        "{sync:?}"
    );
    assert!(sync.stderr.contains("targets updated 1, unchanged 0, failed 1"), "{sync:?}");
    // The refused value did not reach the store; the one that fits an Advanced parameter did.
    assert!(!exists_in_moto("ssm", &format!("{prefix}/big")));
    let tier = boto(&format!(
        "r = ssm.describe_parameters(ParameterFilters=[{{'Key': 'Name', 'Values': \
         ['{prefix}/big-auto']}}]); print(r['Parameters'][0]['Tier'])"
    ));
    assert_eq!(tier, "Advanced");

    // A value still to be generated has the size its generators give it: the dry run knows.
    let generated = Project::new(&format!(
        r#"version: "1.0"
secrets:
  made:
    template:
      type: pair
      fields:
        - {{name: a, generator: {{type: random-string, length: 3000}}}}
        - {{name: b, generator: {{type: random-string, length: 3000}}}}
    targets:
      - {{type: aws-ssm, name: "{prefix}/made", tier: Standard}}
"#
    ));
    let plan = run(&generated, &["sync", "--dry-run"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.stdout.contains(&format!(
            "! skip      aws-ssm::{prefix}/made (the value of `made` is 6015 bytes as a JSON \
             object; aws-ssm `{prefix}/made`: a Standard parameter holds at most 4096 bytes"
        )),
        "{plan:?}"
    );
}

#[test]
fn a_burst_of_writes_within_a_small_in_flight_limit() {
    let prefix = unique("burst");
    let mut file = String::from(
        "version: \"1.0\"\nproviders:\n  aws: {kind: aws, config: {max_in_flight: 2}}\nsecrets:\n",
    );
    for i in 0..60 {
        file.push_str(&format!(
            "  s{i}:\n    generator: {{type: random-string}}\n    targets:\n      - {{type: \
             aws-ssm, provider: aws, name: \"{prefix}/s{i}\"}}\n      - {{type: \
             aws-secretsmanager, provider: aws, name: \"{prefix}/s{i}\"}}\n"
        ));
    }
    let project = Project::new(&file);
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 120, unchanged 0, failed 0"), "{sync:?}");
    let count = boto(&format!(
        "p = ssm.get_paginator('get_parameters_by_path')\n\
         n = sum(len(page['Parameters']) for page in p.paginate(Path='{prefix}'))\n\
         s = sm.get_paginator('list_secrets')\n\
         m = sum(1 for page in s.paginate() for x in page['SecretList'] \
                 if x['Name'].startswith('{prefix}/'))\n\
         print(n, m)"
    ));
    assert_eq!(count, "60 60");
    let again = run(&project, &["sync"]);
    assert!(again.stderr.contains("targets updated 0, unchanged 120, failed 0"), "{again:?}");
}

#[test]
fn a_secret_without_a_value_is_filled_and_one_scheduled_for_deletion_is_left_alone() {
    let prefix = unique("states");
    boto(&format!(
        "sm.create_secret(Name='{prefix}/empty', Description='made elsewhere')\n\
         sm.create_secret(Name='{prefix}/deleted', SecretString='old')\n\
         sm.delete_secret(SecretId='{prefix}/deleted', RecoveryWindowInDays=7)"
    ));
    let project = Project::new(&format!(
        r#"version: "1.0"
secrets:
  empty:
    generator: {{type: static, value: filled}}
    targets: [{{type: aws-secretsmanager, name: "{prefix}/empty"}}]
  deleted:
    generator: {{type: static, value: new}}
    targets: [{{type: aws-secretsmanager, name: "{prefix}/deleted"}}]
"#
    ));
    let sync = run(&project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert_eq!(secret_string(&format!("{prefix}/empty")), "filled");
    let description =
        boto(&format!("print(sm.describe_secret(SecretId='{prefix}/empty')['Description'])"));
    assert_eq!(description, "made elsewhere");
    assert!(
        sync.stderr.contains(&format!(
            "Failed to write deleted to aws-secretsmanager::{prefix}/deleted: secret \
             `{prefix}/deleted` is scheduled for deletion, so it is left alone"
        )),
        "{sync:?}"
    );
    // A recorded secret scheduled for deletion later: drift says what to do in the store,
    // not in a file.
    boto(&format!("sm.delete_secret(SecretId='{prefix}/empty', RecoveryWindowInDays=7)"));
    let drift = run(&project, &["drift", "empty"]);
    assert!(drift.stdout.contains("error[drift/target-broken]"), "{drift:?}");
    assert!(
        drift.stdout.contains(
            "help: do what the message says in the store (or take the target out of the \
             Secretfile), then run `secretzero sync`"
        ),
        "{drift:?}"
    );
}

#[test]
fn missing_credentials_exit_3() {
    let project = Project::new(&format!(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {{type: random-string}}\n    \
         targets: [{{type: aws-ssm, name: \"{}/a\"}}]\n",
        unique("auth")
    ));
    // The endpoint and region, but no credentials of any kind.
    let env = [
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for args in [&["sync"][..], &["sync", "--dry-run"], &["drift"]] {
        let run = project.run_env(args, &env);
        assert_eq!(run.code, 3, "{args:?} {run:?}");
        assert!(run.stderr.contains("Authentication failed: NoCredentials"), "{run:?}");
    }
}

#[test]
fn no_value_reaches_any_output() {
    const CANARY: &str = "CANARY-aws-7d3f01";
    let prefix = unique("canary");
    let project = Project::new(&format!(
        r#"version: "1.0"
secrets:
  literal:
    generator: {{type: static, value: {CANARY}}}
    targets:
      - {{type: aws-secretsmanager, name: "{prefix}/literal"}}
      - {{type: aws-ssm, name: "{prefix}/literal"}}
  fields:
    template:
      type: t
      fields:
        - {{name: a, generator: {{type: static, value: {CANARY}-field}}}}
    targets:
      - {{type: aws-ssm, name: "{prefix}/fields", tier: Standard}}
  large:
    template:
      type: t
      fields:
        - {{name: a, generator: {{type: static, value: {CANARY}-{pad}}}}}
    targets:
      - {{type: aws-ssm, name: "{prefix}/large", tier: Standard}}
"#,
        pad = "y".repeat(5000)
    ));
    let mut seen = String::new();
    for args in [&["-vv", "sync"][..], &["-vv", "sync", "--dry-run", "--format", "json"]] {
        seen.push_str(&run_with(&project, args, &[("RUST_BACKTRACE", "1")]).all_output());
    }
    boto(&format!(
        "ssm.put_parameter(Name='{prefix}/literal', Value='{CANARY}-x', Overwrite=True)"
    ));
    for args in [&["-vv", "drift", "--format", "sarif"][..], &["-vv", "sync"], &["status"]] {
        seen.push_str(&run(&project, args).all_output());
    }
    assert_eq!(parameter(&format!("{prefix}/literal")), CANARY, "sync restored it");
    // The value too large for its target was refused, by a message that names its size only.
    let refusal = format!(
        "✗ Failed to write large to aws-ssm::{prefix}/large: the value of `large` is 5026 bytes \
         as a JSON object; aws-ssm `{prefix}/large`: a Standard parameter holds at most 4096 \
         bytes (4 KB); set `tier: Advanced` for 8 KB\n"
    );
    assert_eq!(seen.matches(refusal.as_str()).count(), 2, "{seen}");
    assert!(!exists_in_moto("ssm", &format!("{prefix}/large")));
    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
}

#[test]
fn test_checks_every_provider() {
    let prefix = unique("probe");
    let project = project(&prefix);
    let ok = run(&project, &["test"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stderr.contains(
            "✓ provider `aws` (aws-secretsmanager, 2 targets): credentials accepted; \
             secretsmanager:ListSecrets allowed;"
        ),
        "{ok:?}"
    );
    assert!(ok.stderr.contains(&format!("`{prefix}/db` does not exist yet")), "{ok:?}");
    assert!(ok.stderr.contains("✓ provider `aws` (aws-ssm, 2 targets)"), "{ok:?}");

    let env = [("AWS_ENDPOINT_URL", endpoint()), ("AWS_EC2_METADATA_DISABLED", "true".to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let denied = project.run_env(&["test"], &env);
    assert_eq!(denied.code, 3, "{denied:?}");
    assert!(
        denied.stderr.contains("✗ provider `aws` (aws-ssm, 2 targets): NoCredentials:"),
        "{denied:?}"
    );
}

#[test]
fn profile_and_assume_role_auth() {
    let prefix = unique("auth-kinds");
    let project = Project::new(&format!(
        r#"version: "1.0"
providers:
  team:
    kind: aws
    auth: {{kind: profile, profile: team}}
  deploy:
    kind: aws
    auth: {{kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/secretzero"}}
    config: {{region: us-east-1}}
secrets:
  a:
    generator: {{type: random-string}}
    targets:
      - {{type: aws-ssm, provider: team, name: "{prefix}/a"}}
      - {{type: aws-secretsmanager, provider: deploy, name: "{prefix}/a"}}
"#
    ));
    // The profile's keys and region come from a config file only; the role is assumed through
    // moto's STS.
    project.write(
        "aws-config",
        "[profile team]\nregion = us-east-1\naws_access_key_id = from-profile\n\
         aws_secret_access_key = from-profile\n",
    );
    let config = project.path("aws-config").display().to_string();
    let missing = project.path("no-credentials").display().to_string();
    // No keys in the environment: `team` reads its profile, and the ambient chain that
    // assumes the role finds the same profile through AWS_PROFILE.
    let env = [
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("AWS_CONFIG_FILE", config),
        ("AWS_SHARED_CREDENTIALS_FILE", missing),
        ("AWS_PROFILE", "team".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sync = project.run_env(&["sync"], &env);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert_eq!(parameter(&format!("{prefix}/a")), secret_string(&format!("{prefix}/a")));
}

/// A proxy in front of moto that answers the first `throttle` requests as AWS does when a rate
/// is exceeded (HTTP 400, `x-amzn-ErrorType: ThrottlingException` and the JSON protocol's
/// `__type`), then forwards every request to moto. moto itself never throttles.
struct Throttler {
    url: String,
    throttled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    forwarded: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: std::sync::Arc<tiny_http::Server>,
}

impl Drop for Throttler {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl Throttler {
    fn start(throttle: usize) -> Throttler {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let throttled = std::sync::Arc::new(AtomicUsize::new(0));
        let forwarded = std::sync::Arc::new(AtomicUsize::new(0));
        let (counts, seen, serving) =
            (std::sync::Arc::clone(&throttled), std::sync::Arc::clone(&forwarded), server.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().http_status_as_error(false).build().into();
            for mut request in serving.incoming_requests() {
                let mut body = Vec::new();
                std::io::Read::read_to_end(request.as_reader(), &mut body).unwrap();
                if counts.fetch_add(1, Ordering::SeqCst) < throttle {
                    let error =
                        tiny_http::Header::from_bytes("x-amzn-ErrorType", "ThrottlingException")
                            .unwrap();
                    let text = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
                    let reply = tiny_http::Response::from_string(text)
                        .with_status_code(400)
                        .with_header(error);
                    let _ = request.respond(reply);
                    continue;
                }
                counts.fetch_sub(1, Ordering::SeqCst);
                seen.fetch_add(1, Ordering::SeqCst);
                let mut forward = agent.post(format!("{}{}", endpoint(), request.url()));
                for header in request.headers() {
                    let name = header.field.as_str().as_str();
                    if !["host", "content-length", "connection"]
                        .contains(&name.to_lowercase().as_str())
                    {
                        forward = forward.header(name, header.value.as_str());
                    }
                }
                let mut reply = forward.send(&body[..]).unwrap();
                let status = reply.status().as_u16();
                let text = reply.body_mut().read_to_string().unwrap();
                let _ = request
                    .respond(tiny_http::Response::from_string(text).with_status_code(status));
            }
        });
        Throttler { url, throttled, forwarded, server }
    }

    fn throttled(&self) -> usize {
        self.throttled.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn throttled_requests_are_retried_and_a_write_that_stays_throttled_is_not_recorded() {
    let prefix = unique("throttle");
    let file = format!(
        "version: \"1.0\"\nproviders:\n  aws: {{kind: aws, config: {{max_in_flight: 1}}}}\n\
         secrets:\n  a:\n    generator: {{type: random-string}}\n    targets:\n      - {{type: \
         local-file, path: .env}}\n      - {{type: aws-ssm, provider: aws, name: \"{prefix}/a\"}}\n"
    );
    let project = Project::new(&file);

    // Three throttled answers in a row: the SDK backs off and retries, and the run succeeds.
    let proxy = Throttler::start(3);
    let sync = run_with(&project, &["sync"], &[("AWS_ENDPOINT_URL", &proxy.url)]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert_eq!(proxy.throttled(), 3);
    assert!(proxy.forwarded.load(std::sync::atomic::Ordering::SeqCst) >= 2, "read and write");
    let value = dotenv_value(&project.path(".env"), "A").unwrap();
    assert_eq!(parameter(&format!("{prefix}/a")), value);
    drop(proxy);

    // Throttled on every attempt: the write fails, is reported with the store's error code,
    // and the lockfile does not record it.
    let proxy = Throttler::start(usize::MAX);
    let file = file.replace("max_in_flight: 1", "max_in_flight: 1, max_attempts: 2");
    project.write("Secretfile.yml", &file);
    let lockfile = project.read(".gitsecrets.lock");
    let forced = run_with(&project, &["sync", "--force"], &[("AWS_ENDPOINT_URL", &proxy.url)]);
    assert_eq!(forced.code, 1, "{forced:?}");
    assert!(forced.stderr.contains("ThrottlingException"), "{forced:?}");
    assert_eq!(proxy.forwarded.load(std::sync::atomic::Ordering::SeqCst), 0);
    let after = project.read(".gitsecrets.lock");
    assert_ne!(after, lockfile, "the local file's new value is recorded");
    let parse = |text: &str| -> serde_json::Value { serde_json::from_str(text).unwrap() };
    let targets = |text: &str| parse(text)["secrets"]["a"]["targets"].clone();
    let (before, after) = (targets(&lockfile), targets(&after));
    let id = before.as_object().unwrap().keys().find(|k| k.starts_with("aws-ssm")).unwrap();
    // Not recorded: the hash is the old value's (its time may be set a second back, when the
    // new value came in the same second, so that `status` shows it pending).
    assert_eq!(after[id]["hash"], before[id]["hash"], "the failed write is not recorded");
    assert!(after[id]["updated_at"].as_str() <= before[id]["updated_at"].as_str());
}

/// A moto server of its own that enforces IAM after the first `setup` requests, which the
/// test spends creating users, their policies and keys, and the stored objects.
struct IamMoto {
    url: String,
    child: std::process::Child,
}

impl Drop for IamMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl IamMoto {
    fn start(setup: usize) -> IamMoto {
        let python = std::env::var("SECRETZERO_TEST_MOTO_PYTHON").expect("run scripts/test");
        let server = std::path::Path::new(&python).with_file_name("moto_server");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", setup.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Dropped (killed and waited for) on every path, the panic's included.
        let moto = IamMoto { url: format!("http://127.0.0.1:{port}"), child };
        for _ in 0..150 {
            if ureq::get(format!("{}/moto-api/", moto.url)).call().is_ok() {
                return moto;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto_server with IAM enforcement did not start");
    }

    /// Creates an IAM user allowed `actions` on every resource (three requests); returns its
    /// access key id and secret.
    fn user(&self, name: &str, actions: &[&str]) -> (String, String) {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        let pair = self.boto(&format!(
            "iam.create_user(UserName='{name}')\n\
             iam.put_user_policy(UserName='{name}', PolicyName='sync', PolicyDocument='{policy}')\n\
             k = iam.create_access_key(UserName='{name}')['AccessKey']\n\
             print(k['AccessKeyId'], k['SecretAccessKey'])"
        ));
        let (id, secret) = pair.split_once(' ').unwrap();
        (id.to_string(), secret.to_string())
    }

    /// Runs boto3 against this server with moto's default keys, or a user's once IAM is
    /// enforced; prints what `code` prints.
    fn boto(&self, code: &str) -> String {
        self.boto_as(code, ("testing", "testing"))
    }

    fn boto_as(&self, code: &str, (id, secret): (&str, &str)) -> String {
        let python = std::env::var("SECRETZERO_TEST_MOTO_PYTHON").unwrap();
        let script = format!(
            "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='{id}', aws_secret_access_key='{secret}')\n\
             iam = boto3.client('iam', **kw)\nsm = boto3.client('secretsmanager', **kw)\n\
             ssm = boto3.client('ssm', **kw)\n{code}\n",
            self.url
        );
        let out = std::process::Command::new(python).arg("-c").arg(script).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim_end().to_string()
    }
}

/// The actions a sync of Secrets Manager and Parameter Store targets without tags needs.
const SYNC: &[&str] = &[
    "secretsmanager:ListSecrets",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:CreateSecret",
    "secretsmanager:UpdateSecret",
    "ssm:DescribeParameters",
    "ssm:GetParameter",
    "ssm:PutParameter",
];

#[test]
fn test_proves_the_read_and_update_permissions_a_sync_needs() {
    let without =
        |action: &str| -> Vec<&str> { SYNC.iter().copied().filter(|a| *a != action).collect() };
    let users = [
        ("full", SYNC.to_vec()),
        ("no-sm-read", without("secretsmanager:GetSecretValue")),
        ("no-sm-update", without("secretsmanager:UpdateSecret")),
        ("no-ssm-put", without("ssm:PutParameter")),
    ];
    // Three requests per user, then one secret and one parameter: after those, IAM is enforced.
    let moto = IamMoto::start(users.len() * 3 + 2);
    let mut keys = std::collections::HashMap::new();
    for (user, actions) in &users {
        keys.insert(*user, moto.user(user, actions));
    }
    moto.boto(
        "sm.create_secret(Name='/iam/held', SecretString='held-value')\n\
         ssm.put_parameter(Name='/iam/held', Value='held-value', Type='SecureString')",
    );
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  held:\n    generator: {type: random-string}\n    targets:\n      \
         - {type: aws-secretsmanager, name: /iam/held}\n      - {type: aws-ssm, name: /iam/held}\n  \
         new:\n    generator: {type: random-string}\n    targets: [{type: aws-ssm, name: /iam/new}]\n",
    );
    let test_as = |user: &str| {
        let (id, secret) = &keys[user];
        let env = [
            ("AWS_ENDPOINT_URL", moto.url.as_str()),
            ("AWS_ACCESS_KEY_ID", id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ];
        project.run_env(&["test"], &env)
    };

    let full = test_as("full");
    assert_eq!(full.code, 0, "{full:?}");
    assert!(full.stderr.contains("`/iam/held` may be read and updated"), "{full:?}");
    assert!(full.stderr.contains("`/iam/held` may be read, decrypted and overwritten"), "{full:?}");
    assert!(
        full.stderr.contains(
            "`/iam/new` does not exist yet (ssm:PutParameter is tried by the first sync)"
        ),
        "{full:?}"
    );
    // The probe changed nothing: the secret still has its one version and its value.
    let (id, secret) = &keys["full"];
    let held = moto.boto_as(
        "s = sm.describe_secret(SecretId='/iam/held')['VersionIdsToStages']\n\
         v = sm.get_secret_value(SecretId='/iam/held')['SecretString']\n\
         p = ssm.get_parameter(Name='/iam/held', WithDecryption=True)['Parameter']\n\
         print(len(s), v, p['Value'], p['Version'])",
        (id, secret),
    );
    assert_eq!(held, "1 held-value held-value 1");

    for (user, action) in [
        ("no-sm-read", "secretsmanager:GetSecretValue"),
        ("no-sm-update", "secretsmanager:UpdateSecret"),
        ("no-ssm-put", "ssm:PutParameter"),
    ] {
        let refused = test_as(user);
        assert_eq!(refused.code, 3, "{user}: {refused:?}");
        // moto answers an IAM refusal in its XML dialect, which the JSON protocol's parser
        // cannot read, so the status names it; AWS sends `AccessDeniedException`.
        let line = format!("{action} on `/iam/held`: ");
        assert!(refused.stderr.contains(&line), "{user}: {refused:?}");
        assert!(refused.stderr.contains("check the credentials"), "{user}: {refused:?}");
    }
}

/// A target that names the region the environment gives is the object one that names none
/// writes: two secrets there are a collision, not two values taking turns.
#[test]
fn the_environments_region_is_the_region_of_a_target_without_one() {
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: aws-secretsmanager, name: /j/x}]\n  b:\n    generator: {type: random-string}\n    \
         targets: [{type: aws-secretsmanager, name: /j/x, region: eu-west-1}]\n",
    );
    let apart = project.run_env(&["validate"], &[("AWS_REGION", "us-east-1")]);
    assert_eq!(apart.code, 0, "two regions, two objects: {apart:?}");
    let same = project.run_env(&["validate"], &[("AWS_REGION", "eu-west-1")]);
    assert_eq!(same.code, 1, "{same:?}");
    assert!(
        same.stdout.contains(
            "error[secretfile/key-collision]: secrets `a` and `b` both write \
             aws-secretsmanager::eu-west-1//j/x"
        ),
        "{same:?}"
    );
}

/// Tags are written before the value: a store that refuses the tags has the old value still,
/// so the failure reported (and the lockfile, which does not record it) is the whole truth.
#[test]
fn a_refused_tag_leaves_the_value_unchanged() {
    let moto = IamMoto::start(5);
    // Every action a sync needs, but not the tagging ones.
    let (id, secret) = moto.user("untagged", SYNC);
    let (id, secret) = (id.as_str(), secret.as_str());
    moto.boto(
        "sm.create_secret(Name='/tag/held', SecretString='held-value')\n\
         ssm.put_parameter(Name='/tag/held', Value='held-value', Type='SecureString')",
    );
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  held:\n    generator: {type: random-string}\n    targets:\n      \
         - {type: aws-secretsmanager, name: /tag/held, tags: {team: red}}\n      \
         - {type: aws-ssm, name: /tag/held, tags: {team: red}}\n",
    );
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ];
    let sync = project.run_env(&["sync", "--force"], &env);
    assert_eq!(sync.code, 3, "{sync:?}");
    assert!(sync.stderr.contains("secretsmanager:TagResource"), "{sync:?}");
    assert!(sync.stderr.contains("ssm:AddTagsToResource"), "{sync:?}");
    assert!(sync.stderr.contains("targets updated 0"), "{sync:?}");
    let held = moto.boto_as(
        "v = sm.get_secret_value(SecretId='/tag/held')['SecretString']\n\
         p = ssm.get_parameter(Name='/tag/held', WithDecryption=True)['Parameter']['Value']\n\
         print(v, p)",
        (id, secret),
    );
    assert_eq!(held, "held-value held-value", "neither value was replaced");
}

#[test]
fn changed_settings_alone_are_written_and_an_older_entry_only_records_them() {
    let prefix = unique("settings");
    let file = |description: &str, tag: &str| {
        format!(
            "version: \"1.0\"\nsecrets:\n  a:\n    generator: {{type: random-string}}\n    \
             targets:\n      - {{type: local-file, path: .env}}\n      - {{type: \
             aws-secretsmanager, name: \"{prefix}/a\", description: \"{description}\", tags: \
             {{team: {tag}}}}}\n"
        )
    };
    let project = Project::new(&file("first", "red"));
    assert_eq!(run(&project, &["sync"]).code, 0);
    let describe = format!(
        "d = sm.describe_secret(SecretId='{prefix}/a')\n\
         print(d.get('Description'), sorted((t['Key'], t['Value']) for t in d.get('Tags', [])))"
    );
    assert_eq!(boto(&describe), "first [('team', 'red')]");
    let value = dotenv_value(&project.path(".env"), "A").unwrap();

    project.write("Secretfile.yml", &file("second", "blue"));
    let dry = run(&project, &["sync", "--dry-run"]);
    assert!(
        dry.stdout.contains(&format!(
            "~ update    aws-secretsmanager::{prefix}/a (its settings changed since it was last \
             written)"
        )),
        "{dry:?}"
    );
    let sync = run(&project, &["sync"]);
    assert!(sync.stderr.contains("targets updated 1, unchanged 1, failed 0"), "{sync:?}");
    assert_eq!(boto(&describe), "second [('team', 'blue')]");
    assert_eq!(secret_string(&format!("{prefix}/a")), value, "the value is kept");
    let again = run(&project, &["sync"]);
    assert!(again.stderr.contains("targets updated 0, unchanged 2, failed 0"), "{again:?}");

    // A lockfile from before settings were recorded: the next run records them and writes
    // nothing, rather than rewriting every remote target once.
    let lock = project.read(".gitsecrets.lock");
    let mut parsed: serde_json::Value = serde_json::from_str(&lock).unwrap();
    for target in parsed["secrets"]["a"]["targets"].as_object_mut().unwrap().values_mut() {
        target.as_object_mut().unwrap().remove("settings");
    }
    project.write(".gitsecrets.lock", &serde_json::to_string_pretty(&parsed).unwrap());
    let upgraded = run(&project, &["sync"]);
    assert!(upgraded.stderr.contains("targets updated 0, unchanged 2, failed 0"), "{upgraded:?}");
    assert_eq!(project.read(".gitsecrets.lock"), lock, "the settings are recorded again");
}
