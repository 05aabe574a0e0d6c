//! Errors that end a command, and the exit code each kind of failure gives.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::lockfile::LockfileError;
use crate::migrate::MigrateError;
use crate::secretfile::LoadError;

/// Exit codes, as the README documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// Validation or policy failure, or a target that could not be written.
    Failure = 1,
    Usage = 2,
    Auth = 3,
    Drift = 4,
    /// The Secretfile or the lockfile cannot be loaded.
    Load = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Lockfile(#[from] LockfileError),
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    #[error(transparent)]
    Migrate(#[from] crate::migrate::MigrateError),
    #[error(
        "{count} {} of {} {} no equivalent; nothing was written",
        if *count == 1 { "part" } else { "parts" },
        path.display(),
        if *count == 1 { "has" } else { "have" }
    )]
    Untranslated { path: PathBuf, count: usize },
    #[error(
        "{count} local {} not hold what the older lockfile records; nothing was written",
        if *count == 1 { "target does" } else { "targets do" }
    )]
    Unconfirmed { count: usize },
    #[error("{} already exists; not replacing it", path.display())]
    WouldOverwrite { path: PathBuf },
    #[error("{} already exists; not overwriting it", path.display())]
    Exists { path: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[cfg(feature = "api")]
    #[error(transparent)]
    Serve(#[from] crate::api::ServeError),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage { .. } => Exit::Usage,
            CliError::Load(LoadError::Invalid { .. }) => Exit::Failure,
            CliError::Lockfile(LockfileError::Write { .. }) => Exit::Failure,
            CliError::Load(_) | CliError::Lockfile(_) => Exit::Load,
            CliError::Exists { .. } | CliError::Write { .. } => Exit::Failure,
            CliError::Read { .. } => Exit::Load,
            CliError::Git(crate::git::GitError::NoBranch | crate::git::GitError::PullRequest) => {
                Exit::Usage
            }
            CliError::Git(_) => Exit::Failure,
            CliError::Migrate(error) => match error {
                MigrateError::Syntax { .. } | MigrateError::NotASecretfile { .. } => Exit::Load,
                MigrateError::Lockfile(LockfileError::Write { .. }) => Exit::Failure,
                MigrateError::Lockfile(_) => Exit::Load,
                MigrateError::NotOlderFormat { .. }
                | MigrateError::LockfileNotOlderFormat { .. }
                | MigrateError::Invalid(_) => Exit::Failure,
            },
            CliError::Untranslated { .. }
            | CliError::Unconfirmed { .. }
            | CliError::WouldOverwrite { .. } => Exit::Failure,
            #[cfg(feature = "api")]
            CliError::Serve(error) if error.is_usage() => Exit::Usage,
            #[cfg(feature = "api")]
            CliError::Serve(_) => Exit::Failure,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Usage { hint, .. } => hint.clone(),
            CliError::Lockfile(error) => error.hint().map(str::to_string),
            CliError::Git(error) => error.hint().map(str::to_string),
            CliError::Load(LoadError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Some("run `secretzero init` to create one, or point at it with -f".into())
            }
            CliError::Exists { .. } => {
                Some("remove it first, or choose another path with -f".into())
            }
            CliError::Migrate(error) => error.hint().map(str::to_string),
            CliError::Untranslated { .. } => Some(
                "change the older file and migrate again, or pass --allow-untranslated to \
                 leave those parts out"
                    .into(),
            ),
            CliError::Unconfirmed { .. } => Some(
                "resolve the targets listed above and migrate again, or pass \
                 --allow-untranslated to migrate anyway: their entries keep the older hashes"
                    .into(),
            ),
            CliError::WouldOverwrite { .. } => {
                Some("move it away, or pass --force to replace it".into())
            }
            #[cfg(feature = "api")]
            CliError::Serve(error) => error.hint().map(str::to_string),
            _ => None,
        }
    }
}
