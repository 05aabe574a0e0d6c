//! The current (version 2) file format: how a [`Lockfile`] maps to JSON and back, including the
//! timestamp and hash shapes every entry uses.
//!
//! Maps are `BTreeMap`s and struct fields have a fixed order, so the same lockfile always
//! renders to the same bytes. Deserializers check shapes as they read, so a malformed entry is
//! reported at its line and column rather than after the fact.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use jiff::Timestamp;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::hash::{self, ALGORITHM, HashParams, KEY_CHECK_LEN, SALT_LEN};
use super::{Lockfile, SecretEntry};

/// Messages this module hands to serde. They quote nothing from the file, so the loader can
/// pass them on to the user as they are.
pub(super) const OWN_MESSAGES: &[&str] = &[
    BAD_TIMESTAMP,
    BAD_HASH,
    DUPLICATE_KEY,
    BAD_ALGORITHM,
    BAD_SALT,
    BAD_KEY_CHECK,
    KEY_STATE_MISMATCH,
    BAD_LEGACY_TARGET,
];
pub(super) const BAD_TIMESTAMP: &str =
    "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z";
pub(super) const BAD_HASH: &str = "expected `hmac-sha256:` and 64 hex digits, or 64 hex digits";
pub(super) const DUPLICATE_KEY: &str = "a key appears twice in the same object";
const BAD_ALGORITHM: &str = "unsupported hash algorithm, expected `hmac-sha256`";
const BAD_SALT: &str = "expected a salt of 64 hex digits";
const BAD_KEY_CHECK: &str = "expected a key check of 16 hex digits";
const KEY_STATE_MISMATCH: &str = "`keyed` and `key_check` disagree";
/// Serde reports an untagged enum's `expecting` text as the whole message, so the legacy
/// target type repeats this text verbatim.
pub(super) const BAD_LEGACY_TARGET: &str = "expected a target hash or a target entry object";

/// The file as written.
#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    hash: HashOut,
    secrets: &'a BTreeMap<String, SecretEntry>,
}

#[derive(Serialize)]
struct HashOut {
    algorithm: &'static str,
    salt: String,
    keyed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_check: Option<String>,
}

/// The file as read. Unknown fields are errors: saving would silently drop them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a lockfile object")]
pub(super) struct FileIn {
    #[expect(dead_code, reason = "the loader reads the version before choosing this shape")]
    version: u32,
    pub(super) hash: HashParams,
    #[serde(deserialize_with = "unique_map")]
    pub(super) secrets: BTreeMap<String, SecretEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a hash settings object")]
struct HashIn {
    algorithm: String,
    salt: String,
    keyed: bool,
    #[serde(default)]
    key_check: Option<String>,
}

impl<'de> Deserialize<'de> for HashParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<HashParams, D::Error> {
        let raw = HashIn::deserialize(deserializer)?;
        if raw.algorithm != ALGORITHM {
            return Err(de::Error::custom(BAD_ALGORITHM));
        }

        let mut salt = [0; SALT_LEN];
        hex::decode_to_slice(&raw.salt, &mut salt).map_err(|_| de::Error::custom(BAD_SALT))?;

        let key_check = match (raw.keyed, raw.key_check) {
            (true, Some(text)) => {
                let mut check = [0; KEY_CHECK_LEN];
                hex::decode_to_slice(&text, &mut check)
                    .map_err(|_| de::Error::custom(BAD_KEY_CHECK))?;
                Some(check)
            }
            (false, None) => None,
            _ => return Err(de::Error::custom(KEY_STATE_MISMATCH)),
        };
        Ok(HashParams { salt, key_check })
    }
}

pub(super) fn render(lockfile: &Lockfile) -> String {
    let params = &lockfile.params;
    let file = FileOut {
        version: super::FORMAT_VERSION,
        hash: HashOut {
            algorithm: ALGORITHM,
            salt: hex::encode(params.salt),
            keyed: params.key_check.is_some(),
            key_check: params.key_check.map(hex::encode),
        },
        secrets: &lockfile.secrets,
    };
    let mut text = serde_json::to_string_pretty(&file)
        .expect("a lockfile has only string keys and plain values");
    text.push('\n');
    text
}

/// Drops sub-second digits, which the file does not keep.
pub(super) fn truncate(timestamp: Timestamp) -> Timestamp {
    Timestamp::from_second(timestamp.as_second()).unwrap_or(timestamp)
}

/// Reads an RFC 3339 timestamp with an offset; sub-second digits are dropped.
pub(super) fn parse_stamp(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok().map(truncate)
}

/// A timestamp written as `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) mod stamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        timestamp: &Timestamp,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&truncate(*timestamp))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_stamp(&text).ok_or_else(|| de::Error::custom(BAD_TIMESTAMP))
    }
}

/// An optional timestamp, written as `null` when absent so every entry has the same keys.
pub(super) mod optional_stamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        timestamp: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match timestamp {
            Some(timestamp) => stamp::serialize(timestamp, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => {
                parse_stamp(&text).map(Some).ok_or_else(|| de::Error::custom(BAD_TIMESTAMP))
            }
            None => Ok(None),
        }
    }
}

pub(super) fn recorded_hash<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if hash::is_recorded_hash(&text) { Ok(text) } else { Err(de::Error::custom(BAD_HASH)) }
}

/// A store's stamp (see [`super::TargetEntry::stamp`]): a timestamp or version as the store
/// shows it, at most 64 characters of letters, digits and `:.+-_`, so a message may quote it
/// without quoting anything else a hand-edited file could hold.
pub(super) fn store_stamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":.+-_".contains(c);
    if !text.is_empty() && text.len() <= 64 && text.chars().all(allowed) {
        Ok(Some(text))
    } else {
        Err(de::Error::custom("a target's `stamp` must be up to 64 letters, digits and `:.+-_`"))
    }
}

/// A recorded hash that may be absent.
pub(super) fn optional_hash<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    recorded_hash(deserializer).map(Some)
}

/// A definition hash, or empty when none is recorded yet.
pub(super) fn definition_hash<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.is_empty() || hash::is_recorded_hash(&text) {
        Ok(text)
    } else {
        Err(de::Error::custom(BAD_HASH))
    }
}

/// A map of names to recorded hashes.
pub(super) fn hash_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map: BTreeMap<String, RecordedHash> = unique_map(deserializer)?;
    Ok(map.into_iter().map(|(name, hash)| (name, hash.0)).collect())
}

struct RecordedHash(String);

impl<'de> Deserialize<'de> for RecordedHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RecordedHash, D::Error> {
        recorded_hash(deserializer).map(RecordedHash)
    }
}

/// A map whose keys must be unique. JSON readers disagree about duplicate keys and serde keeps
/// the last one silently; in a lockfile a duplicate usually means a merge kept both sides.
pub(super) fn unique_map<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    deserializer.deserialize_map(UniqueMapVisitor(PhantomData))
}

struct UniqueMapVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMapVisitor<V> {
    type Value = BTreeMap<String, V>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            let value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_at_second_precision_in_utc() {
        let timestamp: Timestamp = "2026-12-03T19:00:00.987654+01:00".parse().unwrap();
        assert_eq!(truncate(timestamp).to_string(), "2026-12-03T18:00:00Z");
        assert_eq!(parse_stamp("2026-12-03T18:00:00.5Z"), parse_stamp("2026-12-03T18:00:00Z"));
        assert_eq!(parse_stamp("2026-12-03T18:00:00"), None);
        assert_eq!(parse_stamp("yesterday"), None);
    }

    #[test]
    fn own_messages_quote_nothing() {
        for message in OWN_MESSAGES {
            assert!(!message.contains('"'), "{message}");
        }
    }
}
