//! The older lockfile's entries, as its own loader upgraded them, re-recorded against the
//! translated Secretfile: entries and target ids renamed, and every hash that a value read
//! back from a target confirms replaced with the keyed hash a sync would record.

use std::collections::{BTreeMap, HashMap};

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tracing::debug;

use super::{LocalProblem, LockfileReport, Origin};
use crate::engine::{Targets, recorded_definitions};
use crate::lockfile::{
    Hasher, LEGACY_VALUE_FIELD, Lockfile, LockfileError, SecretEntry, TargetEntry,
};
use crate::secretfile::{Secret, Secretfile, TargetKind};
use crate::target::{Readback, SecretData};

pub(super) fn convert(
    mut lock: Lockfile,
    file: &Secretfile,
    origins: &HashMap<String, Origin>,
    targets: &mut Targets,
) -> Result<(Lockfile, LockfileReport, Vec<LocalProblem>), LockfileError> {
    let hasher = lock.hasher()?;
    let mut problems = Vec::new();
    let mut older = std::mem::take(&mut lock.secrets);
    let mut report = LockfileReport::default();
    split_whole_entries(&mut older, file, origins, targets, &hasher);

    for secret in file.secrets.values() {
        let Some(origin) = origins.get(&secret.name) else { continue };
        let parts: Vec<(String, SecretEntry)> = origin
            .fields
            .iter()
            .filter_map(|(field, name)| older.remove(name).map(|entry| (field.clone(), entry)))
            .collect();
        let whole = origin.whole.as_ref().and_then(|name| older.remove(name));
        if parts.is_empty() && whole.is_none() {
            continue;
        }
        let entry = Entry { secret, origin, parts, whole, hasher: &hasher };
        let (converted, verified) = entry.convert(targets, &mut problems);
        debug!(
            secret = %secret.name,
            from = ?origin.fields.iter().map(|(_, name)| name).collect::<Vec<_>>(),
            confirmed = verified,
            "lockfile entry converted"
        );
        match verified {
            true => report.verified.push(secret.name.clone()),
            false => report.unverified.push(secret.name.clone()),
        }
        lock.secrets.insert(secret.name.clone(), converted);
    }

    // Entries for secrets the older Secretfile no longer declared: kept as upgraded, so their
    // history stays, and drift reports them as it would have.
    for (name, entry) in older {
        debug!(entry = %name, "no secret declares this entry; kept as it was");
        report.orphaned.push(name.clone());
        lock.secrets.insert(name, entry);
    }
    Ok((lock, report, problems))
}

/// For templates whose fields became secrets of their own, where the older lockfile hashed the
/// template's whole value as one JSON object rather than field by field: when the fields'
/// targets hold exactly that object, each field gets the entry the older tool would have
/// recorded for it alone, for [`Entry::convert`] to confirm like any other.
fn split_whole_entries(
    older: &mut BTreeMap<String, SecretEntry>,
    file: &Secretfile,
    origins: &HashMap<String, Origin>,
    targets: &mut Targets,
    hasher: &Hasher,
) {
    let mut groups: BTreeMap<&str, Vec<(&Secret, &str)>> = BTreeMap::new();
    for secret in file.secrets.values() {
        if let Some((whole, field)) = origins.get(&secret.name).and_then(|o| o.split_from.as_ref())
        {
            groups.entry(whole).or_default().push((secret, field));
        }
    }

    for (whole, members) in groups {
        let per_field = members.iter().any(|(secret, _)| older.contains_key(&secret.name));
        let Some(hash) = older.get(whole).and_then(recorded).filter(|_| !per_field) else {
            continue;
        };
        let read = |(secret, field): &(&Secret, &str), targets: &mut Targets| {
            secret.targets.iter().find_map(|t| match targets.for_target(t).read(secret, t) {
                Readback::Value(data) => Some((field.to_string(), data.fields.first()?.1.clone())),
                _ => None,
            })
        };
        let Some(fields) = members.iter().map(|m| read(m, targets)).collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let value = SecretData { fields };
        let matched = json_encodings(&value)
            .iter()
            .any(|json| hasher.matches(&hash, "", "", json.as_bytes()));
        if !matched {
            continue;
        }

        let entry = older.remove(whole).expect("looked up above");
        for ((secret, _), (_, field_value)) in members.iter().zip(&value.fields) {
            let field_hash = hex::encode(Sha256::digest(field_value.expose_secret().as_bytes()));
            let mut part = entry.clone();
            part.fields = BTreeMap::from([(LEGACY_VALUE_FIELD.to_string(), field_hash.clone())]);
            for target in part.targets.values_mut() {
                target.hash = field_hash.clone();
            }
            older.insert(secret.name.clone(), part);
        }
    }
}

/// One new secret and the older entries it comes from.
struct Entry<'a> {
    secret: &'a Secret,
    origin: &'a Origin,
    /// Per field, the older entry that recorded it.
    parts: Vec<(String, SecretEntry)>,
    /// The older entry that hashed the whole value as JSON.
    whole: Option<SecretEntry>,
    hasher: &'a Hasher,
}

impl Entry<'_> {
    /// The new entry, and whether a target's value confirmed every older hash.
    fn convert(
        &self,
        targets: &mut Targets,
        problems: &mut Vec<LocalProblem>,
    ) -> (SecretEntry, bool) {
        let secret = self.secret;
        let older: Vec<&SecretEntry> =
            self.parts.iter().map(|(_, entry)| entry).chain(&self.whole).collect();

        let readbacks: Vec<Readback> =
            secret.targets.iter().map(|t| targets.for_target(t).read(secret, t)).collect();
        let value = self.confirmed_value(&readbacks);
        problems.extend(self.local_problems(&readbacks, value.as_ref()));

        // Fields: keyed hashes of a confirmed value, else the older hashes, which stay valid.
        let fields = match &value {
            Some(value) => value
                .fields
                .iter()
                .map(|(field, v)| {
                    let hash = self.hasher.hash(&secret.name, field, v.expose_secret().as_bytes());
                    (field.clone(), hash)
                })
                .collect(),
            None => {
                let mut fields: BTreeMap<String, String> = self
                    .parts
                    .iter()
                    .filter_map(|(field, entry)| Some((field.clone(), recorded(entry)?)))
                    .collect();
                if let Some(whole) = self.whole.as_ref().and_then(recorded)
                    && fields.len() < secret.fields.len()
                {
                    fields.insert(LEGACY_VALUE_FIELD.to_string(), whole);
                }
                fields
            }
        };

        let new_targets = self.targets(&older, value.as_ref());

        let (definition, definitions) = recorded_definitions(secret, self.hasher);
        let entry = SecretEntry {
            definition,
            definitions,
            created_at: older.iter().map(|e| e.created_at).min().expect("at least one entry"),
            updated_at: older.iter().map(|e| e.updated_at).max().expect("at least one entry"),
            last_rotated: older.iter().filter_map(|e| e.last_rotated).max(),
            rotation_count: older.iter().map(|e| e.rotation_count).max().unwrap_or(0),
            one_time: secret.one_time,
            fields,
            targets: new_targets,
        };
        (entry, value.is_some())
    }

    /// The target records, renamed from `provider/kind/identifier`, each with its latest write:
    /// keyed hashes of a confirmed value, else the older hashes.
    fn targets(
        &self,
        older: &[&SecretEntry],
        value: Option<&SecretData>,
    ) -> BTreeMap<String, TargetEntry> {
        let mut older_targets: BTreeMap<&str, &TargetEntry> = BTreeMap::new();
        for entry in older {
            for (id, target) in &entry.targets {
                let later =
                    older_targets.get(id.as_str()).is_none_or(|t| t.updated_at < target.updated_at);
                if later {
                    older_targets.insert(id, target);
                }
            }
        }

        let mut targets = BTreeMap::new();
        for (target, old) in self.secret.targets.iter().zip(&self.origin.targets) {
            let rendered = match &target.kind {
                TargetKind::LocalFile(file) => Some(file.path.as_str()),
                TargetKind::Remote(remote) => remote.options.get("name").map(String::as_str),
            };
            let ids = old.ids(rendered);
            let Some(found) = ids.iter().find_map(|id| older_targets.get(id.as_str())) else {
                continue;
            };
            let hash = match value {
                Some(value) if self.wrote(found, value) => {
                    self.hasher.hash(&self.secret.name, &target.id, &value.canonical_bytes())
                }
                _ => found.hash.clone(),
            };
            targets.insert(
                target.id.clone(),
                TargetEntry { hash, updated_at: found.updated_at, stamp: None, settings: None },
            );
        }
        targets
    }

    /// The value a target holds that every older hash confirms, field by field or (for an
    /// entry that hashed the whole value) as one JSON object.
    fn confirmed_value(&self, readbacks: &[Readback]) -> Option<SecretData> {
        let secret = self.secret;
        let held = || {
            readbacks.iter().filter_map(|r| match r {
                Readback::Value(data) => Some(data),
                _ => None,
            })
        };
        let per_field: Option<Vec<_>> = secret
            .fields
            .iter()
            .map(|field| {
                let (_, entry) = self.parts.iter().find(|(name, _)| *name == field.name)?;
                let recorded = recorded(entry)?;
                held().find_map(|data| {
                    let value = data.field(&field.name)?;
                    let bytes = value.expose_secret().as_bytes();
                    let confirmed =
                        self.hasher.matches(&recorded, &secret.name, &field.name, bytes);
                    confirmed.then(|| (field.name.clone(), value.clone()))
                })
            })
            .collect();
        if let Some(fields) = per_field {
            return Some(SecretData { fields });
        }

        let whole = recorded(self.whole.as_ref()?)?;
        held()
            .find(|data| {
                let complete = secret.fields.iter().all(|f| data.field(&f.name).is_some());
                complete
                    && json_encodings(data).iter().any(|json| {
                        self.hasher.matches(
                            &whole,
                            &secret.name,
                            LEGACY_VALUE_FIELD,
                            json.as_bytes(),
                        )
                    })
            })
            .map(|data| SecretData {
                fields: secret
                    .fields
                    .iter()
                    .filter_map(|f| Some((f.name.clone(), data.field(&f.name)?.clone())))
                    .collect(),
            })
    }

    /// The local targets that do not hold the value the older lockfile records, so that the
    /// next sync would fail on them or change them.
    fn local_problems(
        &self,
        readbacks: &[Readback],
        value: Option<&SecretData>,
    ) -> Vec<LocalProblem> {
        let same = |held: &SecretData, value: &SecretData| {
            held.fields.len() == value.fields.len()
                && held
                    .fields
                    .iter()
                    .zip(&value.fields)
                    .all(|((a, x), (b, y))| a == b && x.expose_secret() == y.expose_secret())
        };
        let mut problems = Vec::new();
        for (target, readback) in self.secret.targets.iter().zip(readbacks) {
            let TargetKind::LocalFile(file) = &target.kind else { continue };
            let reason = match (readback, value) {
                (Readback::Value(held), Some(value)) if same(held, value) => continue,
                (Readback::Value(_), _) => format!(
                    "key `{}` holds a value other than the one the older lockfile records",
                    file.key
                ),
                (Readback::Missing, _) => {
                    format!("key `{}` is not there; the next sync writes it", file.key)
                }
                (
                    Readback::Broken(reason)
                    | Readback::Unreadable(reason)
                    | Readback::Sealed { why: reason, .. },
                    _,
                ) => format!("cannot be read: {reason}"),
            };
            problems.push(LocalProblem {
                secret: self.secret.name.clone(),
                path: file.path.clone(),
                reason,
            });
        }
        problems
    }

    /// Whether an older target record is of the value confirmed now, rather than of an older
    /// one whose later write failed. Only a one-value hash can tell; a per-field record of a
    /// multi-field secret is taken as current.
    fn wrote(&self, target: &TargetEntry, value: &SecretData) -> bool {
        match value.fields.as_slice() {
            [(_, only)] => {
                Hasher::is_legacy(&target.hash)
                    && self.hasher.matches(&target.hash, "", "", only.expose_secret().as_bytes())
            }
            _ => true,
        }
    }
}

/// The older entry's hash of its value: its own, or (when it had none) its targets'.
fn recorded(entry: &SecretEntry) -> Option<String> {
    entry
        .fields
        .get(LEGACY_VALUE_FIELD)
        .or_else(|| entry.targets.values().next().map(|t| &t.hash))
        .cloned()
}

/// The fields as a compact JSON object with sorted keys, as the older tool hashed a value of
/// several fields: with every character outside printable ASCII escaped (Python's default),
/// and as written by serde_json (the current engine's reading of it).
fn json_encodings(data: &SecretData) -> Vec<String> {
    let sorted: BTreeMap<&str, &str> =
        data.fields.iter().map(|(name, value)| (name.as_str(), value.expose_secret())).collect();
    let mut python = String::from("{");
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            python.push(',');
        }
        ascii_json_string(&mut python, name);
        python.push(':');
        ascii_json_string(&mut python, value);
    }
    python.push('}');
    let plain = serde_json::to_string(&sorted).expect("a map of strings serializes");
    vec![python, plain]
}

fn ascii_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn json_escapes_like_the_older_tool() {
        let data = SecretData {
            fields: vec![
                ("username".into(), SecretString::from("app")),
                ("password".into(), SecretString::from("pä\"ss\u{1F600}\n")),
            ],
        };
        let [python, plain] = json_encodings(&data).try_into().unwrap();
        assert_eq!(python, r#"{"password":"p\u00e4\"ss\ud83d\ude00\n","username":"app"}"#);
        assert_eq!(plain, "{\"password\":\"pä\\\"ss\u{1F600}\\n\",\"username\":\"app\"}");
    }
}
