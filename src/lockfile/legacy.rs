//! The older lockfile format (version `"1.0"`, unsalted SHA-256) and its upgrade to the current
//! one.
//!
//! Reading is lenient: fields this format never had default sensibly, and everything it kept
//! that the current format drops (provenance, Secretfile metadata, user and host names) is
//! ignored, so saving an upgraded lockfile also removes those names from the repository.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::format::{self, BAD_HASH, BAD_TIMESTAMP, unique_map};
use super::{LEGACY_VALUE_FIELD, SecretEntry, TargetEntry};

#[derive(Deserialize)]
#[serde(expecting = "a lockfile object")]
pub(super) struct LegacyFile {
    #[serde(default, deserialize_with = "unique_map")]
    secrets: BTreeMap<String, LegacySecret>,
}

#[derive(Deserialize)]
#[serde(expecting = "a secret entry object")]
struct LegacySecret {
    #[serde(default, deserialize_with = "optional_hash")]
    hash: Option<String>,
    #[serde(deserialize_with = "stamp")]
    created_at: Timestamp,
    #[serde(deserialize_with = "stamp")]
    updated_at: Timestamp,
    #[serde(default, deserialize_with = "optional_stamp")]
    last_rotated: Option<Timestamp>,
    #[serde(default)]
    rotation_count: u64,
    #[serde(default)]
    one_time: bool,
    #[serde(default, deserialize_with = "unique_map")]
    targets: BTreeMap<String, LegacyTarget>,
}

/// Targets were recorded either as a bare hash or as an object.
#[derive(Deserialize)]
#[serde(untagged, expecting = "expected a target hash or a target entry object")]
enum LegacyTarget {
    Hash(#[serde(deserialize_with = "format::recorded_hash")] String),
    Entry(LegacyTargetEntry),
}

#[derive(Deserialize)]
struct LegacyTargetEntry {
    #[serde(default, deserialize_with = "optional_hash")]
    hash: Option<String>,
    #[serde(default, deserialize_with = "optional_stamp")]
    updated_at: Option<Timestamp>,
}

impl LegacyFile {
    /// The secrets in the current shape. A secret's one whole-value hash is kept under
    /// [`LEGACY_VALUE_FIELD`]; the definition is left unrecorded because this format had none.
    pub(super) fn upgrade(self) -> BTreeMap<String, SecretEntry> {
        let mut secrets = BTreeMap::new();
        for (name, secret) in self.secrets {
            let fields = secret
                .hash
                .iter()
                .map(|hash| (LEGACY_VALUE_FIELD.to_owned(), hash.clone()))
                .collect();

            // This format wrote the secret's own hash to each target, so it stands in for a
            // target recorded without one. A target with no hash at all says nothing that can
            // be checked, so it is dropped and the engine treats the target as new.
            let targets = secret
                .targets
                .into_iter()
                .filter_map(|(id, target)| {
                    let (hash, updated_at) = match target {
                        LegacyTarget::Hash(hash) => (Some(hash), None),
                        LegacyTarget::Entry(entry) => (entry.hash, entry.updated_at),
                    };
                    let hash = hash.or_else(|| secret.hash.clone())?;
                    let updated_at = updated_at.unwrap_or(secret.updated_at);
                    Some((id, TargetEntry { hash, updated_at, stamp: None, settings: None }))
                })
                .collect();

            let entry = SecretEntry {
                definition: String::new(),
                definitions: BTreeMap::new(),
                created_at: secret.created_at,
                updated_at: secret.updated_at,
                last_rotated: secret.last_rotated,
                rotation_count: secret.rotation_count,
                one_time: secret.one_time,
                fields,
                targets,
            };
            secrets.insert(name, entry);
        }
        secrets
    }
}

/// RFC 3339, or a date and time without an offset, which older writers meant as UTC.
fn parse_stamp(text: &str) -> Option<Timestamp> {
    if let Some(timestamp) = format::parse_stamp(text) {
        return Some(timestamp);
    }
    let civil = text.parse::<DateTime>().ok()?;
    TimeZone::UTC.to_timestamp(civil).ok().map(format::truncate)
}

fn stamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_stamp(&text).ok_or_else(|| de::Error::custom(BAD_TIMESTAMP))
}

fn optional_stamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) => parse_stamp(&text).map(Some).ok_or_else(|| de::Error::custom(BAD_TIMESTAMP)),
        None => Ok(None),
    }
}

fn optional_hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if super::hash::is_recorded_hash(&text) => Ok(Some(text)),
        Some(_) => Err(de::Error::custom(BAD_HASH)),
        None => Ok(None),
    }
}
