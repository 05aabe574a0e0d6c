//! `secretzero serve` end to end: the real binary on a free port, driven over HTTP.

#![cfg(feature = "api")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{Project, dotenv_value, json};
use serde_json::{Value, json};

const KEY: &str = "test-key-0123456789abcdef";
const CI_KEY: &str = "ci-key-fedcba9876543210";
const CANARY: &str = "CANARY-api-7d41c2";
const ENV_CANARY: &str = "CANARY-api-env-e0b9";

const SECRETFILE: &str = r#"version: "1.0"
secrets:
  api_key:
    generator: {type: random-string, length: 24}
    rotation_period: 1d
    targets: [{type: local-file, path: .env}]
  literal:
    generator: {type: static, value: CANARY-api-7d41c2}
    targets: [{type: local-file, path: .env}, {type: local-file, path: config.json}]
  from_env:
    generator: {type: random-string}
    targets: [{type: local-file, path: .env}]
"#;

/// A running server, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    agent: ureq::Agent,
    /// The rest of standard error, read to its end when the server stops.
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    /// Starts `binary serve --port 0 ARGS` in the project with a clean environment plus `env`,
    /// and waits for the address it prints.
    fn start_bin(binary: &str, project: &Project, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(binary);
        if binary == env!("CARGO_BIN_EXE_secretzero") {
            command.arg("serve");
        }
        command
            .args(["--port", "0"])
            .args(args)
            .current_dir(project.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the server");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("the server prints its address").unwrap();
            if let Some(url) = line.split_whitespace().find(|word| word.starts_with("http://")) {
                break url.to_string();
            }
        };

        // The rest of standard error is kept, for the canary check.
        let stderr = Some(std::thread::spawn(move || {
            lines.map_while(Result::ok).collect::<Vec<_>>().join("\n")
        }));
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { child, base, agent, stderr }
    }

    fn start(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_bin(env!("CARGO_BIN_EXE_secretzero"), project, args, env)
    }

    /// A server with the key `KEY`, as `default`.
    fn with_key(project: &Project) -> Server {
        Server::start(project, &[], &[("SECRETZERO_API_KEY", KEY)])
    }

    fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        Reply::from(request.call().expect("the request is answered"))
    }

    fn post(&self, path: &str, key: Option<&str>, body: &str) -> Reply {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        request = request.header("Content-Type", "application/json");
        Reply::from(request.send(body).expect("the request is answered"))
    }
}

impl Server {
    /// Sends `request` as it is, and reads the answer until the server closes the connection.
    fn raw(&self, request: &str) -> String {
        let mut stream =
            std::net::TcpStream::connect(self.base.trim_start_matches("http://")).unwrap();
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        response
    }

    /// Stops the server and returns what it printed on standard error after its address.
    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().map(|reader| reader.join().unwrap()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    text: String,
}

impl Reply {
    fn from(mut response: ureq::http::Response<ureq::Body>) -> Reply {
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let text = response.body_mut().read_to_string().unwrap();
        Reply { status, retry_after, text }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

/// The audit log's records, with each timestamp checked and replaced by `T`.
fn audit(project: &Project) -> Vec<Value> {
    project
        .read("secretzero-audit.jsonl")
        .lines()
        .map(|line| {
            let mut record: Value = serde_json::from_str(line).unwrap();
            let stamp = record["timestamp"].as_str().unwrap();
            assert!(stamp.parse::<jiff::Timestamp>().is_ok() && stamp.ends_with('Z'), "{stamp}");
            assert_eq!(stamp.len(), "2026-12-04T08:00:00.000Z".len(), "{stamp}");
            record["timestamp"] = json!("T");
            record
        })
        .collect()
}

fn unauthorized(reason: &str) -> Value {
    json!({"error": {
        "code": "unauthorized",
        "message": format!("{reason}: this endpoint needs an API key"),
        "hint": "send the key in the X-API-Key header",
    }})
}

#[test]
fn public_endpoints_answer_anyone_and_the_others_need_a_known_key() {
    let project = Project::new(SECRETFILE);
    let server = Server::with_key(&project);

    let root = server.get("/", None);
    assert_eq!(root.status, 200);
    assert_eq!(
        root.json(),
        json!({
            "name": "secretzero",
            "version": env!("CARGO_PKG_VERSION"),
            "authentication": "X-API-Key",
            "openapi": "/openapi.json",
            "health": "/health",
        })
    );
    let health = server.get("/health", None);
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));

    let missing = server.get("/secrets", None);
    assert_eq!((missing.status, missing.json()), (401, unauthorized("no X-API-Key header")));
    let wrong = server.post("/sync", Some("test-key-0123456789abcdeX"), "");
    assert_eq!((wrong.status, wrong.json()), (401, unauthorized("not a known API key")));
    assert!(!project.exists(".env"), "a refused sync wrote nothing");

    let listed = server.get("/secrets", Some(KEY));
    assert_eq!(listed.status, 200, "{listed:?}");
    let names: Vec<Value> =
        listed.json()["secrets"].as_array().unwrap().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, [json!("api_key"), json!("literal"), json!("from_env")]);

    assert_eq!(
        audit(&project),
        [
            json!({"timestamp": "T", "action": "auth", "resource": "/secrets", "key_name": null,
                   "caller": "127.0.0.1", "outcome": "denied",
                   "details": {"reason": "no X-API-Key header", "error": "unauthorized",
                               "status": 401}}),
            json!({"timestamp": "T", "action": "auth", "resource": "/sync", "key_name": null,
                   "caller": "127.0.0.1", "outcome": "denied",
                   "details": {"reason": "not a known API key", "error": "unauthorized",
                               "status": 401}}),
            json!({"timestamp": "T", "action": "secrets.list", "resource": "Secretfile.yml",
                   "key_name": "default", "caller": "127.0.0.1", "outcome": "success",
                   "details": {"count": 3}}),
        ]
    );
}

#[test]
fn the_openapi_document_is_served_and_is_the_one_in_docs_api_md() {
    let project = Project::new(SECRETFILE);
    let server = Server::with_key(&project);
    let served = server.get("/openapi.json", None);
    assert_eq!(served.status, 200);
    let document = served.json();
    assert_eq!(document["openapi"], "3.1.0");

    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md")).unwrap();
    let start = docs.find("```json\n{\n  \"openapi\"").expect("docs/api.md shows the document");
    let rest = &docs[start + "```json\n".len()..];
    let shown: Value = serde_json::from_str(&rest[..rest.find("\n```").unwrap()]).unwrap();
    assert_eq!(shown, document);

    // Every route the server answers is in the document, and no other.
    let mut paths: Vec<&str> =
        document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/",
            "/audit/logs",
            "/config/validate",
            "/drift/check",
            "/health",
            "/openapi.json",
            "/policy/check",
            "/rotation/check",
            "/rotation/execute",
            "/secrets",
            "/secrets/{name}/status",
            "/sync",
        ]
    );

    // Every endpoint may be called with the wrong method; every protected one may also meet
    // the body limit, the timeout and an audit log that cannot be written.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let codes: Vec<&str> =
                operation["responses"].as_object().unwrap().keys().map(String::as_str).collect();
            let public = ["/", "/health", "/openapi.json"].contains(&path.as_str());
            let wanted: &[&str] =
                if public { &["405"] } else { &["401", "405", "413", "429", "500", "503"] };
            for code in wanted {
                assert!(codes.contains(code), "{method} {path} lacks {code}: {codes:?}");
            }
        }
    }
    let allow = &document["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"];
    assert_eq!(allow["schema"], json!({"type": "string"}));
    // The key is checked first, as for every protected request.
    let wrong = server.raw(&format!(
        "GET /sync HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nConnection: close\r\n\r\n"
    ));
    assert!(wrong.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{wrong}");
    assert!(wrong.contains("\r\nallow: POST\r\n"), "{wrong}");
}

#[test]
fn without_a_key_the_server_starts_only_insecure_and_on_loopback() {
    let project = Project::new(SECRETFILE);
    let run = project.run(&["serve", "--port", "0"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: no API key is configured\nhint: set SECRETZERO_API_KEY or give --api-keys FILE; on \
         a loopback address only, --insecure-no-auth serves without keys\n"
    );

    let run = project.run(&["serve", "--port", "0", "--insecure-no-auth", "--host", "0.0.0.0"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: --insecure-no-auth serves without API keys on a loopback address only, and \
         `0.0.0.0` is not one\nhint: configure an API key, or use --host 127.0.0.1\n"
    );

    let run = project.run_env(&["serve", "--port", "0"], &[("SECRETZERO_API_KEY", "too-short")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stderr, "error: API key `default` is shorter than 16 characters\n");
    assert!(!run.all_output().contains("too-short"));

    let server = Server::start(&project, &["--insecure-no-auth"], &[]);
    let listed = server.get("/secrets", None);
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(server.get("/", None).json()["authentication"], "none");
    assert_eq!(audit(&project)[0]["key_name"], Value::Null);
    assert_eq!(audit(&project)[0]["action"], "secrets.list");
}

#[test]
fn keys_from_a_file_are_audited_by_name() {
    let project = Project::new(SECRETFILE);
    project.write("keys.txt", &format!("# who may call\nci = {CI_KEY}\n"));
    let server =
        Server::start(&project, &["--api-keys", "keys.txt"], &[("SECRETZERO_API_KEY", KEY)]);
    assert_eq!(server.get("/secrets/api_key/status", Some(CI_KEY)).status, 200);
    assert_eq!(server.get("/secrets/api_key/status", Some(KEY)).status, 200);
    let names: Vec<Value> = audit(&project).iter().map(|r| r["key_name"].clone()).collect();
    assert_eq!(names, [json!("ci"), json!("default")]);
    let log = project.read("secretzero-audit.jsonl");
    assert!(!log.contains(CI_KEY) && !log.contains(KEY), "{log}");
}

#[test]
fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let project = Project::new(SECRETFILE);
    let server = Server::start(&project, &["--max-body", "64"], &[("SECRETZERO_API_KEY", KEY)]);
    // Written in one piece: the server answers as soon as it has read the headers, and closes
    // the connection, which an HTTP client still writing the body takes for a failure.
    let body = format!("{{\"dry_run\": true, \"secrets\": [\"{}\"]}}", "a".repeat(64));
    let request = format!(
        "POST /sync HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream =
        std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 413 Payload Too Large\r\n"), "{response}");
    assert!(
        response.ends_with(
            "\r\n\r\n{\"error\":{\"code\":\"body_too_large\",\"message\":\"the request body is \
             too large\",\"hint\":null}}"
        ),
        "{response}"
    );
    assert!(!project.exists(".env"));

    let fits = server.post("/sync", Some(KEY), r#"{"dry_run": true}"#);
    assert_eq!(fits.status, 200, "{fits:?}");
    let unknown = server.post("/sync", Some(KEY), r#"{"dryrun": true}"#);
    assert_eq!(unknown.status, 400, "{unknown:?}");
    assert!(
        unknown.json()["error"]["message"].as_str().unwrap().contains("unknown field `dryrun`")
    );
}

#[test]
fn a_second_sync_while_one_runs_gets_409_and_changes_nothing() {
    // The script takes a second, so the two requests overlap.
    let project = Project::new(
        r#"version: "1.0"
secrets:
  slow:
    generator: {type: script, command: sh, args: ["-c", "sleep 2; echo slow-value-0123"]}
    targets: [{type: local-file, path: .env}]
"#,
    );
    let server = Server::with_key(&project);
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| server.post("/sync", Some(KEY), ""));
        std::thread::sleep(std::time::Duration::from_millis(500));
        let second = server.post("/sync", Some(KEY), "{}");
        (first.join().unwrap(), second)
    });

    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["result"]["generated"], json!(["slow"]));
    assert_eq!(second.status, 409, "{second:?}");
    assert_eq!(
        second.json(),
        json!({"error": {"code": "busy",
                         "message": "a sync or rotation of Secretfile.yml is already running",
                         "hint": "retry when it has finished"}})
    );
    assert_eq!(dotenv_value(&project.path(".env"), "SLOW").as_deref(), Some("slow-value-0123"));

    let outcomes: Vec<(Value, Value)> =
        audit(&project).iter().map(|r| (r["action"].clone(), r["outcome"].clone())).collect();
    assert_eq!(outcomes, [(json!("sync"), json!("rejected")), (json!("sync"), json!("success"))]);
    assert_eq!(audit(&project)[0]["details"], json!({"error": "busy", "status": 409}));

    // Once the first has finished, a sync runs again.
    let again = server.post("/sync", Some(KEY), "");
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json()["lockfile"], "unchanged");
}

#[test]
fn a_sync_past_the_timeout_is_answered_503_and_still_finishes_and_is_audited() {
    let project = Project::new(
        r#"version: "1.0"
secrets:
  slow:
    generator: {type: script, command: sh, args: ["-c", "sleep 2; echo slow-value-0123"]}
    targets: [{type: local-file, path: .env}]
"#,
    );
    let server = Server::start(&project, &["--timeout", "1"], &[("SECRETZERO_API_KEY", KEY)]);
    let cut = server.post("/sync", Some(KEY), "");
    assert_eq!(cut.status, 503, "{cut:?}");
    assert_eq!(
        cut.json(),
        json!({"error": {"code": "timeout", "message": "the request took too long", "hint": null}})
    );
    // The sync goes on, and holds the lock until it ends.
    assert_eq!(server.post("/sync", Some(KEY), "").status, 409);
    for _ in 0..100 {
        if audit(&project).len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(dotenv_value(&project.path(".env"), "SLOW").as_deref(), Some("slow-value-0123"));
    let records: Vec<(Value, Value)> =
        audit(&project).iter().map(|r| (r["action"].clone(), r["outcome"].clone())).collect();
    assert_eq!(records, [(json!("sync"), json!("rejected")), (json!("sync"), json!("success"))]);
}

#[test]
fn rate_limits_count_per_key() {
    let project = Project::new(SECRETFILE);
    project.write("keys.txt", &format!("ci={CI_KEY}\n"));
    let server = Server::start(
        &project,
        &["--rate-limit", "2", "--api-keys", "keys.txt"],
        &[("SECRETZERO_API_KEY", KEY)],
    );
    assert_eq!(server.get("/secrets", Some(KEY)).status, 200);
    assert_eq!(server.get("/secrets", Some(KEY)).status, 200);
    let limited = server.get("/secrets", Some(KEY));
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(limited.json()["error"]["code"], "rate_limited");
    let wait: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    // Another key has its own allowance; public endpoints have none.
    assert_eq!(server.get("/secrets", Some(CI_KEY)).status, 200);
    assert_eq!(server.get("/health", None).status, 200);

    let last = audit(&project)[2].clone();
    assert_eq!(
        last,
        json!({"timestamp": "T", "action": "request", "resource": "/secrets",
               "key_name": "default", "caller": "127.0.0.1", "outcome": "rejected",
               "details": {"reason": "rate limit", "method": "GET", "error": "rate_limited",
                           "status": 429}})
    );
    assert_eq!(limited.json()["error"]["message"], "too many requests for this API key");
}

#[test]
fn failed_authentications_are_limited_per_address_and_say_so() {
    let project = Project::new(SECRETFILE);
    let server = Server::start(&project, &["--rate-limit", "1"], &[("SECRETZERO_API_KEY", KEY)]);
    assert_eq!(server.get("/secrets", Some("wrong-key-0123456789")).status, 401);
    let limited = server.get("/secrets", Some("wrong-key-0123456789"));
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(
        limited.json(),
        json!({"error": {"code": "rate_limited",
                         "message": "too many failed authentications from this address",
                         "hint": "wait for the number of seconds in Retry-After"}})
    );
    assert_eq!(
        audit(&project)[1],
        json!({"timestamp": "T", "action": "auth", "resource": "/secrets", "key_name": null,
               "caller": "127.0.0.1", "outcome": "rejected",
               "details": {"reason": "not a known API key; rate limit",
                           "error": "rate_limited", "status": 429}})
    );
}

/// The project synced by the CLI at `SYNCED`, with `from_env` from the environment.
const SYNCED: &str = "2026-03-01T10:00:00Z";

fn synced_project() -> Project {
    let project = Project::new(SECRETFILE);
    let run = project.run_env(&["sync"], &[("SECRETZERO_NOW", SYNCED), ("FROM_ENV", ENV_CANARY)]);
    assert_eq!(run.code, 0, "{run:?}");
    project
}

#[test]
fn rotation_check_and_execute_rotate_what_is_due() {
    let project = synced_project();
    let before = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let server = Server::start(
        &project,
        &[],
        &[("SECRETZERO_API_KEY", KEY), ("SECRETZERO_NOW", "2026-03-03T10:00:00Z")],
    );

    let check = server.post("/rotation/check", Some(KEY), "");
    assert_eq!(check.status, 200, "{check:?}");
    let check = check.json();
    assert_eq!(
        check["secrets"],
        json!([{"secret": "api_key", "action": "rotate", "period": "1d",
                "due_at": "2026-03-02T10:00:00Z", "reason": "due since 2026-03-02T10:00:00Z"}])
    );
    let findings = &check["report"]["checks"][0]["findings"];
    assert_eq!(findings.as_array().unwrap().len(), 1);
    assert_eq!(
        (&findings[0]["rule"], &findings[0]["secret"], &findings[0]["line"]),
        (&json!("rotation/due"), &json!("api_key"), &json!(5))
    );
    assert_eq!(check["report"]["schema_version"], 1);

    let done = server.post("/rotation/execute", Some(KEY), "{}");
    assert_eq!(done.status, 200, "{done:?}");
    let done = done.json();
    assert_eq!((&done["success"], &done["lockfile"]), (&json!(true), &json!("updated")));
    assert_eq!(done["result"]["rotated"], json!(["api_key"]));
    assert_eq!(
        done["result"]["written"],
        json!([{"secret": "api_key", "target": "local-file:.env#API_KEY"}])
    );
    let after = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_ne!(after, before);
    let entry = &json(&project.path(".gitsecrets.lock"))["secrets"]["api_key"];
    assert_eq!(entry["rotation_count"], 1);
    assert_eq!(entry["last_rotated"], "2026-03-03T10:00:00Z");

    let records = audit(&project);
    assert_eq!(
        records[1],
        json!({"timestamp": "T", "action": "rotate", "resource": "Secretfile.yml",
               "key_name": "default", "caller": "127.0.0.1", "outcome": "success",
               "details": {"force": false, "secrets": [], "generated": ["api_key"],
                           "rotated": ["api_key"],
                           "targets_written": 1, "targets_unchanged": 0, "failed": [],
                           "lockfile": "updated"}})
    );
}

#[test]
fn drift_check_reports_a_value_changed_by_hand_with_the_json_report_schema() {
    let project = synced_project();
    let env = project.read(".env");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    project.write(".env", &env.replace(&key, "changed-by-hand"));
    let server = Server::with_key(&project);

    let drift = server.post("/drift/check", Some(KEY), r#"{"secrets": ["api_key"]}"#);
    assert_eq!(drift.status, 200, "{drift:?}");
    let drift = drift.json();
    assert_eq!(
        (&drift["drifted"], &drift["secrets_checked"], &drift["targets_checked"]),
        (&json!(true), &json!(1), &json!(1))
    );

    // The report is what `secretzero drift --format json` prints.
    let cli = project.run(&["drift", "api_key", "--format", "json"]);
    assert_eq!(cli.code, 4, "{cli:?}");
    let cli: Value = serde_json::from_str(&cli.stdout).unwrap();
    assert_eq!(drift["report"], cli);
    assert_eq!(drift["report"]["checks"][0]["findings"][0]["rule"], "drift/value-changed");
    assert!(!serde_json::to_string(&drift).unwrap().contains("changed-by-hand"));

    let unknown = server.post("/drift/check", Some(KEY), r#"{"secrets": ["api_kye"]}"#);
    assert_eq!(unknown.status, 400, "{unknown:?}");
    assert_eq!(unknown.json()["error"]["hint"], "did you mean `api_key`?");
}

#[test]
fn policy_check_applies_fail_on_and_reuses_the_report_schema() {
    let project = Project::new(&format!(
        "version: \"1.0\"\nmetadata: {{compliance: [soc2]}}\n{}",
        &SECRETFILE[15..]
    ));
    let server = Server::with_key(&project);

    let failed = server.post("/policy/check", Some(KEY), "");
    assert_eq!(failed.status, 200, "{failed:?}");
    let failed = failed.json();
    assert_eq!((&failed["passed"], &failed["fail_on"]), (&json!(false), &json!("error")));
    assert_eq!(failed["packs"], json!(["soc2"]));
    let cli = project.run(&["policy", "--format", "json"]);
    assert_eq!(cli.code, 1, "{cli:?}");
    assert_eq!(failed["report"], serde_json::from_str::<Value>(&cli.stdout).unwrap());

    let never = server.post("/policy/check", Some(KEY), r#"{"fail_on": "never"}"#).json();
    assert_eq!((&never["passed"], &never["fail_on"]), (&json!(true), &json!("never")));

    let bad = server.post("/policy/check", Some(KEY), r#"{"fail_on": "sometimes"}"#);
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["error"]["message"],
        "fail_on is `sometimes`; it must be `error`, `warning` or `never`"
    );
    let outcomes: Vec<Value> = audit(&project).iter().map(|r| r["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("failure"), json!("success"), json!("rejected")]);
}

#[test]
fn validate_reports_an_invalid_secretfile_as_findings() {
    let project = Project::new("version: \"1.0\"\nsecrest: {}\n");
    let server = Server::with_key(&project);
    let reply = server.post("/config/validate", Some(KEY), "");
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = reply.json();
    assert_eq!(reply["valid"], false);
    let cli = project.run(&["validate", "--format", "json"]);
    assert_eq!(cli.code, 1, "{cli:?}");
    assert_eq!(reply["report"], serde_json::from_str::<Value>(&cli.stdout).unwrap());

    // Endpoints that need a loaded file say why they cannot run.
    let listed = server.get("/secrets", Some(KEY));
    assert_eq!(listed.status, 422, "{listed:?}");
    assert_eq!(listed.json()["error"]["code"], "invalid_secretfile");
}

#[test]
fn the_audit_log_is_filtered_and_paged_by_the_api_and_the_cli() {
    let project = synced_project();
    // A CLI run appends to the same log.
    let run = project.run_env(
        &["sync", "--audit-log", "secretzero-audit.jsonl"],
        &[("FROM_ENV", ENV_CANARY), ("USER", "alice")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let server = Server::with_key(&project);
    assert_eq!(server.post("/sync", Some(KEY), r#"{"dry_run": true}"#).status, 200);
    assert_eq!(server.get("/secrets", None).status, 401);
    assert_eq!(server.get("/secrets/literal/status", Some(KEY)).status, 200);

    let page = server.get("/audit/logs?action=sync&limit=1&offset=1", Some(KEY));
    assert_eq!(page.status, 200, "{page:?}");
    let mut page = page.json();
    page["records"][0]["timestamp"] = json!("T");
    assert_eq!(
        page,
        json!({"total": 2, "offset": 1, "limit": 1, "unreadable_lines": 0, "records": [
            {"timestamp": "T", "action": "sync", "resource": "Secretfile.yml",
             "key_name": "default", "caller": "127.0.0.1", "outcome": "success",
             "details": {"dry_run": true, "force": false, "secrets": [],
                         "summary": {"create": 0, "update": 0, "unchanged": 4, "skip": 0}}}
        ]})
    );
    let cli_record = &audit(&project)[0];
    assert_eq!(
        cli_record,
        &json!({"timestamp": "T", "action": "sync", "resource": "Secretfile.yml",
                "key_name": null, "caller": "cli:alice", "outcome": "success",
                "details": {"force": false, "secrets": [], "generated": [], "rotated": [],
                            "targets_written": 0, "targets_unchanged": 4, "failed": [],
                            "lockfile": "unchanged"}})
    );

    let denied = server.get("/audit/logs?outcome=denied", Some(KEY)).json();
    assert_eq!(denied["total"], 1);
    assert_eq!(denied["records"][0]["resource"], "/secrets");
    let bad = server.get("/audit/logs?colour=red", Some(KEY));
    assert_eq!(bad.status, 400);
    let bad = server.get("/audit/logs?since=yesterday", Some(KEY));
    assert_eq!(bad.json()["error"]["message"], "since `yesterday` is not an RFC 3339 time");

    // `secretzero audit` reads the same log with the same filters.
    let run = project.run(&["audit", "--caller", "cli:alice", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let cli: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(cli["total"], 1);
    assert_eq!(cli["records"][0]["action"], "sync");
    // `cli` stands for every CLI run, whoever ran it; the API filters the same way.
    let run = project.run(&["audit", "--caller", "cli", "--format", "json"]);
    let cli: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((&cli["total"], &cli["records"][0]["caller"]), (&json!(1), &json!("cli:alice")));
    assert_eq!(server.get("/audit/logs?caller=cli", Some(KEY)).json()["total"], 1);
    let run = project.run(&["audit", "--caller", "cli:bob", "--format", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap()["total"], 0);
    let run = project.run(&["audit", "--key-name", "default", "--action", "secrets.status"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert_eq!(
        lines[0],
        "TIME                      ACTION          RESOURCE  KEY      CALLER     OUTCOME"
    );
    assert!(
        lines[1].ends_with("  secrets.status  literal   default  127.0.0.1  success"),
        "{run:?}"
    );
    let run = project.run(&["audit", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(run.stdout, "TIME  ACTION  RESOURCE  KEY  CALLER  OUTCOME\n");
}

#[test]
fn no_value_reaches_a_response_the_audit_log_or_the_server_output() {
    let project = synced_project();
    let api_key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let mut server = Server::start(
        &project,
        &["-v"],
        &[
            ("SECRETZERO_API_KEY", KEY),
            ("FROM_ENV", ENV_CANARY),
            ("SECRETZERO_NOW", "2026-03-05T00:00:00Z"),
        ],
    );
    let mut seen = String::new();
    for path in [
        "/",
        "/health",
        "/openapi.json",
        "/secrets",
        "/secrets/literal/status",
        "/secrets/api_key/status",
        "/audit/logs",
    ] {
        seen.push_str(&server.get(path, Some(KEY)).text);
    }
    for (path, body) in [
        ("/config/validate", ""),
        ("/sync", r#"{"dry_run": true}"#),
        ("/sync", r#"{"force": true, "secrets": ["literal", "from_env"]}"#),
        ("/rotation/check", ""),
        ("/rotation/execute", ""),
        ("/policy/check", ""),
        ("/drift/check", ""),
        ("/sync", "not json"),
    ] {
        let reply = server.post(path, Some(KEY), body);
        assert!(reply.status == 200 || reply.status == 400, "{path}: {reply:?}");
        seen.push_str(&reply.text);
    }
    let stderr = server.stop();
    let log = project.read("secretzero-audit.jsonl");
    for value in [CANARY, ENV_CANARY, api_key.as_str(), KEY] {
        assert!(!seen.contains(value), "{value} in a response: {seen}");
        assert!(!log.contains(value), "{value} in the audit log: {log}");
        assert!(!stderr.contains(value), "{value} on standard error: {stderr}");
    }
    // The values are where they belong.
    assert_eq!(dotenv_value(&project.path(".env"), "LITERAL").as_deref(), Some(CANARY));
    assert_eq!(dotenv_value(&project.path(".env"), "FROM_ENV").as_deref(), Some(ENV_CANARY));
}

#[test]
fn secretzero_api_is_serve_under_another_name_and_sees_changed_files() {
    let project = Project::new(SECRETFILE);
    let server = Server::start_bin(
        env!("CARGO_BIN_EXE_secretzero-api"),
        &project,
        &[],
        &[("SECRETZERO_API_KEY", KEY)],
    );
    assert_eq!(server.get("/secrets/api_key/status", Some(KEY)).json()["state"], "not synced");

    // What the server read is read again once the lockfile or the Secretfile changes.
    let run = project.run(&["sync"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(server.get("/secrets/api_key/status", Some(KEY)).json()["state"], "synced");
    project.write("Secretfile.yml", &SECRETFILE.replace("length: 24", "length: 25"));
    let status = server.get("/secrets/api_key/status", Some(KEY)).json();
    assert_eq!(status["state"], "definition changed");
    assert_eq!(server.get("/secrets", Some(KEY)).json()["secrets"].as_array().unwrap().len(), 3);

    // A secret the lockfile records but the Secretfile no longer declares.
    let without = SECRETFILE.split("  from_env:").next().unwrap();
    project.write("Secretfile.yml", without);
    let removed = server.get("/secrets/from_env/status", Some(KEY));
    assert_eq!(
        (removed.status, &removed.json()["state"]),
        (200, &json!("removed from Secretfile"))
    );
}

/// A request refused with 400 because of its body, with the audit record it leaves.
fn bad_body(server: &Server, path: &str, body: &str) -> String {
    let reply = server.post(path, Some(KEY), body);
    assert_eq!(reply.status, 400, "{path} {body:?}: {reply:?}");
    reply.json()["error"]["message"].as_str().unwrap().to_string()
}

#[test]
fn bodies_must_be_json_objects_and_an_empty_one_is_every_default() {
    let project = Project::new(SECRETFILE);
    let server = Server::with_key(&project);
    let not_object = "the request body must be a JSON object";
    // serde reads an array as the fields in order: `[]` would sync, `[true]` be a dry run.
    assert_eq!(bad_body(&server, "/sync", "[]"), not_object);
    assert_eq!(bad_body(&server, "/sync", "[true]"), not_object);
    assert_eq!(bad_body(&server, "/sync", "null"), not_object);
    assert_eq!(bad_body(&server, "/policy/check", r#"["never"]"#), not_object);
    assert_eq!(bad_body(&server, "/rotation/check", "[false, []]"), not_object);
    assert_eq!(bad_body(&server, "/drift/check", "[[]]"), not_object);
    assert_eq!(bad_body(&server, "/config/validate", "[]"), not_object);
    assert_eq!(
        bad_body(&server, "/config/validate", r#"{"x": 1}"#),
        "the request body is not valid: unknown field `x`, there are no fields"
    );
    assert!(!project.exists(".env"), "no refused body synced");
    let outcomes: Vec<(Value, Value)> =
        audit(&project).iter().map(|r| (r["action"].clone(), r["outcome"].clone())).collect();
    assert_eq!(outcomes.len(), 8);
    assert!(outcomes.iter().all(|(_, outcome)| outcome == "rejected"), "{outcomes:?}");

    // `{}`, empty and whitespace only are all every field's default: a plan is asked for with
    // `dry_run`, and otherwise the sync writes, as `secretzero sync` does.
    assert_eq!(server.post("/config/validate", Some(KEY), "{}").status, 200);
    let synced = server.post("/sync", Some(KEY), " \n\t ");
    assert_eq!(synced.status, 200, "{synced:?}");
    assert_eq!(
        (&synced.json()["dry_run"], &synced.json()["lockfile"]),
        (&json!(false), &json!("created"))
    );
    assert!(project.exists(".env"));
}

#[test]
fn a_secret_name_with_a_newline_cannot_forge_a_row_of_the_audit_table() {
    let project = Project::new(SECRETFILE);
    let server = Server::with_key(&project);
    let forged = "x%0A2026-01-01T00:00:00.000Z  sync  Secretfile.yml  -  cli:root  success";
    let path = format!("/secrets/{}/status", forged.replace(' ', "%20"));
    let reply = server.get(&path, Some(KEY));
    assert_eq!(reply.status, 404, "{reply:?}");

    let run = project.run(&["audit"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(
        lines[1].contains(
            "  secrets.status  x\\n2026-01-01T00:00:00.000Z  sync  Secretfile.yml  -  cli:root  \
             success  default  127.0.0.1  rejected"
        ),
        "{run:?}"
    );
}

#[test]
fn a_client_that_sends_its_headers_slowly_is_cut_off_after_the_timeout() {
    let project = Project::new(SECRETFILE);
    let server = Server::start(
        &project,
        &["--timeout", "1", "--max-connections", "1"],
        &[("SECRETZERO_API_KEY", KEY)],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let started = std::time::Instant::now();
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    std::io::Write::write_all(&mut slow, b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();

    // The one connection allowed is taken: the next request waits until it is closed.
    let health = server.get("/health", None);
    assert_eq!(health.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "{:?}", started.elapsed());

    let mut rest = Vec::new();
    let read = std::io::Read::read_to_end(&mut slow, &mut rest);
    assert!(read.is_ok(), "the server closed the connection: {read:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_body_over_the_limit_is_refused_after_the_key_and_audited() {
    let project = Project::new(SECRETFILE);
    let server = Server::start(&project, &["--max-body", "64"], &[("SECRETZERO_API_KEY", KEY)]);
    let body = "x".repeat(100);
    let post = |key: &str| {
        format!(
            "POST /sync HTTP/1.1\r\nHost: x\r\n{key}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let response = server.raw(&post(""));
    assert!(response.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{response}");
    let response = server.raw(&post(&format!("X-API-Key: {KEY}\r\n")));
    assert!(response.starts_with("HTTP/1.1 413 Payload Too Large\r\n"), "{response}");

    // A chunked body is cut off as it passes the limit, with the same answer.
    let chunked = format!(
        "POST /sync HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let response = server.raw(&chunked);
    assert!(response.starts_with("HTTP/1.1 413 Payload Too Large\r\n"), "{response}");
    assert!(
        response.ends_with(
            "{\"error\":{\"code\":\"body_too_large\",\"message\":\"the request body is too \
             large\",\"hint\":null}}"
        ),
        "{response}"
    );
    assert!(!project.exists(".env"));

    let too_large = json!({"timestamp": "T", "action": "request", "resource": "/sync",
                           "key_name": "default", "caller": "127.0.0.1", "outcome": "rejected",
                           "details": {"reason": "body too large", "method": "POST",
                                       "error": "body_too_large", "status": 413}});
    let records = audit(&project);
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!((&records[0]["action"], &records[0]["outcome"]), (&json!("auth"), &json!("denied")));
    assert_eq!(records[1], too_large);
    assert_eq!(records[2], too_large);
}

#[test]
fn the_server_fails_closed_when_the_audit_log_cannot_be_written() {
    let project = Project::new(SECRETFILE);
    std::fs::create_dir(project.path("logs")).unwrap();
    let server = Server::start(
        &project,
        &["--audit-log", "logs/audit.jsonl"],
        &[("SECRETZERO_API_KEY", KEY)],
    );
    assert_eq!(server.get("/secrets", Some(KEY)).status, 200);
    // The log becomes a folder: it can no longer be appended to, nor read as a log.
    std::fs::remove_file(project.path("logs/audit.jsonl")).unwrap();
    std::fs::create_dir(project.path("logs/audit.jsonl")).unwrap();
    let cannot_write = |hint: &str| {
        json!({"error": {
            "code": "cannot_write",
            "message": "cannot write logs/audit.jsonl: Is a directory (os error 21)",
            "hint": hint,
        }})
    };

    let sync = server.post("/sync", Some(KEY), "");
    let nothing = "nothing was done: the server runs no request it cannot record";
    assert_eq!((sync.status, sync.json()), (500, cannot_write(nothing)));
    assert!(!project.exists(".env"), "a sync that cannot be recorded does not start");
    let listed = server.get("/secrets", Some(KEY));
    let done = "the request was carried out, but the server gives no answer it cannot record";
    assert_eq!((listed.status, listed.json()), (500, cannot_write(done)));
    let logs = server.get("/audit/logs", Some(KEY));
    assert_eq!(logs.status, 500, "{logs:?}");
    assert_eq!(logs.json()["error"]["code"], "cannot_load");
}

#[test]
fn a_cli_run_whose_audit_record_cannot_be_written_fails_before_writing_a_target() {
    let project = Project::new(SECRETFILE);
    let run = project.run(&["sync", "--audit-log", "nonexistent/d/a.jsonl"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: cannot write nonexistent/d/a.jsonl\n  caused by: No such file or directory (os error \
         2)\n"
    );
    assert!(!project.exists(".env") && !project.exists(".gitsecrets.lock"));
}

#[test]
fn a_record_after_a_line_cut_short_is_not_lost() {
    let project = Project::new(SECRETFILE);
    project.write("secretzero-audit.jsonl", "{\"truncated");
    let run = project.run(&["sync", "--audit-log", "secretzero-audit.jsonl"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = project.run(&["audit", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let page: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((&page["total"], &page["unreadable_lines"]), (&json!(1), &json!(1)));
    assert_eq!(page["records"][0]["action"], "sync");
    assert!(project.read("secretzero-audit.jsonl").starts_with("{\"truncated\n{\"timestamp\""));
}

#[test]
fn a_key_in_the_environment_is_trimmed_as_http_trims_the_header() {
    let project = Project::new(SECRETFILE);
    let padded = format!("  {KEY}\n");
    let server = Server::start(&project, &[], &[("SECRETZERO_API_KEY", padded.as_str())]);
    assert_eq!(server.get("/secrets", Some(KEY)).status, 200);

    let run =
        project.run_env(&["serve", "--port", "0"], &[("SECRETZERO_API_KEY", " short-key \n")]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "error: API key `default` is shorter than 16 characters\n")
    );
}

#[test]
fn the_audit_filters_are_checked_the_same_by_the_cli_and_the_api() {
    let project = Project::new(SECRETFILE);
    let server = Server::with_key(&project);
    let bogus = server.get("/audit/logs?outcome=bogus", Some(KEY));
    assert_eq!(bogus.status, 400, "{bogus:?}");
    assert_eq!(
        bogus.json()["error"]["message"],
        "outcome `bogus` is not one of success, failure, denied, rejected, error"
    );
    assert_eq!(server.get("/audit/logs?limit=0", Some(KEY)).status, 400);

    let run = project.run(&["audit", "--outcome", "bogus"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "error: invalid value 'bogus' for '--outcome <OUTCOME>'\n  [possible values: \
             success, failure, denied, rejected, error]\n"
        ),
        "{run:?}"
    );
    let run = project.run(&["audit", "--limit", "0"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .starts_with("error: invalid value '0' for '--limit <N>': 0 is not in 1..=1000\n"),
        "{run:?}"
    );

    let run = project.run(&["audit", "--format", "json", "--outcome", "denied"]);
    assert_eq!(run.code, 0, "{run:?}");
    let page: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((&page["limit"], &page["total"]), (&Value::Null, &json!(0)));
}

#[test]
fn secretzero_api_names_itself_in_its_help_and_version() {
    let run = |arg: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_secretzero-api")).arg(arg).output().unwrap();
        assert_eq!(output.status.code(), Some(0));
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(run("--version"), format!("secretzero-api {}\n", env!("CARGO_PKG_VERSION")));
    let help = run("--help");
    assert!(help.contains("\nUsage: secretzero-api [OPTIONS]\n"), "{help}");
    assert!(help.contains("--max-connections <N>"), "{help}");
}
