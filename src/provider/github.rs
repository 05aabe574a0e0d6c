//! GitHub: the REST API client that the `github-secret` target uses, with its auth.
//!
//! The API root is `config: {api_url}` (GitHub Enterprise Server: `https://HOST/api/v3`), else
//! `https://api.github.com`. Auth kinds:
//! - `token` (also `ambient`, the default): `auth: {token}`, else `GITHUB_TOKEN`, else
//!   `GH_TOKEN`; a fine-grained or classic personal access token, or an App's installation
//!   token made elsewhere.
//! - `app`: a GitHub App's `app_id` and `installation_id`, and its private key (PEM) from
//!   `private_key_file` or the variable named by `private_key_env`. SecretZero signs an RS256
//!   JWT with the key and exchanges it once per run at
//!   `POST /app/installations/{installation_id}/access_tokens` ("Authenticating as a GitHub
//!   App installation").
//!
//! Every request sends `Accept: application/vnd.github+json`, `X-GitHub-Api-Version:
//! 2022-11-28` and a User-Agent, which the API requires. Requests that meet 429, 5xx, a 403
//! that carries rate-limit signs (`retry-after`, or `x-ratelimit-remaining: 0`) or a broken
//! connection are retried with exponential backoff and jitter; the wait the reply asks for is
//! honoured first (at most 30 s a time). A plain 403 is a permission failure.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::http::connect_error;
use super::{RemoteError, config_number};
use crate::secretfile::Provider;

const DEFAULT_API: &str = "https://api.github.com";
/// The longest wait a reply may ask for before the next attempt.
const MAX_WAIT: Duration = Duration::from_secs(30);
const API_VERSION: &str = "2022-11-28";
/// What to check when a request gets no answer.
const UNREACHABLE: &str = "check the provider's `api_url` and that GitHub is reachable";

/// How a connection proves who it is.
enum Credentials {
    Token(SecretString),
    /// A GitHub App installation: the JWT is signed, and exchanged for a token, on first use.
    App {
        app_id: String,
        installation_id: String,
        key: SecretString,
        token: OnceCell<SecretString>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token"),
            Credentials::App { app_id, installation_id, .. } => f
                .debug_struct("App")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .finish_non_exhaustive(),
        }
    }
}

/// A connection to one GitHub API as one identity.
#[derive(Debug)]
pub struct Github {
    http: reqwest::Client,
    api: String,
    credentials: Result<Credentials, RemoteError>,
    attempts: usize,
}

/// An API reply: the status and the JSON body (`null` when empty or not JSON). GitHub never
/// returns secret values, but `Debug` shows the status only all the same.
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("status", &self.status).finish_non_exhaustive()
    }
}

fn missing_token() -> RemoteError {
    RemoteError::new("credentials", "no GitHub token: neither GITHUB_TOKEN nor GH_TOKEN is set")
        .auth()
        .hint(
            "set GITHUB_TOKEN to a token that may write Actions secrets (a workflow's own \
             GITHUB_TOKEN cannot), or use auth kind `app`",
        )
}

fn credentials(provider: &Provider) -> Result<Credentials, RemoteError> {
    let get = |key: &str| provider.auth.get(key).map(String::as_str);
    match provider.auth_kind.as_str() {
        "token" | "ambient" => {
            if let Some(token) = get("token") {
                return Ok(Credentials::Token(SecretString::from(token.to_string())));
            }
            ["GITHUB_TOKEN", "GH_TOKEN"]
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|t| !t.is_empty()))
                .map(|token| Credentials::Token(SecretString::from(token)))
                .ok_or_else(missing_token)
        }
        "app" => {
            let need = |key: &str| {
                get(key).map(str::to_string).ok_or_else(|| {
                    RemoteError::config(format!(
                        "provider `{}` (auth kind `app`) needs `{key}` under `auth`",
                        provider.name
                    ))
                })
            };
            let app_id = need("app_id")?;
            let installation_id = need("installation_id")?;
            for (key, value) in [("app_id", &app_id), ("installation_id", &installation_id)] {
                if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()) {
                    return Err(RemoteError::config(format!(
                        "provider `{}`: `{key}` is `{value}`; it must be a number",
                        provider.name
                    )));
                }
            }
            let key = match (get("private_key_file"), get("private_key_env")) {
                (Some(path), _) => std::fs::read_to_string(path).map_err(|e| {
                    RemoteError::new(
                        "credentials",
                        format!("cannot read the GitHub App's private key `{path}`: {e}"),
                    )
                    .auth()
                })?,
                (None, Some(variable)) => match std::env::var(variable) {
                    Ok(key) if !key.is_empty() => key,
                    _ => {
                        return Err(RemoteError::new(
                            "credentials",
                            format!("the GitHub App's private key: {variable} is not set"),
                        )
                        .auth());
                    }
                },
                (None, None) => {
                    return Err(RemoteError::config(format!(
                        "provider `{}` (auth kind `app`) needs `private_key_file` or \
                         `private_key_env` under `auth`",
                        provider.name
                    )));
                }
            };
            Ok(Credentials::App {
                app_id,
                installation_id,
                key: SecretString::from(key),
                token: OnceCell::new(),
            })
        }
        other => Err(RemoteError::config(format!(
            "provider `{}` has auth kind `{other}`, which GitHub providers do not know",
            provider.name
        ))
        .hint("use `token` or `app`")),
    }
}

/// What a failed reply means, from the status and GitHub's `{"message", "documentation_url"}`
/// body (a 422 may add `errors`).
pub fn failure(reply: &Reply) -> RemoteError {
    let mut message = reply.body["message"].as_str().unwrap_or("no message").to_string();
    if let Some(errors) = reply.body["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
            .map(|e| match e {
                Value::String(text) => text.clone(),
                other => other["message"]
                    .as_str()
                    .or_else(|| other["code"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            })
            .filter(|d| !d.is_empty())
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    let error = RemoteError::new(format!("HTTP {}", reply.status), message);
    match reply.status {
        401 => error.auth().hint("the token is missing, expired or revoked"),
        403 => error.auth().hint(
            "the token needs the Secrets permission (read and write) on the repository (and \
             Environments for an environment's secrets), or Organization secrets for an \
             organization's; a classic token needs `repo` (and `admin:org` for an organization)",
        ),
        404 => error.hint(
            "it does not exist, or the token cannot see it: GitHub answers 404 rather than 403 \
             when a token may not read a repository or its secrets",
        ),
        429 => error.hint("GitHub kept rate-limiting after every retry; lower `max_in_flight`"),
        500..=599 => error.hint(
            "GitHub failed on its side after every retry; check githubstatus.com (or your \
             Enterprise server), then sync again (raise `max_attempts` to retry longer)",
        ),
        _ => error,
    }
}

/// The wait a rate-limited reply asks for, and whether it is rate-limited at all: 429, or a 403
/// with `retry-after` or `x-ratelimit-remaining: 0` ("Rate limits for the REST API").
fn rate_limited(response: &reqwest::Response) -> Option<Option<Duration>> {
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after").and_then(|s| s.trim().parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    if status != 429 && !(status == 403 && (retry_after.is_some() || exhausted)) {
        return None;
    }
    let wait = match (retry_after, header("x-ratelimit-reset")) {
        (Some(seconds), _) => Some(Duration::from_secs(seconds)),
        (None, Some(reset)) if exhausted => {
            let reset = reset.trim().parse::<i64>().ok()?;
            let now = jiff::Timestamp::now().as_second();
            Some(Duration::from_secs(reset.saturating_sub(now).max(1) as u64))
        }
        _ => None,
    };
    Some(wait.map(|w| w.min(MAX_WAIT)))
}

impl Github {
    pub fn new(provider: &Provider) -> Result<Github, RemoteError> {
        let credentials = credentials(provider);
        if let Err(error) = &credentials
            && error.code == "config"
        {
            return Err(error.clone());
        }
        let api = provider.config.get("api_url").cloned().unwrap_or_else(|| DEFAULT_API.into());
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            return Err(RemoteError::config(format!(
                "provider `{}`: `api_url` is `{api}`; it must start with https:// (or http://)",
                provider.name
            )));
        }
        let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as usize;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("secretzero/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteError::new("connect", e.to_string()))?;
        let api = api.trim_end_matches('/').to_string();
        Ok(Github { http, api, credentials, attempts })
    }

    /// The token to send: the configured one, or the App installation's, made on first use.
    async fn token(&self) -> Result<SecretString, RemoteError> {
        match self.credentials.as_ref().map_err(Clone::clone)? {
            Credentials::Token(token) => Ok(token.clone()),
            Credentials::App { app_id, installation_id, key, token } => token
                .get_or_try_init(|| self.installation_token(app_id, installation_id, key))
                .await
                .cloned(),
        }
    }

    /// Signs the App's JWT and exchanges it for an installation token.
    async fn installation_token(
        &self,
        app_id: &str,
        installation_id: &str,
        key: &SecretString,
    ) -> Result<SecretString, RemoteError> {
        let bad_key = |e: jsonwebtoken::errors::Error| {
            RemoteError::new("credentials", format!("the GitHub App's private key: {e}"))
                .auth()
                .hint("use the PEM file GitHub made for the App (`-----BEGIN RSA PRIVATE KEY`)")
        };
        let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.expose_secret().as_bytes())
            .map_err(bad_key)?;
        // GitHub allows at most ten minutes, and asks for `iat` a minute back against clock
        // drift.
        let now = jiff::Timestamp::now().as_second();
        let claims = json!({"iat": now - 60, "exp": now + 540, "iss": app_id});
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        let jwt = jsonwebtoken::encode(&header, &claims, &signing).map_err(bad_key)?;
        let path = format!("app/installations/{installation_id}/access_tokens");
        let reply = self.send(reqwest::Method::POST, &path, None, &SecretString::from(jwt)).await?;
        if reply.status != 201 {
            let error = failure(&reply).during("exchanging the GitHub App's JWT for a token");
            let hint = match reply.status {
                401 => "check `app_id`, the private key, and this machine's clock",
                404 => "check `installation_id`: the App must be installed on the account",
                _ => return Err(error),
            };
            return Err(error.auth().hint(hint));
        }
        match reply.body["token"].as_str() {
            Some(token) => Ok(SecretString::from(token.to_string())),
            None => {
                Err(RemoteError::new("credentials", "GitHub returned no installation token").auth())
            }
        }
    }

    /// One authenticated request to `path` (under the API root, already encoded), retried
    /// when rate-limited, on 5xx and on connection failures. Every other status is an answer
    /// for the caller.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, RemoteError> {
        let token = self.token().await?;
        self.send(method, path, body, &token).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: &SecretString,
    ) -> Result<Reply, RemoteError> {
        let url = format!("{}/{path}", self.api);
        let attempt = || async {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", API_VERSION);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let status = response.status().as_u16();
            let limited = rate_limited(&response);
            let bytes = response.bytes().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let reply = Reply { status, body };
            if let Some(wait) = limited {
                if let Some(wait) = wait {
                    tokio::time::sleep(wait).await;
                }
                let mut error = failure(&reply);
                error.auth = false;
                error.hint = Some(
                    "GitHub kept rate-limiting after every retry; lower `max_in_flight`, or wait \
                     for the limit to reset"
                        .into(),
                );
                return Err(error);
            }
            if (500..600).contains(&status) {
                return Err(failure(&reply));
            }
            Ok(reply)
        };
        let backoff = ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.attempts.saturating_sub(1));
        // Every error that reaches here is worth retrying: other statuses are answers.
        attempt.retry(backoff).await
    }

    /// Turns a reply that is not a success into the error to show.
    pub fn check(reply: Reply) -> Result<Value, RemoteError> {
        if (200..300).contains(&reply.status) { Ok(reply.body) } else { Err(failure(&reply)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_githubs_error_body() {
        let reply = |status, body| failure(&Reply { status, body });
        let denied = reply(403, json!({"message": "Resource not accessible by integration"}));
        assert!(denied.auth);
        assert_eq!(denied.message, "Resource not accessible by integration");
        let errors = json!([{"code": "invalid", "message": "bad key_id"}]);
        let invalid = reply(422, json!({"message": "Validation Failed", "errors": errors}));
        assert_eq!(invalid.to_string(), "HTTP 422: Validation Failed (bad key_id)");
        assert!(!reply(404, json!({"message": "Not Found"})).auth);
    }
}
