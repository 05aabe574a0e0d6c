//! An in-process test double of HashiCorp Vault's HTTP API, for the `vault-kv` target.
//!
//! It follows the contract in Vault's API documentation (developer.hashicorp.com/vault/api-docs):
//! - KV version 2 (`secret/kv/kv-v2`): `GET /v1/:mount/data/:path` answers 200 with
//!   `{"data": {"data": {...}, "metadata": {"version": N}}}` or 404; `POST` takes
//!   `{"data": {...}, "options": {"cas": N}}` and refuses a stale `cas` with 400 and
//!   "check-and-set parameter did not match the current version";
//! - KV version 1 (`secret/kv/kv-v1`): `GET /v1/:mount/:path` answers `{"data": {...}}` or 404;
//!   `POST` stores the body and answers 204;
//! - `GET /v1/sys/internal/ui/mounts/:path` (`system/internal-ui-mounts`): the mount's type and
//!   `options.version` (`null` options for KV version 1);
//! - `POST /v1/auth/approle/login` (`auth/approle`) and `POST /v1/auth/jwt/login`
//!   (`auth/jwt`): `{"auth": {"client_token": ...}}`, or 400 for bad credentials;
//! - `GET /v1/auth/token/lookup-self` (`auth/token`) and `POST /v1/sys/capabilities-self`
//!   (`system/capabilities-self`): the token's policies and its capabilities per path;
//! - every error is `{"errors": [...]}`; a missing or unknown `X-Vault-Token` is 403
//!   "permission denied"; a rate limit quota answers 429 (`system/rate-limit-quotas`).

#![allow(dead_code, reason = "each test binary uses part of the double")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const ROOT_TOKEN: &str = "root-token";

#[derive(Debug, Default)]
pub struct State {
    /// Mount name -> KV version.
    pub mounts: HashMap<String, u8>,
    /// (mount, path) -> versions of a KV v2 secret, oldest first.
    pub kv2: HashMap<(String, String), Vec<Value>>,
    pub kv1: HashMap<(String, String), Value>,
    /// Tokens Vault accepts, with the paths each may not write.
    pub tokens: Vec<String>,
    /// Requests to refuse with 429 before serving again.
    pub throttle: usize,
    /// Whether the next KV v2 write finds that someone else wrote first.
    pub race: bool,
    /// Every request: method, path and the namespace header.
    pub log: Vec<(String, String, Option<String>)>,
}

pub struct VaultDouble {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Drop for VaultDouble {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl VaultDouble {
    pub fn start() -> VaultDouble {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let mut state = State::default();
        state.mounts.insert("secret".into(), 2);
        state.mounts.insert("kv".into(), 1);
        state.tokens.push(ROOT_TOKEN.into());
        let double = VaultDouble {
            url,
            state: Arc::new(Mutex::new(state)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: Arc::new(AtomicUsize::new(0)),
            server,
        };
        // Several workers, so concurrent requests really overlap and can be counted.
        for _ in 0..8 {
            let server = Arc::clone(&double.server);
            let state = Arc::clone(&double.state);
            let in_flight = Arc::clone(&double.in_flight);
            let max = Arc::clone(&double.max_in_flight);
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(15));
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let header = |name: &str| {
                        request
                            .headers()
                            .iter()
                            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                            .map(|h| h.value.as_str().to_string())
                    };
                    let token = header("X-Vault-Token");
                    let namespace = header("X-Vault-Namespace");
                    let method = request.method().as_str().to_string();
                    let path = request.url().to_string();
                    let (status, reply) = {
                        let mut state = state.lock().unwrap();
                        state.log.push((method.clone(), path.clone(), namespace));
                        answer(&mut state, &method, &path, token.as_deref(), &body)
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let response = match reply {
                        Some(reply) => tiny_http::Response::from_string(reply.to_string())
                            .with_status_code(status)
                            .with_header(
                                "Content-Type: application/json"
                                    .parse::<tiny_http::Header>()
                                    .unwrap(),
                            )
                            .boxed(),
                        None => tiny_http::Response::empty(status).boxed(),
                    };
                    let _ = request.respond(response);
                }
            });
        }
        double
    }

    /// The current data of a KV v2 secret.
    pub fn kv2(&self, mount: &str, path: &str) -> Option<Value> {
        let state = self.state.lock().unwrap();
        state.kv2.get(&(mount.into(), path.into())).and_then(|v| v.last().cloned())
    }

    pub fn kv1(&self, mount: &str, path: &str) -> Option<Value> {
        self.state.lock().unwrap().kv1.get(&(mount.into(), path.into())).cloned()
    }

    /// A new version written by someone else.
    pub fn put_kv2(&self, mount: &str, path: &str, data: Value) {
        let mut state = self.state.lock().unwrap();
        state.kv2.entry((mount.into(), path.into())).or_default().push(data);
    }

    pub fn writes(&self) -> usize {
        self.state.lock().unwrap().log.iter().filter(|(m, _, _)| m == "POST").count()
    }
}

fn errors(messages: &[&str]) -> Option<Value> {
    Some(json!({ "errors": messages }))
}

fn answer(
    state: &mut State,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Option<Value>) {
    let path = url.strip_prefix("/v1/").unwrap_or(url);
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if state.throttle > 0 {
        state.throttle -= 1;
        return (429, errors(&[&format!("request path \"{path}\": rate limit quota exceeded")]));
    }

    // Logins need no token.
    match (method, path) {
        ("POST", "auth/approle/login") => {
            return if body["role_id"] == "role-1" && body["secret_id"] == "secret-1" {
                state.tokens.push("approle-token".into());
                (200, Some(json!({"auth": {"client_token": "approle-token", "policies": ["app"]}})))
            } else {
                (400, errors(&["invalid role or secret ID"]))
            };
        }
        ("POST", "auth/jwt/login") => {
            return if body["role"] == "ci" && body["jwt"] == "id-token-from-ci" {
                state.tokens.push("jwt-token".into());
                (200, Some(json!({"auth": {"client_token": "jwt-token", "policies": ["ci"]}})))
            } else {
                (400, errors(&["error validating token: invalid audience (aud) claim"]))
            };
        }
        _ => {}
    }
    if !token.is_some_and(|t| state.tokens.iter().any(|known| known == t)) {
        return (403, errors(&["permission denied"]));
    }

    if let Some(mount) = path.strip_prefix("sys/internal/ui/mounts/") {
        return match state.mounts.get(mount.trim_end_matches('/')) {
            Some(2) => (
                200,
                Some(json!({"data": {"type": "kv", "path": format!("{mount}/"),
                                      "options": {"version": "2"}}})),
            ),
            Some(_) => (
                200,
                Some(json!({"data": {"type": "kv", "path": format!("{mount}/"), "options": null}})),
            ),
            None => (403, errors(&["permission denied"])),
        };
    }
    if path == "auth/token/lookup-self" {
        return (200, Some(json!({"data": {"policies": ["default", "app"]}})));
    }
    if path == "sys/capabilities-self" {
        let mut data = serde_json::Map::new();
        for p in body["paths"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap_or_default();
            let caps = if p.contains("readonly") {
                json!(["read"])
            } else {
                json!(["create", "read", "update"])
            };
            data.insert(p.to_string(), caps);
        }
        let mut reply = data.clone();
        reply.insert("data".into(), Value::Object(data));
        return (200, Some(Value::Object(reply)));
    }

    let (mount, rest) = path.split_once('/').unwrap_or((path, ""));
    match state.mounts.get(mount).copied() {
        Some(2) => {
            let Some(secret) = rest.strip_prefix("data/") else {
                return (404, errors(&[]));
            };
            let key = (mount.to_string(), secret.to_string());
            match method {
                "GET" => match state.kv2.get(&key) {
                    Some(versions) => (
                        200,
                        Some(json!({"data": {"data": versions.last().unwrap(),
                                             "metadata": {"version": versions.len()}}})),
                    ),
                    None => (404, errors(&[])),
                },
                "POST" => {
                    if !body["data"].is_object() {
                        return (400, errors(&["no data provided"]));
                    }
                    if std::mem::take(&mut state.race) {
                        state.kv2.entry(key.clone()).or_default().push(json!({"raced": "yes"}));
                    }
                    let current = state.kv2.get(&key).map_or(0, Vec::len) as u64;
                    if let Some(cas) = body["options"]["cas"].as_u64()
                        && cas != current
                    {
                        return (
                            400,
                            errors(&["check-and-set parameter did not match the current version"]),
                        );
                    }
                    let versions = state.kv2.entry(key).or_default();
                    versions.push(body["data"].clone());
                    (200, Some(json!({"data": {"version": versions.len()}})))
                }
                _ => (405, errors(&["unsupported operation"])),
            }
        }
        Some(_) => {
            let key = (mount.to_string(), rest.to_string());
            match method {
                "GET" => match state.kv1.get(&key) {
                    Some(data) => (200, Some(json!({ "data": data }))),
                    None => (404, errors(&[])),
                },
                "POST" => {
                    state.kv1.insert(key, body);
                    (204, None)
                }
                _ => (405, errors(&["unsupported operation"])),
            }
        }
        None => (404, errors(&[&format!("no handler for route \"{path}\"")])),
    }
}
