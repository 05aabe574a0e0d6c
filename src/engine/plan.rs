//! Deciding what a run changes, without changing anything or making any value.

use std::collections::HashSet;

use secrecy::{ExposeSecret, SecretString};
use tracing::debug;

use super::{Action, FieldPlan, Plan, SecretPlan, Source, TargetPlan, Targets};
use crate::generate::Spec;
use crate::lockfile::{Hasher, LEGACY_VALUE_FIELD, Lockfile, SecretEntry};
use crate::secretfile::{
    Field, Loc, LocalFile, RemoteKind, Secret, Secretfile, TargetDef, TargetKind, env_override,
};
use crate::target::format::Format;
use crate::target::{Readback, SecretData};

/// What the user asked of this run.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Regenerate every selected value, `one_time` ones included.
    pub force: bool,
    /// Limit the run to these secrets; empty means all.
    pub only: Vec<String>,
    /// Secrets to rotate: a new value for each field that a generator makes, recorded as a
    /// rotation. The caller decides which are due.
    pub rotate: Vec<String>,
    /// Drop the lockfile entries of secrets the Secretfile no longer declares (a whole sync).
    pub drop_undeclared: bool,
}

/// Plans every selected secret. Reads targets back, which may read files, but writes nothing
/// and generates nothing (a script generator is not run by a dry run).
pub fn plan(
    file: &Secretfile,
    lock: &Lockfile,
    hasher: &Hasher,
    targets: &mut Targets,
    options: &Options,
) -> Plan {
    let selected = |s: &&Secret| options.only.is_empty() || options.only.contains(&s.name);
    targets.prefetch(file.secrets.values().filter(selected));
    let secrets = file
        .secrets
        .values()
        .filter(selected)
        .map(|secret| {
            let entry = lock.secrets.get(&secret.name);
            plan_secret(&file.dir, secret, entry, hasher, targets, options)
        })
        .collect();
    let undeclared = match options.drop_undeclared {
        true => lock
            .secrets
            .iter()
            .filter(|(name, _)| !file.secrets.contains_key(*name))
            .map(|(name, entry)| (name.clone(), entry.targets.keys().cloned().collect()))
            .collect(),
        false => Vec::new(),
    };
    Plan { secrets, undeclared }
}

fn plan_secret(
    dir: &std::path::Path,
    secret: &Secret,
    entry: Option<&SecretEntry>,
    hasher: &Hasher,
    targets: &mut Targets,
    options: &Options,
) -> SecretPlan {
    let readbacks: Vec<Readback> =
        secret.targets.iter().map(|t| targets.for_target(t).read(secret, t)).collect();
    for (target, readback) in secret.targets.iter().zip(&readbacks) {
        let held = match readback {
            Readback::Value(value) => {
                let names: Vec<&str> = value.fields.iter().map(|(n, _)| n.as_str()).collect();
                format!("a value (fields {})", names.join(", "))
            }
            Readback::Missing => "nothing".to_string(),
            Readback::Unreadable(why) => format!("unreadable: {why}"),
            Readback::Sealed { stamp, why } => {
                format!("sealed (stamp {}): {why}", stamp.as_deref().unwrap_or("none"))
            }
            Readback::Broken(why) => format!("broken: {why}"),
        };
        tracing::trace!(secret = %secret.name, target = %target.id, %held, "read back");
    }
    let field_bytes: Vec<Vec<u8>> = secret.fields.iter().map(field_definition_bytes).collect();
    let (definition, definitions) = definition_hashes(secret, &field_bytes, hasher);
    let changed = entry.map(|e| changed_in(secret, e, hasher, &field_bytes)).unwrap_or_default();
    let legacy = entry.and_then(|e| legacy_keeper(secret, e, &readbacks, hasher));
    let former = entry.map(|e| former_targets(dir, secret, e, targets)).unwrap_or_default();

    // Targets whose read failed this time (unreachable, refused, not tried after an
    // authentication failure; not those of a type this build lacks, which fail on their own):
    // with no lockfile entry, what they hold is unknown.
    let unread: Vec<String> = secret
        .targets
        .iter()
        .zip(&readbacks)
        .filter(|(t, r)| matches!(r, Readback::Unreadable(_)) && targets.built(t))
        .map(|(t, _)| t.id.clone())
        .collect();
    let rotate = options.rotate.contains(&secret.name);
    let mut conflict = None;
    let mut fields = Vec::with_capacity(secret.fields.len());
    for field in &secret.fields {
        let context = FieldContext {
            secret,
            entry,
            definition_changed: changed.contains(&field.name.as_str()),
            legacy: legacy.as_ref(),
            readbacks: &readbacks,
            unread: &unread,
            former: &former,
            hasher,
            regenerate: match (options.force, rotate) {
                (true, _) => Some("--force"),
                (false, true) => Some("rotation"),
                (false, false) => None,
            },
        };
        let (source, value) = match field_source(field, &context) {
            Ok(found) => found,
            Err(disagreement) => {
                conflict.get_or_insert(disagreement);
                (Source::Undecided, None)
            }
        };
        debug!(secret = %secret.name, field = %field.name, ?source, "value source");
        fields.push(FieldPlan { name: field.name.clone(), source, value });
    }

    let value = known_value(&fields);
    let targets = secret
        .targets
        .iter()
        .zip(&readbacks)
        .map(|(target, readback)| {
            let (action, reason) = match &conflict {
                Some(_) => (Action::Skip, "the targets disagree; nothing is written".to_string()),
                None => target_action(
                    secret,
                    &target.id,
                    readback,
                    &fields,
                    value.as_ref(),
                    entry,
                    hasher,
                ),
            };
            // A known value that the target would refuse is a skip now, not a failed write
            // later, so a dry run tells the truth.
            let writes = matches!(action, Action::Create | Action::Update);
            let refused = writes
                .then(|| {
                    let target_type = targets.for_target(target);
                    target_type.available(target).err().or_else(|| match &value {
                        Some(v) => target_type.check(secret, target, v).err(),
                        None => target_type.check_generated(secret, target).err(),
                    })
                })
                .flatten();
            let (action, reason) = match refused {
                Some(why) => (Action::Skip, why),
                None => (action, reason),
            };
            let name = action.name();
            debug!(secret = %secret.name, target = %target.id, action = name, %reason, "target");
            let recorded = entry.and_then(|e| e.targets.get(&target.id));
            let settings = settings_hash(secret, target, hasher);
            // Settings that changed since the last write (a description, tags) are written
            // with the value, which must be known to write anything.
            let (action, reason) = match (action, recorded.and_then(|r| r.settings.as_ref())) {
                (Action::Unchanged, Some(then))
                    if value.is_some() && settings.as_ref().is_some_and(|now| now != then) =>
                {
                    let target_type = targets.for_target(target);
                    match target_type.available(target) {
                        Ok(()) => (
                            Action::Update,
                            "its settings changed since it was last written".to_string(),
                        ),
                        Err(why) => (Action::Skip, why),
                    }
                }
                (action, _) => (action, reason),
            };
            // A store that never gives values back is trusted as recorded by design; one that
            // could not be read this time leaves the run unsure.
            let unread = matches!(readback, Readback::Unreadable(_));
            let unverified = action == Action::Unchanged && unread;
            let stamp = match readback {
                Readback::Sealed { stamp, .. } => stamp.clone(),
                _ => None,
            };
            TargetPlan {
                id: target.id.clone(),
                action,
                reason,
                unverified,
                unread,
                stamp,
                settings,
            }
        })
        .collect();

    SecretPlan {
        name: secret.name.clone(),
        fields,
        targets,
        conflict,
        definition,
        definitions,
        rotate,
    }
}

/// What deciding one field's source needs to know about its secret.
struct FieldContext<'a> {
    secret: &'a Secret,
    entry: Option<&'a SecretEntry>,
    definition_changed: bool,
    /// For an entry upgraded from the older format: the target whose whole value matches it.
    legacy: Option<&'a (String, SecretData)>,
    readbacks: &'a [Readback],
    /// The targets whose read failed this time.
    unread: &'a [String],
    /// Local files the lockfile records but the Secretfile no longer lists (a renamed key or
    /// path), read only to find the recorded value.
    former: &'a [(String, Readback)],
    hasher: &'a Hasher,
    /// Set when every generated field gets a new value, with the reason shown in the plan.
    regenerate: Option<&'static str>,
}

/// Reads back the local-file targets the lockfile records for `secret` that the Secretfile no
/// longer lists, so renaming a key or a file moves the value instead of rotating it.
fn former_targets(
    dir: &std::path::Path,
    secret: &Secret,
    entry: &SecretEntry,
    targets: &mut Targets,
) -> Vec<(String, Readback)> {
    entry
        .targets
        .keys()
        .filter(|id| !secret.targets.iter().any(|t| &t.id == *id))
        .filter_map(|id| {
            let (path, key) = id.strip_prefix("local-file:")?.rsplit_once('#')?;
            let format = Format::from_path(std::path::Path::new(path))?;
            let file = LocalFile {
                path: path.to_string(),
                resolved: crate::secretfile::join(dir, path),
                format,
                key: key.to_string(),
            };
            let def = TargetDef {
                id: id.clone(),
                kind: TargetKind::LocalFile(file),
                loc: Loc::default(),
            };
            Some((id.clone(), targets.for_target(&def).read(secret, &def)))
        })
        .collect()
}

/// The hashes a lockfile entry records for `secret`'s definition: the whole one, and one per
/// field. `field_bytes` holds [`field_definition_bytes`] of each field, in order.
fn definition_hashes(
    secret: &Secret,
    field_bytes: &[Vec<u8>],
    hasher: &Hasher,
) -> (String, std::collections::BTreeMap<String, String>) {
    let definition = hasher.hash_definition(&secret.name, &whole_definition(secret, field_bytes));
    let definitions = secret
        .fields
        .iter()
        .zip(field_bytes)
        .map(|(f, bytes)| (f.name.clone(), hasher.hash_definition(&secret.name, bytes)))
        .collect();
    (definition, definitions)
}

/// [`definition_hashes`] for a secret whose fields' canonical bytes are not at hand: what a
/// sync would record, so that an entry made elsewhere (a migrated one) reads as unchanged.
pub(crate) fn recorded_definitions(
    secret: &Secret,
    hasher: &Hasher,
) -> (String, std::collections::BTreeMap<String, String>) {
    let field_bytes: Vec<Vec<u8>> = secret.fields.iter().map(field_definition_bytes).collect();
    definition_hashes(secret, &field_bytes, hasher)
}

/// The fields whose generator changed since the lockfile recorded them.
pub(crate) fn changed_fields<'a>(
    secret: &'a Secret,
    entry: &SecretEntry,
    hasher: &Hasher,
) -> Vec<&'a str> {
    let field_bytes: Vec<Vec<u8>> = secret.fields.iter().map(field_definition_bytes).collect();
    changed_in(secret, entry, hasher, &field_bytes)
}

/// [`changed_fields`], given each field's canonical definition.
fn changed_in<'a>(
    secret: &'a Secret,
    entry: &SecretEntry,
    hasher: &Hasher,
    field_bytes: &[Vec<u8>],
) -> Vec<&'a str> {
    // Entries from before per-field definitions were recorded compare the whole definition; an
    // entry with none at all (upgraded from the older format) counts as unchanged, or
    // upgrading would regenerate everything.
    let whole_changed = || {
        !entry.definition.is_empty()
            && !hasher.matches_definition(
                &entry.definition,
                &secret.name,
                &whole_definition(secret, field_bytes),
            )
    };
    secret
        .fields
        .iter()
        .zip(field_bytes)
        .filter(|(field, bytes)| match entry.definitions.get(&field.name) {
            Some(recorded) => !hasher.matches_definition(recorded, &secret.name, bytes),
            None => entry.definitions.is_empty() && whole_changed(),
        })
        .map(|(field, _)| field.name.as_str())
        .collect()
}

/// The older format hashed a multi-field secret's whole value as compact JSON with sorted
/// keys; finds the target that holds exactly that value.
fn legacy_keeper(
    secret: &Secret,
    entry: &SecretEntry,
    readbacks: &[Readback],
    hasher: &Hasher,
) -> Option<(String, SecretData)> {
    let recorded = entry.fields.get(LEGACY_VALUE_FIELD)?;
    if secret.is_single() {
        return None;
    }
    secret.targets.iter().zip(readbacks).find_map(|(target, readback)| {
        let Readback::Value(data) = readback else { return None };
        let object: std::collections::BTreeMap<&str, &str> =
            data.fields.iter().map(|(n, v)| (n.as_str(), v.expose_secret())).collect();
        let json = serde_json::to_string(&object).ok()?;
        let matched = hasher.matches(recorded, &secret.name, LEGACY_VALUE_FIELD, json.as_bytes());
        matched.then(|| (target.id.clone(), data.clone()))
    })
}

/// Where one field's value comes from; `Err` names the targets that disagree.
fn field_source(
    field: &Field,
    context: &FieldContext<'_>,
) -> Result<(Source, Option<SecretString>), String> {
    let FieldContext {
        secret,
        entry,
        definition_changed,
        legacy,
        readbacks,
        unread,
        former,
        hasher,
        regenerate,
    } = *context;
    if let Some(value) = env_override(field) {
        return Ok((Source::Environment { variable: field.env_var.clone() }, Some(value)));
    }
    if let Spec::Static(spec) = &field.generator
        && let Some(value) = &spec.value
    {
        return Ok((Source::Static, Some(value.clone())));
    }
    if let Some(reason) = regenerate {
        return Ok((generate(reason), None));
    }

    let held = held_values(secret, field, readbacks);
    let Some(entry) = entry else {
        let sealed = sealed_holders(secret, readbacks);
        return match distinct(&held) {
            // A lost lockfile must not replace what a write-only store already holds.
            0 if !sealed.is_empty() => Ok((Source::Unread { at: sealed }, None)),
            0 if !unread.is_empty() => Ok((Source::Unreachable { at: unread.to_vec() }, None)),
            0 => Ok((generate("new secret"), None)),
            1 => Ok((adopt(&held), Some(held[0].1.clone()))),
            _ => Err(disagreement(secret, field, &held)),
        };
    };
    if definition_changed && !secret.one_time {
        return Ok((generate("its generator changed"), None));
    }
    // An entry upgraded from the older format has one hash for the whole value.
    if let Some((from, data)) = legacy
        && let Some(value) = data.field(&field.name)
    {
        return Ok((Source::Keep { from: from.clone() }, Some(value.clone())));
    }
    let recorded = entry
        .fields
        .get(&field.name)
        .or_else(|| secret.is_single().then(|| entry.fields.get(LEGACY_VALUE_FIELD)).flatten());
    let Some(recorded) = recorded else {
        // An upgraded multi-field entry that no target matches: decide as if it were new,
        // adopting what the targets hold rather than replacing it. With no target readable
        // at all, nothing says the recorded value is gone: it stands.
        if entry.fields.contains_key(LEGACY_VALUE_FIELD) {
            let unreadable = readbacks.iter().any(cannot_read);
            return match distinct(&held) {
                0 if unreadable => Ok((Source::Recorded, None)),
                0 => Ok((generate("new secret"), None)),
                1 => Ok((adopt(&held), Some(held[0].1.clone()))),
                _ => Err(disagreement(secret, field, &held)),
            };
        }
        return Ok((generate("new field"), None));
    };

    // The recorded value, from whichever target still holds it.
    let formerly_held = former.iter().filter_map(|(id, readback)| match readback {
        Readback::Value(data) => data.field(&field.name).map(|v| (id.clone(), v.clone())),
        _ => None,
    });
    let keeper = held.iter().cloned().chain(formerly_held).find(|(_, v)| {
        hasher.matches(recorded, &secret.name, &field.name, v.expose_secret().as_bytes())
    });
    if let Some((from, value)) = keeper {
        return Ok((Source::Keep { from }, Some(value)));
    }
    if let Some(stale) = stale_beside_sealed(secret, entry, readbacks, &held, hasher) {
        return Err(stale);
    }
    match distinct(&held) {
        // Nothing readable to compare with (no targets, or none that can be read back): the
        // recorded value stands, rather than a new one on every run.
        0 if secret.targets.is_empty() || readbacks.iter().any(cannot_read) => {
            Ok((Source::Recorded, None))
        }
        // A one-time value is never replaced behind the user's back, even when it is lost.
        0 if secret.one_time => Ok((Source::Lost, None)),
        0 => Ok((generate("no target holds the recorded value"), None)),
        // The recorded value is gone everywhere, but the targets agree on another: keep what
        // is in use rather than rotate it behind the user's back.
        1 => Ok((adopt(&held), Some(held[0].1.clone()))),
        _ => Err(disagreement(secret, field, &held)),
    }
}

/// The targets that hold a value they never give back. An ExternalSecret manifest holds no
/// value, only where one lives.
fn sealed_holders(secret: &Secret, readbacks: &[Readback]) -> Vec<String> {
    secret
        .targets
        .iter()
        .zip(readbacks)
        .filter(|(target, readback)| {
            let manifest = matches!(
                &target.kind,
                TargetKind::Remote(remote) if remote.kind == RemoteKind::ExternalSecret
            );
            matches!(readback, Readback::Sealed { .. }) && !manifest
        })
        .map(|(target, _)| target.id.clone())
        .collect()
}

fn generate(reason: &str) -> Source {
    Source::Generate { reason: reason.to_string() }
}

fn adopt(held: &[(String, SecretString)]) -> Source {
    Source::Adopt { from: held.iter().map(|(id, _)| id.clone()).collect() }
}

/// The values that readable targets hold for one field, with the target id.
fn held_values(
    secret: &Secret,
    field: &Field,
    readbacks: &[Readback],
) -> Vec<(String, SecretString)> {
    secret
        .targets
        .iter()
        .zip(readbacks)
        .filter_map(|(target, readback)| match readback {
            // An empty value is a placeholder, not a secret to adopt.
            Readback::Value(data) => data
                .field(&field.name)
                .filter(|value| !value.expose_secret().is_empty())
                .map(|value| (target.id.clone(), value.clone())),
            Readback::Missing
            | Readback::Unreadable(_)
            | Readback::Sealed { .. }
            | Readback::Broken(_) => None,
        })
        .collect()
}

/// The keyed hash of a remote target's settings that are not part of its identity (a
/// description, a tier, tags), so a change to them alone is written; `None` for local files,
/// whose every setting is part of their identity.
fn settings_hash(secret: &Secret, target: &TargetDef, hasher: &Hasher) -> Option<String> {
    let TargetKind::Remote(remote) = &target.kind else { return None };
    let identity = remote.kind.identity();
    let mut settings: Vec<(&str, &str, &str)> = remote
        .options
        .iter()
        .filter(|(key, _)| !identity.contains(&key.as_str()))
        .map(|(k, v)| ("option", k.as_str(), v.as_str()))
        .chain(remote.tags.iter().map(|(k, v)| ("tag", k.as_str(), v.as_str())))
        .collect();
    settings.sort();
    let mut bytes = format!("settings of {}\n", target.id).into_bytes();
    for (what, key, value) in settings {
        for part in [what, key, value] {
            bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
    }
    Some(hasher.hash_definition(&secret.name, &bytes))
}

/// When every readable target still holds what was last written to it, but the value
/// recorded since (a rotation whose writes failed there) lives only in stores that never give
/// it back: adopting the old value would undo the rotation where it landed. Names the targets,
/// for a conflict that leaves them all alone.
fn stale_beside_sealed(
    secret: &Secret,
    entry: &SecretEntry,
    readbacks: &[Readback],
    held: &[(String, SecretString)],
    hasher: &Hasher,
) -> Option<String> {
    let recorded = |id: &str| entry.targets.get(id);
    let mut sealed = sealed_holders(secret, readbacks);
    sealed.retain(|id| recorded(id).is_some());
    if sealed.is_empty() || held.is_empty() {
        return None;
    }
    let stale = |id: &str| {
        let position = secret.targets.iter().position(|t| t.id == id);
        let Some(Readback::Value(data)) = position.map(|i| &readbacks[i]) else { return false };
        recorded(id)
            .is_some_and(|r| hasher.matches(&r.hash, &secret.name, id, &data.canonical_bytes()))
    };
    if !held.iter().all(|(id, _)| stale(id)) {
        return None;
    }
    let ids: Vec<&str> = held.iter().map(|(id, _)| id.as_str()).collect();
    Some(format!(
        "{} still hold{} the value from before its last change (the write there failed), and the \
         current value is only in {}, which never give{} it back; `sync --force -s {}` makes a \
         new value for every target",
        ids.join(", "),
        if ids.len() == 1 { "s" } else { "" },
        sealed.join(", "),
        if sealed.len() == 1 { "s" } else { "" },
        secret.name
    ))
}

/// A target whose value cannot be compared: unreachable, or a store that never gives values
/// back.
fn cannot_read(readback: &Readback) -> bool {
    matches!(readback, Readback::Unreadable(_) | Readback::Sealed { .. })
}

fn distinct(held: &[(String, SecretString)]) -> usize {
    held.iter().map(|(_, v)| v.expose_secret()).collect::<HashSet<_>>().len()
}

/// Names which targets agree with which, never what they hold.
fn disagreement(secret: &Secret, field: &Field, held: &[(String, SecretString)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (id, value) in held {
        match groups.iter_mut().find(|(v, _)| *v == value.expose_secret()) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((value.expose_secret(), vec![id])),
        }
    }
    let described: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, (_, ids))| format!("value {}: {}", i + 1, ids.join(", ")))
        .collect();
    let what =
        if secret.is_single() { String::new() } else { format!(" (field `{}`)", field.name) };
    format!(
        "the targets of `{}` hold {} different values{what}: {}",
        secret.name,
        groups.len(),
        described.join("; ")
    )
}

/// The whole value, when every field is known before generating.
fn known_value(fields: &[FieldPlan]) -> Option<SecretData> {
    let fields = fields
        .iter()
        .map(|f| Some((f.name.clone(), f.value.clone()?)))
        .collect::<Option<Vec<_>>>()?;
    Some(SecretData { fields })
}

fn target_action(
    secret: &Secret,
    id: &str,
    readback: &Readback,
    fields: &[FieldPlan],
    value: Option<&SecretData>,
    entry: Option<&SecretEntry>,
    hasher: &Hasher,
) -> (Action, String) {
    let new_value = fields.iter().find_map(|f| match &f.source {
        Source::Generate { reason } => Some(reason.as_str()),
        _ => None,
    });
    let recorded = entry.and_then(|e| e.targets.get(id));
    if fields.iter().any(|f| f.source == Source::Lost) {
        let hint = format!("`sync --force -s {}` makes a new one", secret.name);
        return (Action::Skip, format!("the one_time value is in none of the targets; {hint}"));
    }
    if let Some(at) = fields.iter().find_map(|f| match &f.source {
        Source::Unreachable { at } => Some(at),
        _ => None,
    }) {
        let who = match (at.as_slice(), readback) {
            ([only], Readback::Unreadable(why)) if only == id => {
                format!("it could not be read ({why})")
            }
            (_, Readback::Unreadable(why)) => {
                format!("{} could not be read ({why})", at.join(", "))
            }
            _ => format!("{} could not be read", at.join(", ")),
        };
        return (
            Action::Skip,
            format!(
                "{who} and the lockfile records no value, so whether one is there already is \
                 unknown; no new value is made until it answers (or `sync --force -s {}`)",
                secret.name
            ),
        );
    }
    if let Some(at) = fields.iter().find_map(|f| match &f.source {
        Source::Unread { at } => Some(at),
        _ => None,
    }) {
        let variables = missing_variables(secret, fields);
        let holders = match at.as_slice() {
            [only] if only == id => "it already holds".to_string(),
            [only] => format!("{only} already holds"),
            many => format!("{} already hold", many.join(", ")),
        };
        return (
            Action::Skip,
            format!(
                "{holders} a value that cannot be read back, and the lockfile records none; set \
                 {} to the value held to keep it, or `sync --force -s {}` replaces it",
                variables.join(" and "),
                secret.name
            ),
        );
    }

    // The value to write is neither known nor to be made: it is recorded, but only targets that
    // cannot be read (write-only stores, or ones that did not answer) hold it.
    let unavailable = || {
        let variables = missing_variables(secret, fields);
        let hint = format!(
            "the recorded value is only in targets that cannot be read back now; set {} to it, \
             or `sync --force -s {}` makes a new one",
            variables.join(" and "),
            secret.name
        );
        (Action::Skip, hint)
    };
    match readback {
        Readback::Missing if value.is_none() && new_value.is_none() => unavailable(),
        Readback::Missing => (Action::Create, "not there yet".into()),
        Readback::Broken(why) => (Action::Skip, why.clone()),
        Readback::Value(held) => match value {
            Some(value) if held.same_as(value) => (Action::Unchanged, "holds the value".into()),
            Some(_) if held.fields.len() < secret.fields.len() => {
                (Action::Update, "some fields are missing".into())
            }
            Some(_) => (Action::Update, "holds a different value".into()),
            None => match new_value {
                Some(reason) => (Action::Update, format!("new value ({reason})")),
                None => unavailable(),
            },
        },
        Readback::Unreadable(why) => {
            unreadable_action(secret, id, (why, false), value, new_value, recorded, hasher)
        }
        Readback::Sealed { stamp, why } => {
            let recorded_stamp = recorded.and_then(|r| r.stamp.as_ref());
            match (stamp, recorded_stamp) {
                // Someone wrote it since SecretZero did: what it holds now is unknown.
                (Some(now), Some(then)) if now != then => {
                    match value.is_some() || new_value.is_some() {
                        true => (
                            Action::Update,
                            format!(
                                "changed outside SecretZero (the store says {now}, the lockfile \
                             recorded {then}), so the value is written again"
                            ),
                        ),
                        false => (
                            Action::Skip,
                            format!(
                                "changed outside SecretZero (the store says {now}, the lockfile \
                             recorded {then}) and no readable target holds the value to write \
                             back; `sync --force -s {}` makes a new one",
                                secret.name
                            ),
                        ),
                    }
                }
                _ => unreadable_action(secret, id, (why, true), value, new_value, recorded, hasher),
            }
        }
    }
}

/// The environment variables that would give the fields whose value is missing (not those a
/// static value or the environment already gives).
fn missing_variables<'a>(secret: &'a Secret, fields: &[FieldPlan]) -> Vec<&'a str> {
    secret
        .fields
        .iter()
        .zip(fields)
        .filter(|(_, plan)| plan.value.is_none())
        .map(|(field, _)| field.env_var.as_str())
        .collect()
}

/// What to do with a target whose value cannot be compared: trust the lockfile's record of
/// what was written there. A store that never gives values back (`sealed`) is written when the
/// record does not match; one whose read failed this time is not written at all, since what
/// it holds, and whether a write would land, is unknown.
fn unreadable_action(
    secret: &Secret,
    id: &str,
    (why, sealed): (&str, bool),
    value: Option<&SecretData>,
    new_value: Option<&str>,
    recorded: Option<&crate::lockfile::TargetEntry>,
    hasher: &Hasher,
) -> (Action, String) {
    let bytes = value.map(SecretData::canonical_bytes);
    let in_lockfile = match (recorded, &bytes) {
        (Some(r), Some(bytes)) => hasher.matches(&r.hash, &secret.name, id, bytes),
        // Nothing to compare with, but nothing changes either.
        (Some(_), None) => new_value.is_none(),
        (None, _) => false,
    };
    if in_lockfile {
        (Action::Unchanged, format!("recorded in the lockfile; cannot read back: {why}"))
    } else if !sealed {
        (Action::Skip, format!("could not be read ({why}), so nothing is written there"))
    } else if value.is_none() && new_value.is_none() {
        (
            Action::Skip,
            format!(
                "no readable target holds the value to copy; `sync --force -s {}` makes a new \
                 one",
                secret.name
            ),
        )
    } else {
        (Action::Update, format!("cannot read back ({why}), so it is written"))
    }
}

/// The parts of a secret's definition that decide its value, as bytes to hash. Targets are
/// left out: they are recorded one by one in the lockfile.
fn whole_definition(secret: &Secret, field_bytes: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = format!("template={}\n", secret.template.as_deref().unwrap_or("")).into_bytes();
    for field in field_bytes {
        bytes.extend(field);
        bytes.push(b'\n');
    }
    bytes
}

/// One field's generator, in a canonical form: options spelled differently but meaning the
/// same (the default symbol set written out, characters in another order) give the same bytes.
pub(crate) fn field_definition_bytes(field: &Field) -> Vec<u8> {
    format!("field={}\n{}", field.name, spec_text(&field.generator)).into_bytes()
}

/// The distinct characters of a set, sorted.
fn char_set(chars: &str) -> String {
    // The built-in classes and the default symbols come here again and again.
    static SORTED_DEFAULTS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| sorted(crate::generate::DEFAULT_SYMBOLS));
    match chars {
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ" | "abcdefghijklmnopqrstuvwxyz" | "0123456789" => {
            chars.to_string()
        }
        _ if chars == crate::generate::DEFAULT_SYMBOLS => SORTED_DEFAULTS.clone(),
        _ => sorted(chars),
    }
}

fn sorted(chars: &str) -> String {
    chars.chars().collect::<std::collections::BTreeSet<char>>().into_iter().collect()
}

fn spec_text(spec: &Spec) -> String {
    match spec {
        Spec::RandomPassword(p) => {
            // Each class as the characters it really draws from, so an exclusion of something
            // no class holds, or the default symbols written out, is no change.
            // Most passwords exclude nothing and use the default symbols: skip the set work.
            let class = |on: bool, chars: &str| -> String {
                match (on, p.exclude_characters.is_empty()) {
                    (false, _) => String::new(),
                    (true, true) => char_set(chars),
                    (true, false) => char_set(
                        &chars
                            .chars()
                            .filter(|c| !p.exclude_characters.contains(*c))
                            .collect::<String>(),
                    ),
                }
            };
            let symbols = p.symbols.as_deref().unwrap_or(crate::generate::DEFAULT_SYMBOLS);
            format!(
                "random-password length={} upper={:?} lower={:?} numbers={:?} symbols={:?}",
                p.length,
                class(p.include_upper, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                class(p.include_lower, "abcdefghijklmnopqrstuvwxyz"),
                class(p.include_numbers, "0123456789"),
                class(p.include_symbols, symbols),
            )
        }
        Spec::RandomString(s) => {
            let charset = match &s.charset {
                crate::generate::Charset::Custom(chars) => format!("custom:{:?}", char_set(chars)),
                named => format!("{named:?}"),
            };
            format!("random-string length={} charset={charset}", s.length)
        }
        Spec::Static(s) => {
            format!("static value={}", s.value.as_ref().map_or("", |v| v.expose_secret()))
        }
        Spec::Script(s) => format!("script command={:?} args={:?}", s.command, s.args),
    }
}
