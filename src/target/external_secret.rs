//! The `external-secret` target: an External Secrets Operator `ExternalSecret` manifest
//! (`external-secrets.io/v1`; ESO 0.17 stopped serving `v1beta1`) written to a file next to the
//! Secretfile, which tells the operator to copy the value from a store into a Kubernetes
//! Secret.
//!
//! The manifest never holds the value: it names the store (`secret_store`,
//! `secret_store_kind`), the entry there (`remote_key`; one `property` per field for a
//! multi-field secret, and for a one-value secret the `property` option, or the key Vault or a
//! Kubernetes Secret keeps it under) and the Secret to make (`target_name`, default `name`).
//! So the target is not where the value lives: reading it says the manifest is there and as it would be written
//! (sealed, with no stamp), or missing when the file is absent or differs, so that a sync
//! (re)writes it. The file is written to a temporary file in the same folder and renamed over
//! the old one, so a reader never sees half a manifest.
//!
//! The value itself belongs in the store the manifest points at: list that store as another
//! target of the secret.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::SecretData;
use super::remote::{BoxFuture, Checked, Request, Store, StoreRead};
use crate::provider::{Limiter, RemoteError};
use crate::secretfile::{RemoteTarget, Secret};

pub const API_VERSION: &str = "external-secrets.io/v1";

#[derive(Debug, Clone)]
struct ManifestStore {
    /// The Secretfile's folder: `path` is relative to it.
    base: PathBuf,
}

pub(crate) fn connect(target: &RemoteTarget) -> Result<(Arc<dyn Store>, Limiter), RemoteError> {
    Ok((Arc::new(ManifestStore { base: target.base.clone() }), Limiter::new(4)))
}

fn option<'a>(options: &'a indexmap::IndexMap<String, String>, key: &str) -> Option<&'a str> {
    options.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

fn dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

fn dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(dns_label)
}

/// A Go duration as `refreshInterval` takes it: `0`, or numbers with units (`1h30m`, `15s`).
fn go_duration(text: &str) -> bool {
    // Go's `time.ParseDuration`: an optional sign (a negative interval makes no sense here),
    // then numbers with units; the total must fit an int64 of nanoseconds.
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return true;
    }
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    let mut nanos = 0f64;
    while !rest.is_empty() {
        // A number as Go reads it: digits, at most one `.`, and a digit on at least one side.
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.matches('.').count() > 1 || !number.contains(|c: char| c.is_ascii_digit()) {
            return false;
        }
        rest = &rest[digits..];
        let units = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ];
        let Some((unit, scale)) =
            units.into_iter().filter(|(u, _)| rest.starts_with(u)).max_by_key(|(u, _)| u.len())
        else {
            return false;
        };
        let value: f64 = number.parse().unwrap_or(0.0);
        nanos += value * scale;
        rest = &rest[unit.len()..];
    }
    nanos <= i64::MAX as f64
}

/// A YAML scalar: JSON's double-quoted string is valid YAML and escapes everything.
fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The manifest a target writes; it depends only on the Secretfile, never on the value.
pub fn manifest(request: &Request) -> String {
    let options = &request.options;
    let name = option(options, "name").unwrap_or_default();
    let target_name = option(options, "target_name").unwrap_or(name);
    let store_kind = option(options, "secret_store_kind").unwrap_or("SecretStore");
    let remote_key = option(options, "remote_key").unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!(
        "# Written by SecretZero for secret `{}`: the value lives in the store named below.\n",
        request.secret
    ));
    out.push_str(&format!("apiVersion: {API_VERSION}\nkind: ExternalSecret\nmetadata:\n"));
    out.push_str(&format!("  name: {}\n", quoted(name)));
    if let Some(namespace) = option(options, "namespace") {
        out.push_str(&format!("  namespace: {}\n", quoted(namespace)));
    }
    out.push_str("spec:\n");
    let refresh = option(options, "refresh_interval").unwrap_or("1h");
    out.push_str(&format!("  refreshInterval: {}\n", quoted(refresh)));
    out.push_str("  secretStoreRef:\n");
    out.push_str(&format!(
        "    name: {}\n",
        quoted(option(options, "secret_store").unwrap_or_default())
    ));
    out.push_str(&format!("    kind: {}\n", quoted(store_kind)));
    out.push_str("  target:\n");
    out.push_str(&format!("    name: {}\n", quoted(target_name)));
    out.push_str("    creationPolicy: \"Owner\"\n");
    out.push_str("  data:\n");
    if request.single {
        out.push_str(&format!("    - secretKey: {}\n", quoted(&request.secret)));
        out.push_str("      remoteRef:\n");
        out.push_str(&format!("        key: {}\n", quoted(remote_key)));
        if let Some(property) = option(options, "property") {
            out.push_str(&format!("        property: {}\n", quoted(property)));
        }
    } else {
        for field in &request.fields {
            out.push_str(&format!("    - secretKey: {}\n", quoted(field)));
            out.push_str("      remoteRef:\n");
            out.push_str(&format!("        key: {}\n", quoted(remote_key)));
            out.push_str(&format!("        property: {}\n", quoted(field)));
        }
    }
    out
}

impl ManifestStore {
    fn file(&self, request: &Request) -> PathBuf {
        crate::secretfile::join(&self.base, option(&request.options, "path").unwrap_or_default())
    }
}

/// The store's rules for the target's names and options, checked when the Secretfile loads
/// (`secretfile/target`), before any request.
pub(crate) fn check_options(secret: &Secret, target: &RemoteTarget) -> Result<(), String> {
    let options = &target.options;
    let path = option(options, "path").unwrap_or_default();
    let refuse = |why: String| format!("external-secret `{path}`: {why}");
    if option(options, "property").is_some() && !secret.is_single() {
        return Err(refuse(format!(
            "`property` is for a one-value secret; each field of `{}` is its own property",
            secret.name
        )));
    }
    let name = option(options, "name").unwrap_or_default();
    for (what, value) in [("name", Some(name)), ("target_name", option(options, "target_name"))] {
        if let Some(value) = value
            && !dns_subdomain(value)
        {
            return Err(refuse(format!(
                "`{what}` `{value}` must be a DNS subdomain name: at most 253 lowercase \
                 letters, digits, `-` and `.`, each part starting and ending with a letter \
                 or digit"
            )));
        }
    }
    if let Some(namespace) = option(options, "namespace")
        && !(namespace.len() <= 63 && dns_label(namespace))
    {
        return Err(refuse(format!(
            "namespace `{namespace}` must be a DNS label: 1 to 63 lowercase letters, digits \
             and `-`"
        )));
    }
    if let Some(store) = option(options, "secret_store")
        && !dns_subdomain(store)
    {
        return Err(refuse(format!("`secret_store` `{store}` must be a DNS subdomain name")));
    }
    if option(options, "remote_key").is_none() {
        return Err(refuse("`remote_key` is empty".into()));
    }
    match option(options, "secret_store_kind") {
        None | Some("SecretStore" | "ClusterSecretStore") => {}
        Some(other) => {
            return Err(refuse(format!(
                "`secret_store_kind` is `{other}`; it must be SecretStore or ClusterSecretStore"
            )));
        }
    }
    if let Some(refresh) = option(options, "refresh_interval")
        && !go_duration(refresh)
    {
        return Err(refuse(format!(
            "`refresh_interval` `{refresh}` is not a duration such as 1h, 30m or 15s"
        )));
    }
    Ok(())
}

impl Store for ManifestStore {
    fn check_value(&self, _: &Secret, _: &RemoteTarget, _: &SecretData) -> Result<(), String> {
        Ok(())
    }

    fn read(&self, request: Arc<Request>) -> BoxFuture<Result<StoreRead, RemoteError>> {
        let file = self.file(&request);
        let real = super::local::checked_path(&self.base, &file);
        Box::pin(async move {
            let file = match real {
                Ok(real) => real,
                Err(why) => return Ok(StoreRead::Broken(format!("{}: {why}", file.display()))),
            };
            match std::fs::read_to_string(&file) {
                Ok(text) if text == manifest(&request) => Ok(StoreRead::Sealed {
                    stamp: None,
                    why: "an ExternalSecret manifest holds no value".into(),
                }),
                Ok(_) => Ok(StoreRead::Missing),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoreRead::Missing),
                Err(e) => {
                    Err(RemoteError::new("io", format!("cannot read {}: {e}", file.display())))
                }
            }
        })
    }

    fn write(
        &self,
        request: Arc<Request>,
        _: SecretData,
    ) -> BoxFuture<Result<Option<String>, RemoteError>> {
        let file = self.file(&request);
        let real = super::local::checked_path(&self.base, &file);
        Box::pin(async move {
            let file =
                real.map_err(|why| RemoteError::new("path", format!("{}: {why}", file.display())))?;
            let io = |e: std::io::Error| {
                RemoteError::new("io", format!("cannot write {}: {e}", file.display()))
            };
            let folder = file.parent().map(PathBuf::from).unwrap_or_default();
            std::fs::create_dir_all(&folder).map_err(io)?;
            let mut temp = tempfile::NamedTempFile::new_in(&folder).map_err(io)?;
            temp.write_all(manifest(&request).as_bytes()).map_err(io)?;
            temp.as_file().sync_all().map_err(io)?;
            temp.persist(&file).map_err(|e| io(e.error))?;
            Ok(None)
        })
    }

    fn probe(&self, targets: Vec<Arc<Request>>) -> BoxFuture<Result<Vec<Checked>, RemoteError>> {
        let base = self.base.clone();
        Box::pin(async move {
            let _ = base;
            Ok(vec![Ok(format!("{} manifest file(s); nothing to check remotely", targets.len()))])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations_are_read_as_go_reads_them() {
        for good in ["0", "1h", "+1h", "30m", "1h30m", "1.5h", ".5s", "5.s", "300ms", "2µs", "10us"]
        {
            assert!(go_duration(good), "{good}");
        }
        for bad in ["", "1", "h", "1..h", ".h", "1.2.3s", "-1h", "1d", "1h ", "1hm", "9999999999h"]
        {
            assert!(!go_duration(bad), "{bad}");
        }
    }
}
