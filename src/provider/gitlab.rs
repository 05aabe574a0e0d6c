//! GitLab: the REST API v4 client that the `gitlab-variable` target uses, with its auth.
//!
//! The instance is `config: {url}`, else `CI_SERVER_URL` (set in every GitLab CI job), else
//! `https://gitlab.com`. Auth kind `token` (also `ambient`): `auth: {token}`, else
//! `GITLAB_TOKEN`; the token goes in the `PRIVATE-TOKEN` header. A CI job's `CI_JOB_TOKEN` is
//! never used: GitLab does not let job tokens call the variables API.
//!
//! Requests that meet 429, 5xx or a broken connection are retried with exponential backoff and
//! jitter; a 429's `Retry-After` is waited out first (at most 30 s a time).

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http::connect_error;
use super::{RemoteError, config_number};
use crate::secretfile::Provider;

const DEFAULT_URL: &str = "https://gitlab.com";
/// What to check when a request gets no answer.
const UNREACHABLE: &str = "check the provider's `url` and that GitLab is reachable";
/// The longest `Retry-After` honoured before the next attempt.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A connection to one GitLab instance as one token.
#[derive(Debug)]
pub struct Gitlab {
    http: reqwest::Client,
    /// The API root, `<url>/api/v4`.
    api: String,
    token: Result<SecretString, RemoteError>,
    attempts: usize,
}

/// An API reply: the status and the JSON body (`null` when empty or not JSON). The body of a
/// variable holds its value, so `Debug` shows the status only.
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("status", &self.status).finish_non_exhaustive()
    }
}

fn token(provider: &Provider) -> Result<SecretString, RemoteError> {
    match provider.auth_kind.as_str() {
        "token" | "ambient" => {
            if let Some(token) = provider.auth.get("token") {
                return Ok(SecretString::from(token.clone()));
            }
            match std::env::var("GITLAB_TOKEN") {
                Ok(token) if !token.is_empty() => Ok(SecretString::from(token)),
                _ => Err(RemoteError::new(
                    "credentials",
                    "no GitLab token: GITLAB_TOKEN is not set",
                )
                .auth()
                .hint(
                    "set GITLAB_TOKEN to a personal, group or project access token with the \
                         `api` scope and the Maintainer role (CI_JOB_TOKEN cannot manage \
                         variables)",
                )),
            }
        }
        other => Err(RemoteError::config(format!(
            "provider `{}` has auth kind `{other}`, which GitLab providers do not know",
            provider.name
        ))
        .hint("use `token`")),
    }
}

/// What a failed reply means, from the status and GitLab's `{"message": ...}` or
/// `{"error": ...}` body. A validation message is an object of attribute -> messages
/// (`{"value": ["is invalid"]}`); GitLab never echoes values in them.
pub fn failure(reply: &Reply) -> RemoteError {
    let message = match (&reply.body["message"], &reply.body["error"]) {
        (Value::String(text), _) | (_, Value::String(text)) => text.clone(),
        (Value::Object(fields), _) => fields
            .iter()
            .map(|(name, why)| {
                let why = match why {
                    Value::Array(items) => {
                        items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
                    }
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                format!("{name} {why}")
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => "no message".into(),
    };
    let error = RemoteError::new(format!("HTTP {}", reply.status), message);
    match reply.status {
        401 => error.auth().hint("the token is missing, expired or revoked"),
        403 => error.auth().hint(
            "the token needs the `api` scope, and its user the Maintainer role on the project \
             (Owner on a group)",
        ),
        404 => error.hint(
            "the project or group does not exist, or the token's user cannot see it; a project \
             is its numeric id or its full path (`group/app`)",
        ),
        409 => error.hint("name the variable's `environment_scope`"),
        429 => error.hint("GitLab kept rate-limiting after every retry; lower `max_in_flight`"),
        500..=599 => error.hint(
            "GitLab failed on its side after every retry; check its status page or logs, then \
             sync again (raise `max_attempts` to retry longer)",
        ),
        _ => error,
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds = response.headers().get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

impl Gitlab {
    pub fn new(provider: &Provider) -> Result<Gitlab, RemoteError> {
        let token = token(provider);
        if let Err(error) = &token
            && error.code == "config"
        {
            return Err(error.clone());
        }
        let url = provider
            .config
            .get("url")
            .cloned()
            .or_else(|| std::env::var("CI_SERVER_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_URL.into());
        // `CI_API_V4_URL` and the API's own address end in `/api/v4`, which every request adds.
        let url = url.trim_end_matches('/');
        let url = url.strip_suffix("/api/v4").unwrap_or(url).to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(RemoteError::config(format!(
                "provider `{}`: `url` is `{url}`; it must start with https:// (or http://)",
                provider.name
            )));
        }
        let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as usize;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| RemoteError::new("connect", e.to_string()))?;
        let api = format!("{}/api/v4", url.trim_end_matches('/'));
        Ok(Gitlab { http, api, token, attempts })
    }

    /// One authenticated request to `path` (under `/api/v4/`, already encoded), retried on
    /// 429, 5xx and connection failures. Every other status is an answer for the caller.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, RemoteError> {
        let token = self.token.as_ref().map_err(Clone::clone)?;
        let url = format!("{}/{path}", self.api);
        let attempt = || async {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("PRIVATE-TOKEN", token.expose_secret());
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let status = response.status().as_u16();
            let wait = if status == 429 { retry_after(&response) } else { None };
            let bytes = response.bytes().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let reply = Reply { status, body };
            if status == 429 || (500..600).contains(&status) {
                if let Some(wait) = wait {
                    tokio::time::sleep(wait).await;
                }
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
    use serde_json::json;

    #[test]
    fn a_reply_never_shows_its_body() {
        let reply = Reply { status: 200, body: json!({"key": "A", "value": "CANARY-debug"}) };
        assert!(!format!("{reply:?}").contains("CANARY"));
    }

    #[test]
    fn an_api_address_is_taken_for_its_instance() {
        for url in ["https://gitlab.example.com", "https://gitlab.example.com/api/v4/"] {
            let mut provider = Provider::default_of(crate::secretfile::ProviderKind::Gitlab);
            provider.config.insert("url".into(), url.into());
            provider.auth.insert("token".into(), "t".into());
            let gitlab = Gitlab::new(&provider).unwrap();
            assert_eq!(gitlab.api, "https://gitlab.example.com/api/v4", "{url}");
        }
    }

    #[test]
    fn failures_read_every_error_shape() {
        let reply = |status, body| failure(&Reply { status, body });
        let invalid = reply(400, json!({"message": {"value": ["is invalid"]}}));
        assert_eq!(invalid.to_string(), "HTTP 400: value is invalid");
        assert_eq!(reply(400, json!({"error": "key is missing"})).message, "key is missing");
        let denied = reply(403, json!({"message": "403 Forbidden"}));
        assert!(denied.auth && denied.message == "403 Forbidden");
        assert_eq!(reply(429, Value::Null).message, "no message");
    }
}
