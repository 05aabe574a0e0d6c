//! API keys: where they come from, and recognising one in constant time.
//!
//! Only a SHA-256 digest of each key is kept. A presented key is hashed and compared with every
//! digest, without stopping at a match, so neither the time taken nor the order of the keys
//! tells a caller how close a guess came.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// The environment variable that holds a single key.
pub const KEY_ENV: &str = "SECRETZERO_API_KEY";
/// The name the audit log gives the key from [`KEY_ENV`].
pub const ENV_KEY_NAME: &str = "default";
/// Shorter keys are refused: they could be guessed.
pub const MIN_KEY_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the API key file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}, line {line}: expected `NAME=KEY`", path.display())]
    Syntax { path: PathBuf, line: usize },
    #[error(
        "{}, line {line}: the key name `{name}` may hold only letters, digits, `_`, `-` and `.`",
        path.display()
    )]
    Name { path: PathBuf, line: usize, name: String },
    #[error("API key `{name}` is shorter than {MIN_KEY_LEN} characters")]
    TooShort { name: String },
    #[error("the API key name `{name}` is given twice")]
    DuplicateName { name: String },
    #[error("API keys `{first}` and `{second}` are the same key")]
    DuplicateKey { first: String, second: String },
}

/// The keys a server accepts, by name. `Debug` shows the names only.
pub struct Keys {
    entries: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|(name, _)| name)).finish()
    }
}

impl Keys {
    /// The key from the environment (named `default`), if any, and the keys in `file`, one
    /// `NAME=KEY` per line (blank lines and lines starting with `#` are skipped). Keys are
    /// trimmed, as HTTP trims the header that carries them: a key with a trailing newline
    /// (`$(cat key)` in a script) would otherwise never match.
    pub fn load(env_key: Option<&str>, file: Option<&Path>) -> Result<Keys, KeyError> {
        let mut keys = Keys { entries: Vec::new() };
        if let Some(key) = env_key.map(str::trim).filter(|key| !key.is_empty()) {
            keys.add(ENV_KEY_NAME, key)?;
        }
        let Some(path) = file else { return Ok(keys) };
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Read { path: path.to_path_buf(), source })?;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |line| (path.to_path_buf(), line);
            let Some((name, key)) = line.split_once('=') else {
                let (path, line) = at(index + 1);
                return Err(KeyError::Syntax { path, line });
            };
            let name = name.trim();
            let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            if name.is_empty() || !name.chars().all(valid) {
                let (path, line) = at(index + 1);
                return Err(KeyError::Name { path, line, name: name.to_string() });
            }
            keys.add(name, key.trim())?;
        }
        Ok(keys)
    }

    fn add(&mut self, name: &str, key: &str) -> Result<(), KeyError> {
        if key.chars().count() < MIN_KEY_LEN {
            return Err(KeyError::TooShort { name: name.to_string() });
        }
        let digest = digest(key.as_bytes());
        for (other, other_digest) in &self.entries {
            if other == name {
                return Err(KeyError::DuplicateName { name: name.to_string() });
            }
            if *other_digest == digest {
                return Err(KeyError::DuplicateKey {
                    first: other.clone(),
                    second: name.to_string(),
                });
            }
        }
        self.entries.push((name.to_string(), digest));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the key `presented` is, if it is one.
    pub fn check(&self, presented: &[u8]) -> Option<&str> {
        let presented = digest(presented);
        let mut found = u32::MAX;
        for (index, (_, digest)) in self.entries.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            found.conditional_assign(&index, presented.ct_eq(digest));
        }
        self.entries.get(usize::try_from(found).ok()?).map(|(name, _)| name.as_str())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_environment_and_a_file_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        std::fs::write(
            &file,
            "# CI and the portal\nci = 0123456789abcdef-ci\n\nportal=0123456789abcdef=p\n",
        )
        .unwrap();
        let keys = Keys::load(Some("0123456789abcdef-env"), Some(&file)).unwrap();
        assert_eq!(format!("{keys:?}"), r#"["default", "ci", "portal"]"#);
        assert_eq!(keys.check(b"0123456789abcdef-ci"), Some("ci"));
        assert_eq!(keys.check(b"0123456789abcdef=p"), Some("portal"));
        assert_eq!(keys.check(b"0123456789abcdef-env"), Some("default"));
        let padded = Keys::load(Some(" 0123456789abcdef-env\n"), None).unwrap();
        assert_eq!(padded.check(b"0123456789abcdef-env"), Some("default"));
        assert_eq!(keys.check(b"0123456789abcdef-c"), None);
        assert_eq!(keys.check(b""), None);
    }

    #[test]
    fn weak_duplicate_and_malformed_keys_are_refused_by_name() {
        let error = Keys::load(Some("short"), None).unwrap_err();
        assert_eq!(error.to_string(), "API key `default` is shorter than 16 characters");
        let error = Keys::load(Some("  short-key \n\t        "), None).unwrap_err();
        assert_eq!(error.to_string(), "API key `default` is shorter than 16 characters");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        std::fs::write(&file, "a=0123456789abcdef\nb=0123456789abcdef\n").unwrap();
        let error = Keys::load(None, Some(&file)).unwrap_err();
        assert_eq!(error.to_string(), "API keys `a` and `b` are the same key");

        std::fs::write(&file, "just-a-key-without-a-name\n").unwrap();
        let error = Keys::load(None, Some(&file)).unwrap_err();
        assert_eq!(error.to_string(), format!("{}, line 1: expected `NAME=KEY`", file.display()));
        assert!(!format!("{error:?}").contains("just-a-key"));
    }
}
