//! HashiCorp Vault: the HTTP API client that the `vault-kv` target uses, with its auth.
//!
//! Address from `config: {address}` or `VAULT_ADDR`; namespace from `config: {namespace}` or
//! `VAULT_NAMESPACE`. Auth kinds:
//! - `token` (also `ambient`): `auth: {token}`, else `VAULT_TOKEN`, else `~/.vault-token`;
//! - `approle`: `role_id` (or `VAULT_ROLE_ID`), the secret id from `secret_id_file` or the
//!   variable named by `secret_id_env` (default `VAULT_SECRET_ID`), `mount` (default
//!   `approle`);
//! - `jwt`: `role`, the token from `token_file` or the variable named by `token_env` (a CI
//!   job's OIDC ID token), `mount` (default `jwt`).
//!
//! The login happens once, on the first request. Requests that meet 429 (a rate limit quota),
//! 5xx or a broken connection are retried with exponential backoff and jitter.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http::{connect_error, segment};
use super::{RemoteError, config_number};
use crate::secretfile::Provider;
/// What to check when a request gets no answer.
const UNREACHABLE: &str = "check VAULT_ADDR and that Vault is reachable";

#[derive(Debug)]
enum Login {
    Token(SecretString),
    AppRole { mount: String, role_id: String, secret_id: SecretString },
    Jwt { mount: String, role: String, jwt: SecretString },
}

/// A connection to one Vault server as one identity.
#[derive(Debug)]
pub struct Vault {
    http: reqwest::Client,
    address: String,
    namespace: Option<String>,
    login: Result<Login, RemoteError>,
    token: tokio::sync::OnceCell<Result<SecretString, RemoteError>>,
    attempts: usize,
}

/// Reads a credential from a file, without its trailing newline.
fn from_file(path: &str, what: &str) -> Result<SecretString, RemoteError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        RemoteError::new("credentials", format!("cannot read {what} from {path}: {e}")).auth()
    })?;
    Ok(SecretString::from(text.trim_end_matches(['\n', '\r']).to_string()))
}

fn from_env(variable: &str, what: &str) -> Result<SecretString, RemoteError> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
        _ => {
            Err(RemoteError::new("credentials", format!("no {what}: {variable} is not set")).auth())
        }
    }
}

fn login(provider: &Provider) -> Result<Login, RemoteError> {
    let get = |key: &str| provider.auth.get(key).map(String::as_str);
    let need = |key: &str| {
        get(key).map(str::to_string).ok_or_else(|| {
            RemoteError::config(format!(
                "provider `{}` (auth kind `{}`) has no `{key}` under `auth`",
                provider.name, provider.auth_kind
            ))
        })
    };
    match provider.auth_kind.as_str() {
        "token" | "ambient" => {
            if let Some(token) = get("token") {
                return Ok(Login::Token(SecretString::from(token.to_string())));
            }
            if let Ok(token) = from_env("VAULT_TOKEN", "token") {
                return Ok(Login::Token(token));
            }
            let home = std::env::var("HOME").unwrap_or_default();
            let file = format!("{home}/.vault-token");
            from_file(&file, "the token").map(Login::Token).map_err(|_| {
                RemoteError::new("credentials", "no Vault token found").auth().hint(
                    "set VAULT_TOKEN, log in with `vault login`, or use auth kind `jwt` or \
                         `approle`",
                )
            })
        }
        "approle" => {
            let role_id = match get("role_id") {
                Some(id) => id.to_string(),
                None => from_env("VAULT_ROLE_ID", "AppRole role id")?.expose_secret().to_string(),
            };
            let secret_id = match get("secret_id_file") {
                Some(path) => from_file(path, "the AppRole secret id")?,
                None => from_env(
                    get("secret_id_env").unwrap_or("VAULT_SECRET_ID"),
                    "AppRole secret id",
                )?,
            };
            let mount = get("mount").unwrap_or("approle").to_string();
            Ok(Login::AppRole { mount, role_id, secret_id })
        }
        "jwt" => {
            let role = need("role")?;
            let jwt = match (get("token_file"), get("token_env")) {
                (Some(path), _) => from_file(path, "the JWT")?,
                (None, Some(variable)) => from_env(variable, "JWT")?,
                (None, None) => {
                    return Err(RemoteError::config(format!(
                        "provider `{}` (auth kind `jwt`) needs `token_file` or `token_env` under \
                         `auth`",
                        provider.name
                    )));
                }
            };
            let mount = get("mount").unwrap_or("jwt").to_string();
            Ok(Login::Jwt { mount, role, jwt })
        }
        other => Err(RemoteError::config(format!(
            "provider `{}` has auth kind `{other}`, which Vault providers do not know",
            provider.name
        ))
        .hint("use `token`, `approle` or `jwt`")),
    }
}

/// A Vault API path, each segment encoded.
pub fn api_path(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty())
        .map(segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// What a failed request means, from the status and Vault's `{"errors": [...]}` body.
fn failure(status: u16, body: &Value) -> RemoteError {
    let message = body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "no message".into());
    let error = RemoteError::new(format!("HTTP {status}"), message);
    match status {
        401 | 403 => error.auth().hint(
            "the token is missing, expired, or its policy does not allow this path; `secretzero \
             test` shows which capabilities are missing",
        ),
        429 => error.hint("Vault kept rate-limiting after every retry; lower `max_in_flight`"),
        503 => error.hint("Vault is sealed, in standby or under maintenance"),
        _ => error,
    }
}

impl Vault {
    pub fn new(provider: &Provider) -> Result<Vault, RemoteError> {
        let login = login(provider);
        if let Err(error) = &login
            && error.code == "config"
        {
            return Err(error.clone());
        }
        let address = provider
            .config
            .get("address")
            .cloned()
            .or_else(|| std::env::var("VAULT_ADDR").ok().filter(|a| !a.is_empty()))
            .ok_or_else(|| {
                RemoteError::config(format!("provider `{}` has no Vault address", provider.name))
                    .hint("set `config: {address: https://...}` or VAULT_ADDR")
            })?;
        let namespace = provider
            .config
            .get("namespace")
            .cloned()
            .or_else(|| std::env::var("VAULT_NAMESPACE").ok().filter(|n| !n.is_empty()));
        let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as usize;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| RemoteError::new("connect", e.to_string()))?;
        Ok(Vault {
            http,
            address: address.trim_end_matches('/').to_string(),
            namespace,
            login,
            token: tokio::sync::OnceCell::new(),
            attempts,
        })
    }

    /// The token to send, logging in on first use.
    async fn token(&self) -> Result<SecretString, RemoteError> {
        let token = self
            .token
            .get_or_init(|| async {
                let login = self.login.as_ref().map_err(Clone::clone)?;
                let (mount, body) = match login {
                    Login::Token(token) => return Ok(token.clone()),
                    Login::AppRole { mount, role_id, secret_id } => {
                        let secret_id = secret_id.expose_secret();
                        (mount, serde_json::json!({"role_id": role_id, "secret_id": secret_id}))
                    }
                    Login::Jwt { mount, role, jwt } => {
                        (mount, serde_json::json!({"role": role, "jwt": jwt.expose_secret()}))
                    }
                };
                let path = format!("auth/{}/login", api_path(&[mount]));
                let post = reqwest::Method::POST;
                let (status, reply) = self.send(post, &path, Some(body), None).await?;
                if !(200..300).contains(&status) {
                    return Err(failure(status, &reply).auth());
                }
                match reply["auth"]["client_token"].as_str() {
                    Some(token) => Ok(SecretString::from(token.to_string())),
                    None => {
                        let message = "the login reply holds no client token";
                        Err(RemoteError::new("login", message).auth())
                    }
                }
            })
            .await;
        token.clone()
    }

    /// One request, retried on 429, 5xx and connection failures, with exponential backoff
    /// and jitter. Returns the status and the JSON body (`null` when empty).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&SecretString>,
    ) -> Result<(u16, Value), RemoteError> {
        let url = format!("{}/v1/{path}", self.address);
        let attempt = || async {
            let mut request = self.http.request(method.clone(), &url);
            if let Some(namespace) = &self.namespace {
                request = request.header("X-Vault-Namespace", namespace);
            }
            if let Some(token) = token {
                request = request.header("X-Vault-Token", token.expose_secret());
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let json = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            if status == 429 || ((500..600).contains(&status) && status != 501) {
                return Err(failure(status, &json));
            }
            Ok((status, json))
        };
        let backoff = ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.attempts.saturating_sub(1));
        // Every error that reaches here is worth retrying: other statuses are answers.
        attempt.retry(backoff).await
    }

    /// An authenticated request.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), RemoteError> {
        let token = self.token().await?;
        self.send(method, path, body, Some(&token)).await
    }

    /// Turns a reply that is not a success into the error to show.
    pub fn check(status: u16, body: Value) -> Result<Value, RemoteError> {
        if (200..300).contains(&status) { Ok(body) } else { Err(failure(status, &body)) }
    }
}
