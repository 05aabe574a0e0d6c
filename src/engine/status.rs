//! Where each secret stands, from the Secretfile and the lockfile alone: no target is read,
//! so `status` is instant and works offline.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::lockfile::{Hasher, Lockfile, SecretEntry};
use crate::rotation::{Schedule, schedule, stamp};
use crate::secretfile::{Secret, Secretfile};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Recorded, with the current definition and every target written.
    Synced,
    /// In the Secretfile, never synced.
    NotSynced,
    /// The generator changed since the last sync.
    DefinitionChanged,
    /// Some targets were never written (new, or their write failed).
    TargetsPending,
    /// In the lockfile, no longer in the Secretfile.
    Removed,
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Synced => "synced",
            State::NotSynced => "not synced",
            State::DefinitionChanged => "definition changed",
            State::TargetsPending => "targets pending",
            State::Removed => "removed from Secretfile",
        }
    }
}

#[derive(Debug)]
pub struct SecretStatus<'a> {
    pub name: &'a str,
    pub secret: Option<&'a Secret>,
    pub entry: Option<&'a SecretEntry>,
    pub state: State,
    /// Target ids in the Secretfile that do not hold the recorded value, as far as the
    /// lockfile knows: never written, or written before the value last changed (the write of
    /// the new value failed).
    pub pending_targets: Vec<&'a str>,
    /// Where the secret stands against its rotation period at the time given.
    pub schedule: Schedule,
}

impl SecretStatus<'_> {
    /// The record that `status --format json`, `show` and the HTTP API print: names, states
    /// and times, never a value or a hash.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "state": self.state.name(),
            "in_secretfile": self.secret.is_some(),
            "targets": self.secret.map(|s| s.targets.iter().map(|t| t.id.clone()).collect::<Vec<_>>()),
            "pending_targets": self.pending_targets,
            "rotation_period": self.secret.and_then(|s| s.rotation_period.map(|(p, _)| p.to_string())),
            "one_time": self.secret.map(|s| s.one_time),
            "created_at": self.entry.map(|e| stamp(Some(e.created_at))),
            "updated_at": self.entry.map(|e| stamp(Some(e.updated_at))),
            "last_rotated": self.entry.and_then(|e| e.last_rotated).map(|t| stamp(Some(t))),
            "rotation_count": self.entry.map(|e| e.rotation_count),
            "next_rotation": self.schedule.due_at().map(|t| stamp(Some(t))),
            "rotation_due": matches!(self.schedule, Schedule::Due { .. }),
        })
    }
}

pub fn statuses<'a>(
    file: &'a Secretfile,
    lock: Option<&'a Lockfile>,
    hasher: Option<&Hasher>,
    now: Timestamp,
) -> Vec<SecretStatus<'a>> {
    let mut out: Vec<SecretStatus<'a>> = file
        .secrets
        .values()
        .map(|secret| status(secret, lock.and_then(|l| l.secrets.get(&secret.name)), hasher, now))
        .collect();
    if let Some(lock) = lock {
        for (name, entry) in &lock.secrets {
            if !file.secrets.contains_key(name) {
                out.push(SecretStatus {
                    name,
                    secret: None,
                    entry: Some(entry),
                    state: State::Removed,
                    pending_targets: Vec::new(),
                    schedule: Schedule::NoPeriod,
                });
            }
        }
    }
    out
}

/// Where one declared secret stands; `entry` is its lockfile entry, if any.
pub fn status<'a>(
    secret: &'a Secret,
    entry: Option<&'a SecretEntry>,
    hasher: Option<&Hasher>,
    now: Timestamp,
) -> SecretStatus<'a> {
    let pending_targets: Vec<&str> = secret
        .targets
        .iter()
        .filter(|t| !entry.is_some_and(|e| holds_current_value(e, &t.id)))
        .map(|t| t.id.as_str())
        .collect();
    let state = match (entry, hasher) {
        (None, _) => State::NotSynced,
        (Some(entry), Some(hasher))
            if !super::plan::changed_fields(secret, entry, hasher).is_empty() =>
        {
            State::DefinitionChanged
        }
        (Some(_), _) if !pending_targets.is_empty() => State::TargetsPending,
        (Some(_), _) => State::Synced,
    };
    SecretStatus {
        name: &secret.name,
        secret: Some(secret),
        entry,
        state,
        pending_targets,
        schedule: schedule(secret, entry, now),
    }
}

/// Whether the lockfile records target `id` as holding the secret's current value. The entry's
/// `updated_at` moves only when the value changes, and every target written with that value
/// is stamped then or later, so a target stamped earlier kept an older value.
fn holds_current_value(entry: &SecretEntry, id: &str) -> bool {
    entry.targets.get(id).is_some_and(|target| target.updated_at >= entry.updated_at)
}
