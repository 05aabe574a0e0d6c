//! An in-process test double of the Kubernetes API server, for the `kubernetes-secret` target.
//!
//! It follows:
//! - the Secret v1 API reference
//!   (<https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/>):
//!   `GET /api/v1/namespaces/{namespace}/secrets/{name}` answers 200 with the Secret or 404;
//!   `POST /api/v1/namespaces/{namespace}/secrets` creates (201, or 409 AlreadyExists);
//!   `PUT .../secrets/{name}` replaces (200), and refuses a body whose
//!   `metadata.resourceVersion` is not the current one with 409 Conflict; `data` values are
//!   base64;
//! - the API conventions
//!   (<https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md>):
//!   every failure is a `Status` object (`{"kind": "Status", "apiVersion": "v1", "status":
//!   "Failure", "message", "reason", "code"}`) with reasons `NotFound`, `AlreadyExists`,
//!   `Conflict`, `Invalid` (422), `Unauthorized` (401), `Forbidden` (403) and
//!   `TooManyRequests` (429); `resourceVersion` is an opaque string that changes on every
//!   write (optimistic concurrency);
//! - object names (<https://kubernetes.io/docs/concepts/overview/working-with-objects/names/>):
//!   a Secret name that is not a DNS subdomain name is 422 Invalid;
//! - SelfSubjectAccessReview
//!   (<https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/>):
//!   `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` answers 201 with
//!   `status.allowed`;
//! - `GET /version` (<https://kubernetes.io/docs/reference/using-api/health-checks/> lists it
//!   among the endpoints every authenticated user may read).
//!
//! Bearer tokens other than [`TOKEN`] are 401. A test may make the next requests 429, forbid
//! verbs, or set a conflicting writer that changes a Secret between a read and the write.

#![allow(dead_code, reason = "each test binary uses part of the double")]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{Value, json};

pub const TOKEN: &str = "k8s-test-token";

#[derive(Debug, Default)]
pub struct State {
    /// (namespace, name) -> the stored Secret object.
    pub secrets: HashMap<(String, String), Value>,
    pub version: u64,
    /// Requests to refuse with 429 before serving again.
    pub throttle: usize,
    /// Requests to refuse with 503 before serving again.
    pub unavailable: usize,
    /// Verbs on secrets the identity may not use (403, and `allowed: false` in reviews).
    pub forbidden: Vec<String>,
    /// How many times a conflicting writer changes the Secret after it is read and before
    /// SecretZero's write lands.
    pub conflicts: usize,
    /// Someone else creates a Secret right after a read finds it missing, once `Some(n)` more
    /// such reads have passed, so that SecretZero's create meets 409 AlreadyExists.
    pub create_race: Option<usize>,
    /// Every request: method and path.
    pub log: Vec<(String, String)>,
}

pub struct KubernetesDouble {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
}

impl Drop for KubernetesDouble {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl KubernetesDouble {
    pub fn start() -> KubernetesDouble {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let double =
            KubernetesDouble { url, state: Arc::new(Mutex::new(State::default())), server };
        for _ in 0..4 {
            let server = Arc::clone(&double.server);
            let state = Arc::clone(&double.state);
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let token = request
                        .headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case("Authorization"))
                        .map(|h| h.value.as_str().to_string());
                    let method = request.method().as_str().to_string();
                    let path = request.url().to_string();
                    let (status, reply) = {
                        let mut state = state.lock().unwrap();
                        state.log.push((method.clone(), path.clone()));
                        answer(&mut state, &method, &path, token.as_deref(), &body)
                    };
                    let response = tiny_http::Response::from_string(reply.to_string())
                        .with_status_code(status)
                        .with_header(
                            "Content-Type: application/json".parse::<tiny_http::Header>().unwrap(),
                        );
                    let _ = request.respond(response);
                }
            });
        }
        double
    }

    /// A kubeconfig that points at the double with a token user.
    pub fn kubeconfig(&self, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: \
             {}\ncontexts:\n- name: double\n  context:\n    cluster: double\n    user: tester\n    \
             namespace: default\ncurrent-context: double\nusers:\n- name: tester\n  user:\n    \
             token: {token}\n",
            self.url
        )
    }

    /// The decoded data of a Secret.
    pub fn data(&self, namespace: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let state = self.state.lock().unwrap();
        let secret = state.secrets.get(&(namespace.into(), name.into()))?;
        let data = secret["data"].as_object().cloned().unwrap_or_default();
        Some(
            data.iter()
                .map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().unwrap())
                        .unwrap();
                    (k.clone(), String::from_utf8(bytes).unwrap())
                })
                .collect(),
        )
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.state.lock().unwrap().secrets.get(&(namespace.into(), name.into())).cloned()
    }

    /// Stores a Secret as someone else would, with a new resourceVersion.
    pub fn put(&self, namespace: &str, name: &str, mut secret: Value) {
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        secret["metadata"]["name"] = json!(name);
        secret["metadata"]["namespace"] = json!(namespace);
        secret["metadata"]["resourceVersion"] = json!(state.version.to_string());
        state.secrets.insert((namespace.into(), name.into()), secret);
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }

    pub fn writes(&self) -> usize {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|(m, p)| (m == "POST" || m == "PUT") && p.contains("/secrets"))
            .count()
    }
}

pub fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn answer(
    state: &mut State,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    if token != Some(&format!("Bearer {TOKEN}")) {
        return status(401, "Unauthorized", "Unauthorized");
    }
    if state.throttle > 0 {
        state.throttle -= 1;
        return status(429, "TooManyRequests", "Too many requests, please try again later.");
    }
    if state.unavailable > 0 {
        state.unavailable -= 1;
        return status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        );
    }
    let path = path.split('?').next().unwrap_or_default();
    if path == "/version" {
        return (200, json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0"}));
    }
    if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" && method == "POST" {
        let mut review: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let verb = review["spec"]["resourceAttributes"]["verb"].as_str().unwrap_or_default();
        let resource = review["spec"]["resourceAttributes"]["resource"].as_str();
        let allowed = resource == Some("secrets") && !state.forbidden.iter().any(|f| f == verb);
        review["status"] = json!({"allowed": allowed});
        return (201, review);
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (namespace, name) = match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "secrets"] => (ns.to_string(), None),
        ["api", "v1", "namespaces", ns, "secrets", name] => {
            (ns.to_string(), Some(name.to_string()))
        }
        _ => return status(404, "NotFound", "the server could not find the requested resource"),
    };
    let verb = match (method, &name) {
        ("GET", Some(_)) => "get",
        ("POST", None) => "create",
        ("PUT", Some(_)) => "update",
        _ => return status(405, "MethodNotAllowed", "the server does not allow this method"),
    };
    if state.forbidden.iter().any(|f| f == verb) {
        let what = name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default();
        return status(
            403,
            "Forbidden",
            &format!(
                "secrets{what} is forbidden: User \"tester\" cannot {verb} resource \"secrets\" \
                 in API group \"\" in the namespace \"{namespace}\""
            ),
        );
    }
    match verb {
        "get" => {
            let name = name.unwrap();
            match state.secrets.get(&(namespace.clone(), name.clone())) {
                Some(secret) => {
                    let secret = secret.clone();
                    // The conflicting writer: someone else changes the Secret right after this
                    // read, so the write that follows carries a stale resourceVersion.
                    if state.conflicts > 0 {
                        state.conflicts -= 1;
                        state.version += 1;
                        let version = state.version.to_string();
                        let stored = state.secrets.get_mut(&(namespace, name)).unwrap();
                        stored["data"]["other-writer"] = json!(encode(&version));
                        stored["metadata"]["resourceVersion"] = json!(version);
                    }
                    (200, secret)
                }
                None => {
                    let race = state.create_race == Some(0);
                    state.create_race = state.create_race.and_then(|n| n.checked_sub(1));
                    if race {
                        state.version += 1;
                        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": name, "namespace": namespace,
                                         "resourceVersion": state.version.to_string()},
                            "data": {"theirs": encode("first")}});
                        state.secrets.insert((namespace, name.clone()), secret);
                    }
                    status(404, "NotFound", &format!("secrets \"{name}\" not found"))
                }
            }
        }
        "create" => {
            let Ok(mut secret) = serde_json::from_str::<Value>(body) else {
                return status(400, "BadRequest", "the body is not a JSON object");
            };
            let name = secret["metadata"]["name"].as_str().unwrap_or_default().to_string();
            if !dns_subdomain(&name) {
                return status(
                    422,
                    "Invalid",
                    &format!("Secret \"{name}\" is invalid: metadata.name: Invalid value"),
                );
            }
            let key = (namespace.clone(), name.clone());
            if state.secrets.contains_key(&key) {
                return status(409, "AlreadyExists", &format!("secrets \"{name}\" already exists"));
            }
            state.version += 1;
            secret["metadata"]["namespace"] = json!(namespace);
            secret["metadata"]["resourceVersion"] = json!(state.version.to_string());
            secret["kind"] = json!("Secret");
            secret["apiVersion"] = json!("v1");
            state.secrets.insert(key, secret.clone());
            (201, secret)
        }
        _ => {
            let name = name.unwrap();
            let Ok(mut secret) = serde_json::from_str::<Value>(body) else {
                return status(400, "BadRequest", "the body is not a JSON object");
            };
            let key = (namespace.clone(), name.clone());
            let Some(current) = state.secrets.get(&key) else {
                return status(404, "NotFound", &format!("secrets \"{name}\" not found"));
            };
            if secret["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                return status(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on secrets \"{name}\": the object has \
                         been modified; please apply your changes to the latest version and try \
                         again"
                    ),
                );
            }
            if secret["type"] != current["type"] {
                return status(
                    422,
                    "Invalid",
                    &format!(
                        "Secret \"{name}\" is invalid: type: Invalid value: field is immutable"
                    ),
                );
            }
            state.version += 1;
            secret["metadata"]["resourceVersion"] = json!(state.version.to_string());
            state.secrets.insert(key, secret.clone());
            (200, secret)
        }
    }
}
