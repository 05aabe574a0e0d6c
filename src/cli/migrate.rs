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

    /// Print the new files on standard output (static values masked), what has no equivalent
    /// and which target files would be requoted; write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write the new files even though some of the older file has no equivalent (it is left
    /// out, as listed) or some local targets do not confirm the older lockfile (their entries
    /// keep the older hashes)
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
    // A lockfile named on the command line must be there; the default one may not be.
    if lockfile.is_none() && args.lockfile_from.is_some() {
        let source = std::io::Error::from(std::io::ErrorKind::NotFound);
        return Err(CliError::Read { path: paths.old_lockfile.clone(), source });
    }
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
    for note in &migration.notes {
        let at = format!("{}:{}", paths.old_secretfile.display(), note.line);
        ui.info(&format!("note: {at}: {}", note.message));
    }
    for problem in &migration.local_problems {
        ui.warn(&format!("{} (secret `{}`): {}", problem.path, problem.secret, problem.reason));
    }
    let clean = migration.untranslated.is_empty() && migration.local_problems.is_empty();
    let blocked = !clean && !args.allow_untranslated;
    let untranslated = || match migration.untranslated.len() {
        0 => CliError::Unconfirmed { count: migration.local_problems.len() },
        count => CliError::Untranslated { path: paths.old_secretfile.clone(), count },
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
        for rewrite in &migration.rewrites {
            ui.info(&format!("Would requote {}.", requoted(rewrite)));
        }
        ui.info(&format!("Dry run: {}; nothing was written.", summary(&migration, &paths)));
        check_overwrite(&migration, &paths, args.force)?;
        return match blocked {
            true => Err(untranslated()),
            false => Ok(Exit::Success),
        };
    }
    if blocked {
        return Err(untranslated());
    }
    check_overwrite(&migration, &paths, args.force)?;

    for rewrite in &migration.rewrites {
        rewrite_target(rewrite)?;
        ui.info(&format!("Requoted {}.", requoted(rewrite)));
    }
    write(&migration, &paths)?;
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
    match migration.local_problems.is_empty() {
        true => ui.info(
            "Next: `secretzero sync --dry-run` should show every target unchanged; then commit \
             both files.",
        ),
        false => ui.info(
            "Next: `secretzero sync --dry-run` shows what a sync would do to the local targets \
             listed above; resolve them, then commit both files.",
        ),
    }
    Ok(Exit::Success)
}

/// `the keys a, b of .env in the current quoting (no value changes)`, never a value.
fn requoted(rewrite: &crate::migrate::Rewrite) -> String {
    let keys: Vec<String> = rewrite.keys.iter().map(|key| format!("`{key}`")).collect();
    let noun = if keys.len() == 1 { "key" } else { "keys" };
    format!(
        "{noun} {} of {} in the quoting every reader reads alike (no value changes)",
        keys.join(", "),
        rewrite.path
    )
}

/// Replaces a target file with its requoted content atomically, keeping its mode, as sync
/// replaces a file it edits.
fn rewrite_target(rewrite: &crate::migrate::Rewrite) -> Result<(), CliError> {
    let path = &rewrite.resolved;
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    let error = |source| CliError::Write { path: PathBuf::from(&rewrite.path), source };
    let mut file =
        tempfile::NamedTempFile::new_in(crate::secretfile::folder_of(&real)).map_err(error)?;
    let mode = std::fs::metadata(&real).map_err(error)?.permissions();
    file.write_all(&rewrite.bytes)
        .and_then(|()| file.as_file().set_permissions(mode))
        .and_then(|()| file.as_file().sync_all())
        .map_err(error)?;
    file.persist(&real).map_err(|e| error(e.error))?;
    Ok(())
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

/// Refuses, without `--force`, a migration that would replace an existing file: a `.v0` copy,
/// or a new file that does not take an older one's place. A dry run checks it too, so that it
/// exits as the real run would.
fn check_overwrite(migration: &Migration, paths: &Paths, force: bool) -> Result<(), CliError> {
    let mut files = vec![(&paths.old_secretfile, &paths.new_secretfile)];
    if migration.lockfile.is_some() {
        files.push((&paths.old_lockfile, &paths.new_lockfile));
    }
    for (old, new) in files {
        let occupied = match same(old, new) {
            true => backup(old),
            false => new.to_path_buf(),
        };
        if !force && std::fs::symlink_metadata(&occupied).is_ok() {
            return Err(CliError::WouldOverwrite { path: occupied });
        }
    }
    Ok(())
}

/// Writes the new files, once [`check_overwrite`] has passed. Both new files are complete on
/// disk (in temporary files beside them) before either older file is moved to its `.v0` copy,
/// so a failed write leaves the older files in place.
fn write(migration: &Migration, paths: &Paths) -> Result<(), CliError> {
    let mut files =
        vec![(&paths.old_secretfile, &paths.new_secretfile, migration.secretfile.clone())];
    if let Some((lock, _)) = &migration.lockfile {
        files.push((&paths.old_lockfile, &paths.new_lockfile, lock.render()));
    }
    let staged = files
        .iter()
        .map(|(old, new, text)| stage(old, new, text))
        .collect::<Result<Vec<_>, _>>()?;
    for (old, new, _) in &files {
        if same(old, new) {
            std::fs::rename(old, backup(old))
                .map_err(|source| CliError::Write { path: old.to_path_buf(), source })?;
        }
    }
    for ((_, new, _), file) in files.iter().zip(staged) {
        file.persist(new)
            .map_err(|e| CliError::Write { path: new.to_path_buf(), source: e.error })?;
    }
    Ok(())
}

/// `text` in a temporary file beside `new`, flushed to disk. The new file is committed like
/// the older one, so it takes the older one's mode (a lockfile without one gets 0644: it holds
/// no secret).
fn stage(old: &Path, new: &Path, text: &str) -> Result<tempfile::NamedTempFile, CliError> {
    let error = |source| CliError::Write { path: new.to_path_buf(), source };
    let mut file =
        tempfile::NamedTempFile::new_in(crate::secretfile::folder_of(new)).map_err(error)?;
    let mode = std::fs::metadata(old).map(|m| m.permissions()).ok().or_else(readable_by_all);
    file.write_all(text.as_bytes())
        .and_then(|()| match mode {
            Some(mode) => file.as_file().set_permissions(mode),
            None => Ok(()),
        })
        .and_then(|()| file.as_file().sync_all())
        .map_err(error)?;
    Ok(file)
}

#[cfg(unix)]
fn readable_by_all() -> Option<std::fs::Permissions> {
    Some(std::os::unix::fs::PermissionsExt::from_mode(0o644))
}

#[cfg(not(unix))]
fn readable_by_all() -> Option<std::fs::Permissions> {
    None
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
