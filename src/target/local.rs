//! The `local-file` target: .env, JSON, YAML, TOML and tfvars files beside the Secretfile.
//!
//! Each file is read and parsed once per run, every secret's key is set in memory, and the
//! file is rewritten once, atomically, in `flush`. Rewriting per secret would make a run over
//! a large file quadratic.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::format::{Document, Format, Stored, Value};
use super::{FlushFailure, Readback, SecretData, Target, TargetError};
use crate::report::error_chain;
use crate::secretfile::{LocalFile, Secret, TargetDef, TargetKind, env_var_name};

#[derive(Debug)]
pub struct LocalFiles {
    files: HashMap<PathBuf, FileState>,
    guard: Guard,
}

/// Where writes may land. Validation keeps target paths inside the Secretfile's folder as
/// written; this checks where they lead once symbolic links are followed, so a link cannot send
/// a secret into the Secretfile, the lockfile, a device or another folder.
#[derive(Debug, Default)]
struct Guard {
    /// The Secretfile's folder, resolved; `None` when it cannot be (no check is then possible,
    /// and nothing is written).
    root: Option<PathBuf>,
    /// SecretZero's own files, resolved.
    own: Vec<PathBuf>,
}

impl Guard {
    /// Where a target path really leads, or why it must not be used.
    fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let real = resolved(&follow_links(path).map_err(|e| e.to_string())?)
            .map_err(|e| format!("cannot resolve the path: {e}"))?;
        let Some(root) = &self.root else {
            return Err("the Secretfile's folder cannot be resolved".into());
        };
        if !real.starts_with(root) {
            return Err("it leads outside the Secretfile's folder through a symbolic link".into());
        }
        if self.own.contains(&real) {
            return Err("it leads to the Secretfile or the lockfile".into());
        }
        match std::fs::metadata(&real) {
            Ok(meta) if !meta.is_file() => Err("it is not a regular file".into()),
            _ => Ok(real),
        }
    }
}

/// Where a file written beside the Secretfile (an ExternalSecret manifest) really leads, under
/// the rules of a local-file target: inside `folder` once links are followed, and a regular
/// file if it exists.
#[cfg(feature = "kubernetes")]
pub(super) fn checked_path(folder: &Path, path: &Path) -> Result<PathBuf, String> {
    Guard { root: resolved(folder).ok(), own: Vec::new() }.check(path)
}

/// An absolute path with every existing part resolved (symbolic links included) and the parts
/// that do not exist yet, which cannot be links, joined on as written.
fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(existing).is_err() {
        rest.push(existing.file_name().map(|n| n.to_os_string()));
        existing = match existing.parent() {
            Some(parent) => parent,
            None => break,
        };
    }
    let mut out = std::fs::canonicalize(existing)?;
    for part in rest.into_iter().rev() {
        match part {
            Some(name) if Path::new(&name).components().next() == Some(Component::ParentDir) => {
                out.pop();
            }
            Some(name) => out.push(name),
            None => {}
        }
    }
    Ok(out)
}

impl LocalFiles {
    /// Local files of the Secretfile at `secretfile`, never writing into it or `lockfile`.
    pub fn new(secretfile: &Path, lockfile: &Path) -> LocalFiles {
        let folder = crate::secretfile::folder_of(secretfile);
        let own = [secretfile, lockfile].iter().filter_map(|p| resolved(p).ok()).collect();
        LocalFiles { files: HashMap::new(), guard: Guard { root: resolved(&folder).ok(), own } }
    }
}

#[derive(Debug)]
struct FileState {
    /// As written in the Secretfile, for messages.
    shown: String,
    /// Where writes land once links are followed; `Err` with the reason when they must not.
    real: Result<PathBuf, String>,
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
            let state = load(file, self.guard.check(&file.resolved));
            self.files.insert(file.resolved.clone(), state);
        }
        self.files.get_mut(&file.resolved).expect("inserted above")
    }
}

impl LocalFiles {
    /// Takes `bytes` as the content of `file`, as if they had been read from disk; `false`,
    /// taking nothing, when the file must not be used (see [`Guard::check`]).
    pub(crate) fn preload(&mut self, file: &LocalFile, bytes: Vec<u8>) -> bool {
        let Ok(real) = self.guard.check(&file.resolved) else { return false };
        let document = Document::parse(file.format, &bytes)
            .map_err(|source| Arc::new(TargetError::Parse { path: file.path.clone(), source }));
        let state = FileState {
            shown: file.path.clone(),
            real: Ok(real),
            document,
            original: Some(bytes),
            staged: Vec::new(),
        };
        self.files.insert(file.resolved.clone(), state);
        true
    }
}

fn load(file: &LocalFile, real: Result<PathBuf, String>) -> FileState {
    let shown = file.path.clone();
    let path = match &real {
        Ok(path) => path,
        Err(reason) => {
            let error = TargetError::Refused { reason: format!("{shown} is not used: {reason}") };
            return FileState {
                shown,
                real,
                document: Err(Arc::new(error)),
                original: None,
                staged: Vec::new(),
            };
        }
    };
    let (document, original) = match std::fs::read(path) {
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
    FileState { shown, real, document, original, staged: Vec::new() }
}

fn local(target: &TargetDef) -> &LocalFile {
    match &target.kind {
        TargetKind::LocalFile(file) => file,
        TargetKind::Remote(_) => unreachable!("the engine routes only local-file targets here"),
    }
}

/// What a secret's string may replace: a placeholder number or `null` is not user data worth
/// refusing over. Lists, mappings and anything ambiguous are kept.
fn replaceable(kind: &str) -> bool {
    matches!(kind, "number" | "boolean" | "null")
}

/// A read-back of a key that holds something other than a secret's value.
fn other(key: &str, kind: &str, expected: &str) -> Readback {
    if kind == "conflicting duplicates" {
        // Readers disagree on which copy wins (python-dotenv and shells take the last, dotenvy's
        // `dotenv()` the first), so neither copy can be adopted or kept as the recorded value,
        // and replacing both could destroy the one an application uses.
        Readback::Broken(format!(
            "key `{key}` is written more than once with different values; keep one copy"
        ))
    } else if kind == "variable reference" {
        Readback::Broken(format!(
            "key `{key}` refers to another variable with `$`, which dotenv readers expand; \
             SecretZero does not, so it cannot tell the value an application reads"
        ))
    } else if replaceable(kind) {
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
                // A mapping that also holds numbers or lists: its string fields cannot be read
                // one by one, but writing merges into it and keeps the other entries.
                Some(Stored::Other("mapping")) => return Readback::Missing,
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

    /// A file that is read-only, or a key that must not be replaced, refuses any write; the
    /// plan shows it as skipped rather than promising a write that would fail.
    fn available(&self, target: &TargetDef) -> Result<(), String> {
        let file = local(target);
        let Some(state) = self.files.get(&file.resolved) else { return Ok(()) };
        if let (Ok(path), Some(_)) = (&state.real, &state.original)
            && std::fs::metadata(path).is_ok_and(|meta| meta.permissions().readonly())
        {
            return Err(format!(
                "{} is read-only; make it writable to let SecretZero update it",
                file.path
            ));
        }
        match &state.document {
            Ok(document) => match document.refuses(&file.key) {
                Some(reason) => Err(format!("{}: {reason}", file.path)),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }

    fn check(&self, secret: &Secret, target: &TargetDef, value: &SecretData) -> Result<(), String> {
        let file = local(target);
        // Only one-value keys are checked here: nested fields go into formats that escape
        // everything, and dotenv fields are checked the same way one by one.
        if !secret.is_single() && file.format != Format::Dotenv {
            return Ok(());
        }
        for (field, value) in &value.fields {
            file.format.check_value(value.expose_secret()).map_err(|reason| {
                let what = if secret.is_single() {
                    format!("the value of `{}`", secret.name)
                } else {
                    format!("field `{field}` of `{}`", secret.name)
                };
                format!("{what} cannot be written to {}: {reason}", file.path)
            })?;
        }
        Ok(())
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
        for state in self.files.values_mut() {
            let staged = std::mem::take(&mut state.staged);
            let (Ok(document), Ok(path)) = (&state.document, &state.real) else { continue };
            if staged.is_empty() {
                continue;
            }
            let bytes = document.render();
            if state.original.as_deref() == Some(bytes.as_slice()) {
                tracing::trace!(file = %state.shown, "unchanged; not rewritten");
                continue;
            }
            tracing::trace!(file = %state.shown, secrets = staged.len(), "rewriting");
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
    if !is_new && std::fs::metadata(path)?.permissions().readonly() {
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
    set_permissions(&temp, path, is_new)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Where a chain of symlinks ends, whether or not a file is there.
pub(crate) fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
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
