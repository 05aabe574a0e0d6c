//! Kubernetes: the API client that the `kubernetes-secret` target uses, with its auth.
//!
//! Auth kinds:
//! - `kubeconfig` (also `ambient`, the default): the file named by `config: {kubeconfig}` (or
//!   `auth: {kubeconfig}`, where the older SecretZero kept it, as it kept `context`), else
//!   `KUBECONFIG` (a list of files, merged), else `~/.kube/config`; the context named by
//!   `config: {context}`, else the file's `current-context`;
//! - `in_cluster`: the pod's service account (`KUBERNETES_SERVICE_HOST` and the token and CA
//!   mounted under `/var/run/secrets/kubernetes.io/serviceaccount`).
//!
//! The client is built on the first request. Requests that meet 429, 5xx or a broken
//! connection are retried with exponential backoff and jitter; every request has a 5 s connect
//! and a 30 s read and write timeout.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{RemoteError, config_number};
use crate::secretfile::Provider;

#[derive(Debug, Clone)]
enum Source {
    Kubeconfig { path: Option<String>, context: Option<String> },
    InCluster,
}

/// A connection to one Kubernetes API server as one identity.
pub struct Kubernetes {
    source: Source,
    provider: String,
    client: tokio::sync::OnceCell<Result<kube::Client, RemoteError>>,
    attempts: usize,
}

impl std::fmt::Debug for Kubernetes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubernetes")
            .field("source", &self.source)
            .field("provider", &self.provider)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Kubernetes {
    pub fn new(provider: &Provider) -> Result<Kubernetes, RemoteError> {
        let config =
            |key: &str| provider.config.get(key).or_else(|| provider.auth.get(key)).cloned();
        let source = match provider.auth_kind.as_str() {
            "kubeconfig" | "ambient" => {
                Source::Kubeconfig { path: config("kubeconfig"), context: config("context") }
            }
            "in_cluster" => Source::InCluster,
            other => {
                return Err(RemoteError::config(format!(
                    "provider `{}` has auth kind `{other}`, which Kubernetes providers do not \
                     know",
                    provider.name
                ))
                .hint("use `kubeconfig` or `in_cluster`"));
            }
        };
        let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as usize;
        Ok(Kubernetes {
            source,
            provider: provider.name.clone(),
            client: tokio::sync::OnceCell::new(),
            attempts,
        })
    }

    async fn build(&self) -> Result<kube::Client, RemoteError> {
        let credentials = |message: String| RemoteError::new("credentials", message).auth();
        let mut config = match &self.source {
            Source::Kubeconfig { path, context } => {
                let file = match path {
                    Some(path) => Kubeconfig::read_from(path),
                    None => Kubeconfig::read(),
                }
                .map_err(|e| {
                    credentials(format!("provider `{}`: no usable kubeconfig: {e}", self.provider))
                        .hint("set KUBECONFIG, `config: {kubeconfig: ...}`, or use `in_cluster`")
                })?;
                let options = KubeConfigOptions { context: context.clone(), ..Default::default() };
                kube::Config::from_custom_kubeconfig(file, &options).await.map_err(|e| {
                    credentials(format!("provider `{}`: kubeconfig: {e}", self.provider)).hint(
                        "check `config: {context: ...}` against `kubectl config get-contexts`",
                    )
                })?
            }
            Source::InCluster => kube::Config::incluster().map_err(|e| {
                credentials(format!("provider `{}`: not inside a pod: {e}", self.provider))
            })?,
        };
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(30));
        config.write_timeout = Some(Duration::from_secs(30));
        // kube retries 429, 503 and 504 on its own (15 times, waiting up to minutes); the
        // provider's `max_attempts` is the only retry, so a sick API server fails in bounded time.
        config.default_retry = false;
        kube::Client::try_from(config)
            .map_err(|e| RemoteError::new("connect", format!("cannot build the client: {e}")))
    }

    pub async fn client(&self) -> Result<kube::Client, RemoteError> {
        self.client.get_or_init(|| self.build()).await.clone()
    }

    /// Runs `call` with a fresh client handle, retrying 429, 5xx and connection failures with
    /// exponential backoff and jitter; other failures are answers and come back at once.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, kube::Error>
    where
        F: Fn(kube::Client) -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let client = match self.client().await {
            Ok(client) => client,
            Err(error) => return Err(kube::Error::Service(Box::new(Failed(error)))),
        };
        let backoff = ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.attempts.saturating_sub(1));
        (|| call(client.clone())).retry(backoff).when(retryable).await
    }
}

/// A failure before any request, carried through kube's error type.
#[derive(Debug)]
struct Failed(RemoteError);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Failed {}

fn retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || (500..600).contains(&status.code),
        kube::Error::Service(inner) => !inner.is::<Failed>(),
        kube::Error::HyperError(_) => true,
        _ => false,
    }
}

/// The HTTP status of an API answer, if the failure is one.
pub fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// What a failure means, from the API server's `Status` object: its reason (`Conflict`,
/// `Forbidden` ...), HTTP code and message. Messages name objects, never values.
pub fn failure(error: kube::Error, rbac: &str) -> RemoteError {
    match error {
        kube::Error::Api(status) => {
            let code = if status.reason.is_empty() {
                format!("HTTP {}", status.code)
            } else {
                format!("{} (HTTP {})", status.reason, status.code)
            };
            let message =
                if status.message.is_empty() { "no message".into() } else { status.message };
            let error = RemoteError::new(code, message);
            match status.code {
                401 => error.auth().hint(
                    "the API server did not accept the credentials; check the kubeconfig's \
                     user or the service account token",
                ),
                403 => error.auth().hint(format!("the identity needs RBAC {rbac}")),
                429 => error.hint(
                    "the API server kept throttling after every retry; lower `max_in_flight`",
                ),
                _ => error,
            }
        }
        kube::Error::Service(inner) if inner.is::<Failed>() => inner
            .downcast::<Failed>()
            .map(|f| f.0)
            .unwrap_or_else(|e| RemoteError::new("connect", e.to_string())),
        other => RemoteError::new("connect", error_chain(&other))
            .hint("check the kubeconfig's server address and that the API server is reachable"),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
