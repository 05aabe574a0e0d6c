//! The lockfile, `.gitsecrets.lock`: a committed record of what SecretZero did, holding hashes
//! and timestamps but never a secret value.
//!
//! This module owns the file format (the current one and the older one it still reads), keyed
//! hashing of values ([`Hasher`]), loading with errors that point at a line, and an atomic save
//! that leaves the file untouched when nothing changed. Deciding what to record, and when a
//! change counts as a rotation, belongs to the engine. The format is described for users in
//! `docs/lockfile.md`.

mod format;
mod hash;
mod legacy;
mod load;
mod merge;
mod save;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use hash::HashParams;
pub use hash::{Hasher, KEY_ENV, MIN_KEY_LEN};
pub use merge::{MergeError, Merged, merge, with_conflict_markers};

/// The lockfile's default name, next to the Secretfile.
pub const FILE_NAME: &str = ".gitsecrets.lock";

/// The format version this build writes.
pub const FORMAT_VERSION: u32 = 2;

/// Field name under which a secret upgraded from the older format keeps the one whole-value
/// hash that format recorded. It cannot be a Secretfile field name, so it never collides; the
/// engine replaces it with per-field hashes once it has the values.
pub const LEGACY_VALUE_FIELD: &str = "(legacy value)";

/// Files larger than this are refused rather than read, so one crafted in a pull request cannot
/// exhaust memory in CI. An entry takes about 1 KB, so this leaves room for a few hundred
/// thousand secrets.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The whole lockfile.
#[derive(Debug, Clone)]
pub struct Lockfile {
    /// Always [`FORMAT_VERSION`] in memory: an older file is upgraded as it is parsed.
    pub version: u32,
    pub secrets: BTreeMap<String, SecretEntry>,
    params: HashParams,
    origin: Origin,
}

/// Where a lockfile came from. It shapes error messages, not content, so equality ignores it.
#[derive(Debug, Clone, Default)]
struct Origin {
    path: Option<PathBuf>,
    older_format: bool,
}

impl PartialEq for Lockfile {
    fn eq(&self, other: &Lockfile) -> bool {
        self.version == other.version
            && self.secrets == other.secrets
            && self.params == other.params
    }
}

impl Eq for Lockfile {}

/// What the lockfile records about one secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a secret entry object")]
pub struct SecretEntry {
    /// [`Hasher::hash_definition`] of the secret's canonical definition, so a changed generator
    /// is noticed. Empty when not recorded yet (a secret upgraded from the older format).
    #[serde(deserialize_with = "format::definition_hash")]
    pub definition: String,
    /// Field name to the hash of that field's generator definition, so that a change to one
    /// field regenerates that field alone. Absent in entries written before it existed.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "format::hash_map"
    )]
    pub definitions: BTreeMap<String, String>,
    #[serde(with = "format::stamp")]
    pub created_at: Timestamp,
    #[serde(with = "format::stamp")]
    pub updated_at: Timestamp,
    #[serde(with = "format::optional_stamp")]
    pub last_rotated: Option<Timestamp>,
    pub rotation_count: u64,
    pub one_time: bool,
    /// Field name to the hash of that field's value.
    #[serde(deserialize_with = "format::hash_map")]
    pub fields: BTreeMap<String, String>,
    /// Target id to what was last written there.
    #[serde(deserialize_with = "format::unique_map")]
    pub targets: BTreeMap<String, TargetEntry>,
}

/// What the lockfile records about one target of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a target entry object")]
pub struct TargetEntry {
    /// Hash of the value written to the target.
    #[serde(deserialize_with = "format::recorded_hash")]
    pub hash: String,
    #[serde(with = "format::stamp")]
    pub updated_at: Timestamp,
    /// For a store that never gives values back: what it showed about the value SecretZero
    /// wrote (GitHub's `updated_at`), so a later change by anyone else is noticed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "format::store_stamp"
    )]
    pub stamp: Option<String>,
    /// For a remote target: a keyed hash of its settings that are not part of its identity
    /// (a description, tags, a tier), so a change to them is written to the store.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "format::optional_hash"
    )]
    pub settings: Option<String>,
}

/// Why a lockfile could not be loaded, saved or used. No message quotes the file's content:
/// a hand-edited lockfile could hold anything, including a value pasted by mistake.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    #[error("cannot read lockfile {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write lockfile {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("lockfile {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("lockfile {path} has unresolved merge conflict markers, the first at line {line}")]
    ConflictMarkers { path: PathBuf, line: usize },
    #[error("lockfile {path} is invalid at line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        /// Describes the problem without quoting the file.
        message: String,
    },
    /// `version` is a number formatted by this module, or `unrecognised`; never file text.
    #[error("lockfile {path} has format version {version}, which this secretzero cannot read")]
    UnsupportedVersion { path: PathBuf, version: String },
    #[error("lockfile {path} was written with {KEY_ENV} set, but it is not set now")]
    MissingKey { path: PathBuf },
    #[error("{KEY_ENV} is not the key lockfile {path} was written with")]
    WrongKey { path: PathBuf },
    #[error("{KEY_ENV} is set, but lockfile {path} was written without a key")]
    UnexpectedKey { path: PathBuf },
    #[error("{KEY_ENV} is shorter than {min} bytes")]
    KeyTooShort { min: usize },
}

impl LockfileError {
    /// What the user can do about it, for the `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            LockfileError::ConflictMarkers { .. } => Some(
                "keep one side's entry for each conflicting secret (the one whose value the \
                 targets hold), remove the markers, then run `secretzero sync`",
            ),
            LockfileError::Parse { .. } => Some(
                "the lockfile is written by secretzero; restore it from version control \
                 rather than editing it",
            ),
            LockfileError::UnsupportedVersion { .. } => {
                Some("this lockfile was written by a newer secretzero; upgrade secretzero")
            }
            LockfileError::MissingKey { .. } | LockfileError::WrongKey { .. } => {
                Some("set SECRETZERO_LOCK_KEY to the key used when the lockfile was created")
            }
            LockfileError::UnexpectedKey { .. } => Some(
                "unset SECRETZERO_LOCK_KEY; adding a key to an existing lockfile is not \
                 supported yet",
            ),
            LockfileError::KeyTooShort { .. } => {
                Some("make a key with `openssl rand -hex 32` and keep it outside the repository")
            }
            LockfileError::Io { .. } | LockfileError::Write { .. } => None,
            LockfileError::TooLarge { .. } => None,
        }
    }
}

impl Default for Lockfile {
    fn default() -> Lockfile {
        Lockfile::new()
    }
}

impl Lockfile {
    /// An empty lockfile with a fresh salt from the OS random generator, bound to the key in
    /// [`KEY_ENV`] when it is set.
    ///
    /// # Panics
    ///
    /// When the operating system's random generator fails.
    pub fn new() -> Lockfile {
        let key = hash::key_from_env();
        Lockfile::new_with_key(key.as_ref().map(|key| key.expose_secret()))
    }

    /// [`Lockfile::new`] with the key given rather than read from the environment.
    pub fn new_with_key(key: Option<&[u8]>) -> Lockfile {
        Lockfile {
            version: FORMAT_VERSION,
            secrets: BTreeMap::new(),
            params: HashParams::fresh(key),
            origin: Origin::default(),
        }
    }

    /// Reads and parses the lockfile at `path`. `Ok(None)` when the file does not exist; a file
    /// that exists but cannot be read or parsed is always an error, never an empty lockfile.
    pub fn load(path: &Path) -> Result<Option<Lockfile>, LockfileError> {
        match load::read(path)? {
            Some(text) => Lockfile::parse(&text, path).map(Some),
            None => Ok(None),
        }
    }

    /// Parses lockfile text; `path` only names the file in errors. A file in the older format
    /// is upgraded in memory and gets a fresh salt, bound to the key in [`KEY_ENV`] if set.
    pub fn parse(text: &str, path: &Path) -> Result<Lockfile, LockfileError> {
        let key = hash::key_from_env();
        Lockfile::parse_with_key(text, path, key.as_ref().map(|key| key.expose_secret()))
    }

    /// [`Lockfile::parse`] with the key given rather than read from the environment. The key
    /// only matters for a file in the older format, which has no key state yet.
    pub fn parse_with_key(
        text: &str,
        path: &Path,
        key: Option<&[u8]>,
    ) -> Result<Lockfile, LockfileError> {
        load::parse(text, path, key)
    }

    /// Writes the lockfile atomically. Returns `Ok(false)` without touching the file when it
    /// already holds exactly these bytes, so a run that changed nothing changes nothing.
    pub fn save(&self, path: &Path) -> Result<bool, LockfileError> {
        save::save(&self.render(), path)
    }

    /// The file's exact text: deterministic, 2-space indented JSON with a final newline.
    pub fn render(&self) -> String {
        format::render(self)
    }

    /// The hasher for this lockfile, using the key in [`KEY_ENV`] if set. Fails when the key
    /// does not fit the lockfile: missing, wrong, unexpected or too short.
    pub fn hasher(&self) -> Result<Hasher, LockfileError> {
        let key = hash::key_from_env();
        self.hasher_with_key(key.as_ref().map(|key| key.expose_secret()))
    }

    /// [`Lockfile::hasher`] with the key given rather than read from the environment.
    pub fn hasher_with_key(&self, key: Option<&[u8]>) -> Result<Hasher, LockfileError> {
        let path = self.origin.path.as_deref().unwrap_or(Path::new(FILE_NAME));
        self.params.hasher(key, path)
    }

    /// Whether the lockfile's hashes are keyed with [`KEY_ENV`].
    pub fn is_keyed(&self) -> bool {
        self.params.key_check.is_some()
    }

    /// Whether this lockfile was read from the older format, so saving it upgrades the file.
    pub fn read_older_format(&self) -> bool {
        self.origin.older_format
    }
}

/// Now, at the second precision the lockfile keeps, so that a value stored in an entry
/// survives a save and load unchanged.
/// Creates and removes a temporary file where the lockfile will be written (following a
/// symbolic link, as saving does), so that a run finds out before writing any target that it
/// could not record what it wrote.
pub fn check_writable(lockfile: &Path) -> io::Result<()> {
    let real = crate::target::follow_links(lockfile)?;
    let folder = match real.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(folder).map(drop)
}

pub fn now() -> Timestamp {
    format::truncate(Timestamp::now())
}

#[cfg(test)]
mod tests;
