//! Drift: where the world no longer matches the lockfile and the Secretfile.
//!
//! Every target is read back and what it holds is hashed and compared with what the lockfile
//! records; the Secretfile is compared with the definitions the lockfile recorded. Each
//! difference is a [`Finding`] at the place in the Secretfile it concerns. A target that cannot
//! be read back says so rather than passing as "no drift". Nothing here writes or prints.

use std::path::Path;

use secrecy::ExposeSecret;

use crate::engine::{Targets, changed_fields};
use crate::lockfile::{Hasher, LEGACY_VALUE_FIELD, Lockfile, SecretEntry};
use crate::report::{Finding, Severity};
use crate::secretfile::{
    Provider, RemoteKind, RemoteTarget, Secret, Secretfile, TargetDef, TargetKind, env_override,
};
use crate::target::{Readback, SecretData};

/// Rule ids, one per kind of drift.
pub mod rule {
    pub const VALUE_CHANGED: &str = "drift/value-changed";
    pub const STALE_TARGET: &str = "drift/stale-target";
    pub const TARGET_MISSING: &str = "drift/target-missing";
    pub const TARGET_BROKEN: &str = "drift/target-broken";
    pub const TARGET_NOT_SYNCED: &str = "drift/target-not-synced";
    pub const TARGET_REMOVED: &str = "drift/target-removed";
    pub const DEFINITION_CHANGED: &str = "drift/definition-changed";
    pub const NOT_SYNCED: &str = "drift/not-synced";
    pub const REMOVED: &str = "drift/removed";
    pub const UNREADABLE: &str = "drift/unreadable";
}

/// The result of a drift check.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Secrets and targets looked at, for the summary.
    pub secrets: usize,
    pub targets: usize,
}

impl Report {
    /// Whether anything drifted. A target that cannot be read back is not drift: it is
    /// reported so that nobody takes silence for a clean result.
    pub fn drifted(&self) -> bool {
        self.findings.iter().any(|f| f.rule != rule::UNREADABLE)
    }

    /// Targets whose read failed (unreachable, refused, an answer that made no sense), as
    /// opposed to stores that never give values back: the check did not finish.
    pub fn unread(&self) -> usize {
        let failed = |f: &&Finding| f.rule == rule::UNREADABLE && f.severity == Severity::Error;
        self.findings.iter().filter(failed).count()
    }
}

/// Checks the selected secrets (all when `only` is empty) against `lock`. `hasher` is the
/// lockfile's; `lockfile_path` names the lockfile in findings about secrets it alone knows.
pub fn check(
    file: &Secretfile,
    lock: &Lockfile,
    hasher: &Hasher,
    targets: &mut Targets,
    only: &[String],
    lockfile_path: &Path,
) -> Report {
    let mut report = Report::default();
    let selected = |name: &str| only.is_empty() || only.iter().any(|n| n == name);
    targets.prefetch(file.secrets.values().filter(|s| selected(&s.name)));
    for secret in file.secrets.values().filter(|s| selected(&s.name)) {
        report.secrets += 1;
        report.targets += secret.targets.len();
        let entry = lock.secrets.get(&secret.name);
        let mut check = Check { file, secret, hasher, findings: &mut report.findings };
        match entry {
            None => check.never_synced(),
            Some(entry) => check.secret(entry, targets),
        }
    }
    // Secrets the lockfile records that the Secretfile no longer declares.
    for (name, entry) in lock.secrets.iter().filter(|(name, _)| selected(name)) {
        if file.secrets.contains_key(name) {
            continue;
        }
        report.secrets += 1;
        let message = format!(
            "secret `{name}` is in the lockfile but no longer in the Secretfile; {} target{} \
             may still hold its value",
            entry.targets.len(),
            if entry.targets.len() == 1 { "" } else { "s" },
        );
        report.findings.push(
            Finding::warning(rule::REMOVED, lockfile_path.to_path_buf(), None, message)
                .with_secret(name)
                .with_help("remove the value from its targets, then run `secretzero sync`"),
        );
    }
    report
}

/// One secret's checks, adding to the findings.
struct Check<'a> {
    file: &'a Secretfile,
    secret: &'a Secret,
    hasher: &'a Hasher,
    findings: &'a mut Vec<Finding>,
}

impl Check<'_> {
    fn never_synced(&mut self) {
        let name = &self.secret.name;
        let finding = Finding::warning(
            rule::NOT_SYNCED,
            self.file.path.clone(),
            Some(self.secret.loc),
            format!("secret `{name}` has never been synced"),
        )
        .with_secret(name)
        .with_label("not in the lockfile")
        .with_help(format!("run `secretzero sync -s {name}`"));
        self.findings.push(finding);
    }

    fn secret(&mut self, entry: &SecretEntry, targets: &mut Targets) {
        let secret = self.secret;
        for field in changed_fields(secret, entry, self.hasher) {
            let loc = secret.fields.iter().find(|f| f.name == field).map(|f| f.loc);
            let what = match secret.is_single() {
                true => "its generator".to_string(),
                false => format!("the generator of field `{field}`"),
            };
            let finding = Finding::warning(
                rule::DEFINITION_CHANGED,
                self.file.path.clone(),
                loc.or(Some(secret.loc)),
                format!("secret `{}`: {what} changed since the last sync", secret.name),
            )
            .with_secret(&secret.name)
            .with_label("changed since the lockfile recorded it")
            .with_help(format!("`secretzero sync -s {}` makes a value that fits it", secret.name));
            self.findings.push(finding);
        }

        let readbacks: Vec<Readback> =
            secret.targets.iter().map(|t| targets.for_target(t).read(secret, t)).collect();
        // Whether a sync can put the recorded value back decides what a changed value's help
        // says: sync restores it from a target that still holds it, and otherwise adopts what
        // the targets hold now.
        let restorable = readbacks.iter().any(|readback| {
            matches!(readback, Readback::Value(held) if self.holds_recorded_value(entry, held))
        });
        let held: Vec<&SecretData> = readbacks
            .iter()
            .filter_map(|readback| match readback {
                Readback::Value(held) => Some(held),
                _ => None,
            })
            .collect();
        let restore = match restorable {
            true => Restore::FromTargets,
            false if held.windows(2).any(|pair| !pair[0].same_as(pair[1])) => Restore::Disagree,
            false => Restore::Adopt,
        };
        for (target, readback) in secret.targets.iter().zip(readbacks) {
            self.target(entry, target, readback, restore);
        }

        let removed: Vec<&String> = entry
            .targets
            .keys()
            .filter(|id| !secret.targets.iter().any(|t| &t.id == *id))
            .collect();
        for id in removed {
            if let Some(now) = secret.targets.iter().find(|t| self.same_object(id, t)) {
                let finding = Finding::warning(
                    rule::TARGET_REMOVED,
                    self.file.path.clone(),
                    Some(secret.loc),
                    format!(
                        "secret `{}` was written to {id}, which the Secretfile now names {} \
                         (the same object, another provider spelling)",
                        secret.name, now.id
                    ),
                )
                .with_secret(&secret.name)
                .with_help(format!(
                    "`secretzero sync -s {}` records it under its new name",
                    secret.name
                ));
                self.findings.push(finding);
                continue;
            }
            let finding = Finding::warning(
                rule::TARGET_REMOVED,
                self.file.path.clone(),
                Some(secret.loc),
                format!(
                    "secret `{}` was written to {id}, which the Secretfile no longer lists",
                    secret.name
                ),
            )
            .with_secret(&secret.name)
            .with_help("remove the value from that target if nothing reads it there any more");
            self.findings.push(finding);
        }
    }

    /// Whether the recorded target `old` is `now` under another spelling of its provider:
    /// named where it was left out (or the reverse), when the Secretfile has only that provider
    /// of its kind, so a run uses it either way.
    fn same_object(&self, old: &str, now: &TargetDef) -> bool {
        let TargetKind::Remote(remote) = &now.kind else { return false };
        let kind = remote.kind.name();
        let named = remote.provider.as_deref().unwrap_or("");
        let Some(location) = now.id.strip_prefix(&format!("{kind}:{named}:")) else {
            return false;
        };
        let Some(before) = old
            .strip_prefix(&format!("{kind}:"))
            .and_then(|rest| rest.strip_suffix(&format!(":{location}")))
        else {
            return false;
        };
        // Both spellings, resolved as a run resolves them.
        let used = |spelled: &str| {
            let target = RemoteTarget {
                provider: (!spelled.is_empty()).then(|| spelled.to_string()),
                ..remote.clone()
            };
            // A provider no longer declared is itself, not the defaults.
            Provider::of(&self.file.providers, &target)
                .map(|p| p.name.clone())
                .or_else(|| target.provider.clone())
        };
        old != now.id && used(before) == used(named)
    }

    fn target(
        &mut self,
        entry: &SecretEntry,
        target: &TargetDef,
        readback: Readback,
        restore: Restore,
    ) {
        let name = &self.secret.name;
        let id = &target.id;
        let recorded = entry.targets.get(id);
        let (rule, severity, message, help) = match (readback, recorded) {
            // Known from the lockfile alone, readable or not.
            (_, None) => (
                rule::TARGET_NOT_SYNCED,
                Severity::Warning,
                format!("{id} of secret `{name}` has never been written"),
                Some(format!("run `secretzero sync -s {name}`")),
            ),
            // The lockfile knows, without a read: the value changed after this target was last
            // written, so its write of the new value failed or was never made (`status` calls it
            // pending).
            (Readback::Sealed { .. } | Readback::Unreadable(_), Some(recorded))
                if recorded.updated_at < entry.updated_at =>
            {
                (
                    rule::STALE_TARGET,
                    Severity::Error,
                    format!(
                        "{id} of secret `{name}` still holds an older value: the current one was \
                         not written there (the write failed or was not made)"
                    ),
                    Some(format!("`secretzero sync -s {name}` writes the current value")),
                )
            }
            (Readback::Sealed { stamp: Some(now), .. }, Some(recorded))
                if recorded.stamp.as_ref().is_some_and(|then| then != &now) =>
            {
                (
                    rule::VALUE_CHANGED,
                    Severity::Error,
                    format!(
                        "{id} of secret `{name}` was written by someone else: the store shows \
                         `{now}` where the lockfile recorded `{}` (the store never gives the \
                         value back)",
                        recorded.stamp.as_deref().unwrap_or_default()
                    ),
                    Some(format!("`secretzero sync -s {name}` writes the recorded value again")),
                )
            }
            (Readback::Sealed { stamp: Some(_), .. }, Some(recorded))
                if recorded.stamp.is_some() =>
            {
                return;
            }
            // A store that never gives the value back is a known blind spot; a read that
            // failed leaves the check unfinished, which fails it.
            (Readback::Sealed { why, .. }, _) => (
                rule::UNREADABLE,
                Severity::Warning,
                format!("{id} of secret `{name}` cannot be read back, so drift is unknown: {why}"),
                Some("check the target by other means".to_string()),
            ),
            (Readback::Unreadable(why), _) => (
                rule::UNREADABLE,
                Severity::Error,
                format!("{id} of secret `{name}` could not be read, so drift is unknown: {why}"),
                Some("fix what the message names and run `secretzero drift` again".to_string()),
            ),
            (Readback::Broken(why), _) => (
                rule::TARGET_BROKEN,
                Severity::Error,
                format!("{id} of secret `{name}` cannot be checked: {why}"),
                Some(match &target.kind {
                    TargetKind::LocalFile(_) => {
                        "repair or remove the file, then run `secretzero sync`".to_string()
                    }
                    TargetKind::Remote(_) => "do what the message says in the store (or take \
                                              the target out of the Secretfile), then run \
                                              `secretzero sync`"
                        .to_string(),
                }),
            ),
            (Readback::Missing, Some(_)) => {
                // GitHub keeps a secret with fields as one secret per field, and shows it as
                // missing when any one of them is.
                let apart = !self.secret.is_single()
                    && matches!(&target.kind, TargetKind::Remote(r) if r.kind == RemoteKind::GithubSecret);
                let gone = if apart {
                    "is gone, whole or in part (a secret per field)"
                } else {
                    "is gone"
                };
                (
                    rule::TARGET_MISSING,
                    Severity::Error,
                    format!("{id} of secret `{name}` {gone}: the lockfile records it as written"),
                    Some(format!("`secretzero sync -s {name}` writes it again")),
                )
            }
            (Readback::Value(held), Some(recorded)) => {
                let missing: Vec<&str> = self
                    .secret
                    .fields
                    .iter()
                    .filter(|f| held.field(&f.name).is_none())
                    .map(|f| f.name.as_str())
                    .collect();
                if !missing.is_empty() {
                    (
                        rule::TARGET_MISSING,
                        Severity::Error,
                        format!(
                            "{id} of secret `{name}` lacks field{} {}",
                            if missing.len() == 1 { "" } else { "s" },
                            missing.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                        ),
                        Some(format!("`secretzero sync -s {name}` writes it again")),
                    )
                } else if self.holds_recorded_value(entry, &held) {
                    return;
                } else if self.hasher.matches(&recorded.hash, name, id, &held.canonical_bytes()) {
                    (
                        rule::STALE_TARGET,
                        Severity::Error,
                        format!(
                            "{id} of secret `{name}` still holds an older value: the last write \
                             to it failed"
                        ),
                        Some(format!("`secretzero sync -s {name}` writes the current value")),
                    )
                } else {
                    (
                        rule::VALUE_CHANGED,
                        Severity::Error,
                        format!(
                            "{id} of secret `{name}` holds a value the lockfile does not record"
                        ),
                        Some(value_changed_help(self.secret, restore)),
                    )
                }
            }
        };
        let mut finding =
            Finding::new(rule, severity, self.file.path.clone(), Some(target.loc), message)
                .with_secret(name);
        if let Some(help) = help {
            finding.set_help(help);
        }
        self.findings.push(finding);
    }

    /// Whether every field of `held` is the value the lockfile records for the secret.
    fn holds_recorded_value(&self, entry: &SecretEntry, held: &SecretData) -> bool {
        let name = &self.secret.name;
        // An entry upgraded from the older format has one hash for the whole value: the value
        // itself for a one-value secret, compact JSON with sorted keys for several fields.
        if let Some(legacy) = entry.fields.get(LEGACY_VALUE_FIELD) {
            let bytes = match self.secret.is_single() {
                true => held.fields[0].1.expose_secret().as_bytes().to_vec(),
                false => {
                    let object: std::collections::BTreeMap<&str, &str> =
                        held.fields.iter().map(|(n, v)| (n.as_str(), v.expose_secret())).collect();
                    serde_json::to_vec(&object).expect("a map of strings serializes")
                }
            };
            return self.hasher.matches(legacy, name, LEGACY_VALUE_FIELD, &bytes);
        }
        self.secret.fields.iter().all(|field| {
            let (Some(recorded), Some(value)) =
                (entry.fields.get(&field.name), held.field(&field.name))
            else {
                return false;
            };
            self.hasher.matches(recorded, name, &field.name, value.expose_secret().as_bytes())
        })
    }
}

/// What to do about a target whose value was changed outside SecretZero. Whether a sync keeps
/// the new value depends on whether another target still holds the recorded one.
fn value_changed_help(secret: &Secret, restore: Restore) -> String {
    let name = &secret.name;
    // A static value or an environment variable decides the value whatever the targets hold.
    let fixed = secret.fields.iter().all(|field| {
        matches!(field.generator, crate::generate::Spec::Static(_)) || env_override(field).is_some()
    });
    if fixed {
        return format!(
            "`secretzero sync -s {name}` writes the value from the Secretfile or the environment \
             back; to keep the new one, put it there"
        );
    }
    match restore {
        Restore::FromTargets => {
            let vars: Vec<&str> = secret.fields.iter().map(|f| f.env_var.as_str()).collect();
            format!(
                "`secretzero sync -s {name}` writes the recorded value back from the targets \
                 that still hold it; to keep the new value instead, supply it in {} when you run \
                 that sync",
                vars.join(", ")
            )
        }
        Restore::Disagree => format!(
            "the targets hold different values and none the recorded one: remove the wrong ones \
             by hand, or `secretzero sync --force -s {name}` replaces them all with a new value"
        ),
        Restore::Adopt => format!(
            "no target holds the recorded value any more: `secretzero sync -s {name}` records \
             the value the targets hold now, and `secretzero sync --force -s {name}` replaces \
             it with a new one"
        ),
    }
}

/// What a sync would do about a secret whose targets no longer all hold the recorded value.
#[derive(Debug, Clone, Copy)]
enum Restore {
    /// Another target still holds it: sync writes it back.
    FromTargets,
    /// The targets hold different values: sync leaves them alone until told.
    Disagree,
    /// They agree on a new value: sync records it.
    Adopt,
}
