//! The `aws-ssm` target: one parameter in AWS Systems Manager Parameter Store per target.
//!
//! A one-value secret is the parameter's value; a multi-field secret is one JSON object of its
//! fields. `parameter_type` (the target's `type` names the target type) is `SecureString`
//! unless set (`String`, `StringList`); `tier` is `Standard`,
//! `Advanced` or `auto` (the default): `auto` creates a Standard parameter unless the value
//! needs Advanced (over 4 KB), and on update asks for Advanced only when the value needs it,
//! since Parameter Store never turns an Advanced parameter back into a Standard one. Tags are
//! set on creation and added on update; Parameter Store refuses tags with an overwrite.

use std::sync::Arc;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
use secrecy::ExposeSecret;

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead, encode_text, stored_size};
use crate::provider::{Limiter, RemoteError, aws, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret};

/// Parameter Store's default throughput is 40 GetParameter requests a second, and lower for
/// PutParameter; 3 in flight keeps writes within the default quota, and throttled requests
/// are retried with backoff.
const DEFAULT_IN_FLIGHT: usize = 3;
const STANDARD_BYTES: usize = 4096;
const ADVANCED_BYTES: usize = 8192;
/// The fully qualified name, ARN included, is at most 1011 characters.
const MAX_ARN: usize = 1011;
const MAX_DEPTH: usize = 15;
const MAX_DESCRIPTION: usize = 1024;

#[derive(Debug)]
struct ParameterStore {
    client: Client,
    /// For the length of the ARN, which counts against the name's limit.
    region: String,
}

pub(crate) fn connect(
    provider: &Provider,
    target: &RemoteTarget,
) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let config = aws::load(provider, target.options.get("region").map(String::as_str))?;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    Ok((Arc::new(ParameterStore { client: Client::new(&config), region }), Limiter::new(limit)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tier {
    Standard,
    Advanced,
    Auto,
}

fn tier(target: &RemoteTarget) -> Result<Tier, String> {
    match target.options.get("tier").map(|t| t.to_ascii_lowercase()).as_deref() {
        None | Some("auto") => Ok(Tier::Auto),
        Some("standard") => Ok(Tier::Standard),
        Some("advanced") => Ok(Tier::Advanced),
        Some(_) => Err("`tier` must be Standard, Advanced or auto".into()),
    }
}

fn parameter_type(target: &RemoteTarget) -> Result<ParameterType, String> {
    let written = target.options.get("parameter_type");
    match written.map(String::as_str) {
        None | Some("SecureString") => Ok(ParameterType::SecureString),
        Some("String") => Ok(ParameterType::String),
        Some("StringList") => Ok(ParameterType::StringList),
        Some(other) => Err(format!(
            "`parameter_type` is `{other}`; it must be SecureString, String or StringList"
        )),
    }
}

/// Parameter names: letters, digits and `_.-`, with `/` between the levels of a hierarchy
/// (then the name starts with `/`), at most 15 levels, not starting with `aws` or `ssm`,
/// and at most 1011 characters counting the ARN in front of it.
fn check_name(name: &str, region: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the parameter name is empty".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c))) {
        return Err(format!(
            "the parameter name holds `{}`; Parameter Store allows letters, digits, _.- and \
             / between levels only",
            bad.escape_default()
        ));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err("a hierarchical parameter name must start with `/`".into());
    }
    if name.contains("//") || (name.len() > 1 && name.ends_with('/')) {
        return Err("the parameter name has an empty level".into());
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err("a parameter name must not start with `aws` or `ssm`, which AWS \
                    reserves"
            .into());
    }
    let depth = name.trim_start_matches('/').split('/').count();
    if depth > MAX_DEPTH {
        return Err(format!(
            "the parameter name has {depth} levels; Parameter Store allows {MAX_DEPTH}"
        ));
    }
    // arn:aws:ssm:REGION:ACCOUNT(12 digits):parameter/NAME
    let arn = format!("arn:aws:ssm:{}:123456789012:parameter/", region).len()
        + name.trim_start_matches('/').len();
    if arn > MAX_ARN {
        return Err(format!(
            "the parameter's ARN would be {arn} characters; Parameter Store allows \
             {MAX_ARN}, ARN included"
        ));
    }
    Ok(())
}

/// The store's rules for the target's name and options, checked before any request and by
/// `validate`, which passes an empty `region` (the ARN length is then a lower bound).
pub(crate) fn check_options(target: &RemoteTarget, region: &str) -> Result<(), String> {
    let name = target.options.get("name").map_or("", String::as_str);
    let refuse = |why: String| format!("aws-ssm `{name}`: {why}");
    check_name(name, region).map_err(refuse)?;
    tier(target).map_err(refuse)?;
    let kind = parameter_type(target).map_err(refuse)?;
    if target.options.contains_key("kms_key_id") && kind != ParameterType::SecureString {
        return Err(refuse("`kms_key_id` applies to SecureString parameters only".into()));
    }
    if let Some(d) = target.options.get("description")
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(refuse(format!("the description is longer than {MAX_DESCRIPTION} characters")));
    }
    aws::check_tags(&target.tags).map_err(refuse)
}

impl Store for ParameterStore {
    fn check_target(&self, target: &RemoteTarget) -> Result<(), String> {
        check_options(target, &self.region)
    }

    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        let name = target.options.get("name").map_or("", String::as_str);
        let (bytes, what) = stored_size(secret, value);
        let (limit, tier_name) = match tier(target) {
            Ok(Tier::Standard) => (
                STANDARD_BYTES,
                "a Standard parameter holds at most 4096 bytes (4 KB); set `tier: Advanced` for \
                 8 KB",
            ),
            _ => (ADVANCED_BYTES, "an Advanced parameter holds at most 8192 bytes (8 KB)"),
        };
        if bytes > limit {
            return Err(format!("{what}; aws-ssm `{name}`: {tier_name}"));
        }
        if bytes == 0 {
            return Err(format!(
                "the value of `{}` is empty; aws-ssm `{name}`: Parameter Store refuses empty \
                 values",
                secret.name
            ));
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let name = request.option("name").unwrap_or_default();
            match client.get_parameter().name(name).with_decryption(true).send().await {
                Ok(output) => Ok(match output.parameter().and_then(|p| p.value()) {
                    Some(text) => StoreRead::Text(text.to_string().into()),
                    None => StoreRead::Missing,
                }),
                Err(error) => match aws::error(error) {
                    error if error.code == "ParameterNotFound" => Ok(StoreRead::Missing),
                    error => Err(error),
                },
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
            let target_tier = match request.option("tier").map(str::to_ascii_lowercase).as_deref() {
                Some("standard") => Tier::Standard,
                Some("advanced") => Tier::Advanced,
                _ => Tier::Auto,
            };
            let needs_advanced = text.expose_secret().len() > STANDARD_BYTES;
            let kind = match request.option("parameter_type") {
                Some("String") => ParameterType::String,
                Some("StringList") => ParameterType::StringList,
                _ => ParameterType::SecureString,
            };
            let tags: Vec<Tag> = request
                .tags
                .iter()
                .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                .collect();
            let put = |overwrite: bool| {
                let tier = match (target_tier, needs_advanced, overwrite) {
                    (Tier::Standard, _, _) => Some(ParameterTier::Standard),
                    (Tier::Advanced, _, _) | (Tier::Auto, true, _) => Some(ParameterTier::Advanced),
                    (Tier::Auto, false, false) => Some(ParameterTier::Standard),
                    (Tier::Auto, false, true) => None,
                };
                client
                    .put_parameter()
                    .name(name)
                    .value(text.expose_secret())
                    .r#type(kind.clone())
                    .overwrite(overwrite)
                    .set_tier(tier)
                    .set_key_id(request.option("kms_key_id").map(str::to_string))
                    .set_description(request.option("description").map(str::to_string))
                    .set_tags((!overwrite && !tags.is_empty()).then(|| tags.clone()))
                    .send()
            };

            if request.exists != Some(true) {
                match put(false).await.map_err(aws::error) {
                    Ok(_) => return Ok(None),
                    Err(error) if error.code == "ParameterAlreadyExists" => {}
                    Err(error) => return Err(error),
                }
            }
            // Tags first: a refused tag leaves the value as it was, so the failure reported is
            // the whole truth.
            if !tags.is_empty() {
                client
                    .add_tags_to_resource()
                    .resource_type(ResourceTypeForTagging::Parameter)
                    .resource_id(name)
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .map_err(|e| aws::error(e).during("ssm:AddTagsToResource"))?;
            }
            put(true).await.map_err(aws::error)?;
            Ok(None)
        })
    }

    /// Reads (and decrypts) each parameter the Secretfile names, and asks to create each that
    /// exists without overwriting it, which Parameter Store refuses with
    /// `ParameterAlreadyExists` only when the identity may put it. Creating a missing
    /// parameter cannot be tried without creating it.
    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let client = self.client.clone();
        Box::pin(async move {
            client
                .describe_parameters()
                .max_results(1)
                .send()
                .await
                .map_err(|e| aws::error(e).during("ssm:DescribeParameters"))?;
            let mut seen =
                vec![Ok("credentials accepted; ssm:DescribeParameters allowed".to_string())];
            for request in targets {
                let name = request.option("name").unwrap_or_default();
                let read = client.get_parameter().name(name).with_decryption(true).send().await;
                match read.map_err(aws::error) {
                    Ok(_) => {}
                    Err(error) if error.code == "ParameterNotFound" => {
                        seen.push(Ok(format!(
                            "`{name}` does not exist yet (ssm:PutParameter is tried by the \
                             first sync)"
                        )));
                        continue;
                    }
                    Err(error) => {
                        seen.push(Err(error.during(format!("ssm:GetParameter on `{name}`"))));
                        continue;
                    }
                }
                let put = client
                    .put_parameter()
                    .name(name)
                    .value(PROBE_VALUE)
                    .r#type(ParameterType::String)
                    .overwrite(false)
                    .send()
                    .await;
                seen.push(match put.map_err(aws::error) {
                    Err(error) if error.code == "ParameterAlreadyExists" => {
                        Ok(format!("`{name}` may be read, decrypted and overwritten"))
                    }
                    Err(error) => Err(error.during(format!("ssm:PutParameter on `{name}`"))),
                    // Deleted between the two calls: it now holds the placeholder, which the
                    // next sync replaces.
                    Ok(_) => Ok(format!(
                        "`{name}` was deleted while it was checked and now holds the \
                         placeholder `{PROBE_VALUE}`; the next sync writes its value"
                    )),
                });
            }
            Ok(seen)
        })
    }
}

/// What `secretzero test` sends in a put that must be refused because the parameter exists.
const PROBE_VALUE: &str = "secretzero-test-placeholder";

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_follow_parameter_store_rules() {
        for good in ["/app/db/password", "plain_name-1.x", "/a"] {
            assert_eq!(check_name(good, "us-east-1"), Ok(()), "{good}");
        }
        let refused = |name: &str| check_name(name, "us-east-1").unwrap_err();
        assert!(refused("has space").contains("holds ` `"));
        assert!(refused("app/db").contains("must start with `/`"));
        assert!(refused("/app//db").contains("empty level"));
        assert!(refused("/AWS/x").contains("must not start with `aws` or `ssm`"));
        assert!(refused("ssm-param").contains("must not start with `aws` or `ssm`"));
        assert!(refused(&"/l".repeat(16)).contains("16 levels"));
        assert_eq!(check_name(&"/l".repeat(15), "us-east-1"), Ok(()));
        // arn:aws:ssm:us-east-1:123456789012:parameter/ is 45 characters.
        assert_eq!(check_name(&format!("/{}", "x".repeat(1011 - 45)), "us-east-1"), Ok(()));
        assert!(refused(&format!("/{}", "x".repeat(1012 - 45))).contains("1012 characters"));
    }
}
