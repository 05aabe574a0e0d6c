//! Planning what a run would change, and applying that plan.
//!
//! `plan` reads every target back once and decides, per secret and field, where the value
//! comes from and, per target, whether it is created, updated or left alone. `apply` makes
//! the missing values, writes the targets and updates the lockfile, recording only what was
//! written. Nothing here prints: the caller renders plans and outcomes.

mod apply;
mod plan;
mod status;

use secrecy::SecretString;

pub use apply::{Outcome, TargetFailure, apply};
pub use plan::{Options, plan};
pub(crate) use plan::{changed_fields, recorded_definitions};
pub use status::{SecretStatus, State, status, statuses};

use crate::secretfile::{Secret, Secretfile, TargetDef, TargetKind};
#[cfg(feature = "remote")]
use crate::target::RemoteTargets;
use crate::target::{LocalFiles, Target, Unsupported};

/// The targets of one run. Each target type is read and written through one instance, so
/// per-run caches (a parsed file, a connection) are shared by every secret.
#[derive(Debug)]
pub struct Targets {
    local: LocalFiles,
    unsupported: UnsupportedTargets,
    #[cfg(feature = "remote")]
    remote: RemoteTargets,
}

#[derive(Debug, Default)]
struct UnsupportedTargets(Option<Unsupported>);

impl Targets {
    /// The targets of the Secretfile `file`, whose lockfile is `lockfile`: neither is ever
    /// written as a target.
    pub fn new(file: &Secretfile, lockfile: &std::path::Path) -> Targets {
        Targets {
            local: LocalFiles::new(&file.path, lockfile),
            unsupported: UnsupportedTargets::default(),
            #[cfg(feature = "remote")]
            remote: RemoteTargets::new(&file.providers),
        }
    }

    /// Reads a local file as holding `bytes` instead of what is on disk: `migrate` confirms
    /// hashes against a file it will rewrite. `false` when the file must not be used, as for
    /// any read.
    pub(crate) fn preload(&mut self, file: &crate::secretfile::LocalFile, bytes: Vec<u8>) -> bool {
        self.local.preload(file, bytes)
    }

    /// The target type that reads and writes `target`.
    pub(crate) fn for_target(&mut self, target: &TargetDef) -> &mut dyn Target {
        match &target.kind {
            TargetKind::LocalFile(_) => &mut self.local,
            #[cfg(feature = "remote")]
            TargetKind::Remote(remote) if RemoteTargets::supports(remote.kind) => &mut self.remote,
            TargetKind::Remote(_) => self.unsupported.0.get_or_insert(Unsupported),
        }
    }

    /// Whether this build has the target's type (a build without a store's feature fails its
    /// targets on their own).
    pub(crate) fn built(&self, target: &TargetDef) -> bool {
        match &target.kind {
            TargetKind::LocalFile(_) => true,
            #[cfg(feature = "remote")]
            TargetKind::Remote(remote) => RemoteTargets::supports(remote.kind),
            #[cfg(not(feature = "remote"))]
            TargetKind::Remote(_) => false,
        }
    }

    /// Lets remote targets read everything the run will ask them for at once.
    pub(crate) fn prefetch<'a>(&mut self, secrets: impl Iterator<Item = &'a Secret>) {
        #[cfg(feature = "remote")]
        {
            let reads: Vec<(&Secret, &TargetDef)> = secrets
                .flat_map(|secret| secret.targets.iter().map(move |target| (secret, target)))
                .filter(|(_, target)| {
                    matches!(&target.kind, TargetKind::Remote(r) if RemoteTargets::supports(r.kind))
                })
                .collect();
            self.remote.prefetch(&reads);
        }
        #[cfg(not(feature = "remote"))]
        let _ = secrets;
    }

    /// The first authentication or authorization failure a remote target met, which makes
    /// the command exit 3.
    pub fn auth_failure(&self) -> Option<String> {
        #[cfg(feature = "remote")]
        if let Some(error) = self.remote.auth_failure() {
            return Some(error.to_string());
        }
        None
    }

    fn flush(&mut self) -> Vec<crate::target::FlushFailure> {
        let mut failures = self.local.flush();
        if let Some(unsupported) = &mut self.unsupported.0 {
            failures.extend(unsupported.flush());
        }
        #[cfg(feature = "remote")]
        failures.extend(self.remote.flush());
        failures
    }
}

/// The whole plan of a run, in Secretfile order.
#[derive(Debug)]
pub struct Plan {
    pub secrets: Vec<SecretPlan>,
    /// Lockfile entries of secrets the Secretfile no longer declares, with the targets each
    /// was last written to: a whole sync drops them.
    pub undeclared: Vec<(String, Vec<String>)>,
}

#[derive(Debug)]
pub struct SecretPlan {
    pub name: String,
    pub fields: Vec<FieldPlan>,
    pub targets: Vec<TargetPlan>,
    /// Set when the targets hold different values and no lockfile says which is right: the
    /// secret is left untouched until the user decides with `--force`.
    pub conflict: Option<String>,
    /// The keyed hash of the definition, recorded so a changed generator is noticed.
    pub definition: String,
    /// Per field, the keyed hash of its generator, so a change to one field is one change.
    pub definitions: std::collections::BTreeMap<String, String>,
    /// A rotation: a changed value moves `last_rotated` and `rotation_count`.
    pub rotate: bool,
}

#[derive(Debug)]
pub struct FieldPlan {
    pub name: String,
    pub source: Source,
    /// Known unless the value is still to be generated, or is recorded but readable nowhere.
    pub value: Option<SecretString>,
}

/// Where a field's value comes from in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The recorded value, read back from the named target.
    Keep { from: String },
    /// The recorded value, which no target can read back; fine while no target needs it.
    Recorded,
    /// The `value` of a static generator.
    Static,
    /// The environment variable named after the secret or field.
    Environment { variable: String },
    /// A new value, and why.
    Generate { reason: String },
    /// The targets hold different values and nothing says which is right.
    Undecided,
    /// A `one_time` value that no target holds any more; only `--force` replaces it.
    Lost,
    /// No lockfile entry, but the targets already hold this value: it is recorded, not
    /// replaced, so a lost lockfile never rotates everything.
    Adopt { from: Vec<String> },
    /// No lockfile entry and no readable value, but these targets hold one that they never
    /// give back (a Jenkins credential, a GitHub secret): it is not replaced behind the user's
    /// back; only `--force` (or the value from the environment) decides.
    Unread { at: Vec<String> },
    /// No lockfile entry and no readable value, and these targets could not be read this time:
    /// whether they hold a value is unknown, so none is made until they answer.
    Unreachable { at: Vec<String> },
}

#[derive(Debug)]
pub struct TargetPlan {
    pub id: String,
    pub action: Action,
    pub reason: String,
    /// Left alone only because the lockfile records it: the target could not be read back this
    /// time (unreachable), so whether it still holds the value is unknown. Not set for a store
    /// that never gives values back, which is trusted as recorded by design.
    pub unverified: bool,
    /// The target could not be read this time (unreachable, refused, an answer that made no
    /// sense), whatever the plan does with it: a dry run is then unsure of its plan.
    pub unread: bool,
    /// What a sealed store showed about the value it holds (see
    /// [`crate::target::Readback::Sealed`]).
    pub stamp: Option<String>,
    /// The keyed hash of a remote target's settings that are not part of its identity, for
    /// the lockfile.
    pub settings: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// Not written this run (conflict, or the value is not available); the reason says why.
    Skip,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Skip => "skip",
        }
    }
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.secrets.iter().flat_map(|s| &s.targets).filter(|t| t.action == action).count()
    }
}
