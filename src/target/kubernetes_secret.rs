//! The `kubernetes-secret` target: keys of a Kubernetes Secret (core/v1).
//!
//! A one-value secret is the data key `key` (default: the secret's name); a multi-field secret
//! is one data key per field. Several secrets may share one Secret, each with its own keys.
//!
//! Writes use optimistic concurrency: read the Secret, change only SecretZero's data keys, its
//! labels and its annotations, and replace it with the `resourceVersion` that was read. When
//! someone else changed it meanwhile, the API server answers 409 Conflict and the write reads
//! again and retries (at most [`CONFLICT_ATTEMPTS`] times). A missing Secret is created; when a
//! create meets 409 AlreadyExists, the write reads it and updates it. Other keys, labels and
//! annotations are kept.
//!
//! Limits, checked before any request (<https://kubernetes.io/docs/concepts/overview/working-with-objects/names/>,
//! <https://kubernetes.io/docs/concepts/configuration/secret/#restriction-data-size>,
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set>,
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/#syntax-and-character-set>):
//! the name is a DNS subdomain name (at most 253 characters), the namespace a DNS label (at most
//! 63), data keys `[-._a-zA-Z0-9]+` of at most 253 characters, all data at most 1 MiB (counting
//! the Secret's other keys when it was read), label keys and values, annotation keys, and all
//! annotations at most 256 KiB.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::ByteString;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::api::{Api, ObjectMeta, PostParams};
use secrecy::{ExposeSecret, SecretString};

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead};
use crate::provider::kubernetes::{Kubernetes, failure, status_code};
use crate::provider::{Limiter, RemoteError, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret};

/// The API server's default client-side limits in client-go are 5 requests a second with
/// bursts of 10, and API Priority and Fairness shares the server between clients; 4 in flight
/// stays well inside both. Raise it with `max_in_flight`.
const DEFAULT_IN_FLIGHT: usize = 4;
/// All of a Secret's data, keys and values: 1 MiB.
const MAX_DATA_BYTES: usize = 1024 * 1024;
/// All of an object's annotations, keys and values: 256 KiB.
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;
/// How many times a write reads again after a 409 Conflict or AlreadyExists.
const CONFLICT_ATTEMPTS: usize = 5;
const RBAC: &str = "get, create and update on secrets in the namespace";

/// The size (key plus value bytes) of each data key of a Secret.
type KeySizes = BTreeMap<String, usize>;

/// Cheap to clone: each request's future holds its own handle.
#[derive(Debug, Clone)]
struct SecretStore {
    kube: Arc<Kubernetes>,
    /// The size (key plus value bytes) of every data key of each Secret read, by namespace and
    /// name, for the 1 MiB check. Sizes only: values are never kept.
    sizes: Arc<Mutex<HashMap<(String, String), KeySizes>>>,
}

pub(crate) fn connect(provider: &Provider) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let kube = Arc::new(Kubernetes::new(provider)?);
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    let store = SecretStore { kube, sizes: Arc::new(Mutex::new(HashMap::new())) };
    Ok((Arc::new(store), Limiter::new(limit)))
}

/// A DNS label (RFC 1123): lowercase letters, digits and `-`, starting and ending with a letter
/// or digit.
fn dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// A DNS subdomain name (RFC 1123): DNS labels joined by `.`, at most 253 characters.
fn dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(dns_label)
}

/// The name part of a label or annotation key, and a label value: at most 63 characters,
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
fn qualified_name_part(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.len() <= 63
        && edge(text.chars().next())
        && edge(text.chars().last())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name.
fn check_qualified_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !dns_subdomain(prefix)
    {
        return Err(format!(
            "key `{key}`: the prefix before `/` must be a DNS subdomain (lowercase letters, \
             digits, `-` and `.`, at most 253 characters)"
        ));
    }
    if !qualified_name_part(name) {
        return Err(format!(
            "key `{key}`: the name must be 1 to 63 letters, digits, `-`, `_` or `.`, starting \
             and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
fn check_data_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 253 {
        return Err(format!("data key `{key}` must be 1 to 253 characters"));
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(format!("data key `{key}` may hold only letters, digits, `-`, `_` and `.`"));
    }
    if key == "." || key == ".." || key.starts_with("..") {
        return Err(format!("data key `{key}` must not be `.`, `..` or start with `..`"));
    }
    Ok(())
}

fn option<'a>(options: &'a indexmap::IndexMap<String, String>, key: &str) -> &'a str {
    options.get(key).map_or("", String::as_str)
}

/// The labels (`label:` entries) or annotations (`annotation:` entries) a target sets.
fn metadata_map(tags: &indexmap::IndexMap<String, String>, prefix: &str) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
        .collect()
}

/// The data keys a secret writes, with their values' fields.
fn data_keys(
    secret: &str,
    single: bool,
    options: &indexmap::IndexMap<String, String>,
    fields: &[String],
) -> Vec<(String, String)> {
    if single {
        let key = options.get("key").cloned().unwrap_or_else(|| secret.to_string());
        vec![(key, fields.first().cloned().unwrap_or_default())]
    } else {
        fields.iter().map(|f| (f.clone(), f.clone())).collect()
    }
}

impl SecretStore {
    async fn get(&self, namespace: &str, name: &str) -> Result<Option<KubeSecret>, RemoteError> {
        let found = self
            .kube
            .call(|client| async move {
                Api::<KubeSecret>::namespaced(client, namespace).get_opt(name).await
            })
            .await
            .map_err(|e| failure(e, RBAC).during(format!("reading Secret {namespace}/{name}")))?;
        let sizes: BTreeMap<String, usize> = found
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .map(|data| data.iter().map(|(k, v)| (k.clone(), v.0.len())).collect())
            .unwrap_or_default();
        let key = (namespace.to_string(), name.to_string());
        self.sizes.lock().expect("not poisoned").insert(key, sizes);
        Ok(found)
    }

    /// Reads, changes SecretZero's keys and writes back, again after a conflict.
    async fn put(&self, request: &Request, value: &SecretData) -> Result<(), RemoteError> {
        let namespace = request.option("namespace").unwrap_or_default();
        let name = request.option("name").unwrap_or_default();
        let wanted_type = request.options.get("secret_type").map_or("Opaque", String::as_str);
        let keys = data_keys(&request.secret, request.single, &request.options, &request.fields);
        let object = format!("Secret {namespace}/{name}");
        let mut last = None;
        for _ in 0..CONFLICT_ATTEMPTS {
            let found = self.get(namespace, name).await?;
            let creating = found.is_none();
            let mut secret = found.unwrap_or_else(|| KubeSecret {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(namespace.to_string()),
                    ..Default::default()
                },
                type_: Some(wanted_type.to_string()),
                ..Default::default()
            });
            let held_type = secret.type_.as_deref().unwrap_or("Opaque");
            if held_type != wanted_type {
                return Err(RemoteError::new(
                    "type",
                    format!("{object} has type `{held_type}`; the target asks for `{wanted_type}`"),
                )
                .hint("a Secret's type cannot change: delete the Secret or set `secret_type`"));
            }
            let data = secret.data.get_or_insert_with(BTreeMap::new);
            for (key, field) in &keys {
                let Some((_, v)) = value.fields.iter().find(|(f, _)| f == field) else {
                    continue;
                };
                data.insert(key.clone(), ByteString(v.expose_secret().as_bytes().to_vec()));
            }
            let labels = secret.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(metadata_map(&request.tags, "label:"));
            let annotations = secret.metadata.annotations.get_or_insert_with(BTreeMap::new);
            annotations.extend(metadata_map(&request.tags, "annotation:"));
            let secret = &secret;
            let params =
                PostParams { field_manager: Some("secretzero".into()), ..Default::default() };
            let params = &params;
            let result = self
                .kube
                .call(|client| async move {
                    let api = Api::<KubeSecret>::namespaced(client, namespace);
                    if creating {
                        api.create(params, secret).await
                    } else {
                        api.replace(name, params, secret).await
                    }
                })
                .await;
            match result {
                Ok(_) => return Ok(()),
                // Changed (or created) by someone else since it was read: read it again.
                Err(error) if status_code(&error) == Some(409) => {
                    last = Some(failure(error, RBAC));
                }
                Err(error) => {
                    let call = if creating { "creating" } else { "updating" };
                    return Err(failure(error, RBAC).during(format!("{call} {object}")));
                }
            }
        }
        let error = last.unwrap_or_else(|| RemoteError::new("Conflict", "no attempt made"));
        Err(error.during(format!("updating {object}")).hint(format!(
            "{object} kept changing under {CONFLICT_ATTEMPTS} attempts; sync again later"
        )))
    }
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
    let namespace = option(&target.options, "namespace");
    let name = option(&target.options, "name");
    let refuse = |why: String| format!("kubernetes-secret `{namespace}/{name}`: {why}");
    if !(namespace.len() <= 63 && dns_label(namespace)) {
        return Err(refuse(
            "the namespace must be a DNS label: 1 to 63 lowercase letters, digits and `-`, \
             starting and ending with a letter or digit"
                .into(),
        ));
    }
    if !dns_subdomain(name) {
        return Err(refuse(
            "the name must be a DNS subdomain: at most 253 lowercase letters, digits, `-` \
             and `.`, each part starting and ending with a letter or digit"
                .into(),
        ));
    }
    if target.options.contains_key("key") && !secret.is_single() {
        let fields: Vec<&str> = secret.fields.iter().map(|f| f.name.as_str()).collect();
        return Err(refuse(format!(
            "`key` names the data key of a one-value secret; the fields of `{}` are written \
             as keys named after them ({})",
            secret.name,
            fields.join(", ")
        )));
    }
    let fields: Vec<String> = secret.fields.iter().map(|f| f.name.clone()).collect();
    for (key, _) in data_keys(&secret.name, secret.is_single(), &target.options, &fields) {
        check_data_key(&key).map_err(refuse)?;
    }
    if let Some(kind) = target.options.get("secret_type")
        && (kind.is_empty() || kind.len() > 253)
    {
        return Err(refuse("`secret_type` must be 1 to 253 characters".into()));
    }
    for (key, value) in metadata_map(&target.tags, "label:") {
        check_qualified_key(&key).map_err(|e| refuse(format!("label {e}")))?;
        if !(value.is_empty() || qualified_name_part(&value)) {
            return Err(refuse(format!(
                "the value of label `{key}` must be empty or 1 to 63 letters, digits, `-`, \
                 `_` or `.`, starting and ending with a letter or digit"
            )));
        }
    }
    let mut annotation_bytes = 0;
    for (key, value) in metadata_map(&target.tags, "annotation:") {
        check_qualified_key(&key).map_err(|e| refuse(format!("annotation {e}")))?;
        annotation_bytes += key.len() + value.len();
    }
    if annotation_bytes > MAX_ANNOTATION_BYTES {
        return Err(refuse(format!(
            "the annotations are {annotation_bytes} bytes; Kubernetes allows 256 KiB in all"
        )));
    }
    if target.tags.keys().any(|k| !k.starts_with("label:") && !k.starts_with("annotation:")) {
        return Err(refuse("use `labels` and `annotations`; it takes no `tags`".into()));
    }
    Ok(())
}

impl Store for SecretStore {
    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        let namespace = option(&target.options, "namespace");
        let name = option(&target.options, "name");
        let refuse = |why: String| format!("kubernetes-secret `{namespace}/{name}`: {why}");
        // Keys were checked with the Secretfile (`check_options`); sizes need the values.
        let fields: Vec<String> = secret.fields.iter().map(|f| f.name.clone()).collect();
        let keys = data_keys(&secret.name, secret.is_single(), &target.options, &fields);
        // The API server sums the values of every key of a Secret: the keys it held when last
        // read count, and so do the keys other secrets of this run were checked to write, so
        // the secret that would pass the limit is the one refused.
        let mut all = self.sizes.lock().expect("not poisoned");
        let held = all.entry((namespace.to_string(), name.to_string())).or_default();
        let mut sizes = held.clone();
        for (key, field) in &keys {
            let bytes = value
                .fields
                .iter()
                .find(|(f, _)| f == field)
                .map_or(0, |(_, v)| v.expose_secret().len());
            sizes.insert(key.clone(), bytes);
        }
        let total: usize = sizes.values().sum();
        if total > MAX_DATA_BYTES {
            return Err(refuse(format!(
                "the value of `{}` makes the Secret's data {total} bytes; Kubernetes allows \
                 1 MiB (1048576 bytes) of values per Secret",
                secret.name
            )));
        }
        *held = sizes;
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let namespace = option(&request.options, "namespace");
            let name = option(&request.options, "name");
            let Some(found) = store.get(namespace, name).await? else {
                return Ok(StoreRead::Missing);
            };
            let wanted = request.options.get("secret_type").map_or("Opaque", String::as_str);
            let held = found.type_.as_deref().unwrap_or("Opaque");
            if held != wanted {
                return Ok(StoreRead::Broken(format!(
                    "Secret {namespace}/{name} has type `{held}` and the target asks for \
                     `{wanted}`; a Secret's type cannot change: delete the Secret or set \
                     `secret_type: {held}`"
                )));
            }
            let data = found.data.unwrap_or_default();
            let keys =
                data_keys(&request.secret, request.single, &request.options, &request.fields);
            let mut fields = Vec::new();
            for (key, field) in keys {
                let Some(bytes) = data.get(&key) else { continue };
                let Ok(text) = String::from_utf8(bytes.0.clone()) else {
                    return Ok(StoreRead::Broken(format!(
                        "data key `{key}` of Secret {namespace}/{name} is not UTF-8 text"
                    )));
                };
                fields.push((field, SecretString::from(text)));
            }
            if fields.is_empty() {
                return Ok(StoreRead::Missing);
            }
            Ok(StoreRead::Fields(fields))
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move { store.put(&request, &value).await.map(|()| None) })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let mut namespaces: Vec<String> =
                targets.iter().map(|r| option(&r.options, "namespace").to_string()).collect();
            namespaces.sort();
            namespaces.dedup();
            if namespaces.is_empty() {
                // Nothing to check permissions on: a request that proves the credentials.
                store
                    .kube
                    .call(|client| async move { client.apiserver_version().await })
                    .await
                    .map_err(|e| failure(e, RBAC).during("reading the server version"))?;
                return Ok(vec![Ok("credentials accepted".into())]);
            }
            let mut seen = Vec::new();
            for namespace in &namespaces {
                let mut missing = Vec::new();
                for verb in ["get", "create", "update"] {
                    let review = SelfSubjectAccessReview {
                        spec: SelfSubjectAccessReviewSpec {
                            resource_attributes: Some(ResourceAttributes {
                                namespace: Some(namespace.clone()),
                                verb: Some(verb.into()),
                                resource: Some("secrets".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    let review = &review;
                    let answer = store
                        .kube
                        .call(|client| async move {
                            Api::<SelfSubjectAccessReview>::all(client)
                                .create(&PostParams::default(), review)
                                .await
                        })
                        .await
                        .map_err(|e| {
                            failure(e, "create on selfsubjectaccessreviews")
                                .during("asking the API server what the identity may do")
                        })?;
                    if !answer.status.is_some_and(|s| s.allowed) {
                        missing.push(verb);
                    }
                }
                seen.push(match missing.is_empty() {
                    true => {
                        Ok(format!("get, create and update on secrets allowed in `{namespace}`"))
                    }
                    false => Err(RemoteError::new(
                        "Forbidden",
                        format!(
                            "the identity may not {} secrets in namespace `{namespace}`",
                            missing.join(", ")
                        ),
                    )
                    .auth()
                    .hint(format!("grant RBAC {RBAC}"))),
                });
            }
            Ok(seen)
        })
    }
}
