//! The `azure-keyvault` target: one secret in an Azure Key Vault per target.
//!
//! A one-value secret is the secret's value; a multi-field secret is one JSON object of its
//! fields (`content_type: application/json` unless set). Each write is a new version of the
//! secret (Key Vault keeps the history). A name that is **deleted but recoverable** (soft
//! delete, on by default) is left alone and reported: Key Vault refuses to set it until it is
//! recovered or purged, and choosing for the owner would either revive old data or destroy it.

use std::collections::HashMap;
use std::sync::Arc;

use azure_security_keyvault_secrets::models::SetSecretParameters;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use secrecy::ExposeSecret;

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead, encode_text, stored_size};
use crate::provider::{Limiter, RemoteError, azure, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret};

/// Key Vault allows 4,000 secret transactions every 10 seconds per vault and region; at a
/// typical 50-100 ms a request, 10 in flight stays well within it.
const DEFAULT_IN_FLIGHT: usize = 10;
/// The largest secret value, in bytes.
const MAX_VALUE_BYTES: usize = 25 * 1024;
const MAX_NAME: usize = 127;
const MAX_TAGS: usize = 15;
const MAX_TAG_NAME: usize = 512;
const MAX_TAG_VALUE: usize = 256;

#[derive(Clone)]
struct KeyVault {
    client: Arc<SecretClient>,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVault").finish_non_exhaustive()
    }
}

pub(crate) fn connect(
    provider: &Provider,
    target: &RemoteTarget,
) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let url =
        target.options.get("vault_url").or(provider.config.get("vault_url")).ok_or_else(|| {
            RemoteError::config(format!(
                "the azure-keyvault target `{}` has no vault",
                target.options.get("name").map_or("", String::as_str)
            ))
            .hint("set `vault_url: https://NAME.vault.azure.net` on the target or the provider")
        })?;
    check_vault_url(url).map_err(RemoteError::config)?;
    let credential = azure::credential(provider)?;
    let verify = match provider.config.get("verify_challenge_resource").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(RemoteError::config(format!(
                "provider `{}`: `verify_challenge_resource` is `{other}`; it must be \"true\" or \
                 \"false\"",
                provider.name
            )));
        }
    };
    let options = SecretClientOptions {
        client_options: azure::client_options(provider)?,
        verify_challenge_resource: Some(verify),
        ..Default::default()
    };
    let client = SecretClient::new(url, credential, Some(options))
        .map_err(|e| RemoteError::config(format!("vault_url `{url}`: {e}")))?;
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    Ok((Arc::new(KeyVault { client: Arc::new(client) }), Limiter::new(limit)))
}

/// Secret names: 1 to 127 characters, ASCII letters, digits and `-`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "the secret name is {} characters long; Key Vault allows 1 to {MAX_NAME}",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Err(format!(
            "the secret name holds `{}`; Key Vault allows ASCII letters, digits and - only",
            bad.escape_default()
        ));
    }
    Ok(())
}

/// The service's error code (`SecretNotFound`, `Forbidden`...) and what to do.
fn error(error: azure_core::Error) -> RemoteError {
    use azure_core::error::ErrorKind;
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    match error.kind() {
        ErrorKind::HttpResponse { status, error_code, .. } => {
            let status = u16::from(*status);
            let code = error_code.clone().unwrap_or_else(|| format!("HTTP {status}"));
            let remote = RemoteError::new(code, message);
            match status {
                401 | 403 => remote.auth().hint(
                    "check the credentials and that the identity may get and set secrets \
                     (the `Key Vault Secrets Officer` role, or an access policy)",
                ),
                429 => remote.hint("Key Vault kept throttling; lower `max_in_flight`"),
                _ => remote,
            }
        }
        ErrorKind::Credential => RemoteError::new("credentials", message).auth().hint(
            "no usable Azure credential: see the auth kinds in docs/targets.md and \
             docs/ci-auth.md",
        ),
        ErrorKind::Connection | ErrorKind::Io => {
            RemoteError::new("connect", message).hint("check the network and `vault_url`")
        }
        _ => RemoteError::new("Other", message),
    }
}

/// A vault's address: an `https://` URL with a host, as `SecretClient` takes it.
fn check_vault_url(url: &str) -> Result<(), String> {
    let parsed = azure_core::http::Url::parse(url)
        .map_err(|e| format!("vault_url `{url}` is not a URL: {e}"))?;
    if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("vault_url `{url}` must start with https:// and name a host"));
    }
    Ok(())
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(target: &RemoteTarget) -> Result<(), String> {
    let name = target.options.get("name").map_or("", String::as_str);
    let refuse = |why: String| format!("azure-keyvault `{name}`: {why}");
    check_name(name).map_err(refuse)?;
    if let Some(url) = target.options.get("vault_url") {
        check_vault_url(url).map_err(refuse)?;
    }
    if target.tags.len() > MAX_TAGS {
        return Err(refuse(format!("{} tags; Key Vault allows {MAX_TAGS}", target.tags.len())));
    }
    for (key, value) in &target.tags {
        if key.is_empty() || key.chars().count() > MAX_TAG_NAME {
            return Err(refuse(format!("tag name `{key}` must be 1 to {MAX_TAG_NAME} characters")));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(refuse(format!(
                "the value of tag `{key}` is longer than {MAX_TAG_VALUE} characters"
            )));
        }
    }
    Ok(())
}

impl Store for KeyVault {
    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        let (bytes, what) = stored_size(secret, value);
        if bytes > MAX_VALUE_BYTES {
            let name = target.options.get("name").map_or("", String::as_str);
            return Err(format!(
                "{what}; azure-keyvault `{name}` holds at most {MAX_VALUE_BYTES} bytes (25 KiB)"
            ));
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let name = request.option("name").unwrap_or_default();
            match store.client.get_secret(name, None).await {
                Ok(response) => {
                    let secret = response.into_model().map_err(error)?;
                    Ok(match secret.value {
                        Some(value) => StoreRead::Text(value.into()),
                        None => StoreRead::Missing,
                    })
                }
                Err(e) if e.http_status().map(u16::from) == Some(404) => {
                    // Missing, or deleted but recoverable, which no write may touch.
                    match store.client.get_deleted_secret(name, None).await {
                        Ok(_) => Ok(StoreRead::Broken(format!(
                            "secret `{name}` is deleted but recoverable (soft delete), so it is \
                             left alone; recover it (`az keyvault secret recover`) to keep its \
                             history, or purge it (`az keyvault secret purge`), then sync"
                        ))),
                        Err(_) => Ok(StoreRead::Missing),
                    }
                }
                Err(e) => Err(error(e)),
            }
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let name = request.option("name").unwrap_or_default();
            let content_type = request
                .option("content_type")
                .map(str::to_string)
                .or_else(|| (!request.single).then(|| "application/json".to_string()));
            let tags: HashMap<String, String> =
                request.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let parameters = SetSecretParameters {
                value: Some(encode_text(&value, request.single).expose_secret().to_string()),
                content_type,
                tags: (!tags.is_empty()).then_some(tags),
                ..Default::default()
            };
            let body = parameters.try_into().map_err(error)?;
            store.client.set_secret(name, body, None).await.map_err(error)?;
            Ok(None)
        })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let mut seen = Vec::new();
            for request in targets {
                let name = request.option("name").unwrap_or_default();
                match store.client.get_secret(name, None).await {
                    Ok(_) => seen.push(Ok(format!("`{name}` exists and may be read"))),
                    Err(e) if e.http_status().map(u16::from) == Some(404) => {
                        seen.push(Ok(format!("`{name}` does not exist yet")))
                    }
                    // Access to a vault's secrets is granted to the whole vault: one refusal
                    // stands for every name.
                    Err(e) => return Err(error(e)),
                }
            }
            if seen.is_empty() {
                seen.push(Ok("credential built; no target names a vault to check".into()));
            } else {
                seen.insert(0, Ok("token accepted; secrets/get allowed".into()));
            }
            Ok(seen)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_follow_key_vault_rules() {
        assert_eq!(check_name("api-key-2"), Ok(()));
        assert_eq!(check_name(&"n".repeat(127)), Ok(()));
        assert!(check_name(&"n".repeat(128)).unwrap_err().contains("128 characters"));
        assert!(check_name("api_key").unwrap_err().contains("holds `_`"));
        assert!(check_name("").is_err());
    }
}
