//! The `vault-kv` target: one secret in a HashiCorp Vault KV secrets engine per target.
//!
//! The secret's fields are the KV secret's keys; a one-value secret is the key `value`. KV
//! version 2 (`mount`/data/`path`) and version 1 (`mount`/`path`) are both written; without
//! `version:`, the mount's version is read from `sys/internal/ui/mounts/<mount>` (which every
//! token may read for mounts it can use), and version 2 is assumed when that is refused.
//! `cas: "true"` writes with check-and-set: the write names the version that was read, so a
//! change made meanwhile by someone else is refused rather than overwritten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead};
use crate::provider::vault::{Vault, api_path};
use crate::provider::{Limiter, RemoteError, max_in_flight};
use crate::secretfile::{Provider, RemoteTarget, Secret};

/// Vault publishes no request rate of its own (rate limit quotas are set by each operator);
/// 8 in flight keeps a shared server comfortable. Raise it with `max_in_flight`.
const DEFAULT_IN_FLIGHT: usize = 8;
/// The listener's default `max_request_size`: 32 MiB.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// Cheap to clone: each request's future holds its own handle.
#[derive(Debug, Clone)]
struct KvStore {
    vault: Arc<Vault>,
    /// Each mount's KV version, once known.
    mounts: Arc<tokio::sync::Mutex<HashMap<String, u8>>>,
    /// The version each KV v2 secret had when read, for check-and-set.
    read_versions: Arc<Mutex<HashMap<String, u64>>>,
}

pub(crate) fn connect(provider: &Provider) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    let vault = Arc::new(Vault::new(provider)?);
    let limit = max_in_flight(provider, DEFAULT_IN_FLIGHT)?;
    let store = KvStore {
        vault,
        mounts: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
        read_versions: Arc::new(Mutex::new(HashMap::new())),
    };
    Ok((Arc::new(store), Limiter::new(limit)))
}

fn mount_of(options: &indexmap::IndexMap<String, String>) -> &str {
    options.get("mount").map_or(crate::secretfile::DEFAULT_VAULT_MOUNT, |m| m.trim_matches('/'))
}

/// A path as Vault takes it: segments that are not empty, `.` or `..`, without control
/// characters.
fn check_path(what: &str, path: &str) -> Result<(), String> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if path.chars().any(char::is_control) {
        return Err(format!("the {what} holds a control character"));
    }
    if trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!("the {what} `{path}` has an empty, `.` or `..` segment"));
    }
    Ok(())
}

impl KvStore {
    /// The KV version of `mount`: as written, else detected once per mount.
    async fn version(&self, request: &Request) -> Result<u8, RemoteError> {
        match request.option("version") {
            Some("1") => return Ok(1),
            Some("2") => return Ok(2),
            _ => {}
        }
        let mount = mount_of(&request.options).to_string();
        let mut mounts = self.mounts.lock().await;
        if let Some(version) = mounts.get(&mount) {
            return Ok(*version);
        }
        let path = format!("sys/internal/ui/mounts/{}", api_path(&[&mount]));
        let (status, body) = self.vault.call(Method::GET, &path, None).await?;
        let version = match (status, body["data"]["options"]["version"].as_str()) {
            (200, Some("1")) => 1,
            (200, None) if body["data"]["type"].as_str() == Some("kv") => 1,
            // Refused or unknown: version 2 is what `vault secrets enable kv-v2` and dev
            // servers make, and `version:` settles it.
            _ => 2,
        };
        mounts.insert(mount, version);
        Ok(version)
    }

    fn data_path(request: &Request, version: u8) -> String {
        let mount = mount_of(&request.options);
        let path = request.option("path").unwrap_or_default();
        match version {
            1 => api_path(&[mount, path]),
            _ => format!("{}/data/{}", api_path(&[mount]), api_path(&[path])),
        }
    }
}

/// The secret's fields as the KV secret's keys.
fn payload(value: &SecretData) -> Map<String, Value> {
    value.fields.iter().map(|(n, v)| (n.clone(), Value::String(v.expose_secret().into()))).collect()
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(target: &RemoteTarget) -> Result<(), String> {
    let path = target.options.get("path").map_or("", String::as_str);
    let refuse = |why: String| format!("vault-kv `{path}`: {why}");
    check_path("path", path).map_err(refuse)?;
    check_path("mount", mount_of(&target.options)).map_err(refuse)?;
    let version = target.options.get("version").map(String::as_str);
    if !matches!(version, None | Some("1") | Some("2")) {
        return Err(refuse("`version` must be 1 or 2".into()));
    }
    match target.options.get("cas").map(String::as_str) {
        None | Some("false") => Ok(()),
        Some("true") if version == Some("1") => {
            Err(refuse("check-and-set (`cas`) needs KV version 2".into()))
        }
        Some("true") => Ok(()),
        Some(_) => Err(refuse("`cas` must be \"true\" or \"false\"".into())),
    }
}

impl Store for KvStore {
    fn check_value(
        &self,
        secret: &Secret,
        target: &RemoteTarget,
        value: &SecretData,
    ) -> Result<(), String> {
        let bytes = Value::Object(payload(value)).to_string().len() + 64;
        if bytes > MAX_REQUEST_BYTES {
            let path = target.options.get("path").map_or("", String::as_str);
            return Err(format!(
                "the value of `{}` makes a request of {bytes} bytes; vault-kv `{path}`: Vault \
                 accepts requests of at most 32 MiB (the listener's default max_request_size)",
                secret.name
            ));
        }
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let version = store.version(&request).await?;
            let path = KvStore::data_path(&request, version);
            let (status, body) = store.vault.call(Method::GET, &path, None).await?;
            // KV v2 answers 404 with the metadata of a deleted or destroyed latest version.
            let found = body["data"]["metadata"]["version"].as_u64();
            if let Some(found) = found {
                store.read_versions.lock().expect("not poisoned").insert(path.clone(), found);
            }
            if status == 404 {
                return Ok(StoreRead::Missing);
            }
            let body = Vault::check(status, body)?;
            let data = match version {
                1 => &body["data"],
                _ => &body["data"]["data"],
            };
            let Some(data) = data.as_object() else { return Ok(StoreRead::Missing) };
            let fields = data
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), SecretString::from(v.as_str()?.to_string()))))
                .collect();
            Ok(StoreRead::Fields(fields))
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        value: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let version = store.version(&request).await?;
            let path = KvStore::data_path(&request, version);
            let body = match version {
                1 => Value::Object(payload(&value)),
                _ if request.option("cas") == Some("true") => {
                    let seen =
                        store.read_versions.lock().expect("not poisoned").get(&path).copied();
                    json!({"data": payload(&value), "options": {"cas": seen.unwrap_or(0)}})
                }
                _ => json!({"data": payload(&value)}),
            };
            let (status, reply) = store.vault.call(Method::POST, &path, Some(body)).await?;
            Vault::check(status, reply).map(|_| None).map_err(|error| {
                if error.message.contains("check-and-set") {
                    error.hint(
                        "the secret changed since it was read; run `secretzero drift`, then sync \
                         again",
                    )
                } else {
                    error
                }
            })
        })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let store = self.clone();
        Box::pin(async move {
            let (status, body) =
                store.vault.call(Method::GET, "auth/token/lookup-self", None).await?;
            let body = Vault::check(status, body)?;
            let policies = body["data"]["policies"]
                .as_array()
                .map(|p| p.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            let mut seen = vec![Ok(format!("token accepted (policies: {policies})"))];
            if targets.is_empty() {
                return Ok(seen);
            }

            // The capabilities the token has on every path a sync reads and writes.
            let mut paths = Vec::new();
            for request in &targets {
                let version = store.version(request).await?;
                paths.push(KvStore::data_path(request, version));
            }
            let body = json!({"paths": paths});
            let (status, reply) =
                store.vault.call(Method::POST, "sys/capabilities-self", Some(body)).await?;
            let reply = Vault::check(status, reply)?;
            for path in &paths {
                let caps: Vec<&str> = reply["data"][path]
                    .as_array()
                    .or(reply[path].as_array())
                    .map(|c| c.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let has = |c: &str| caps.contains(&c) || caps.contains(&"root");
                let missing: Vec<&str> =
                    ["read", "create", "update"].into_iter().filter(|c| !has(c)).collect();
                seen.push(match missing.is_empty() {
                    true => Ok(format!("read, create and update allowed on `{path}`")),
                    false => Err(RemoteError::new(
                        "HTTP 403",
                        format!("the token lacks {} on `{path}`", missing.join(", ")),
                    )
                    .auth()
                    .hint("grant read, create and update on the path in the token's policy")),
                });
            }
            Ok(seen)
        })
    }
}
