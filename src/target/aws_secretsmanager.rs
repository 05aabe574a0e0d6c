//! The `aws-secretsmanager` target: one secret in AWS Secrets Manager per target.
//!
//! A one-value secret is stored as the secret's string; a multi-field secret as one JSON
//! object of its fields. `description`, `kms_key_id` and `tags` are set when the secret is
//! created and kept up to date on every write. Two states are handled on purpose:
//! - a secret that exists without a value (created by another tool, with no version yet) reads
//!   as missing, and the first write puts the value into it, keeping its settings;
//! - a secret scheduled for deletion is left alone and reported: writing would either fail or
//!   revive it behind its owner's back. Restore it, or wait until it is gone.

use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use secrecy::ExposeSecret;

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead, encode_text, stored_size};
use crate::provider::{Limiter, RemoteError, aws, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret};

/// Secrets Manager allows 50 writes a second per account and region (PutSecretValue,
/// UpdateSecret, TagResource each) and far more reads; at a typical 100-200 ms per request,
/// 10 in flight stays under the write quota.
const DEFAULT_IN_FLIGHT: usize = 10;
/// The largest `SecretString`, in bytes.
const MAX_VALUE_BYTES: usize = 65_536;
const MAX_NAME: usize = 512;
const MAX_DESCRIPTION: usize = 2048;
const MAX_KMS_KEY_ID: usize = 2048;

#[derive(Debug)]
struct SecretsManager {
    client: Client,
}

pub(crate) fn connect(
    provider: &Provider,
    target: &RemoteTarget,
) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let config = aws::load(provider, target.options.get("region").map(String::as_str))?;
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    Ok((Arc::new(SecretsManager { client: Client::new(&config) }), Limiter::new(limit)))
}

/// Secret names: 1 to 512 characters from ASCII letters, digits and `/_+=.@-`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "the secret name is {} characters long; Secrets Manager allows 1 to {MAX_NAME}",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(format!(
            "the secret name holds `{}`; Secrets Manager allows ASCII letters, digits and \
             /_+=.@- only",
            bad.escape_default()
        ));
    }
    Ok(())
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(target: &RemoteTarget) -> Result<(), String> {
    let name = target.options.get("name").map_or("", String::as_str);
    let refuse = |why: String| format!("aws-secretsmanager `{name}`: {why}");
    check_name(name).map_err(refuse)?;
    if let Some(d) = target.options.get("description")
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(refuse(format!("the description is longer than {MAX_DESCRIPTION} characters")));
    }
    if let Some(k) = target.options.get("kms_key_id")
        && (k.is_empty() || k.len() > MAX_KMS_KEY_ID)
    {
        return Err(refuse(format!("`kms_key_id` must be 1 to {MAX_KMS_KEY_ID} characters")));
    }
    aws::check_tags(&target.tags).map_err(refuse)
}

impl Store for SecretsManager {
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
                "{what}; aws-secretsmanager `{name}` holds at most {MAX_VALUE_BYTES} bytes (64 KiB)"
            ));
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let name = request.option("name").unwrap_or_default().to_string();
            match client.get_secret_value().secret_id(&name).send().await {
                Ok(output) => Ok(match output.secret_string() {
                    Some(text) => StoreRead::Text(text.to_string().into()),
                    None if output.secret_binary().is_some() => StoreRead::Broken(
                        "it holds a binary value (SecretBinary), which SecretZero does not \
                         replace; delete it or choose another name"
                            .into(),
                    ),
                    None => StoreRead::Missing,
                }),
                Err(error) => {
                    let error = aws::error(error);
                    match error.code.as_str() {
                        // No such secret, or one without a current value.
                        "ResourceNotFoundException" => Ok(StoreRead::Missing),
                        "InvalidRequestException" if error.message.contains("delet") => {
                            Ok(StoreRead::Broken(format!(
                                "secret `{name}` is scheduled for deletion, so it is left alone; \
                                 restore it (`aws secretsmanager restore-secret --secret-id \
                                 {name}`) or wait until it is deleted"
                            )))
                        }
                        _ => Err(error),
                    }
                }
            }
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let text = encode_text(&value, request.single);
            let name = request.option("name").unwrap_or_default();
            let tags: Vec<Tag> =
                request.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();

            // Create when the prefetch found nothing; a secret that exists without a value
            // answers "exists", and is then updated like any other.
            if request.exists != Some(true) {
                let created = client
                    .create_secret()
                    .name(name)
                    .secret_string(text.expose_secret())
                    .set_description(request.option("description").map(str::to_string))
                    .set_kms_key_id(request.option("kms_key_id").map(str::to_string))
                    .set_tags((!tags.is_empty()).then(|| tags.clone()))
                    .send()
                    .await;
                match created.map_err(aws::error) {
                    Ok(_) => return Ok(None),
                    Err(error) if error.code == "ResourceExistsException" => {}
                    Err(error) => return Err(error),
                }
            }

            // Tags first: a refused tag leaves the value as it was, so the failure reported is
            // the whole truth (the value is not in the store while the lockfile says otherwise).
            if !tags.is_empty() {
                client
                    .tag_resource()
                    .secret_id(name)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| aws::error(e).during("secretsmanager:TagResource"))?;
            }
            client
                .update_secret()
                .secret_id(name)
                .secret_string(text.expose_secret())
                .set_description(request.option("description").map(str::to_string))
                .set_kms_key_id(request.option("kms_key_id").map(str::to_string))
                .send()
                .await
                .map_err(aws::error)?;
            Ok(None)
        })
    }

    /// Reads each secret the Secretfile names, and asks for a documented no-op update of each
    /// that exists: `UpdateSecret` with the current version's id as `ClientRequestToken` and
    /// its current value, which Secrets Manager ignores. Creating a missing secret cannot be
    /// tried without creating it.
    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let client = self.client.clone();
        Box::pin(async move {
            client
                .list_secrets()
                .max_results(1)
                .send()
                .await
                .map_err(|e| aws::error(e).during("secretsmanager:ListSecrets"))?;
            let mut seen =
                vec![Ok("credentials accepted; secretsmanager:ListSecrets allowed".to_string())];
            for request in targets {
                let name = request.option("name").unwrap_or_default();
                let current = match client.get_secret_value().secret_id(name).send().await {
                    Ok(current) => current,
                    Err(error) => match aws::error(error) {
                        error if error.code == "ResourceNotFoundException" => {
                            seen.push(Ok(format!(
                                "`{name}` does not exist yet (secretsmanager:CreateSecret is \
                                 tried by the first sync)"
                            )));
                            continue;
                        }
                        // As sync does: reported, left alone, and the others still checked.
                        error
                            if error.code == "InvalidRequestException"
                                && error.message.contains("delet") =>
                        {
                            seen.push(Ok(format!(
                                "`{name}` is scheduled for deletion, so sync leaves it alone"
                            )));
                            continue;
                        }
                        error => {
                            let during = format!("secretsmanager:GetSecretValue on `{name}`");
                            seen.push(Err(error.during(during)));
                            continue;
                        }
                    },
                };
                let (Some(version), Some(text)) = (current.version_id(), current.secret_string())
                else {
                    seen.push(Ok(format!("`{name}` may be read (it holds no string value)")));
                    continue;
                };
                let update = client
                    .update_secret()
                    .secret_id(name)
                    .client_request_token(version)
                    .secret_string(text)
                    .send()
                    .await;
                seen.push(match update.map_err(aws::error) {
                    // A value changed since the read: the token is taken, and the permission
                    // was granted all the same.
                    Ok(_) => Ok(format!("`{name}` may be read and updated")),
                    Err(error) if error.code == "ResourceExistsException" => {
                        Ok(format!("`{name}` may be read and updated"))
                    }
                    Err(error) => {
                        Err(error.during(format!("secretsmanager:UpdateSecret on `{name}`")))
                    }
                });
            }
            Ok(seen)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_follow_secrets_manager_rules() {
        assert_eq!(check_name("/prod/api_key+v2=x.y@z-1"), Ok(()));
        assert_eq!(check_name(&"n".repeat(512)), Ok(()));
        assert!(check_name(&"n".repeat(513)).unwrap_err().contains("513 characters"));
        assert!(check_name("").is_err());
        assert!(check_name("a b").unwrap_err().contains("holds ` `"));
        assert!(check_name("ümlaut").unwrap_err().contains("ASCII letters"));
    }
}
