//! Reading a lockfile: size and encoding checks, merge conflict markers, choosing between the
//! current and the older format, and turning parser errors into messages that point at a line
//! without quoting the file.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::error::Category;

use super::format::{FileIn, OWN_MESSAGES};
use super::hash::HashParams;
use super::legacy::LegacyFile;
use super::{FORMAT_VERSION, Lockfile, LockfileError, MAX_FILE_BYTES, Origin};

/// The file's text, or `None` when there is no file.
pub(super) fn read(path: &Path) -> Result<Option<String>, LockfileError> {
    let io_error = |source| LockfileError::Io { path: path.to_path_buf(), source };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(error)),
    };

    // Reading one byte past the limit tells a file at the limit from a larger one without
    // trusting metadata, which can change between the check and the read.
    // The size is only a hint for the buffer, not trusted as the limit.
    let hint = file.metadata().map_or(0, |m| m.len().min(MAX_FILE_BYTES)) as usize;
    let mut bytes = Vec::with_capacity(hint + 1);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LockfileError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }

    String::from_utf8(bytes).map(Some).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&byte| byte == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|&byte| byte == b'\n').map_or(0, |at| at + 1);
        LockfileError::Parse {
            path: path.to_path_buf(),
            line,
            column: valid.len() - line_start + 1,
            message: "the file is not UTF-8 text".to_owned(),
        }
    })
}

pub(super) fn parse(
    text: &str,
    path: &Path,
    key: Option<&[u8]>,
) -> Result<Lockfile, LockfileError> {
    // Some editors on Windows add a byte order mark, which JSON parsers reject.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    // A conflicted file is not JSON; saying "conflict" is far more useful than a syntax error.
    if let Some(line) = first_conflict_marker(text) {
        return Err(LockfileError::ConflictMarkers { path: path.to_path_buf(), line });
    }

    let probe: Probe = serde_json::from_str(text).map_err(|error| parse_error(path, &error))?;
    let older_format = match probe.version {
        Version::Number(version) if version == u64::from(FORMAT_VERSION) => false,
        Version::Number(1) => true,
        Version::Missing => !probe.has_hash_section,
        Version::Number(version) => return Err(unsupported(path, version.to_string())),
        Version::Text(label) => match label.split('.').next().map(str::parse::<u64>) {
            Some(Ok(1)) => true,
            Some(Ok(version)) => return Err(unsupported(path, version.to_string())),
            _ => return Err(unsupported(path, "unrecognised".to_owned())),
        },
        // Let the typed parse below report where and why the version is wrong.
        Version::Other => false,
    };

    let (secrets, params) = if older_format {
        let file: LegacyFile =
            serde_json::from_str(text).map_err(|error| parse_error(path, &error))?;
        (file.upgrade(), HashParams::fresh(key))
    } else {
        let file: FileIn = serde_json::from_str(text).map_err(|error| parse_error(path, &error))?;
        (file.secrets, file.hash)
    };

    Ok(Lockfile {
        version: FORMAT_VERSION,
        secrets,
        params,
        origin: Origin { path: Some(path.to_path_buf()), older_format },
    })
}

fn unsupported(path: &Path, version: String) -> LockfileError {
    LockfileError::UnsupportedVersion { path: path.to_path_buf(), version }
}

/// Just enough of the file to choose a format.
struct Probe {
    version: Version,
    /// Only the current format has this section, so a file without a version but with this
    /// section is a current file that lost its version, not an older one.
    has_hash_section: bool,
}

/// Written by hand because a derived struct would also accept a JSON array, and nothing else
/// of the file needs keeping in memory.
impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Probe, D::Error> {
        deserializer.deserialize_map(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a lockfile object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Probe, A::Error> {
        let mut probe = Probe { version: Version::Missing, has_hash_section: false };
        while let Some(key) = access.next_key::<String>()? {
            match key.as_str() {
                "version" => probe.version = access.next_value()?,
                "hash" => {
                    probe.has_hash_section = true;
                    access.next_value::<IgnoredAny>()?;
                }
                _ => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(probe)
    }
}

enum Version {
    Missing,
    Number(u64),
    Text(String),
    Other,
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        Ok(match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Number(number) => {
                number.as_u64().map_or(Version::Other, Version::Number)
            }
            serde_json::Value::String(text) => Version::Text(text),
            _ => Version::Other,
        })
    }
}

/// The 1-based line of the first line that starts with a git conflict marker.
fn first_conflict_marker(text: &str) -> Option<usize> {
    const MARKERS: [&str; 4] = ["<<<<<<<", "|||||||", "=======", ">>>>>>>"];
    text.lines()
        .position(|line| MARKERS.iter().any(|marker| line.starts_with(marker)))
        .map(|index| index + 1)
}

fn parse_error(path: &Path, error: &serde_json::Error) -> LockfileError {
    LockfileError::Parse {
        path: path.to_path_buf(),
        line: error.line(),
        column: error.column(),
        message: safe_message(error),
    }
}

/// serde_json's message without anything it quoted from the file. Syntax messages are fixed
/// phrases; data messages can quote a value (`invalid type: string "..."`) or an unknown key,
/// so they are reduced to their kind and what was expected, which comes from our own types.
fn safe_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let message = match full.rfind(" at line ") {
        Some(at) => &full[..at],
        None => &full,
    };
    if matches!(error.classify(), Category::Syntax | Category::Eof | Category::Io) {
        return message.to_owned();
    }

    let kinds = ["invalid type", "invalid value", "unknown field", "unknown variant"];
    if let Some(kind) = kinds.iter().find(|kind| message.starts_with(*kind)) {
        return match message.rfind(", expected ") {
            Some(at) => format!("{kind}{}", &message[at..]),
            None => (*kind).to_owned(),
        };
    }

    let quotes_only_our_names = ["missing field ", "duplicate field ", "invalid length "];
    let untagged = "data did not match any variant";
    if OWN_MESSAGES.contains(&message)
        || quotes_only_our_names.iter().any(|prefix| message.starts_with(prefix))
        || message.starts_with(untagged)
    {
        return message.to_owned();
    }
    "unexpected content for a lockfile".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_for(json: &str) -> String {
        let error = serde_json::from_str::<FileIn>(json).err().expect("the input is invalid");
        safe_message(&error)
    }

    #[test]
    fn conflict_marker_line_is_found() {
        let text = "{\n  \"secrets\": {\n<<<<<<< HEAD\n=======\n>>>>>>> main\n";
        assert_eq!(first_conflict_marker(text), Some(3));
        assert_eq!(first_conflict_marker("{\n  \"a\": \"<<<<<<< x\"\n}\n"), None);
    }

    #[test]
    fn data_messages_keep_the_expectation_and_drop_the_value() {
        let canary = "CANARY-7f3a";
        let json = format!(r#"{{"version": "{canary}"}}"#);
        let message = message_for(&json);
        assert_eq!(message, "invalid type, expected u32");

        let json = format!(r#"{{"version": 2, "{canary}": 1}}"#);
        let message = message_for(&json);
        assert!(message.starts_with("unknown field, expected one of `version`"), "{message}");
        assert!(!message.contains(canary));
    }

    #[test]
    fn own_messages_pass_through() {
        let json = r#"{"version": 2, "hash": {"algorithm": "md5", "salt": "", "keyed": false}}"#;
        assert_eq!(message_for(json), "unsupported hash algorithm, expected `hmac-sha256`");
    }

    #[test]
    fn syntax_messages_pass_through_without_position() {
        let error = serde_json::from_str::<FileIn>("{\n  \"version\": 2,,\n}").err().unwrap();
        assert_eq!(safe_message(&error), "key must be a string");
        assert_eq!((error.line(), error.column()), (2, 16));
    }

    #[test]
    fn non_utf8_is_reported_at_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"{\n  \"a\": \"\xff\"\n}\n").unwrap();
        let error = read(&path).unwrap_err();
        assert!(matches!(error, LockfileError::Parse { line: 2, column: 9, .. }), "{error:?}");
    }

    #[test]
    fn missing_file_is_none_and_a_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("absent")).unwrap().is_none());
        let error = read(dir.path()).unwrap_err();
        assert!(matches!(error, LockfileError::Io { .. }), "{error:?}");
    }
}
