//! `secretzero lockfile commit` and `secretzero lockfile merge`: the lockfile in git, for CI
//! jobs that commit it back and for branches that both changed it.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{CliError, Exit, GlobalArgs, Ui};
use crate::git::{CommitRequest, Committed, DRIVER};
use crate::lockfile::{Lockfile, merge, with_conflict_markers};

#[derive(Debug, Args)]
pub struct LockfileArgs {
    #[command(subcommand)]
    pub command: LockfileCommand,
}

#[derive(Debug, Subcommand)]
pub enum LockfileCommand {
    /// Commit the lockfile alone and push it, rebasing onto the remote branch when the push is
    /// rejected; prints the pushed commit, or nothing when the lockfile is unchanged
    #[command(after_long_help = COMMIT_HELP)]
    Commit(CommitArgs),
    /// Git merge driver: merge two lockfiles entry by entry; exit 1 when both sides changed the
    /// same secret
    #[command(after_long_help = MERGE_HELP)]
    Merge(MergeArgs),
}

const COMMIT_HELP: &str = "\
Run it after `sync` or `rotate` in CI. Only the lockfile is committed, whatever else is staged,
and the push is never forced. When another job pushed first, the remote branch is fetched and
the commit is replayed on it, merging the lockfile entry by entry: changes to different secrets
all survive, and a secret changed on both sides stops the run with its name (exit 1).";

const MERGE_HELP: &str = "\
Set it up once per clone, and commit the attributes line:
  git config merge.secretzero-lockfile.driver 'secretzero lockfile merge %O %A %B --marker-size %L'
  echo '.gitsecrets.lock merge=secretzero-lockfile' >> .gitattributes
Git then merges the lockfile by secret rather than by line. A secret that both branches changed
is a conflict: the file is left with conflict markers around it, and SecretZero refuses to load
it until they are resolved.";

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The commit message; `[skip ci]` keeps GitHub and GitLab from starting another pipeline
    #[arg(long, short = 'm', default_value = "Update .gitsecrets.lock [skip ci]")]
    pub message: String,

    /// The remote to push to
    #[arg(long, default_value = "origin")]
    pub remote: String,

    /// The branch to push to [default: GITHUB_REF_NAME or CI_COMMIT_BRANCH in CI, else the
    /// checked-out branch]
    #[arg(long)]
    pub branch: Option<String>,

    /// How many times a rejected push is rebased and tried again
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The common ancestor's version (git's %O); may be empty
    pub base: PathBuf,
    /// Our version (git's %A); the result is written here
    pub ours: PathBuf,
    /// Their version (git's %B)
    pub theirs: PathBuf,
    /// Length of conflict markers (git's %L)
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub marker_size: u16,
}

pub fn run(global: &GlobalArgs, args: &LockfileArgs, ui: &Ui) -> Result<Exit, CliError> {
    match &args.command {
        LockfileCommand::Commit(commit) => run_commit(global, commit, ui),
        LockfileCommand::Merge(merge) => run_merge(merge, ui),
    }
}

fn run_commit(global: &GlobalArgs, args: &CommitArgs, ui: &Ui) -> Result<Exit, CliError> {
    let lockfile = global
        .lockfile
        .clone()
        .unwrap_or_else(|| crate::secretfile::default_lockfile_path(&global.file));
    // What is committed must be a lockfile SecretZero can read, not a half-resolved conflict.
    if Lockfile::load(&lockfile)?.is_none() {
        return Err(CliError::Usage {
            message: format!("there is no lockfile at {}", lockfile.display()),
            hint: Some("run `secretzero sync` first, or point at it with --lockfile".into()),
        });
    }
    let request = CommitRequest {
        lockfile: lockfile.clone(),
        message: args.message.clone(),
        remote: args.remote.clone(),
        branch: args.branch.clone(),
        retries: args.retries,
        driver_program: std::env::current_exe().unwrap_or_else(|_| "secretzero".into()),
    };
    match crate::git::commit_lockfile(&request)? {
        Committed::Unchanged => {
            ui.info(&format!("{} is unchanged; nothing to commit", lockfile.display()));
        }
        Committed::Pushed { commit, branch, attempts } => {
            let tries = match attempts {
                1 => String::new(),
                n => format!(" (after {} rejected push{})", n - 1, if n == 2 { "" } else { "es" }),
            };
            ui.done(&format!("Pushed {} to {} {branch}{tries}", lockfile.display(), args.remote));
            ui.data(&format!("{commit}\n"));
        }
    }
    Ok(Exit::Success)
}

fn run_merge(args: &MergeArgs, ui: &Ui) -> Result<Exit, CliError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|source| CliError::Read { path: path.to_path_buf(), source })
    };
    let (base_text, our_text, their_text) =
        (read(&args.base)?, read(&args.ours)?, read(&args.theirs)?);
    let parse = |text: &str, path: &Path| Lockfile::parse(text, path);
    // Git gives an empty ancestor when the file was added on both sides.
    let base = match base_text.trim().is_empty() {
        true => None,
        false => Some(parse(&base_text, &args.base)?),
    };
    let (ours, theirs) = (parse(&our_text, &args.ours)?, parse(&their_text, &args.theirs)?);
    let marker_size = usize::from(args.marker_size);

    let write = |text: &str| {
        std::fs::write(&args.ours, text)
            .map_err(|source| CliError::Write { path: args.ours.clone(), source })
    };
    let merged = match merge(base.as_ref(), &ours, &theirs) {
        Ok(merged) => merged,
        Err(error) => {
            write(&with_conflict_markers(&our_text, &their_text, marker_size))?;
            ui.failure(&format!("Lockfile merge conflict: {error}"), None);
            ui.info(&format!("hint: {}", error.hint()));
            return Ok(Exit::Failure);
        }
    };
    if merged.is_clean() {
        write(&merged.ours.render())?;
        return Ok(Exit::Success);
    }
    let text = with_conflict_markers(&merged.ours.render(), &merged.theirs.render(), marker_size);
    write(&text)?;
    let names: Vec<String> = merged.conflicts.iter().map(|name| format!("`{name}`")).collect();
    ui.failure(
        &format!(
            "Lockfile merge conflict: both sides changed {} {}",
            if names.len() == 1 { "secret" } else { "secrets" },
            names.join(", ")
        ),
        None,
    );
    ui.info(&format!(
        "hint: keep, for each, the side whose value the targets hold, remove the markers, then \
         run `secretzero sync` (driver `{DRIVER}`)"
    ));
    Ok(Exit::Failure)
}
