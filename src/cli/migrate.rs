//! `secretzero migrate`: the older SecretZero's Secretfile and lockfile in the current format,
//! the older files kept beside the new ones.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, Exit, GlobalArgs, Ui, comparable};
use crate::lockfile::Lockfile;
use crate::migrate::{Input, LockfileReport, Migration, migrate};
use crate::secretfile::default_lockfile_path;

/// The suffix the older files get when the new ones take their place.
const BACKUP_SUFFIX: &str = ".v0";

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The older Secretfile [default: the -f file, which is kept as <name>.v0]
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,

    /// The older lockfile [default: .gitsecrets.lock beside the older Secretfile, kept as
    /// .gitsecrets.lock.v0 when the new lockfile takes its place]
    #[arg(long, value_name = "PATH")]
    pub lockfile_from: Option<PathBuf>,

    /// Print the new files on standard output (static values masked) and what has no
    /// equivalent; write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write the new files even though some of the older file has no equivalent (it is left
    /// out, as listed)
    #[arg(long)]
    pub allow_untranslated: bool,

    /// Replace a new file or a .v0 copy that already exists
    #[arg(long)]
    pub force: bool,
}

/// Where each file is read from and written to.
struct Paths {
    old_secretfile: PathBuf,
    old_lockfile: PathBuf,
    new_secretfile: PathBuf,
    new_lockfile: PathBuf,
}

pub fn run(global: &GlobalArgs, args: &MigrateArgs, ui: &Ui) -> Result<Exit, CliError> {
    let new_secretfile = global.file.clone();
    let new_lockfile =
        global.lockfile.clone().unwrap_or_else(|| default_lockfile_path(&new_secretfile));
    let old_secretfile = args.from.clone().unwrap_or_else(|| new_secretfile.clone());
    let old_lockfile =
        args.lockfile_from.clone().unwrap_or_else(|| default_lockfile_path(&old_secretfile));
    let paths = Paths { old_secretfile, old_lockfile, new_secretfile, new_lockfile };

    let text = std::fs::read_to_string(&paths.old_secretfile)
        .map_err(|source| CliError::Read { path: paths.old_secretfile.clone(), source })?;
    let lockfile = Lockfile::load(&paths.old_lockfile)?;
    let migration = migrate(Input {
        secretfile_text: &text,
        secretfile_path: &paths.old_secretfile,
        lockfile,
        lockfile_path: &paths.old_lockfile,
        new_secretfile_path: &paths.new_secretfile,
        new_lockfile_path: &paths.new_lockfile,
    })?;

    for item in &migration.untranslated {
        ui.warn(&format!("{}:{}: {}", paths.old_secretfile.display(), item.line, item.message));
    }
    let blocked = !migration.untranslated.is_empty() && !args.allow_untranslated;
    let untranslated = || CliError::Untranslated {
        path: paths.old_secretfile.clone(),
        count: migration.untranslated.len(),
    };

    if args.dry_run {
        let mut shown = format!("==> {} <==\n{}", paths.new_secretfile.display(), {
            &migration.masked_secretfile
        });
        if let Some((lock, _)) = &migration.lockfile {
            shown.push_str(&format!(
                "\n==> {} <==\n{}",
                paths.new_lockfile.display(),
                lock.render()
            ));
        }
        ui.data(&shown);
        ui.info(&format!("Dry run: {}; nothing was written.", summary(&migration, &paths)));
        return match blocked {
            true => Err(untranslated()),
            false => Ok(Exit::Success),
        };
    }
    if blocked {
        return Err(untranslated());
    }

    write(&migration, &paths, args.force)?;
    ui.done(&format!("Migrated {}", summary(&migration, &paths)));
    if same(&paths.old_secretfile, &paths.new_secretfile) {
        ui.info(&format!(
            "The older Secretfile is kept as {}.",
            backup(&paths.old_secretfile).display()
        ));
    }
    if migration.lockfile.is_some() && same(&paths.old_lockfile, &paths.new_lockfile) {
        ui.info(&format!(
            "The older lockfile is kept as {}.",
            backup(&paths.old_lockfile).display()
        ));
    }
    ui.info(
        "Next: `secretzero sync --dry-run` should show every target unchanged; then commit \
         both files.",
    );
    Ok(Exit::Success)
}

/// What the migration makes, in one sentence.
fn summary(migration: &Migration, paths: &Paths) -> String {
    let secrets = plural(migration.secrets, "secret");
    let secretfile = format!("{} ({secrets})", paths.new_secretfile.display());
    match &migration.lockfile {
        None => {
            format!("{secretfile}; there is no older lockfile at {}", paths.old_lockfile.display())
        }
        Some((_, report)) => {
            format!("{secretfile} and {} ({})", paths.new_lockfile.display(), lock_summary(report))
        }
    }
}

fn lock_summary(report: &LockfileReport) -> String {
    let mut parts = Vec::new();
    if !report.verified.is_empty() || report.unverified.is_empty() {
        let entries = plural(report.verified.len(), "entry");
        parts.push(format!("{entries} confirmed by a target and re-hashed"));
    }
    if !report.unverified.is_empty() {
        parts.push(format!(
            "{} keeping the older hash ({})",
            plural(report.unverified.len(), "entry"),
            report.unverified.join(", ")
        ));
    }
    if !report.orphaned.is_empty() {
        parts.push(format!(
            "{} for secrets the older Secretfile did not declare ({})",
            plural(report.orphaned.len(), "entry"),
            report.orphaned.join(", ")
        ));
    }
    parts.join(", ")
}

fn plural(count: usize, noun: &str) -> String {
    match (count, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "entry") => format!("{count} entries"),
        _ => format!("{count} {noun}s"),
    }
}

/// Writes the new files, after checking that nothing would be overwritten without `--force`.
/// Each new file is complete on disk (written to a temporary file beside it) before the older
/// file at its path is moved to its `.v0` copy.
fn write(migration: &Migration, paths: &Paths, force: bool) -> Result<(), CliError> {
    let lockfile = migration.lockfile.as_ref().map(|(lock, _)| lock);
    let mut moves = vec![(&paths.old_secretfile, &paths.new_secretfile)];
    if lockfile.is_some() {
        moves.push((&paths.old_lockfile, &paths.new_lockfile));
    }
    for (old, new) in &moves {
        let occupied = match same(old, new) {
            true => backup(old),
            false => new.to_path_buf(),
        };
        if !force && std::fs::symlink_metadata(&occupied).is_ok() {
            return Err(CliError::WouldOverwrite { path: occupied });
        }
    }

    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CliError::Write { path, source }
    };
    let folder = crate::secretfile::folder_of(&paths.new_secretfile);
    let mut staged =
        tempfile::NamedTempFile::new_in(&folder).map_err(write_error(&paths.new_secretfile))?;
    // The new Secretfile is committed like the older one: it keeps the older one's mode.
    let mode = std::fs::metadata(&paths.old_secretfile).map(|m| m.permissions());
    staged
        .write_all(migration.secretfile.as_bytes())
        .and_then(|()| match mode {
            Ok(mode) => staged.as_file().set_permissions(mode),
            Err(_) => Ok(()),
        })
        .and_then(|()| staged.as_file().sync_all())
        .map_err(write_error(&paths.new_secretfile))?;

    for (old, new) in &moves {
        if same(old, new) {
            std::fs::rename(old, backup(old)).map_err(write_error(old))?;
        }
    }
    staged
        .persist(&paths.new_secretfile)
        .map_err(|e| CliError::Write { path: paths.new_secretfile.clone(), source: e.error })?;
    if let Some(lock) = lockfile {
        lock.save(&paths.new_lockfile)?;
    }
    Ok(())
}

fn same(a: &Path, b: &Path) -> bool {
    let cwd = std::env::current_dir().unwrap_or_default();
    comparable(&cwd, a) == comparable(&cwd, b)
}

/// `Secretfile.yml` -> `Secretfile.yml.v0`.
fn backup(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}
