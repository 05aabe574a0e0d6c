//! Connections to remote systems: credentials, endpoints, retries and how many requests each
//! provider may have in flight. Target types under `src/target/` use these; nothing here knows
//! about secrets or the lockfile.
//!
//! Each provider kind is behind its cargo feature. Without any, this module holds only the
//! error type that targets and commands share.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "jenkins")]
pub mod jenkins;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "remote")]
mod runtime;
#[cfg(feature = "vault")]
pub mod vault;

#[cfg(feature = "remote")]
pub(crate) use runtime::{Limiter, block_on, install_crypto, max_in_flight};

/// A remote store's refusal or failure, with the store's own error code and what to do about
/// it. It never holds a value: messages come from the store, which does not echo values, or
/// from SecretZero.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
pub struct RemoteError {
    /// The store's error code (`ResourceNotFoundException`, `permission denied`, HTTP 503 ...),
    /// or one of SecretZero's for failures before any request (`config`, `connect`).
    pub code: String,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// An authentication or authorization failure: the command exits 3.
    pub auth: bool,
}

impl RemoteError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> RemoteError {
        RemoteError { code: code.into(), message: message.into(), hint: None, auth: false }
    }

    /// A provider block that cannot be used as written.
    pub fn config(message: impl Into<String>) -> RemoteError {
        RemoteError::new("config", message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> RemoteError {
        self.hint = Some(hint.into());
        self
    }

    /// Names the call that failed, before the store's message.
    pub fn during(mut self, call: impl std::fmt::Display) -> RemoteError {
        self.message = format!("{call}: {}", self.message);
        self
    }

    pub fn auth(mut self) -> RemoteError {
        self.auth = true;
        self
    }
}

/// A provider block's `config`, read as a provider needs it.
#[cfg(feature = "remote")]
pub(crate) fn config_number(
    provider: &crate::secretfile::Provider,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, RemoteError> {
    let Some(text) = provider.config.get(key) else { return Ok(None) };
    match text.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(RemoteError::config(format!(
            "provider `{}`: `{key}` is `{text}`; it must be a whole number from {} to {}",
            provider.name,
            range.start(),
            range.end()
        ))),
    }
}
