//! An in-process test double of GitLab's REST API v4, for the `gitlab-variable` target.
//!
//! It follows these documents:
//! - Project-level CI/CD variables API (docs.gitlab.com/api/project_level_variables/) and
//!   Group-level CI/CD variables API (docs.gitlab.com/api/group_level_variables/):
//!   `GET /projects/:id/variables` (a list, `per_page`), `GET /projects/:id/variables/:key`,
//!   `POST /projects/:id/variables` (201), `PUT /projects/:id/variables/:key` (200), the same
//!   under `/groups/:id`; `:id` is a numeric id or the URL-encoded full path. A key may exist
//!   once per `environment_scope`: a create with a key and scope that exist is 400 with
//!   `{"message": {"key": ["(KEY) has already been taken"]}}`; a GET or PUT that matches
//!   several variables is 409 "There are multiple variables with provided parameters. Please
//!   use 'filter[environment_scope]'", and `filter[environment_scope]` selects one. A hidden
//!   variable (`masked_and_hidden` at creation, GitLab 17.4) answers `"value": null` and
//!   `"hidden": true`.
//! - GitLab CI/CD variables, "Mask a CI/CD variable" (docs.gitlab.com/ci/variables/), with the
//!   rule GitLab applies (`Ci::Maskable`): a masked value has at least 8 characters and no
//!   whitespace, and unless `raw` only `A-Z a-z 0-9 + / = - _ @ : . ~`; else 400
//!   `{"message": {"value": ["is invalid"]}}`. Keys: at most 255 characters of letters,
//!   digits and `_`.
//! - REST API troubleshooting, "Status codes" (docs.gitlab.com/api/rest/troubleshooting/): 201
//!   for a create, 200 for a read or an update, 400 with `{"message": {"<attribute>":
//!   ["<error>", ...]}}` for a failed validation, 401 `{"message": "401 Unauthorized"}` for a
//!   missing or bad token, 403 `{"message": "403 Forbidden"}` without the role, 404
//!   `{"message": "404 Project Not Found"}` (or `Group`, `Variable`); a parameter missing is
//!   Grape's `{"error": "value is missing"}`.
//! - GitLab.com rate limits (docs.gitlab.com/user/gitlab_com/rate_limits/): 429 with a
//!   `Retry-After` header and the plain-text body "Retry later".
//! - Users API, `GET /user` (docs.gitlab.com/api/users/): the token's user.

#![allow(dead_code, reason = "each test binary uses part of the double")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// A token with the Maintainer role on every project and Owner on every group.
pub const MAINTAINER: &str = "glpat-maintainer";
/// A token whose user is only a Developer: `GET /user` works, the variables API is 403.
pub const DEVELOPER: &str = "glpat-developer";

#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub key: String,
    pub value: String,
    pub scope: String,
    pub protected: bool,
    pub masked: bool,
    pub hidden: bool,
    pub raw: bool,
    pub variable_type: String,
    pub description: Option<String>,
}

#[derive(Debug)]
pub struct Owner {
    /// `projects` or `groups`.
    pub kind: &'static str,
    pub id: u64,
    pub path: String,
    pub variables: Vec<Variable>,
}

#[derive(Debug, Default)]
pub struct State {
    pub owners: Vec<Owner>,
    /// Requests to refuse with 429 before serving again.
    pub throttle: usize,
    /// Requests to fail with 500 before serving again.
    pub fail: usize,
    /// Requests to answer 200 with an HTML page (a proxy's login page, say) before serving
    /// again.
    pub garble: usize,
    /// Every request: method, decoded path with query, and the JSON body.
    pub log: Vec<(String, String, Value)>,
}

pub struct GitlabDouble {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Drop for GitlabDouble {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Percent-decodes a path or query part.
/// Decodes a percent-encoded path or query part.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8().expect("UTF-8").into_owned()
}

impl GitlabDouble {
    /// A double with project 42 (`team/app`) and group 7 (`team`).
    pub fn start() -> GitlabDouble {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let state = State {
            owners: vec![
                Owner { kind: "projects", id: 42, path: "team/app".into(), variables: vec![] },
                Owner { kind: "groups", id: 7, path: "team".into(), variables: vec![] },
            ],
            ..State::default()
        };
        let double = GitlabDouble {
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
                    let token = request
                        .headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case("PRIVATE-TOKEN"))
                        .map(|h| h.value.as_str().to_string());
                    let method = request.method().as_str().to_string();
                    let url = request.url().to_string();
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let (status, reply) = {
                        let mut state = state.lock().unwrap();
                        state.log.push((method.clone(), decode(&url), body.clone()));
                        answer(&mut state, &method, &url, token.as_deref(), &body)
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let json = "Content-Type: application/json".parse::<tiny_http::Header>();
                    let response = match reply {
                        Reply::Json(reply) => tiny_http::Response::from_string(reply.to_string())
                            .with_status_code(status)
                            .with_header(json.unwrap())
                            .boxed(),
                        Reply::Html(page) => tiny_http::Response::from_string(page)
                            .with_status_code(status)
                            .with_header(
                                "Content-Type: text/html".parse::<tiny_http::Header>().unwrap(),
                            )
                            .boxed(),
                        Reply::Throttled => tiny_http::Response::from_string("Retry later\n")
                            .with_status_code(429)
                            .with_header("Retry-After: 1".parse::<tiny_http::Header>().unwrap())
                            .boxed(),
                    };
                    let _ = request.respond(response);
                }
            });
        }
        double
    }

    /// The variables of the project or group at `path`.
    pub fn variables(&self, path: &str) -> Vec<Variable> {
        let state = self.state.lock().unwrap();
        state.owners.iter().find(|o| o.path == path).map(|o| o.variables.clone()).unwrap()
    }

    /// The variable `key` in `scope` of `path`.
    pub fn variable(&self, path: &str, key: &str, scope: &str) -> Option<Variable> {
        self.variables(path).into_iter().find(|v| v.key == key && v.scope == scope)
    }

    /// Sets a variable by hand, as someone in the UI would.
    pub fn put(&self, path: &str, variable: Variable) {
        let mut state = self.state.lock().unwrap();
        let owner = state.owners.iter_mut().find(|o| o.path == path).unwrap();
        owner.variables.retain(|v| !(v.key == variable.key && v.scope == variable.scope));
        owner.variables.push(variable);
    }

    /// Requests with a method other than GET.
    pub fn writes(&self) -> usize {
        self.state.lock().unwrap().log.iter().filter(|(m, _, _)| m != "GET").count()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }
}

/// A plain variable in scope `*`, as tests seed them.
pub fn plain(key: &str, value: &str, scope: &str) -> Variable {
    Variable {
        key: key.into(),
        value: value.into(),
        scope: scope.into(),
        protected: false,
        masked: false,
        hidden: false,
        raw: false,
        variable_type: "env_var".into(),
        description: None,
    }
}

enum Reply {
    Json(Value),
    Throttled,
    Html(&'static str),
}

fn message(text: &str) -> Reply {
    Reply::Json(json!({ "message": text }))
}

fn shown(variable: &Variable) -> Value {
    json!({
        "variable_type": variable.variable_type,
        "key": variable.key,
        "value": if variable.hidden { Value::Null } else { json!(variable.value) },
        "protected": variable.protected,
        "masked": variable.masked,
        "hidden": variable.hidden,
        "raw": variable.raw,
        "environment_scope": variable.scope,
        "description": variable.description,
    })
}

/// `Ci::Maskable`: the rule GitLab validates a masked value with.
fn maskable(value: &str, raw: bool) -> bool {
    let long = value.chars().count() >= 8;
    let no_space = !value.chars().any(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let charset = value.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, '+' | '/' | '=' | '-' | '_' | '@' | ':' | '.' | '~')
    });
    long && no_space && (raw || charset)
}

fn answer(
    state: &mut State,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Reply) {
    if state.throttle > 0 {
        state.throttle -= 1;
        return (429, Reply::Throttled);
    }
    if state.fail > 0 {
        state.fail -= 1;
        return (500, message("500 Internal Server Error"));
    }
    if state.garble > 0 {
        state.garble -= 1;
        return (200, Reply::Html("<html><title>Sign in</title></html>"));
    }
    if !matches!(token, Some(MAINTAINER) | Some(DEVELOPER)) {
        return (401, message("401 Unauthorized"));
    }
    let Some(rest) = url.strip_prefix("/api/v4/") else {
        return (404, Reply::Json(json!({"error": "404 Not Found"})));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let filter =
        query.iter().find(|(k, _)| k == "filter[environment_scope]").map(|(_, v)| v.clone());
    if path == "user" && method == "GET" {
        let name = if token == Some(MAINTAINER) { "maintainer" } else { "developer" };
        return (200, Reply::Json(json!({"id": 1, "username": name})));
    }

    // `<kind>/<id>/variables[/<key>]`, the id encoded when it is a path.
    let parts: Vec<&str> = path.split('/').collect();
    let (kind, id, key) = match parts.as_slice() {
        [kind, id, "variables"] => (*kind, decode(id), None),
        [kind, id, "variables", key] => (*kind, decode(id), Some(decode(key))),
        _ => return (404, Reply::Json(json!({"error": "404 Not Found"}))),
    };
    let what = if kind == "groups" { "Group" } else { "Project" };
    let Some(owner) = state
        .owners
        .iter_mut()
        .find(|o| o.kind == kind && (o.id.to_string() == id || o.path == id))
    else {
        return (404, message(&format!("404 {what} Not Found")));
    };
    if token != Some(MAINTAINER) {
        return (403, message("403 Forbidden"));
    }

    let matching = |variables: &[Variable], key: &str| -> Vec<usize> {
        (0..variables.len())
            .filter(|&i| {
                variables[i].key == key && filter.as_ref().is_none_or(|s| variables[i].scope == *s)
            })
            .collect()
    };
    match (method, key) {
        ("GET", None) => {
            let per_page = query
                .iter()
                .find(|(k, _)| k == "per_page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(20);
            let list: Vec<Value> = owner.variables.iter().take(per_page).map(shown).collect();
            (200, Reply::Json(Value::Array(list)))
        }
        ("GET", Some(key)) => match matching(&owner.variables, &key).as_slice() {
            [] => (404, message("404 Variable Not Found")),
            [one] => (200, Reply::Json(shown(&owner.variables[*one]))),
            _ => (
                409,
                message(
                    "There are multiple variables with provided parameters. Please use \
                     'filter[environment_scope]'",
                ),
            ),
        },
        ("POST", None) => {
            let key = body["key"].as_str().unwrap_or_default().to_string();
            let Some(value) = body["value"].as_str() else {
                return (400, Reply::Json(json!({"error": "value is missing"})));
            };
            if key.is_empty() {
                return (400, Reply::Json(json!({"error": "key is missing"})));
            }
            if key.len() > 255 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return (
                    400,
                    Reply::Json(json!({"message": {"key": [
                        "is too long (maximum is 255 characters)",
                        "can contain only letters, digits and '_'."]}})),
                );
            }
            let hidden = body["masked_and_hidden"] == json!(true);
            let variable = Variable {
                key: key.clone(),
                value: value.to_string(),
                scope: body["environment_scope"].as_str().unwrap_or("*").to_string(),
                protected: body["protected"] == json!(true),
                masked: body["masked"] == json!(true) || hidden,
                hidden,
                raw: body["raw"] == json!(true),
                variable_type: body["variable_type"].as_str().unwrap_or("env_var").to_string(),
                description: body["description"].as_str().map(str::to_string),
            };
            if variable.masked && !maskable(value, variable.raw) {
                return (400, Reply::Json(json!({"message": {"value": ["is invalid"]}})));
            }
            if owner.variables.iter().any(|v| v.key == key && v.scope == variable.scope) {
                let taken = format!("({key}) has already been taken");
                return (400, Reply::Json(json!({"message": {"key": [taken]}})));
            }
            let reply = shown(&variable);
            owner.variables.push(variable);
            (201, Reply::Json(reply))
        }
        ("PUT", Some(key)) => {
            let index = match matching(&owner.variables, &key).as_slice() {
                [] => return (404, message("404 Variable Not Found")),
                [one] => *one,
                _ => {
                    return (
                        409,
                        message(
                            "There are multiple variables with provided parameters. Please use \
                             'filter[environment_scope]'",
                        ),
                    );
                }
            };
            let mut variable = owner.variables[index].clone();
            if let Some(value) = body["value"].as_str() {
                variable.value = value.to_string();
            }
            for (name, field) in [
                ("protected", &mut variable.protected),
                ("masked", &mut variable.masked),
                ("raw", &mut variable.raw),
            ] {
                if let Some(flag) = body[name].as_bool() {
                    *field = flag;
                }
            }
            if variable.hidden && !variable.masked {
                return (400, Reply::Json(json!({"message": {"masked": ["cannot be unmasked"]}})));
            }
            if let Some(kind) = body["variable_type"].as_str() {
                variable.variable_type = kind.to_string();
            }
            if let Some(scope) = body["environment_scope"].as_str() {
                variable.scope = scope.to_string();
            }
            if let Some(description) = body["description"].as_str() {
                variable.description = Some(description.to_string());
            }
            if variable.masked && !maskable(&variable.value, variable.raw) {
                return (400, Reply::Json(json!({"message": {"value": ["is invalid"]}})));
            }
            owner.variables[index] = variable.clone();
            (200, Reply::Json(shown(&variable)))
        }
        _ => (405, Reply::Json(json!({"error": "405 Method Not Allowed"}))),
    }
}
