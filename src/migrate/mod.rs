//! Migration from the older SecretZero (the Python 0.x releases): its list-form Secretfile
//! becomes the current format, and its lockfile is converted entry by entry, so that the next
//! sync regenerates nothing and drift reports nothing.
//!
//! This module owns the translation: reading the older Secretfile with line numbers, the new
//! Secretfile's text, the converted lockfile, and the list of what has no equivalent. It reads
//! targets back (to confirm older hashes and record keyed ones) but writes nothing and prints
//! nothing; `secretzero migrate` decides what to show and where to write. `docs/migrate.md`
//! describes the translation for users.

mod emit;
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
            MigrateError::Syntax { .. } => None,
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
        let reason = match &root.kind {
            crate::secretfile::node::Kind::Map(entries)
                if entries.iter().any(|(k, _)| k.name == "secrets") =>
            {
                "its `secrets` is a mapping, as in the current format"
            }
            _ => "it has no `secrets` list",
        };
        return Err(MigrateError::NotOlderFormat {
            path: input.secretfile_path.to_path_buf(),
            reason,
        });
    }
    if let Some(lock) = &input.lockfile
        && !lock.read_older_format()
    {
        return Err(MigrateError::LockfileNotOlderFormat {
            path: input.lockfile_path.to_path_buf(),
        });
    }

    let translated = secretfile::translate(text, &root);
    let new_text = emit::render(&translated.file, false);
    let file = crate::secretfile::load_text(&new_text, input.new_secretfile_path)
        .map_err(MigrateError::Invalid)?;

    let lockfile = match input.lockfile {
        Some(lock) => {
            let mut targets = Targets::new(&file, input.new_lockfile_path);
            Some(lockfile::convert(lock, &file, &translated.origins, &mut targets)?)
        }
        None => None,
    };
    Ok(Migration {
        masked_secretfile: emit::render(&translated.file, true),
        secretfile: new_text,
        secrets: file.secrets.len(),
        lockfile,
        untranslated: translated.untranslated,
    })
}
