//! An in-process test double of GitHub's REST API, for the `github-secret` target.
//!
//! It follows these documents:
//! - "REST API endpoints for GitHub Actions Secrets" (docs.github.com/en/rest/actions/secrets):
//!   `GET .../secrets/public-key` (200 `{key_id, key}`, the key a base64 Curve25519 public key),
//!   `GET .../secrets/{secret_name}` (200 `{name, created_at, updated_at}`, with `visibility`
//!   and `selected_repositories_url` for an organization), `PUT .../secrets/{secret_name}` with
//!   `{encrypted_value, key_id}` (201 when created, 204 when updated; an organization secret
//!   also needs `visibility`, and `selected_repository_ids` when it is `selected`), under
//!   `/repos/{owner}/{repo}/actions`, `/repos/{owner}/{repo}/environments/{environment_name}`
//!   and `/orgs/{org}/actions`. The value must be a libsodium sealed box for the scope's key.
//! - "Secrets reference" (docs.github.com/en/actions/reference/secrets-reference): names of
//!   letters, digits and `_`, not starting with a digit or `GITHUB_`, stored upper-cased and
//!   matched case-insensitively; values of at most 48 KB.
//! - "Troubleshooting the REST API" and "Getting started with the REST API": errors are
//!   `{"message", "documentation_url", "status"}`; 401 "Bad credentials", 403 "Resource not
//!   accessible by personal access token" without the permission, 404 "Not Found" for what the
//!   token cannot see, 422 "Validation Failed" or "Invalid request" for a bad body; a request
//!   without `User-Agent` is refused.
//! - "Rate limits for the REST API": a secondary rate limit answers 403 with `retry-after`, or
//!   429; the primary one 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`.
//! - "REST API endpoints for repositories" (`GET /repos/{owner}/{repo}`, `id`) and
//!   "Authenticating as a GitHub App installation" (`POST
//!   /app/installations/{installation_id}/access_tokens` with an RS256 JWT whose `iss` is the
//!   App id, 201 `{token, expires_at}`).

#![allow(dead_code, reason = "each test binary uses part of the double")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_box::SecretKey;
use crypto_box::aead::OsRng;
use serde_json::{Value, json};

/// A token with the Secrets permission everywhere.
pub const TOKEN: &str = "ghp-writer";
/// A token that may read repositories but not their secrets: the secrets API is 403.
pub const NO_SECRETS: &str = "ghp-no-secrets";
pub const APP_ID: &str = "4242";
pub const INSTALLATION_ID: &str = "77";
/// The token an installation of the App gets.
const APP_TOKEN: &str = "ghs-installation";
const DOCS: &str = "https://docs.github.com/rest/actions/secrets";

#[derive(Debug, Clone)]
pub struct Stored {
    pub name: String,
    pub sealed: Vec<u8>,
    pub created_at: String,
    pub updated_at: String,
    pub visibility: Option<String>,
    pub selected: Vec<u64>,
}

pub struct ScopeState {
    pub key_id: String,
    key: SecretKey,
    pub secrets: Vec<Stored>,
}

#[derive(Default)]
pub struct State {
    /// By scope path: `repos/acme/app/actions`, `repos/acme/app/environments/prod`,
    /// `orgs/acme/actions`.
    pub scopes: HashMap<String, ScopeState>,
    /// Requests to refuse with a secondary rate limit before serving again.
    pub throttle: usize,
    /// Requests to fail with 500 before serving again.
    pub fail: usize,
    /// Requests to answer 200 with an empty body (no JSON) before serving again.
    pub garble: usize,
    /// The request after the next PUT (the read of its `updated_at`) is answered as `garble`.
    pub garble_after_put: bool,
    /// A secret name whose every PUT fails with 500.
    pub refuse_put: Option<String>,
    /// A clock in seconds since 2026-01-01, moved on by every write.
    clock: i64,
    /// Every request: method, path, and the JSON body.
    pub log: Vec<(String, String, Value)>,
}

pub struct GithubDouble {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Drop for GithubDouble {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Repositories the double knows, with their ids.
const REPOS: &[(&str, u64)] = &[("acme/app", 1001), ("acme/web", 1002), ("acme/api", 1003)];

/// Decodes a percent-encoded path or query part.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8().expect("UTF-8").into_owned()
}

impl GithubDouble {
    /// A double with repositories `acme/app` (environment `prod`), `acme/web`, `acme/api`, and
    /// organization `acme`.
    pub fn start() -> GithubDouble {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let mut state = State::default();
        for (i, scope) in
            ["repos/acme/app/actions", "repos/acme/app/environments/prod", "orgs/acme/actions"]
                .iter()
                .enumerate()
        {
            let key = SecretKey::generate(&mut OsRng);
            let key_id = format!("568250167242549743{i}");
            state.scopes.insert(scope.to_string(), ScopeState { key_id, key, secrets: vec![] });
        }
        let double = GithubDouble {
            url,
            state: Arc::new(Mutex::new(state)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: Arc::new(AtomicUsize::new(0)),
            server,
        };
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
                    let auth = header("Authorization");
                    let agent = header("User-Agent");
                    let version = header("X-GitHub-Api-Version");
                    let method = request.method().as_str().to_string();
                    let url = decode(request.url());
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let (status, reply, headers) = {
                        let mut state = state.lock().unwrap();
                        state.log.push((method.clone(), url.clone(), body.clone()));
                        if agent.is_none() {
                            (403, error("Request forbidden by administrative rules", 403), vec![])
                        } else if version.as_deref() != Some("2022-11-28") {
                            (400, error("Unsupported API version", 400), vec![])
                        } else {
                            answer(&mut state, &method, &url, auth.as_deref(), &body)
                        }
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let mut response = match reply {
                        Value::Null => {
                            tiny_http::Response::from_string("").with_status_code(status)
                        }
                        reply => tiny_http::Response::from_string(reply.to_string())
                            .with_status_code(status)
                            .with_header(
                                "Content-Type: application/json"
                                    .parse::<tiny_http::Header>()
                                    .unwrap(),
                            ),
                    };
                    for (name, value) in headers {
                        let header = format!("{name}: {value}").parse::<tiny_http::Header>();
                        response = response.with_header(header.unwrap());
                    }
                    let _ = request.respond(response);
                }
            });
        }
        double
    }

    /// Opens the sealed value of secret `name` of `scope` with the scope's private key.
    pub fn open(&self, scope: &str, name: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        let scope = &state.scopes[scope];
        let stored = scope.secrets.iter().find(|s| s.name.eq_ignore_ascii_case(name))?;
        let plain = scope.key.unseal(&stored.sealed).expect("a sealed box for the scope's key");
        Some(String::from_utf8(plain).unwrap())
    }

    pub fn secret(&self, scope: &str, name: &str) -> Option<Stored> {
        let state = self.state.lock().unwrap();
        state.scopes[scope].secrets.iter().find(|s| s.name.eq_ignore_ascii_case(name)).cloned()
    }

    /// Writes a secret behind SecretZero's back, as someone in the UI would: a new
    /// `updated_at`.
    pub fn tamper(&self, scope: &str, name: &str, value: &str) {
        let mut state = self.state.lock().unwrap();
        state.clock += 1;
        let at = timestamp(state.clock);
        let scope = state.scopes.get_mut(scope).unwrap();
        let sealed = scope.key.public_key().seal(&mut OsRng, value.as_bytes()).unwrap();
        let stored = scope.secrets.iter_mut().find(|s| s.name.eq_ignore_ascii_case(name)).unwrap();
        stored.sealed = sealed;
        stored.updated_at = at;
    }

    /// Deletes a secret behind SecretZero's back.
    pub fn remove(&self, scope: &str, name: &str) {
        let mut state = self.state.lock().unwrap();
        state.scopes.get_mut(scope).unwrap().secrets.retain(|s| !s.name.eq_ignore_ascii_case(name));
    }

    /// Requests with a method other than GET, outside the App token exchange.
    pub fn writes(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.log.iter().filter(|(m, p, _)| m != "GET" && !p.starts_with("/app/")).count()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }
}

fn timestamp(clock: i64) -> String {
    jiff::Timestamp::from_second(1_767_225_600 + clock).unwrap().to_string()
}

fn error(message: &str, status: u16) -> Value {
    json!({"message": message, "documentation_url": DOCS, "status": status.to_string()})
}

type Answer = (u16, Value, Vec<(String, String)>);

fn plain(status: u16, body: Value) -> Answer {
    (status, body, vec![])
}

/// GitHub's rule for secret names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

/// Checks an App's JWT against the App's public key.
fn app_jwt(jwt: &str) -> bool {
    let public =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/github/app-key.pub.pem"))
            .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    validation.set_issuer(&[APP_ID]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).is_ok()
}

fn answer(state: &mut State, method: &str, url: &str, auth: Option<&str>, body: &Value) -> Answer {
    if state.throttle > 0 {
        state.throttle -= 1;
        let message = "You have exceeded a secondary rate limit. Please wait a few minutes \
                       before you try again.";
        return (403, error(message, 403), vec![("retry-after".into(), "1".into())]);
    }
    if state.fail > 0 {
        state.fail -= 1;
        return plain(502, error("Server Error", 502));
    }
    if state.garble > 0 {
        state.garble -= 1;
        return plain(200, Value::Null);
    }
    if method == "PUT" && state.garble_after_put {
        state.garble_after_put = false;
        state.garble = 1;
    }
    if let Some(name) = &state.refuse_put
        && method == "PUT"
        && url.ends_with(&format!("/secrets/{name}"))
    {
        return plain(500, error("Server Error", 500));
    }
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let token = auth.and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")));

    if let ["app", "installations", id, "access_tokens"] = parts[..] {
        if method != "POST" || !token.is_some_and(app_jwt) {
            return plain(401, error("A JSON web token could not be decoded", 401));
        }
        if id != INSTALLATION_ID {
            return plain(404, error("Not Found", 404));
        }
        let reply = json!({"token": APP_TOKEN, "expires_at": "2026-01-01T01:00:00Z"});
        return plain(201, reply);
    }
    let secrets_allowed = match token {
        Some(TOKEN) | Some(APP_TOKEN) => true,
        Some(NO_SECRETS) => false,
        _ => return plain(401, error("Bad credentials", 401)),
    };
    if let ["repos", owner, repo] = parts[..] {
        let full = format!("{owner}/{repo}");
        return match REPOS.iter().find(|(name, _)| name.eq_ignore_ascii_case(&full)) {
            Some((name, id)) if method == "GET" => {
                plain(200, json!({"id": id, "name": repo, "full_name": name}))
            }
            _ => plain(404, error("Not Found", 404)),
        };
    }
    // The scope, and what follows `secrets/`.
    let (scope, rest) = match parts[..] {
        ["repos", owner, repo, "actions", "secrets", ref rest @ ..] => {
            (format!("repos/{owner}/{repo}/actions"), rest.to_vec())
        }
        ["repos", owner, repo, "environments", environment, "secrets", ref rest @ ..] => {
            (format!("repos/{owner}/{repo}/environments/{environment}"), rest.to_vec())
        }
        ["orgs", org, "actions", "secrets", ref rest @ ..] => {
            (format!("orgs/{org}/actions"), rest.to_vec())
        }
        _ => return plain(404, error("Not Found", 404)),
    };
    let Some(scope_key) = state.scopes.keys().find(|k| k.eq_ignore_ascii_case(&scope)).cloned()
    else {
        return plain(404, error("Not Found", 404));
    };
    if !secrets_allowed {
        return plain(403, error("Resource not accessible by personal access token", 403));
    }
    let org = scope_key.starts_with("orgs/");
    state.clock += 1;
    let now = timestamp(state.clock);
    let scope = state.scopes.get_mut(&scope_key).unwrap();
    match (method, &rest[..]) {
        ("GET", ["public-key"]) => {
            let key = STANDARD.encode(scope.key.public_key().as_bytes());
            plain(200, json!({"key_id": scope.key_id, "key": key}))
        }
        ("GET", [name]) => match scope.secrets.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
            Some(stored) => {
                let mut shown = json!({
                    "name": stored.name,
                    "created_at": stored.created_at,
                    "updated_at": stored.updated_at,
                });
                if let Some(visibility) = &stored.visibility {
                    shown["visibility"] = json!(visibility);
                    if visibility == "selected" {
                        shown["selected_repositories_url"] = json!(format!(
                            "https://api.github.com/{scope_key}/secrets/{}/repositories",
                            stored.name
                        ));
                    }
                }
                plain(200, shown)
            }
            None => plain(404, error("Not Found", 404)),
        },
        ("PUT", [name]) => {
            if !valid_name(name) {
                return plain(422, error("Invalid request.\n\nSecret name is invalid.", 422));
            }
            if body["key_id"].as_str() != Some(scope.key_id.as_str()) {
                return plain(422, error("Bad request - key_id is invalid.", 422));
            }
            let sealed = body["encrypted_value"].as_str().and_then(|v| STANDARD.decode(v).ok());
            let Some(sealed) = sealed.filter(|s| scope.key.unseal(s).is_ok()) else {
                return plain(422, error("Bad request - encrypted_value is invalid.", 422));
            };
            if scope.key.unseal(&sealed).unwrap().len() > 48 * 1024 {
                return plain(422, error("Secret value is too large.", 422));
            }
            let (visibility, selected) = if org {
                let visibility = body["visibility"].as_str().map(str::to_string);
                let Some(visibility) =
                    visibility.filter(|v| ["all", "private", "selected"].contains(&v.as_str()))
                else {
                    return plain(422, error("Invalid request.\n\nvisibility is missing.", 422));
                };
                let ids: Vec<u64> = body["selected_repository_ids"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                (Some(visibility), ids)
            } else {
                (None, vec![])
            };
            match scope.secrets.iter_mut().find(|s| s.name.eq_ignore_ascii_case(name)) {
                Some(stored) => {
                    stored.sealed = sealed;
                    stored.updated_at = now;
                    stored.visibility = visibility;
                    stored.selected = selected;
                    plain(204, Value::Null)
                }
                None => {
                    scope.secrets.push(Stored {
                        name: name.to_ascii_uppercase(),
                        sealed,
                        created_at: now.clone(),
                        updated_at: now,
                        visibility,
                        selected,
                    });
                    plain(201, json!({}))
                }
            }
        }
        _ => plain(404, error("Not Found", 404)),
    }
}
