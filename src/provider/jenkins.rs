//! Jenkins: the HTTP client that the `jenkins-credential` target uses, with its auth.
//!
//! The controller's URL comes from `config: {url}` or `JENKINS_URL` (a context path such as
//! `https://ci.example.com/jenkins` is kept). Auth kind `token` (also `ambient`): `auth: {user,
//! token}`, else `JENKINS_USER` and `JENKINS_API_TOKEN`, sent with HTTP Basic auth as Jenkins'
//! remote access API asks of scripts (jenkins.io/doc/book/using/remote-access-api/).
//!
//! CSRF: since Jenkins 2.96 a request authenticated with an API token needs no crumb. A
//! controller that asks for one anyway answers a POST with 403 "No valid crumb was included in
//! the request"; the client then fetches a crumb from `/crumbIssuer/api/json` in the same cookie
//! session (a crumb is bound to the web session it was issued in), and sends it with every later
//! POST. Requests that meet 429, 5xx or a broken connection are retried with exponential
//! backoff and jitter.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use tracing::debug;

use super::http::connect_error;
use super::{RemoteError, config_number};
use crate::secretfile::Provider;
/// What to check when a request gets no answer.
const UNREACHABLE: &str = "check JENKINS_URL and that Jenkins is reachable";

/// What Jenkins' CSRF filter puts in the page it answers a POST without a valid crumb with.
const NO_CRUMB: &str = "No valid crumb was included in the request";

/// The CSRF crumb of the client's web session: the header to send and its value.
#[derive(Clone, PartialEq)]
struct Crumb {
    field: String,
    value: String,
}

impl std::fmt::Debug for Crumb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crumb({}: ****)", self.field)
    }
}

/// One answer from Jenkins. Jenkins never sends a credential's secret back (a credential's
/// `config.xml` holds `<secret-redacted/>`), so the body holds no value.
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// Jenkins' own short message for some refusals.
    x_error: Option<String>,
    /// Whether the answer came from Jenkins (it sends `X-Jenkins` with its version).
    jenkins: bool,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reply(HTTP {})", self.status)
    }
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A short message for a refusal: Jenkins' `X-Error` header, else the title of its HTML
    /// error page, else the status's reason. The page itself is never shown, and neither is
    /// the title of a 400 or 500 page, which may quote the request that was refused.
    fn message(&self) -> String {
        if let Some(error) = &self.x_error {
            return short(error);
        }
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no reason given")
            .to_string();
        if matches!(self.status, 400 | 500) {
            return reason;
        }
        page_title(&self.body, self.status).unwrap_or(reason)
    }

    /// The error to show for this answer.
    pub fn failure(&self) -> RemoteError {
        let error = RemoteError::new(format!("HTTP {}", self.status), self.message());
        match self.status {
            401 => error.auth().hint(
                "Jenkins refused the user or the API token; make a token on the user's Security \
                 page and set JENKINS_USER and JENKINS_API_TOKEN",
            ),
            403 => error.auth().hint(
                "the user lacks a permission this needs (Credentials/View, Credentials/Create, \
                 Credentials/Update); `secretzero test` shows what it can check",
            ),
            404 if !self.jenkins => {
                error.hint("the answer did not come from Jenkins; check the provider's `url`")
            }
            429 => error
                .hint("Jenkins kept refusing for load after every retry; lower `max_in_flight`"),
            503 => error.hint("Jenkins is starting, restarting or preparing for shutdown"),
            _ => error,
        }
    }
}

/// A message cut to a line that fits a terminal.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// The text of an HTML page's `<title>`, without the "Error 401" prefix Jetty's pages start it
/// with.
fn page_title(body: &str, status: u16) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let raw = body[start..end].trim();
    let text = quick_xml::escape::unescape(raw).map_or_else(|_| raw.to_string(), |t| t.into());
    let text = text.trim();
    let text = [format!("Error {status}"), format!("HTTP ERROR {status}")]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix.as_str()))
        .unwrap_or(text)
        .trim();
    (!text.is_empty()).then(|| short(text))
}

/// A connection to one Jenkins controller as one user.
#[derive(Debug)]
pub struct Jenkins {
    http: reqwest::Client,
    url: String,
    /// The user and API token, or why there are none (reported at the first request).
    credentials: Result<(String, SecretString), RemoteError>,
    crumb: tokio::sync::Mutex<Option<Crumb>>,
    attempts: usize,
}

fn setting(given: Option<&String>, variable: &str) -> Option<String> {
    given.cloned().or_else(|| std::env::var(variable).ok().filter(|v| !v.is_empty()))
}

fn credentials(
    provider: &Provider,
) -> Result<Result<(String, SecretString), RemoteError>, RemoteError> {
    // The Secretfile's loader has refused unknown keys in `auth` and `config` already.
    match provider.auth_kind.as_str() {
        "token" | "ambient" => {}
        other => {
            return Err(RemoteError::config(format!(
                "provider `{}` has auth kind `{other}`, which Jenkins providers do not know",
                provider.name
            ))
            .hint("use `token` (a user and an API token)"));
        }
    }
    let missing = |what: &str, variable: &str| {
        RemoteError::new("credentials", format!("no Jenkins {what}: {variable} is not set"))
            .auth()
            .hint(format!(
                "set `auth: {{user, token}}` on the provider, or {variable}; an API token is made \
                 on the user's Security page in Jenkins"
            ))
    };
    let Some(user) = setting(provider.auth.get("user"), "JENKINS_USER") else {
        return Ok(Err(missing("user", "JENKINS_USER")));
    };
    let Some(token) = setting(provider.auth.get("token"), "JENKINS_API_TOKEN") else {
        return Ok(Err(missing("API token", "JENKINS_API_TOKEN")));
    };
    Ok(Ok((user, SecretString::from(token))))
}

impl Jenkins {
    pub fn new(provider: &Provider) -> Result<Jenkins, RemoteError> {
        let credentials = credentials(provider)?;
        let url = setting(provider.config.get("url"), "JENKINS_URL").ok_or_else(|| {
            RemoteError::config(format!("provider `{}` has no Jenkins URL", provider.name))
                .hint("set `config: {url: https://...}` or JENKINS_URL")
        })?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(RemoteError::config(format!(
                "provider `{}`: the Jenkins URL `{url}` is not an http or https URL",
                provider.name
            )));
        }
        let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as usize;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .cookie_store(true)
            .build()
            .map_err(|e| RemoteError::new("connect", e.to_string()))?;
        Ok(Jenkins {
            http,
            url: url.trim_end_matches('/').to_string(),
            credentials,
            crumb: tokio::sync::Mutex::new(None),
            attempts,
        })
    }

    /// One request to `path` (which starts with `/`), retried on 429, 5xx and connection
    /// failures with exponential backoff and jitter.
    async fn send(
        &self,
        method: Method,
        path: &str,
        xml: Option<&[u8]>,
        crumb: Option<&Crumb>,
    ) -> Result<Reply, RemoteError> {
        let (user, token) = self.credentials.as_ref().map_err(Clone::clone)?;
        let url = format!("{}{path}", self.url);
        let attempt = || async {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .basic_auth(user, Some(token.expose_secret()));
            if let Some(crumb) = crumb {
                request = request.header(crumb.field.as_str(), crumb.value.as_str());
            }
            if let Some(xml) = xml {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/xml; charset=UTF-8")
                    .body(xml.to_vec());
            }
            let response = request.send().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
            };
            let (x_error, jenkins) = (header("X-Error"), header("X-Jenkins").is_some());
            let body = response.text().await.map_err(|e| connect_error(&e, UNREACHABLE))?;
            let reply = Reply { status, body, x_error, jenkins };
            if status == 429 || ((500..600).contains(&status) && status != 501) {
                return Err(reply.failure());
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

    pub async fn get(&self, path: &str) -> Result<Reply, RemoteError> {
        self.send(Method::GET, path, None, None).await
    }

    /// A POST of an XML document, with the session's crumb once Jenkins has asked for one.
    pub async fn post_xml(&self, path: &str, xml: &[u8]) -> Result<Reply, RemoteError> {
        let used = self.crumb.lock().await.clone();
        let reply = self.send(Method::POST, path, Some(xml), used.as_ref()).await?;
        if !(reply.status == 403 && reply.body.contains(NO_CRUMB)) {
            return Ok(reply);
        }

        // One crumb per session: the first request refused fetches it, the others reuse it.
        let crumb = {
            let mut held = self.crumb.lock().await;
            if *held == used {
                debug!(path, "Jenkins asked for a CSRF crumb; fetching one for this session");
                *held = Some(self.fetch_crumb().await?);
            }
            held.clone()
        };
        self.send(Method::POST, path, Some(xml), crumb.as_ref()).await
    }

    async fn fetch_crumb(&self) -> Result<Crumb, RemoteError> {
        let reply = self.get("/crumbIssuer/api/json").await?;
        if reply.status == 404 {
            let message = "Jenkins asked for a CSRF crumb but has no crumb issuer";
            return Err(RemoteError::new("HTTP 404", message).during("GET /crumbIssuer/api/json"));
        }
        if !reply.ok() {
            return Err(reply.failure().during("GET /crumbIssuer/api/json"));
        }
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        match (json["crumbRequestField"].as_str(), json["crumb"].as_str()) {
            (Some(field), Some(value)) => {
                Ok(Crumb { field: field.to_string(), value: value.to_string() })
            }
            _ => Err(RemoteError::new("crumb", "the crumb issuer's answer has no crumb")
                .during("GET /crumbIssuer/api/json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply { status, body: body.into(), x_error: None, jenkins: true }
    }

    #[test]
    fn refusals_are_shown_by_their_page_title_only() {
        let page = "<html><head><title>Error 401 Invalid password/token for user: ci &amp; \
                    co</title></head><body><h2>HTTP ERROR 401</h2>stack trace</body></html>";
        assert_eq!(reply(401, page).message(), "Invalid password/token for user: ci & co");
        let quoting = "<html><title>Error 500 ConversionException: s3cr3t</title></html>";
        assert_eq!(reply(500, quoting).message(), "Internal Server Error");
        assert_eq!(reply(404, "not html").message(), "Not Found");
        let mut with_header = reply(400, "");
        with_header.x_error = Some("No such domain\nsecond line".into());
        assert_eq!(with_header.message(), "No such domain");
    }
}
