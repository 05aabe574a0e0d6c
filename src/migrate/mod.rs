//! Migration from the older SecretZero (the Python 0.x releases): its list-form Secretfile
//! becomes the current format, and its lockfile is converted entry by entry, so that the next
//! sync regenerates nothing and drift reports nothing.
//!
//! This module owns the translation: reading the older Secretfile with line numbers, the new
//! Secretfile's text, the converted lockfile, the list of what has no equivalent, the local
//! files to requote and the local targets that do not confirm the older lockfile. It reads
//! targets back (to confirm older hashes and record keyed ones) but writes nothing and prints
//! nothing; `secretzero migrate` decides what to show and where to write. `docs/migrate.md`
//! describes the translation for users.

mod emit;
mod files;
mod lockfile;
mod secretfile;

use std::path::{Path, PathBuf};

use crate::engine::Targets;
use crate::lockfile::{Lockfile, LockfileError};
use crate::secretfile::LoadError;

/// What a migration reads.
#[derive(Debug)]
pub struct Input<'a> {
    /// The older Secretfile's text, and its path for messages.
    pub secretfile_text: &'a str,
    pub secretfile_path: &'a Path,
    /// The older lockfile, as [`Lockfile::load`] read and upgraded it, when there is one, and
    /// its path for messages.
    pub lockfile: Option<Lockfile>,
    pub lockfile_path: &'a Path,
    /// Where the new files will be: target paths resolve against the new Secretfile's folder.
    pub new_secretfile_path: &'a Path,
    pub new_lockfile_path: &'a Path,
}

/// The new files, and what could not be carried over.
#[derive(Debug)]
pub struct Migration {
    /// The new Secretfile's text.
    pub secretfile: String,
    /// The same with static values replaced by asterisks, for showing in a log.
    pub masked_secretfile: String,
    /// How many secrets the new Secretfile declares.
    pub secrets: usize,
    /// The converted lockfile, when there was an older one.
    pub lockfile: Option<(Lockfile, LockfileReport)>,
    /// Everything in the older Secretfile that has no equivalent, by line.
    pub untranslated: Vec<Untranslated>,
    /// What translates, but not as a reader of the older file would expect, by line.
    pub notes: Vec<Untranslated>,
    /// Local files in which keys the older tool wrote are to be requoted, so that every reader
    /// reads the value the lockfile records.
    pub rewrites: Vec<Rewrite>,
    /// Local targets that contradict the older lockfile or cannot confirm it, so that the next
    /// sync would change them or fail.
    pub local_problems: Vec<LocalProblem>,
}

/// A local file with keys in the current quoting, values unchanged.
#[derive(Clone)]
pub struct Rewrite {
    /// As the new Secretfile writes it.
    pub path: String,
    pub resolved: PathBuf,
    /// The whole new content.
    pub bytes: Vec<u8>,
    /// The keys requoted, in file order.
    pub keys: Vec<String>,
}

/// The content holds secrets, so only where and which keys are shown.
impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrite").field("path", &self.path).field("keys", &self.keys).finish()
    }
}

/// A local target that does not confirm the value the older lockfile records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProblem {
    pub secret: String,
    /// As the new Secretfile writes it.
    pub path: String,
    /// Why, never with the value.
    pub reason: String,
}

/// Something in the older Secretfile that the new one does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslated {
    /// 1-based line in the older Secretfile.
    pub line: usize,
    pub message: String,
}

/// How the lockfile's entries were converted, by secret name.
#[derive(Debug, Default)]
pub struct LockfileReport {
    /// A target holds the value the older hash records: the entry has keyed hashes now.
    pub verified: Vec<String>,
    /// No readable target holds the recorded value (remote targets only, or a value changed
    /// since): the older hashes are kept, and still check.
    pub unverified: Vec<String>,
    /// Entries for secrets the older Secretfile did not declare, kept as they were.
    pub orphaned: Vec<String>,
}

/// Where a new secret's lockfile history is in the older lockfile.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Per new field, the older entry that recorded its value.
    fields: Vec<(String, String)>,
    /// The older entry that recorded a multi-field value as one JSON hash.
    whole: Option<String>,
    /// Per new target, in order, what the older lockfile's id for it was made of.
    targets: Vec<OldTarget>,
    /// For a field of a template that became a secret of its own: the template secret's name
    /// and the field's, should the older lockfile hold one entry for the whole template.
    split_from: Option<(String, String)>,
}

/// An older target id is `provider/kind/identifier`: the identifier is the `path` of a file,
/// the `name` of anything else, as rendered (empty when the option is absent; older releases
/// also wrote file ids with an empty identifier).
#[derive(Debug, Clone)]
struct OldTarget {
    /// 1-based line of the target in the older Secretfile.
    line: usize,
    provider: String,
    kind: String,
    /// The option as written, before any interpolation.
    written: Option<String>,
}

impl OldTarget {
    /// The ids the older lockfile may record this target under, given the option as the new
    /// Secretfile rendered it.
    fn ids(&self, rendered: Option<&str>) -> Vec<String> {
        let id = |identifier: &str| format!("{}/{}/{identifier}", self.provider, self.kind);
        let mut ids: Vec<String> =
            self.written.iter().map(String::as_str).chain(rendered).map(id).collect();
        if self.kind == "file" || ids.is_empty() {
            ids.push(id(""));
        }
        ids
    }
}

impl Origin {
    fn single(entry: &str) -> Origin {
        let field = crate::secretfile::SINGLE_FIELD.to_string();
        let fields = vec![(field, entry.to_string())];
        Origin { fields, whole: None, targets: Vec::new(), split_from: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{} is not valid YAML{}: {message}", path.display(), at_line(*line))]
    Syntax { path: PathBuf, line: Option<usize>, message: String },
    #[error("{} is not a Secretfile of the older format: {reason}", path.display())]
    NotOlderFormat { path: PathBuf, reason: &'static str },
    /// Empty, or a top level other than a mapping: no Secretfile of either format.
    #[error("{} is not a Secretfile: {reason}", path.display())]
    NotASecretfile { path: PathBuf, reason: &'static str },
    #[error("lockfile {} is already in the current format", path.display())]
    LockfileNotOlderFormat { path: PathBuf },
    /// The translation does not load: a name its templates use is not defined, for example.
    #[error("the translated Secretfile does not validate")]
    Invalid(#[source] LoadError),
    #[error(transparent)]
    Lockfile(#[from] LockfileError),
}

fn at_line(line: Option<usize>) -> String {
    line.map(|line| format!(" at line {line}")).unwrap_or_default()
}

impl MigrateError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            MigrateError::NotOlderFormat { .. } | MigrateError::LockfileNotOlderFormat { .. } => {
                Some("point at the older file with --from or --lockfile-from")
            }
            MigrateError::Invalid(_) => Some(
                "set the environment variables the older file interpolated, or fix the older \
                 file and migrate again",
            ),
            MigrateError::Lockfile(error) => error.hint(),
            MigrateError::Syntax { .. } | MigrateError::NotASecretfile { .. } => None,
        }
    }
}

/// Validates the translation. What does not validate (a variable the older file interpolated
/// and that is not set, a path that a variable sends out of the folder) is left out and listed
/// at its line in the older file, like any other part without an equivalent, and the rest is
/// validated again. Only a finding that points at nothing that can be left out is an error.
fn validate(
    translated: &mut secretfile::Translated,
    root: &crate::secretfile::node::Node,
    path: &Path,
) -> Result<crate::secretfile::Secretfile, MigrateError> {
    loop {
        let text = emit::render(&translated.file, false);
        let error = match crate::secretfile::load_text(&text, path) {
            Ok(file) => return Ok(file),
            Err(error) => error,
        };
        let LoadError::Invalid { findings, .. } = &error else {
            return Err(MigrateError::Invalid(error));
        };
        let mut left_out = false;
        for finding in findings {
            let Some(line) = finding.loc.as_ref().map(|loc| loc.line) else { continue };
            let Some(part) = secretfile::Part::at(&text, line) else { continue };
            if let Some((line, what)) = translated.leave_out(&part, root) {
                let message = format!("{}; {what} is left out", finding.message);
                translated.untranslated.push(Untranslated { line, message });
                left_out = true;
            }
        }
        if !left_out {
            return Err(MigrateError::Invalid(error));
        }
    }
}

/// The older Secretfile's folder and the new one's, each as the parts of its absolute path:
/// the older tool took file paths relative to the folder it ran in, which is the older
/// Secretfile's; the current format takes them relative to the new Secretfile's.
#[derive(Debug)]
pub(crate) struct Folders {
    old: Vec<String>,
    new: Vec<String>,
}

impl Folders {
    fn new(old_secretfile: &Path, new_secretfile: &Path) -> Folders {
        let parts = |file: &Path| -> Vec<String> {
            let folder = crate::secretfile::folder_of(file);
            let absolute = std::path::absolute(&folder).unwrap_or(folder);
            let mut parts: Vec<String> = Vec::new();
            for component in absolute.components() {
                match component {
                    std::path::Component::ParentDir => {
                        parts.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
                }
            }
            parts
        };
        Folders { old: parts(old_secretfile), new: parts(new_secretfile) }
    }

    /// A file path of the older Secretfile, relative to the new Secretfile's folder; the
    /// reason when it would leave that folder. `path` is relative and, unless it holds a
    /// template, normalized.
    pub(crate) fn rebase(&self, path: &str) -> Result<String, String> {
        if self.old == self.new {
            return Ok(path.to_string());
        }
        let outside = || {
            format!(
                "`{path}`, relative to the older Secretfile's folder, is outside the new \
                 Secretfile's folder"
            )
        };
        let mut full = self.old.clone();
        if path.contains("{{") {
            // A template is kept whole: only a folder below the new one can be prefixed.
            full.push(path.to_string());
        } else {
            full.extend(path.split('/').map(str::to_string));
        }
        match full.strip_prefix(self.new.as_slice()) {
            Some(rest) if !rest.is_empty() => Ok(rest.join("/")),
            _ => Err(outside()),
        }
    }
}

/// Translates the older files. Reads the new Secretfile's local-file targets to confirm the
/// older hashes; writes nothing.
pub fn migrate(input: Input<'_>) -> Result<Migration, MigrateError> {
    let text = input.secretfile_text.strip_prefix('\u{feff}').unwrap_or(input.secretfile_text);
    let root = crate::secretfile::node::parse(text).map_err(|error| MigrateError::Syntax {
        path: input.secretfile_path.to_path_buf(),
        line: error.loc.map(|loc| loc.line),
        message: error.message,
    })?;
    if !secretfile::is_older_format(&root) {
        use crate::secretfile::node::Kind;
        let path = input.secretfile_path.to_path_buf();
        let reason = match &root.kind {
            Kind::Map(entries) if entries.iter().any(|(k, _)| k.name == "secrets") => {
                "its `secrets` is a mapping, as in the current format"
            }
            Kind::Map(_) => "it has no `secrets` list",
            // Neither format: the file cannot be read as a Secretfile at all.
            Kind::Null => return Err(MigrateError::NotASecretfile { path, reason: "it is empty" }),
            _ => {
                let reason = "its top level is not a mapping";
                return Err(MigrateError::NotASecretfile { path, reason });
            }
        };
        return Err(MigrateError::NotOlderFormat { path, reason });
    }
    if let Some(lock) = &input.lockfile
        && !lock.read_older_format()
    {
        return Err(MigrateError::LockfileNotOlderFormat {
            path: input.lockfile_path.to_path_buf(),
        });
    }

    let folders = Folders::new(input.secretfile_path, input.new_secretfile_path);
    let mut translated = secretfile::translate(text, &root, &folders);
    let file = validate(&mut translated, &root, input.new_secretfile_path)?;
    secretfile::annotate(&mut translated);
    let new_text = emit::render(&translated.file, false);

    let mut rewrites = Vec::new();
    let mut local_problems = Vec::new();
    let lockfile = match input.lockfile {
        Some(lock) => {
            let mut targets = Targets::new(&file, input.new_lockfile_path);
            (rewrites, local_problems) =
                files::requote(&lock, &file, &translated.origins, &mut targets);
            let converted = lockfile::convert(lock, &file, &translated.origins, &mut targets)?;
            for problem in converted.2 {
                let known = local_problems
                    .iter()
                    .any(|p| p.secret == problem.secret && p.path == problem.path);
                if !known {
                    local_problems.push(problem);
                }
            }
            // In the Secretfile's order, as the user reads it.
            local_problems.sort_by_key(|p| file.secrets.get_index_of(&p.secret));
            Some((converted.0, converted.1))
        }
        None => None,
    };
    Ok(Migration {
        masked_secretfile: emit::render(&translated.file, true),
        secretfile: new_text,
        secrets: file.secrets.len(),
        lockfile,
        untranslated: translated.untranslated,
        notes: translated.notes,
        rewrites,
        local_problems,
    })
}
