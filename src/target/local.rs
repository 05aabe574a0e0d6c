//! The `local-file` target: .env, JSON, YAML, TOML and tfvars files beside the Secretfile.
//!
//! Each file is read and parsed once per run, every secret's key is set in memory, and the
//! file is rewritten once, atomically, in `flush`. Rewriting per secret would make a run over
//! a large file quadratic.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;

use super::format::{Document, Format, Stored, Value};
use super::{FlushFailure, Readback, SecretData, Target, TargetError};
use crate::report::error_chain;
use crate::secretfile::{LocalFile, Secret, TargetDef, TargetKind, env_var_name};

#[derive(Debug, Default)]
pub struct LocalFiles {
    files: HashMap<PathBuf, FileState>,
}

#[derive(Debug)]
struct FileState {
    /// As written in the Secretfile, for messages.
    shown: String,
    /// `Err` when the file exists but cannot be read or parsed; it is then never written.
    document: Result<Document, Arc<TargetError>>,
    /// The bytes on disk when loaded, `None` for a file that did not exist.
    original: Option<Vec<u8>>,
    staged: Vec<(String, String)>,
}

impl LocalFiles {
    fn file(&mut self, file: &LocalFile) -> &mut FileState {
        // Looked up before inserting so the common case, a file already loaded, copies no path.
        if !self.files.contains_key(&file.resolved) {
            self.files.insert(file.resolved.clone(), load(file));
        }
        self.files.get_mut(&file.resolved).expect("inserted above")
    }
}

fn load(file: &LocalFile) -> FileState {
    let shown = file.path.clone();
    let (document, original) = match std::fs::read(&file.resolved) {
        Ok(bytes) => {
            let document = Document::parse(file.format, &bytes)
                .map_err(|source| Arc::new(TargetError::Parse { path: shown.clone(), source }));
            (document, Some(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let document = Document::parse(file.format, b"")
                .map_err(|source| Arc::new(TargetError::Parse { path: shown.clone(), source }));
            (document, None)
        }
        Err(source) => (Err(Arc::new(TargetError::Read { path: shown.clone(), source })), None),
    };
    FileState { shown, document, original, staged: Vec::new() }
}

fn local(target: &TargetDef) -> &LocalFile {
    match &target.kind {
        TargetKind::LocalFile(file) => file,
        TargetKind::Remote(_) => unreachable!("the engine routes only local-file targets here"),
    }
}

/// Scalars that a secret may replace: a placeholder number or `null` is not user data worth
/// refusing over. Lists, mappings and anything ambiguous are.
fn replaceable(kind: &str) -> bool {
    matches!(kind, "number" | "boolean" | "null")
}

/// A read-back of a key that holds something other than a secret's value.
fn other(key: &str, kind: &str, expected: &str) -> Readback {
    if replaceable(kind) {
        Readback::Missing
    } else {
        Readback::Broken(format!("key `{key}` holds {} {kind}, not {expected}", article(kind)))
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// The dotenv key of one field of a multi-field secret.
fn field_key(prefix: &str, field: &str) -> String {
    format!("{prefix}_{}", env_var_name(field, None))
}

impl Target for LocalFiles {
    fn read(&mut self, secret: &Secret, target: &TargetDef) -> Readback {
        let file = local(target);
        let state = self.file(file);
        let document = match &state.document {
            Ok(document) => document,
            Err(error) => return Readback::Broken(error_chain(error.as_ref())),
        };
        if state.original.is_none() {
            return Readback::Missing;
        }

        if secret.is_single() {
            return match document.get(&file.key) {
                Some(Stored::Str(value)) => Readback::Value(SecretData {
                    fields: vec![(secret.fields[0].name.clone(), value)],
                }),
                Some(Stored::Map(_)) => {
                    Readback::Broken(format!("key `{}` holds a mapping, not a string", file.key))
                }
                Some(Stored::Other(kind)) => other(&file.key, kind, "a string"),
                None => Readback::Missing,
            };
        }

        // Fields that are there are read even when others are missing, so that a half-filled
        // file is adopted field by field rather than overwritten.
        let mut fields = Vec::with_capacity(secret.fields.len());
        if file.format == Format::Dotenv {
            for field in &secret.fields {
                let key = field_key(&file.key, &field.name);
                match document.get(&key) {
                    Some(Stored::Str(value)) => fields.push((field.name.clone(), value)),
                    Some(Stored::Other(kind)) if !replaceable(kind) => {
                        return other(&key, kind, "a string");
                    }
                    _ => {}
                }
            }
        } else {
            let stored = match document.get(&file.key) {
                Some(Stored::Map(stored)) => stored,
                Some(Stored::Str(_)) => {
                    return Readback::Broken(format!(
                        "key `{}` holds a string, not the secret's fields",
                        file.key
                    ));
                }
                Some(Stored::Other(kind)) => return other(&file.key, kind, "a mapping"),
                None => return Readback::Missing,
            };
            let mut stored: HashMap<String, SecretString> = stored.into_iter().collect();
            for field in &secret.fields {
                if let Some(value) = stored.remove(&field.name) {
                    fields.push((field.name.clone(), value));
                }
            }
        }
        if fields.is_empty() { Readback::Missing } else { Readback::Value(SecretData { fields }) }
    }

    fn write(
        &mut self,
        secret: &Secret,
        target: &TargetDef,
        value: &SecretData,
    ) -> Result<(), TargetError> {
        let file = local(target);
        let state = self.file(file);
        let shown = state.shown.clone();
        let document = match &mut state.document {
            Ok(document) => document,
            Err(error) => return Err(TargetError::Shared(Arc::clone(error))),
        };
        let value_error = |source| TargetError::Value {
            secret: secret.name.clone(),
            path: shown.clone(),
            source,
        };

        if secret.is_single() {
            document.set(&file.key, &Value::Str(&value.fields[0].1)).map_err(value_error)?;
        } else if file.format == Format::Dotenv {
            for (name, field) in &value.fields {
                document
                    .set(&field_key(&file.key, name), &Value::Str(field))
                    .map_err(value_error)?;
            }
        } else {
            let fields = value.fields.iter().map(|(n, v)| (n.as_str(), v)).collect();
            document.set(&file.key, &Value::Map(fields)).map_err(value_error)?;
        }
        state.staged.push((secret.name.clone(), target.id.clone()));
        Ok(())
    }

    fn flush(&mut self) -> Vec<FlushFailure> {
        let mut failures = Vec::new();
        for (path, state) in &mut self.files {
            let staged = std::mem::take(&mut state.staged);
            let Ok(document) = &state.document else { continue };
            if staged.is_empty() {
                continue;
            }
            let bytes = document.render();
            if state.original.as_deref() == Some(bytes.as_slice()) {
                continue;
            }
            match write_atomically(path, &bytes, state.original.is_none()) {
                Ok(()) => state.original = Some(bytes),
                Err(source) => {
                    let error = Arc::new(TargetError::Write { path: state.shown.clone(), source });
                    failures.extend(staged.into_iter().map(|(secret, target_id)| FlushFailure {
                        secret,
                        target_id,
                        error: Arc::clone(&error),
                    }));
                }
            }
        }
        failures
    }
}

/// Writes through a temporary file in the same folder and a rename, so a reader never sees
/// half a file. New files are private (0600); an existing file keeps its permissions, and a
/// read-only one is refused rather than replaced. A symlinked file, even one whose link points
/// at nothing yet, is written where the link points, so the link survives.
fn write_atomically(path: &Path, bytes: &[u8], is_new: bool) -> std::io::Result<()> {
    let path = follow_links(path)?;
    if !is_new && std::fs::metadata(&path)?.permissions().readonly() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the file is read-only; make it writable to let SecretZero update it",
        ));
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder)?;
    let mut temp = tempfile::NamedTempFile::new_in(&folder)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    set_permissions(&temp, &path, is_new)?;
    temp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// Where a chain of symlinks ends, whether or not a file is there.
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    // The same bound the kernel uses, so a loop of links is an error, not a hang.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

#[cfg(unix)]
fn set_permissions(
    temp: &tempfile::NamedTempFile,
    path: &Path,
    is_new: bool,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if is_new { 0o600 } else { std::fs::metadata(path)?.permissions().mode() };
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_permissions(_: &tempfile::NamedTempFile, _: &Path, _: bool) -> std::io::Result<()> {
    Ok(())
}
