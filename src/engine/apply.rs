//! Carrying out a plan: make the missing values, write targets, record what was written.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::Timestamp;
use secrecy::ExposeSecret;

use super::{Action, Plan, SecretPlan, Source, Targets};
use crate::generate::{self, GenerateError};
use crate::lockfile::{Hasher, LEGACY_VALUE_FIELD, Lockfile, SecretEntry, TargetEntry};
use crate::secretfile::{Secret, Secretfile};
use crate::target::{SecretData, TargetError};

/// What a run did, for the summary and the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Secrets that got at least one newly generated field.
    pub generated: Vec<String>,
    /// Secrets whose value was taken over from their targets.
    pub adopted: Vec<String>,
    /// `(secret, target id)` written.
    pub written: Vec<(String, String)>,
    pub unchanged: usize,
    pub failures: Vec<TargetFailure>,
    /// Secrets left untouched because their targets disagree, with the explanation.
    pub conflicts: Vec<(String, String)>,
    /// Secrets whose value could not be made.
    pub generate_failures: Vec<(String, GenerateError)>,
    /// Secrets rotated: a new value written and recorded as a rotation.
    pub rotated: Vec<String>,
    /// Secrets due for rotation that kept their value, and why: every field comes from an
    /// environment variable or a static value that still holds what the lockfile records.
    pub not_rotated: Vec<(String, String)>,
    /// Whether any lockfile entry changed, so an unchanged lockfile is not even rendered.
    pub lockfile_changed: bool,
    /// Entries dropped because the Secretfile no longer declares their secrets, with the
    /// targets that may still hold their values.
    pub dropped: Vec<(String, Vec<String>)>,
}

#[derive(Debug)]
pub struct TargetFailure {
    pub secret: String,
    pub target_id: String,
    pub error: Arc<TargetError>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
            || !self.conflicts.is_empty()
            || !self.generate_failures.is_empty()
            || !self.not_rotated.is_empty()
    }
}

/// Applies `plan`, updating `lock` in memory; the caller saves it.
pub fn apply(
    plan: Plan,
    file: &Secretfile,
    lock: &mut Lockfile,
    hasher: &Hasher,
    targets: &mut Targets,
    now: Timestamp,
    observe: &mut dyn FnMut(&Secret, &SecretData),
) -> Outcome {
    let mut outcome = Outcome::default();
    for (name, targets) in plan.undeclared {
        lock.secrets.remove(&name);
        outcome.lockfile_changed = true;
        outcome.dropped.push((name, targets));
    }
    let mut ready = Vec::new();
    let values = complete_all(file, &plan.secrets);

    // Every value is shown to the caller before any target is written, so that a CI log can
    // mask it before anything else could print it.
    for (secret_plan, value) in plan.secrets.iter().zip(&values) {
        if let Ok(Some(value)) = value {
            observe(&file.secrets[&secret_plan.name], value);
        }
    }

    // Stage every write first; local files are written once, in flush.
    for (secret_plan, value) in plan.secrets.into_iter().zip(values) {
        let secret = &file.secrets[&secret_plan.name];
        if let Some(conflict) = &secret_plan.conflict {
            outcome.conflicts.push((secret.name.clone(), conflict.clone()));
            continue;
        }
        let value = match value {
            Ok(value) => value,
            Err(error) => {
                outcome.generate_failures.push((secret.name.clone(), error));
                continue;
            }
        };
        // A value that no target takes (every one skipped) was not generated as far as anyone
        // can tell: nothing holds it and nothing records it.
        let written =
            secret_plan.targets.iter().any(|t| matches!(t.action, Action::Create | Action::Update));
        if written && secret_plan.fields.iter().any(|f| matches!(f.source, Source::Generate { .. }))
        {
            outcome.generated.push(secret.name.clone());
        }

        let mut staged = Vec::new();
        for (target, target_plan) in secret.targets.iter().zip(&secret_plan.targets) {
            match target_plan.action {
                Action::Unchanged => outcome.unchanged += 1,
                Action::Skip => outcome.failures.push(TargetFailure {
                    secret: secret.name.clone(),
                    target_id: target.id.clone(),
                    error: Arc::new(TargetError::Refused { reason: target_plan.reason.clone() }),
                }),
                Action::Create | Action::Update => {
                    let Some(value) = &value else { continue };
                    match targets.for_target(target).write(secret, target, value) {
                        Ok(()) => staged.push(target.id.clone()),
                        Err(error) => outcome.failures.push(TargetFailure {
                            secret: secret.name.clone(),
                            target_id: target.id.clone(),
                            error: Arc::new(error),
                        }),
                    }
                }
            }
        }
        ready.push((secret_plan, value, staged));
    }

    let flush_failures = targets.flush();
    let failed: HashSet<(&str, &str)> =
        flush_failures.iter().map(|f| (f.secret.as_str(), f.target_id.as_str())).collect();

    for (mut secret_plan, value, staged) in ready {
        let secret = &file.secrets[&secret_plan.name];
        let written: Vec<&String> = staged
            .iter()
            .filter(|id| !failed.contains(&(secret.name.as_str(), id.as_str())))
            .collect();
        for id in &written {
            outcome.written.push((secret.name.clone(), (*id).clone()));
        }
        // What a sealed store shows about the value now: after this run's write, or as read.
        let stamps: std::collections::HashMap<&str, String> = secret
            .targets
            .iter()
            .zip(&secret_plan.targets)
            .filter_map(|(target, plan)| {
                let stamp = match written.contains(&&target.id) {
                    true => targets.for_target(target).stamp(&secret.name, &target.id),
                    false => plan.stamp.clone(),
                };
                Some((target.id.as_str(), stamp?))
            })
            .collect();
        if let Some(value) = value {
            let recorded =
                record(lock, hasher, secret, &mut secret_plan, &value, (&written, &stamps), now);
            outcome.lockfile_changed |= recorded.changed;
            // Taken over from its targets only once recorded: otherwise the next run asks again.
            let adopts =
                secret_plan.fields.iter().any(|f| matches!(f.source, Source::Adopt { .. }));
            if adopts && recorded.kept {
                outcome.adopted.push(secret.name.clone());
            }
            match recorded.rotation {
                Rotation::None => {}
                Rotation::Done => outcome.rotated.push(secret.name.clone()),
                Rotation::Unchanged => outcome
                    .not_rotated
                    .push((secret.name.clone(), unchanged_reason(secret, &secret_plan))),
            }
        }
    }
    outcome.failures.extend(flush_failures.into_iter().map(|f| TargetFailure {
        secret: f.secret,
        target_id: f.target_id,
        error: f.error,
    }));
    outcome
}

/// Every secret's value, in plan order. Random values are drawn on every core, since a large
/// first sync spends a good part of its time there; script generators run on this thread, one
/// at a time and in Secretfile order, as a user would expect of commands.
fn complete_all(
    file: &Secretfile,
    plans: &[SecretPlan],
) -> Vec<Result<Option<SecretData>, GenerateError>> {
    let runs_script = |plan: &SecretPlan| {
        let secret = &file.secrets[&plan.name];
        secret.fields.iter().zip(&plan.fields).any(|(field, field_plan)| {
            matches!(field.generator, crate::generate::Spec::Script(_))
                && matches!(field_plan.source, Source::Generate { .. })
        })
    };
    let random = |plan: &SecretPlan| {
        (plan.conflict.is_none() && !runs_script(plan))
            .then(|| complete(&file.secrets[&plan.name], plan))
    };

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = plans.len().div_ceil(threads).max(1);
    let drawn: Vec<Option<Result<Option<SecretData>, GenerateError>>> = if threads > 1 {
        std::thread::scope(|scope| {
            let workers: Vec<_> = plans
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(random).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    } else {
        plans.iter().map(random).collect()
    };

    plans
        .iter()
        .zip(drawn)
        .map(|(plan, value)| match value {
            Some(value) => value,
            None if plan.conflict.is_some() => Ok(None),
            None => complete(&file.secrets[&plan.name], plan),
        })
        .collect()
}

/// The secret's whole value: planned values, with the missing fields generated now.
/// `None` when the value is recorded but readable nowhere and nothing needs it.
fn complete(secret: &Secret, plan: &SecretPlan) -> Result<Option<SecretData>, GenerateError> {
    let mut fields = Vec::with_capacity(plan.fields.len());
    for (field, field_plan) in secret.fields.iter().zip(&plan.fields) {
        let value = match (&field_plan.value, &field_plan.source) {
            (Some(value), _) => value.clone(),
            (None, Source::Generate { .. }) => generate::generate(&field.generator)?,
            (None, _) => return Ok(None),
        };
        fields.push((field.name.clone(), value));
    }
    Ok(Some(SecretData { fields }))
}

/// What recording one secret did.
struct Recorded {
    /// Whether the lockfile entry changed.
    changed: bool,
    /// Whether the value is in the lockfile now: a new value that reached no target is not.
    kept: bool,
    rotation: Rotation,
}

enum Rotation {
    /// Not a rotation, or one whose writes all failed (reported as failures).
    None,
    Done,
    /// A rotation that could not change the value.
    Unchanged,
}

/// Why a rotation kept the value: the fields that no generator makes.
fn unchanged_reason(secret: &Secret, plan: &SecretPlan) -> String {
    let sources: Vec<String> = secret
        .fields
        .iter()
        .zip(&plan.fields)
        .filter_map(|(field, field_plan)| {
            let what = match &field_plan.source {
                Source::Environment { variable } => format!("environment variable {variable}"),
                Source::Static => "a static value in the Secretfile".to_string(),
                _ => return None,
            };
            Some(match secret.is_single() {
                true => what,
                false => format!("{what} (field `{}`)", field.name),
            })
        })
        .collect();
    format!(
        "its value comes from {} and is still the recorded one; set a new value there to \
         rotate it",
        sources.join(" and ")
    )
}

/// Updates the secret's lockfile entry for what was really written. A new value that reached
/// no target is not recorded: the lockfile would describe a value that exists nowhere.
fn record(
    lock: &mut Lockfile,
    hasher: &Hasher,
    secret: &Secret,
    plan: &mut SecretPlan,
    value: &SecretData,
    (written, stamps): (&[&String], &std::collections::HashMap<&str, String>),
    now: Timestamp,
) -> Recorded {
    let name = secret.name.as_str();
    let previous = lock.secrets.get(name);
    // Which fields' recorded hashes still match: the only hashing a run that changed nothing
    // does. An entry upgraded from the older format has one hash for a one-value secret.
    let recorded_match: Vec<bool> = value
        .fields
        .iter()
        .map(|(field, v)| {
            previous.is_some_and(|entry| {
                let legacy = secret.is_single().then(|| entry.fields.get(LEGACY_VALUE_FIELD));
                let recorded = entry.fields.get(field).or(legacy.flatten());
                recorded
                    .is_some_and(|r| hasher.matches(r, name, field, v.expose_secret().as_bytes()))
            })
        })
        .collect();
    let value_changed = previous.is_none_or(|entry| {
        recorded_match.contains(&false)
            || entry.fields.keys().any(|f| f != LEGACY_VALUE_FIELD && value.field(f).is_none())
    });
    // Targets left alone (`Skip`) needed the value too: a new value that reached none of its
    // targets is recorded nowhere, or every failing run would rewrite the lockfile.
    let needs_writing = plan.targets.iter().filter(|t| t.action != Action::Unchanged).count();
    if value_changed && needs_writing > 0 && written.is_empty() {
        return Recorded { changed: false, kept: false, rotation: Rotation::None };
    }

    let mut changed = previous.is_none();
    let entry = lock.secrets.entry(secret.name.clone()).or_insert_with(|| SecretEntry {
        definition: String::new(),
        definitions: Default::default(),
        created_at: now,
        updated_at: now,
        last_rotated: None,
        rotation_count: 0,
        one_time: secret.one_time,
        fields: Default::default(),
        targets: Default::default(),
    });
    if value_changed && entry.updated_at != now {
        entry.updated_at = now;
        changed = true;
    }
    // Only a value that really changed counts as a rotation.
    let rotation = match (plan.rotate, value_changed) {
        (false, _) => Rotation::None,
        (true, true) => {
            entry.last_rotated = Some(now);
            entry.rotation_count += 1;
            changed = true;
            Rotation::Done
        }
        (true, false) => Rotation::Unchanged,
    };
    // A recorded hash that still matches stays as it is, so a run that changed nothing
    // rewrites nothing; an older bare hash is replaced by a keyed one.
    for ((field, v), matched) in value.fields.iter().zip(recorded_match) {
        let keep = matched && entry.fields.get(field).is_some_and(|r| !Hasher::is_legacy(r));
        if !keep {
            let hash = hasher.hash(name, field, v.expose_secret().as_bytes());
            entry.fields.insert(field.clone(), hash);
            changed = true;
        }
    }
    let before = entry.fields.len();
    entry.fields.retain(|field, _| value.field(field).is_some());
    changed |= entry.fields.len() != before;
    if entry.definition != plan.definition || entry.definitions != plan.definitions {
        entry.definition = std::mem::take(&mut plan.definition);
        entry.definitions = std::mem::take(&mut plan.definitions);
        changed = true;
    }
    if entry.one_time != secret.one_time {
        entry.one_time = secret.one_time;
        changed = true;
    }

    let bytes = value.canonical_bytes();
    let before = entry.targets.len();
    entry.targets.retain(|id, _| secret.targets.iter().any(|t| &t.id == id));
    changed |= entry.targets.len() != before;
    for target_plan in &plan.targets {
        let id = &target_plan.id;
        let was_written = written.contains(&id);
        let current = !was_written
            && entry.targets.get(id).is_some_and(|t| {
                !Hasher::is_legacy(&t.hash) && hasher.matches(&t.hash, name, id, &bytes)
            });
        let stamp = stamps.get(id.as_str()).cloned();
        let settings = target_plan.settings.clone();
        if was_written || (target_plan.action == Action::Unchanged && !current) {
            let hash = hasher.hash(name, id, &bytes);
            // Never stamped before the value it holds: a lockfile shared by machines whose
            // clocks differ would otherwise call a target written with the current value
            // pending (`status`) or stale (`drift`).
            let updated_at = now.max(entry.updated_at);
            let written = TargetEntry { hash, updated_at, stamp, settings };
            entry.targets.insert(id.clone(), written);
            changed = true;
        } else if let Some(recorded) = entry.targets.get_mut(id)
            && target_plan.action == Action::Unchanged
        {
            // First sight of a sealed store's stamp, or of the settings, for a value already
            // recorded there (an entry written before either was kept).
            if recorded.stamp.is_none() && stamp.is_some() {
                recorded.stamp = stamp;
                changed = true;
            }
            if recorded.settings.is_none() && settings.is_some() {
                recorded.settings = settings;
                changed = true;
            }
        }
    }
    // Timestamps are whole seconds, and `status` calls a target pending when it was written
    // before the value changed. One written earlier in the same second, whose write of the new
    // value failed, would look current: it is stamped a second earlier, which it was, to the
    // precision kept.
    if value_changed {
        let earlier = now.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap_or(now);
        for (id, target) in entry.targets.iter_mut() {
            let stale = !written.contains(&id) && !hasher.matches(&target.hash, name, id, &bytes);
            if stale && target.updated_at >= now {
                target.updated_at = earlier;
                changed = true;
            }
        }
    }
    Recorded { changed, kept: true, rotation }
}
