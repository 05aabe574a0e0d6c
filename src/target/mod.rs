//! Where values go: the [`Target`] trait and one implementation per target type.
//!
//! A target reads back what it holds (for adoption, no-op detection and, later, drift) and
//! writes values. Writes may be staged and made durable in [`Target::flush`], which lets the
//! local-file target rewrite each file once per run however many secrets it holds.

#[cfg(feature = "aws")]
mod aws_secretsmanager;
#[cfg(feature = "aws")]
mod aws_ssm;
#[cfg(feature = "azure")]
mod azure_keyvault;
#[cfg(feature = "kubernetes")]
mod external_secret;
pub mod format;
#[cfg(feature = "github")]
mod github_secret;
#[cfg(feature = "gitlab")]
mod gitlab_variable;
#[cfg(feature = "jenkins")]
mod jenkins_credential;
#[cfg(feature = "kubernetes")]
mod kubernetes_secret;
mod local;
mod remote;
#[cfg(feature = "vault")]
mod vault_kv;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

pub use local::LocalFiles;
pub(crate) use local::follow_links;
#[cfg(feature = "remote")]
pub use remote::{Probe, RemoteTargets};
pub use remote::{Unsupported, check_options};

use crate::secretfile::{Secret, TargetDef};

/// A secret's value: one field for a one-value secret, else the template's fields in order.
#[derive(Debug, Clone)]
pub struct SecretData {
    pub fields: Vec<(String, SecretString)>,
}

impl SecretData {
    pub fn field(&self, name: &str) -> Option<&SecretString> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Field by field equality of the exposed values.
    pub fn same_as(&self, other: &SecretData) -> bool {
        self.fields.len() == other.fields.len()
            && self.fields.iter().all(|(name, value)| {
                other.field(name).is_some_and(|o| o.expose_secret() == value.expose_secret())
            })
    }

    /// One byte string for the whole value, for the per-target hash: fields sorted by name,
    /// each length-prefixed so no two different values share an encoding.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut fields: Vec<&(String, SecretString)> = self.fields.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut bytes = Vec::new();
        for (name, value) in fields {
            for part in [name.as_bytes(), value.expose_secret().as_bytes()] {
                bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
                bytes.extend_from_slice(part);
            }
        }
        bytes
    }
}

/// What a target holds for a secret right now.
#[derive(Debug)]
pub enum Readback {
    Value(SecretData),
    /// Nothing there: the file, the key or every field is missing. A value with some of its
    /// fields is a [`Readback::Value`] with those fields only.
    Missing,
    /// The target cannot be read back (unreachable, or a type this build cannot reach); the
    /// reason says why.
    Unreadable(String),
    /// Something is stored there, but the store never gives values back (GitHub Actions
    /// secrets, Jenkins credentials). `stamp` is what the store does expose about the stored
    /// value (GitHub's `updated_at`), which changes whenever anyone writes it; `why` says what
    /// the store withholds.
    Sealed {
        stamp: Option<String>,
        why: String,
    },
    /// The target is there but must not be written: a file that does not parse, a key that
    /// holds something of another shape. The reason says why.
    Broken(String),
}

/// Errors from a target, naming the target and never the value.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} cannot be parsed, so SecretZero leaves it as it is")]
    Parse {
        path: String,
        #[source]
        source: format::FormatError,
    },
    #[error("the value of secret `{secret}` cannot be written to {path}")]
    Value {
        secret: String,
        path: String,
        #[source]
        source: format::FormatError,
    },
    /// A failure shared by several targets, such as one unreadable file holding many keys.
    #[error(transparent)]
    Shared(Arc<TargetError>),
    /// The plan left this target alone; the reason says why and what to do.
    #[error("{reason}")]
    Refused { reason: String },
    /// Built without the cargo feature that brings this target type.
    #[error("this build has no {kind} support (target {id}){}", feature_hint(feature))]
    Unsupported { kind: &'static str, id: String, feature: Option<&'static str> },
    /// A remote store refused or failed the request; the store's error code and what to do.
    /// Shown after the target's id, which the failure names already.
    #[error("{error}")]
    Remote { error: crate::provider::RemoteError },
}

fn feature_hint(feature: &Option<&'static str>) -> String {
    feature.map(|f| format!("; build it with `--features {f}`")).unwrap_or_default()
}

impl TargetError {
    /// Whether the failure is an authentication or authorization failure (exit code 3).
    pub fn is_auth(&self) -> bool {
        match self {
            TargetError::Remote { error, .. } => error.auth,
            TargetError::Shared(inner) => inner.is_auth(),
            _ => false,
        }
    }
}

/// One target type. `secret` and `target` come from the Secretfile.
pub trait Target {
    fn read(&mut self, secret: &Secret, target: &TargetDef) -> Readback;

    /// Writes, or stages for [`Target::flush`], a secret's value.
    fn write(
        &mut self,
        secret: &Secret,
        target: &TargetDef,
        value: &SecretData,
    ) -> Result<(), TargetError>;

    /// Whether `value` could be written to the target, so a dry run does not promise a write
    /// that would be refused. The reason names the secret and what is wrong, never the value.
    fn check(&self, secret: &Secret, target: &TargetDef, value: &SecretData) -> Result<(), String> {
        let _ = (secret, target, value);
        Ok(())
    }

    /// Whether any value the secret's generators could make could be written, for a value that
    /// is still to be generated. The reason names the secret and the rule, never a value.
    fn check_generated(&self, secret: &Secret, target: &TargetDef) -> Result<(), String> {
        let _ = (secret, target);
        Ok(())
    }

    /// Whether this build can write `target` at all, whatever the value; the reason says why
    /// not, so a dry run shows the write as skipped rather than promising it.
    fn available(&self, target: &TargetDef) -> Result<(), String> {
        let _ = target;
        Ok(())
    }

    /// Called once by the planner, before any [`Target::read`], with every secret and target
    /// it will read, so a remote target can read them all concurrently. Local files read
    /// lazily and need nothing here.
    fn prefetch(&mut self, reads: &[(&Secret, &TargetDef)]) {
        let _ = reads;
    }

    /// Makes staged writes durable; returns the staged writes that failed, so the caller
    /// records only what was written.
    fn flush(&mut self) -> Vec<FlushFailure>;

    /// After [`Target::flush`]: the stamp a sealed store showed for what this run wrote to
    /// `target` of `secret` (see [`Readback::Sealed`]), for the lockfile.
    fn stamp(&self, secret: &str, target: &str) -> Option<String> {
        let _ = (secret, target);
        None
    }
}

/// A staged write that did not become durable. One failed file fails every secret staged in
/// it, so the error is shared.
#[derive(Debug)]
pub struct FlushFailure {
    pub secret: String,
    pub target_id: String,
    pub error: Arc<TargetError>,
}
