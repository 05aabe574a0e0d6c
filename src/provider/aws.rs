//! AWS: one SDK configuration per provider (credentials, region, endpoint, retries), shared by
//! the Secrets Manager and Parameter Store targets.
//!
//! Auth kinds: `ambient` (the SDK's default chain: environment, web identity, shared files,
//! SSO, ECS and EC2 roles), `profile` (`profile: NAME`), `assume_role` (`role_arn`, optional
//! `session_name` and `external_id`, assumed with the ambient credentials). `AWS_ENDPOINT_URL`
//! sends every request elsewhere, as every AWS tool does.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};

use super::{RemoteError, block_on, config_number};
use crate::secretfile::Provider;

/// Error codes that mean the credentials are missing, wrong, expired or not allowed.
const AUTH_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
];

/// The SDK configuration of `provider`, with the target's `region` if it sets one.
pub fn load(provider: &Provider, region: Option<&str>) -> Result<SdkConfig, RemoteError> {
    let attempts = config_number(provider, "max_attempts", 1..=20)?.unwrap_or(6) as u32;
    let auth_value = |key: &str| {
        provider.auth.get(key).cloned().ok_or_else(|| {
            RemoteError::config(format!(
                "provider `{}` (auth kind `{}`) has no `{key}` under `auth`",
                provider.name, provider.auth_kind
            ))
        })
    };

    // The SDK's standard retry mode backs off exponentially with full jitter on throttling and
    // transient errors; the first retry waits about 100 ms, later ones up to 20 s.
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(20));
    // A store that accepts connections and never answers must not hold a CI job for minutes:
    // each attempt gives up after 15 s, and each call, retries included, after 45 s.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(15))
        .operation_timeout(Duration::from_secs(45))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = region.or(provider.config.get("region").map(String::as_str)) {
        loader = loader.region(Region::new(region.to_string()));
    }
    if provider.auth_kind == "profile" {
        // The profile's credentials, not whichever the environment offers first.
        let profile = auth_value("profile")?;
        let credentials =
            aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(&profile);
        loader = loader.profile_name(&profile).credentials_provider(credentials.build());
    }
    let role = match provider.auth_kind.as_str() {
        "assume_role" => Some(auth_value("role_arn")?),
        _ => None,
    };

    block_on(async move {
        let base = loader.load().await;
        if base.region().is_none() {
            return Err(RemoteError::config(format!(
                "provider `{}` has no AWS region",
                provider.name
            ))
            .hint("set `config: {region: ...}` on the provider, or AWS_REGION"));
        }
        let Some(role) = role else { return Ok(base) };
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(role).configure(&base);
        builder = builder.session_name(
            provider.auth.get("session_name").cloned().unwrap_or_else(|| "secretzero".into()),
        );
        if let Some(id) = provider.auth.get("external_id") {
            builder = builder.external_id(id.clone());
        }
        let credentials = builder.build().await;
        Ok(base
            .into_builder()
            .credentials_provider(aws_sdk_ssm::config::SharedCredentialsProvider::new(credentials))
            .build())
    })
}

/// A failed SDK call as SecretZero reports it: the service's error code and message, and what
/// to do.
pub fn error<E>(error: SdkError<E, HttpResponse>) -> RemoteError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let chain = |error: &dyn std::error::Error| {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        text
    };
    match &error {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let status = context.raw().status().as_u16();
            // A reply without the protocol's error code (a proxy's, or another dialect's body)
            // is known by its status.
            let code = service.code().map_or_else(|| format!("HTTP {status}"), str::to_string);
            let message = service.message().unwrap_or("no message").to_string();
            let mut remote = RemoteError::new(code.clone(), message);
            if AUTH_CODES.contains(&code.as_str()) || matches!(status, 401 | 403) {
                remote = remote.auth().hint(
                    "check the credentials (`aws sts get-caller-identity`) and that their \
                     policy allows the actions listed in docs/targets.md",
                );
            } else if code.contains("Throttl") || code == "TooManyRequestsException" {
                remote = remote.hint(
                    "the store kept throttling after every retry; lower the provider's \
                     `max_in_flight` or raise its `max_attempts`",
                );
            } else if code.starts_with("KMS") || code == "EncryptionFailure" {
                remote = remote.hint("check `kms_key_id` and that the identity may use the key");
            }
            remote
        }
        SdkError::TimeoutError(_) => RemoteError::new("timeout", "the endpoint did not answer")
            .hint("check the network, the region and AWS_ENDPOINT_URL"),
        _ => {
            let text = chain(&error);
            if text.contains("credential") {
                RemoteError::new("NoCredentials", text).auth().hint(
                    "no AWS credentials were found: set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or web identity (docs/ci-auth.md)",
                )
            } else {
                RemoteError::new("connect", text)
                    .hint("check the network, the region and AWS_ENDPOINT_URL")
            }
        }
    }
}

/// Tags as the AWS services allow them: at most 50, keys of 1 to 128 characters that do not
/// start with `aws:`, values of at most 256, from letters, digits, spaces and `_.:/=+-@`.
pub fn check_tags(tags: &indexmap::IndexMap<String, String>) -> Result<(), String> {
    if tags.len() > 50 {
        return Err(format!("{} tags; AWS allows at most 50", tags.len()));
    }
    let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(format!("tag key `{key}` must be 1 to 128 characters"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!("tag key `{key}` starts with `aws:`, which AWS reserves"));
        }
        if value.chars().count() > 256 {
            return Err(format!("the value of tag `{key}` is longer than 256 characters"));
        }
        if !key.chars().chain(value.chars()).all(allowed) {
            return Err(format!(
                "tag `{key}` holds a character AWS does not allow in tags (letters, digits, \
                 spaces and _.:/=+-@ only)"
            ));
        }
    }
    Ok(())
}
