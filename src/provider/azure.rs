//! Azure: the credential a Key Vault client authenticates with, from a provider's `auth`.
//!
//! Auth kinds:
//! - `default` (also `ambient`): the first that the environment provides, in this order:
//!   workload identity (`AZURE_FEDERATED_TOKEN_FILE`, as AKS and CI set it), a service
//!   principal's secret (`AZURE_CLIENT_SECRET`), managed identity (`IDENTITY_ENDPOINT`, or the
//!   instance metadata service when `AZURE_USE_MANAGED_IDENTITY` is set), else the Azure CLI;
//! - `service_principal`: `tenant_id`, `client_id` (or `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`),
//!   the secret from the variable named by `client_secret_env` (default `AZURE_CLIENT_SECRET`);
//! - `workload_identity`: workload identity federation with an OIDC token from `token_file`
//!   (default `AZURE_FEDERATED_TOKEN_FILE`), `tenant_id`, `client_id`;
//! - `managed_identity`: optional `client_id` of a user-assigned identity;
//! - `cli`: the account `az login` signed in.
//!
//! `config: {authority_host}` (or `AZURE_AUTHORITY_HOST`) points at another cloud's login
//! endpoint. `config: {verify_challenge_resource: "false"}` accepts a vault whose host is not
//! under the resource its 401 challenge names (a custom domain, a private endpoint, a test
//! double on `localhost`); leave it on otherwise.

use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::{RemoteError, config_number};
use crate::secretfile::Provider;

/// HTTP options shared by the credential and the Key Vault client: retries (exponential
/// backoff with jitter; 429 and 5xx, honouring `Retry-After`), the cloud, and a transport that
/// gives up on a connection after 5 s and on a request after `request_timeout` seconds
/// (default 30), so a vault that accepts connections and never answers cannot hold a run.
pub fn client_options(provider: &Provider) -> Result<ClientOptions, RemoteError> {
    let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as u32;
    let timeout = config_number(provider, "request_timeout", 1..=300)?.unwrap_or(30);
    let retry = ExponentialRetryOptions { max_retries: attempts - 1, ..Default::default() };
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(timeout))
        // Key Vault does not redirect; the SDK's own client does not follow redirects either.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| RemoteError::new("connect", e.to_string()))?;
    let mut options = ClientOptions {
        retry: RetryOptions::exponential(retry),
        transport: Some(Transport::new(Arc::new(http))),
        ..Default::default()
    };
    let authority = provider
        .config
        .get("authority_host")
        .cloned()
        .or_else(|| std::env::var("AZURE_AUTHORITY_HOST").ok().filter(|h| !h.is_empty()));
    if let Some(authority_host) = authority {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = authority_host;
        options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
    }
    Ok(options)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn sdk_error(provider: &Provider, error: azure_core::Error) -> RemoteError {
    RemoteError::new("credentials", format!("provider `{}`: {error}", provider.name)).auth()
}

/// The credential of `provider`.
pub fn credential(provider: &Provider) -> Result<Arc<dyn TokenCredential>, RemoteError> {
    let get = |key: &str| provider.auth.get(key).cloned();
    let need = |key: &str, variable: &str| {
        get(key).or_else(|| env(variable)).ok_or_else(|| {
            RemoteError::config(format!(
                "provider `{}` (auth kind `{}`) needs `{key}` under `auth` or {variable}",
                provider.name, provider.auth_kind
            ))
        })
    };
    let options = client_options(provider)?;
    let kind = match provider.auth_kind.as_str() {
        "default" | "ambient" if env("AZURE_FEDERATED_TOKEN_FILE").is_some() => "workload_identity",
        "default" | "ambient" if env("AZURE_CLIENT_SECRET").is_some() => "service_principal",
        "default" | "ambient"
            if env("IDENTITY_ENDPOINT").is_some()
                || env("AZURE_USE_MANAGED_IDENTITY").is_some() =>
        {
            "managed_identity"
        }
        "default" | "ambient" => "cli",
        other => other,
    };

    let credential: Arc<dyn TokenCredential> = match kind {
        "service_principal" => {
            let tenant = need("tenant_id", "AZURE_TENANT_ID")?;
            let client = need("client_id", "AZURE_CLIENT_ID")?;
            let variable = get("client_secret_env").unwrap_or_else(|| "AZURE_CLIENT_SECRET".into());
            let secret = env(&variable).ok_or_else(|| {
                RemoteError::new("credentials", format!("no client secret: {variable} is not set"))
                    .auth()
            })?;
            let options = ClientSecretCredentialOptions { client_options: options };
            ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(options))
                .map_err(|e| sdk_error(provider, e))?
        }
        "workload_identity" => {
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions { client_options: options },
                client_id: get("client_id").or_else(|| env("AZURE_CLIENT_ID")),
                tenant_id: get("tenant_id").or_else(|| env("AZURE_TENANT_ID")),
                token_file_path: get("token_file")
                    .or_else(|| env("AZURE_FEDERATED_TOKEN_FILE"))
                    .map(Into::into),
            };
            WorkloadIdentityCredential::new(Some(options)).map_err(|e| sdk_error(provider, e))?
        }
        "managed_identity" => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: get("client_id").map(UserAssignedId::ClientId),
                client_options: options,
            };
            ManagedIdentityCredential::new(Some(options)).map_err(|e| sdk_error(provider, e))?
        }
        _ => AzureCliCredential::new(None).map_err(|e| sdk_error(provider, e))?,
    };
    Ok(credential)
}
