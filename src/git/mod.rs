//! Committing the lockfile back to its repository after `sync` or `rotate`, the same way on
//! GitHub, GitLab and a laptop.
//!
//! Git itself does the work: this module runs the `git` program and owns only the decisions
//! (what to commit, when to retry, which secrets clash). Nothing here prints; the caller reports
//! what happened. Remote URLs can carry a token (a GitLab job pushes through one), so no error
//! repeats git's output without first removing credentials from URLs in it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::lockfile::{Lockfile, LockfileError};

/// The merge driver's name in git configuration and `.gitattributes`.
pub const DRIVER: &str = "secretzero-lockfile";

/// What the commit-back is asked to do.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub lockfile: PathBuf,
    pub message: String,
    pub remote: String,
    /// The branch to push to; `None` picks it from the CI system or the checked-out branch.
    pub branch: Option<String>,
    /// How many times a rejected push is fetched, rebased and tried again.
    pub retries: u32,
    /// This program, run by git as the lockfile's merge driver during a rebase.
    pub driver_program: PathBuf,
}

/// What the commit-back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// The lockfile matches the checked-out commit: nothing to do.
    Unchanged,
    /// A commit holding only the lockfile reached the remote branch.
    Pushed { commit: String, branch: String, attempts: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git")]
    Spawn(#[source] std::io::Error),
    #[error("`git {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("{} is not inside a git repository", path.display())]
    NotARepository { path: PathBuf },
    #[error(
        "no branch to push to: HEAD is detached and neither GITHUB_REF_NAME nor CI_COMMIT_BRANCH names one"
    )]
    NoBranch,
    #[error(
        "this is a pull request or merge request build, which has no branch to push the \
         lockfile to"
    )]
    PullRequest,
    #[error(
        "the remote branch `{branch}` changed the same secret{} as this run: {}",
        if names.len() == 1 { "" } else { "s" },
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    )]
    SameSecret { branch: String, names: Vec<String> },
    #[error("the lockfile on the remote branch `{branch}` was created separately from this one")]
    Unrelated { branch: String },
    #[error("the push to `{branch}` was still rejected after {attempts} attempts")]
    StillRejected { branch: String, attempts: u32 },
    #[error("the remote branch `{branch}` holds a lockfile that cannot be read")]
    RemoteLockfile {
        branch: String,
        #[source]
        source: LockfileError,
    },
}

impl GitError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            GitError::SameSecret { .. } => Some(
                "the local commit is kept and nothing was pushed; run the job again on the \
                 updated branch, where the secret's new value is already recorded",
            ),
            GitError::Unrelated { .. } => Some(crate::lockfile::MergeError::Unrelated.hint()),
            GitError::NoBranch => Some("name the branch with --branch"),
            GitError::PullRequest => Some(
                "commit the lockfile back from push or scheduled builds of the branch, or name \
                 the branch with --branch",
            ),
            GitError::NotARepository { .. } => {
                Some("run it in a clone of the repository that holds the lockfile")
            }
            GitError::StillRejected { .. } => {
                Some("another job keeps pushing to the branch; run this one again later")
            }
            _ => None,
        }
    }
}

/// Commits the lockfile alone and pushes it, rebasing onto the remote branch when the push is
/// rejected. Never force-pushes.
pub fn commit_lockfile(request: &CommitRequest) -> Result<Committed, GitError> {
    let folder = match request.lockfile.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let git = Git { dir: folder.clone() };
    let top = git
        .text(["rev-parse", "--show-toplevel"])
        .map_err(|_| GitError::NotARepository { path: folder.clone() })?;
    let git = Git { dir: PathBuf::from(top.trim()) };
    let name = request.lockfile.file_name().unwrap_or(OsStr::new(crate::lockfile::FILE_NAME));
    let lockfile = git.relative(&folder.join(name))?;

    // Only a lockfile that differs from the checked-out commit is committed. An unchanged one
    // may still sit in an earlier lockfile commit whose push failed: that one is pushed now.
    let status = git.text(["status", "--porcelain", "--", &lockfile])?;
    let branch = match &request.branch {
        Some(branch) => branch.clone(),
        None => current_branch(&git)?,
    };
    if status.trim().is_empty() {
        if !unpushed_lockfile_commits(&git, request, &branch, &lockfile)? {
            return Ok(Committed::Unchanged);
        }
    } else {
        git.run(["add", "--", &lockfile])?;
        let identity = identity(&git);
        let mut commit: Vec<&str> = identity.iter().map(String::as_str).collect();
        commit.extend([
            "commit",
            "--quiet",
            "--no-verify",
            "--only",
            "-m",
            &request.message,
            "--",
            &lockfile,
        ]);
        git.run(commit)?;
    }

    let refspec = format!("HEAD:refs/heads/{branch}");
    let mut attempts = 0;
    loop {
        attempts += 1;
        let push = git.output(["push", "--porcelain", &request.remote, &refspec])?;
        if push.status.success() {
            let commit = git.text(["rev-parse", "HEAD"])?.trim().to_string();
            return Ok(Committed::Pushed { commit, branch, attempts });
        }
        if !rejected(&push) {
            return Err(failed(&["push", &request.remote, &refspec], &push));
        }
        if attempts > request.retries {
            return Err(GitError::StillRejected { branch, attempts });
        }
        std::thread::sleep(backoff(attempts));
        catch_up(&git, request, &branch, &lockfile)?;
    }
}

/// Fetches the remote branch and replays the local lockfile commit on top of it, merging the
/// lockfile entry by entry. A secret that both sides changed stops it before anything moves.
fn catch_up(
    git: &Git,
    request: &CommitRequest,
    branch: &str,
    lockfile: &str,
) -> Result<(), GitError> {
    git.run(["fetch", "--quiet", &request.remote, &format!("refs/heads/{branch}")])?;
    let upstream = git.text(["rev-parse", "FETCH_HEAD"])?.trim().to_string();
    let base = git.text(["merge-base", "HEAD", &upstream])?.trim().to_string();

    let read = |rev: &str| -> Result<Option<Lockfile>, GitError> {
        let Some(text) = git.show(rev, lockfile)? else { return Ok(None) };
        Lockfile::parse(&text, Path::new(lockfile))
            .map(Some)
            .map_err(|source| GitError::RemoteLockfile { branch: branch.to_string(), source })
    };
    let (base_lock, ours, theirs) = (read(&base)?, read("HEAD")?, read(&upstream)?);
    if let (Some(ours), Some(theirs)) = (&ours, &theirs) {
        let merged = crate::lockfile::merge(base_lock.as_ref(), ours, theirs)
            .map_err(|_| GitError::Unrelated { branch: branch.to_string() })?;
        if !merged.is_clean() {
            return Err(GitError::SameSecret {
                branch: branch.to_string(),
                names: merged.conflicts,
            });
        }
    }

    // The rebase runs this program as the lockfile's merge driver, whatever the repository's
    // own configuration says, through a temporary attributes file.
    let attributes = tempfile::NamedTempFile::new().map_err(GitError::Spawn)?;
    std::fs::write(attributes.path(), format!("/{lockfile} merge={DRIVER}\n"))
        .map_err(GitError::Spawn)?;
    let driver = format!(
        "merge.{DRIVER}.driver={} lockfile merge %O %A %B --marker-size %L",
        shell_quote(&request.driver_program.to_string_lossy())
    );
    let attributes_config = format!("core.attributesFile={}", attributes.path().display());
    let identity = identity(git);
    let mut rebase: Vec<&str> = identity.iter().map(String::as_str).collect();
    rebase.extend(["-c", &driver, "-c", &attributes_config, "rebase", "--quiet", &upstream]);

    // Other changes in the checkout are set aside and put back as they were, staged ones staged
    // (a rebase's own autostash would put them back unstaged).
    let dirty = !git.text(["status", "--porcelain", "--untracked-files=no"])?.trim().is_empty();
    if dirty {
        git.run(["stash", "push", "--quiet", "-m", "secretzero lockfile commit"])?;
    }
    let rebased = git.run(rebase);
    if rebased.is_err() {
        let _ = git.output(["rebase", "--abort"]);
    }
    if dirty {
        git.run(["stash", "pop", "--quiet", "--index"])?;
    }
    rebased.map(drop)
}

/// Whether HEAD holds commits that the remote branch lacks and that change the lockfile
/// alone: left by an earlier run whose push failed. Commits that change anything else are never
/// pushed from here.
fn unpushed_lockfile_commits(
    git: &Git,
    request: &CommitRequest,
    branch: &str,
    lockfile: &str,
) -> Result<bool, GitError> {
    let fetch =
        git.output(["fetch", "--quiet", &request.remote, &format!("refs/heads/{branch}")])?;
    if !fetch.status.success() {
        // No such branch yet, or the remote is out of reach: nothing known to be pending.
        return Ok(false);
    }
    let ahead = git.text(["rev-list", "FETCH_HEAD..HEAD"])?;
    if ahead.trim().is_empty() {
        return Ok(false);
    }
    let base = git.text(["merge-base", "HEAD", "FETCH_HEAD"])?;
    let changed = git.text(["diff", "--name-only", base.trim(), "HEAD"])?;
    Ok(changed.lines().all(|path| path == lockfile))
}

/// The branch to push to: what the CI system checked out, else the current branch. A pull
/// request build has none: its ref is a merge GitHub made, not a branch to push to.
fn current_branch(git: &Git) -> Result<String, GitError> {
    let pull_request = std::env::var("GITHUB_REF").is_ok_and(|r| r.starts_with("refs/pull/"))
        || std::env::var("GITHUB_EVENT_NAME").is_ok_and(|e| e.starts_with("pull_request"))
        || std::env::var_os("CI_MERGE_REQUEST_IID").is_some();
    if pull_request {
        return Err(GitError::PullRequest);
    }
    let from_ci = [("GITHUB_REF_TYPE", "GITHUB_REF_NAME"), ("", "CI_COMMIT_BRANCH")];
    for (kind, name) in from_ci {
        let is_branch = kind.is_empty() || std::env::var(kind).is_ok_and(|k| k == "branch");
        if let Ok(branch) = std::env::var(name)
            && is_branch
            && !branch.is_empty()
        {
            return Ok(branch);
        }
    }
    match git.output(["symbolic-ref", "--quiet", "--short", "HEAD"])? {
        out if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        _ => Err(GitError::NoBranch),
    }
}

/// `-c user.name=… -c user.email=…` when git has no identity of its own, as on a fresh runner.
fn identity(git: &Git) -> Vec<String> {
    let configured = git.text(["config", "user.email"]).is_ok_and(|email| !email.trim().is_empty())
        || std::env::var_os("GIT_COMMITTER_EMAIL").is_some();
    if configured {
        return Vec::new();
    }
    let (name, email) = match std::env::var("GITHUB_ACTIONS").as_deref() {
        // The identity GitHub documents for commits made by workflows.
        Ok("true") => {
            ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
        }
        _ => ("SecretZero", "secretzero@users.noreply.localhost"),
    };
    vec!["-c".into(), format!("user.name={name}"), "-c".into(), format!("user.email={email}")]
}

/// Whether a push failed because the remote branch moved on (and fetching would help).
fn rejected(push: &Output) -> bool {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&push.stdout),
        String::from_utf8_lossy(&push.stderr)
    );
    ["[rejected]", "non-fast-forward", "fetch first", "stale info", "cannot lock ref"]
        .iter()
        .any(|sign| text.contains(sign))
}

/// 0.5 s, 1 s, 2 s … at most 8 s, plus up to a quarter more at random, so that jobs racing
/// for one branch spread out.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1).min(4));
    let jitter = rand::random_range(0..=base.as_millis() as u64 / 4);
    base + Duration::from_millis(jitter)
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn failed(args: &[&str], output: &Output) -> GitError {
    GitError::Failed {
        command: args.join(" "),
        stderr: redact_urls(String::from_utf8_lossy(&output.stderr).trim()),
    }
}

/// `https://user:token@host/…` -> `https://***@host/…`, wherever a URL appears in `text`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end =
            tail.find(|c: char| c.is_whitespace() || c == '\'' || c == '"').unwrap_or(tail.len());
        let authority_end = tail[..end].find('/').unwrap_or(end);
        match tail[..authority_end].rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                rest = &tail[user_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Runs git in one folder.
struct Git {
    dir: PathBuf,
}

impl Git {
    fn output<I, S>(&self, args: I) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .output()
            .map_err(GitError::Spawn)
    }

    fn run<I, S>(&self, args: I) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        let output = self.output(args.clone())?;
        if output.status.success() {
            return Ok(output);
        }
        let words: Vec<String> =
            args.into_iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
        // Configuration passed with -c is not part of what the user needs to see.
        let shown: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(i, w)| *w != "-c" && !(*i > 0 && words[i - 1] == "-c"))
            .map(|(_, w)| w.as_str())
            .collect();
        Err(failed(&shown, &output))
    }

    fn text<I, S>(&self, args: I) -> Result<String, GitError>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        Ok(String::from_utf8_lossy(&self.run(args)?.stdout).into_owned())
    }

    /// The file at `path` in commit `rev`, or `None` when it does not exist there.
    fn show(&self, rev: &str, path: &str) -> Result<Option<String>, GitError> {
        let output = self.output(["show", &format!("{rev}:{path}")])?;
        Ok(output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned()))
    }

    /// `path` relative to the repository's top folder, with `/`.
    fn relative(&self, path: &Path) -> Result<String, GitError> {
        let absolute = std::path::absolute(path).map_err(GitError::Spawn)?;
        let folder = absolute.parent().unwrap_or(Path::new("/"));
        let folder = folder.canonicalize().map_err(GitError::Spawn)?;
        let top = self.dir.canonicalize().map_err(GitError::Spawn)?;
        let inside = folder
            .strip_prefix(&top)
            .map_err(|_| GitError::NotARepository { path: folder.clone() })?;
        let name = absolute.file_name().unwrap_or_default();
        let relative = inside.join(name);
        Ok(relative.to_string_lossy().replace('\\', "/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_removed() {
        assert_eq!(
            redact_urls(
                "fatal: unable to access 'https://oauth2:glpat-XYZ@gitlab.example/g/p.git/': 403"
            ),
            "fatal: unable to access 'https://***@gitlab.example/g/p.git/': 403"
        );
        assert_eq!(
            redact_urls("see https://host/a@b and ssh://git@host/x"),
            "see https://host/a@b and ssh://***@host/x"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(
            backoff(1) >= Duration::from_millis(500) && backoff(1) <= Duration::from_millis(625)
        );
        assert!(backoff(3) >= Duration::from_secs(2));
        assert!(backoff(40) <= Duration::from_secs(10));
    }
}
