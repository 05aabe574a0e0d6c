//! The lockfile in git: `secretzero lockfile commit` against a bare remote, with runs that race
//! for one branch, and `secretzero lockfile merge` as the merge driver of a real `git merge`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRETFILE: &str = r#"version: "1.0"
secrets:
  a: {generator: {type: random-string}, targets: [{type: local-file, path: .env}]}
  b: {generator: {type: random-string}, targets: [{type: local-file, path: .env}]}
  c: {generator: {type: random-string}, targets: [{type: local-file, path: .env}]}
  d: {generator: {type: random-string}, targets: [{type: local-file, path: .env}]}
"#;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn run(command: &mut Command) -> Run {
    let Output { status, stdout, stderr } = command.output().expect("run");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A command with a clean environment: no git identity, no CI variables.
fn clean(program: impl AsRef<std::ffi::OsStr>, dir: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1");
    command
}

/// A bare remote and the clones that work on it.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// A remote whose `main` holds the Secretfile and a lockfile of all four secrets.
    fn new() -> World {
        let world = World { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir(world.home()).unwrap();
        world.git(world.dir.path(), &["init", "--quiet", "--bare", "-b", "main", "remote.git"]);
        let seed = world.clone_as("seed");
        std::fs::write(seed.join("Secretfile.yml"), SECRETFILE).unwrap();
        std::fs::write(seed.join(".gitignore"), ".env\n").unwrap();
        assert_eq!(world.secretzero(&seed, &["sync"]).code, 0);
        world.git(&seed, &["add", "."]);
        world.git(
            &seed,
            &[
                "-c",
                "user.name=Seed",
                "-c",
                "user.email=seed@example.invalid",
                "commit",
                "-qm",
                "seed",
            ],
        );
        world.git(&seed, &["push", "--quiet", "origin", "main"]);
        world
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = run(clean("git", dir, &self.home()).args(args));
        assert_eq!(out.code, 0, "git {args:?}: {out:?}");
        out.stdout
    }

    fn secretzero(&self, dir: &Path, args: &[&str]) -> Run {
        run(clean(env!("CARGO_BIN_EXE_secretzero"), dir, &self.home()).args(args))
    }

    fn clone_as(&self, name: &str) -> PathBuf {
        self.git(self.dir.path(), &["clone", "--quiet", "remote.git", name]);
        self.dir.path().join(name)
    }

    /// The lockfile's entries on the remote's `main`.
    fn remote_entries(&self) -> serde_json::Value {
        let text =
            self.git(&self.dir.path().join("remote.git"), &["show", "main:.gitsecrets.lock"]);
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["secrets"].clone()
    }

    fn remote_log(&self) -> Vec<String> {
        let log = self.git(&self.dir.path().join("remote.git"), &["log", "--format=%s", "main"]);
        log.lines().map(str::to_string).collect()
    }
}

fn entries(clone: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(clone.join(".gitsecrets.lock")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["secrets"].clone()
}

/// A clone that regenerated `secret` (its `.env` is not in git, so the value is new).
fn changed(world: &World, name: &str, secret: &str) -> PathBuf {
    let clone = world.clone_as(name);
    let run = world.secretzero(&clone, &["sync", "-s", secret]);
    assert_eq!(run.code, 0, "{run:?}");
    clone
}

#[test]
fn runs_that_changed_different_secrets_both_land() {
    let world = World::new();
    let first = changed(&world, "first", "a");
    let second = changed(&world, "second", "b");
    assert_ne!(entries(&first)["a"], world.remote_entries()["a"]);

    let run = world.secretzero(&first, &["lockfile", "commit"]);
    assert_eq!(run.code, 0, "{run:?}");
    let pushed = world.git(&first, &["rev-parse", "HEAD"]);
    assert_eq!(run.stdout, pushed);
    assert_eq!(run.stderr, "✓ Pushed .gitsecrets.lock to origin main\n");

    // The second run's push is rejected; it rebases onto the first and pushes.
    let run = world.secretzero(&second, &["lockfile", "commit", "-m", "rotate b [skip ci]"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "✓ Pushed .gitsecrets.lock to origin main (after 1 rejected push)\n");
    let remote = world.remote_entries();
    assert_eq!(remote["a"], entries(&first)["a"]);
    assert_eq!(remote["b"], entries(&second)["b"]);
    assert_eq!(remote, entries(&second), "the rebased clone holds what it pushed");
    assert_eq!(
        world.remote_log(),
        ["rotate b [skip ci]", "Update .gitsecrets.lock [skip ci]", "seed"]
    );
    // Only the lockfile was committed.
    let files = world.git(&second, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files, ".gitsecrets.lock\n");
    let author = world.git(&second, &["show", "-s", "--format=%an <%ae>", "HEAD"]);
    assert_eq!(author, "SecretZero <secretzero@users.noreply.localhost>\n");
}

#[test]
fn a_secret_changed_on_both_sides_fails_the_second_run_naming_it() {
    let world = World::new();
    let first = changed(&world, "first", "a");
    let second = changed(&world, "second", "a");
    assert_eq!(world.secretzero(&first, &["lockfile", "commit"]).code, 0);
    let remote_before = world.remote_entries();

    let run = world.secretzero(&second, &["lockfile", "commit", "--retries", "3"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: the remote branch `main` changed the same secret as this run: `a`\n\
         hint: the local commit is kept and nothing was pushed; run the job again on the \
         updated branch, where the secret's new value is already recorded\n"
    );
    assert_eq!(world.remote_entries(), remote_before, "nothing was forced");
    assert_eq!(world.remote_log().len(), 2);
}

#[test]
fn concurrent_runs_on_different_secrets_all_land() {
    let world = World::new();
    let clones: Vec<(PathBuf, &str)> = ["b", "c", "d"]
        .into_iter()
        .map(|s| (changed(&world, &format!("clone-{s}"), s), s))
        .collect();
    std::thread::scope(|scope| {
        let runs: Vec<_> = clones
            .iter()
            .map(|(clone, _)| scope.spawn(|| world.secretzero(clone, &["lockfile", "commit"])))
            .collect();
        for run in runs {
            let run = run.join().unwrap();
            assert_eq!(run.code, 0, "{run:?}");
        }
    });
    let remote = world.remote_entries();
    for (clone, secret) in &clones {
        assert_eq!(remote[secret], entries(clone)[secret], "{secret}");
    }
    assert_eq!(world.remote_log().len(), 4);
}

#[test]
fn an_unchanged_lockfile_commits_nothing() {
    let world = World::new();
    let clone = world.clone_as("clone");
    let run = world.secretzero(&clone, &["lockfile", "commit"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    assert_eq!(run.stderr, ".gitsecrets.lock is unchanged; nothing to commit\n");
    assert_eq!(world.remote_log(), ["seed"]);
}

#[test]
fn a_detached_head_needs_a_branch_and_ci_variables_name_it() {
    let world = World::new();
    let clone = changed(&world, "clone", "a");
    world.git(&clone, &["checkout", "--quiet", "--detach"]);
    let run = world.secretzero(&clone, &["lockfile", "commit"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no branch to push to"), "{run:?}");
    // GitLab checks out a detached HEAD and names the branch in CI_COMMIT_BRANCH.
    let run = run_env(&world, &clone, &[("CI_COMMIT_BRANCH", "main")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(world.remote_entries()["a"], entries(&clone)["a"]);
}

fn run_env(world: &World, dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut command = clean(env!("CARGO_BIN_EXE_secretzero"), dir, &world.home());
    command.args(["lockfile", "commit"]).envs(env.iter().copied());
    run(&mut command)
}

#[test]
fn the_merge_driver_merges_by_secret_in_a_real_git_merge() {
    let world = World::new();
    let clone = world.clone_as("clone");
    let program = env!("CARGO_BIN_EXE_secretzero");
    world.git(
        &clone,
        &[
            "config",
            "merge.secretzero-lockfile.driver",
            &format!("{program} lockfile merge %O %A %B --marker-size %L"),
        ],
    );
    std::fs::write(clone.join(".gitattributes"), ".gitsecrets.lock merge=secretzero-lockfile\n")
        .unwrap();
    let commit = |message: &str| {
        world.git(&clone, &["add", "."]);
        world.git(
            &clone,
            &["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", message],
        );
    };
    commit("attributes");
    let merge = |branch: &str| {
        run(clean("git", &clone, &world.home()).args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.invalid",
            "merge",
            "--no-edit",
            "--no-ff",
            branch,
        ]))
    };

    // Neighbouring entries `a` and `b` changed on two branches: a line merge would conflict.
    world.git(&clone, &["checkout", "--quiet", "-b", "left"]);
    assert_eq!(world.secretzero(&clone, &["sync", "--force", "-s", "a"]).code, 0);
    commit("a");
    let left = entries(&clone);
    world.git(&clone, &["checkout", "--quiet", "-b", "right", "main"]);
    assert_eq!(world.secretzero(&clone, &["sync", "--force", "-s", "b"]).code, 0);
    commit("b");
    let right = entries(&clone);
    let out = merge("left");
    assert_eq!(out.code, 0, "{out:?}");
    let merged = entries(&clone);
    assert_eq!((&merged["a"], &merged["b"]), (&left["a"], &right["b"]));

    // Both branches changed `c`: a conflict naming it, and a file SecretZero refuses to load.
    world.git(&clone, &["checkout", "--quiet", "-b", "one", "main"]);
    assert_eq!(world.secretzero(&clone, &["sync", "--force", "-s", "c"]).code, 0);
    commit("c one");
    world.git(&clone, &["checkout", "--quiet", "-b", "two", "main"]);
    assert_eq!(world.secretzero(&clone, &["sync", "--force", "-s", "c"]).code, 0);
    commit("c two");
    let out = merge("one");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("both sides changed secret `c`"), "{out:?}");
    let text = std::fs::read_to_string(clone.join(".gitsecrets.lock")).unwrap();
    assert!(text.contains("<<<<<<< ours\n") && text.contains(">>>>>>> theirs\n"), "{text}");
    let status = world.secretzero(&clone, &["status"]);
    assert_eq!(status.code, 5, "{status:?}");
    assert!(status.stderr.contains("unresolved merge conflict markers"), "{status:?}");
}

#[test]
fn a_lockfile_commit_whose_push_failed_is_pushed_by_the_next_run() {
    let world = World::new();
    let clone = changed(&world, "clone", "a");
    let remote = world.git(&clone, &["remote", "get-url", "origin"]);
    world.git(&clone, &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    let run = world.secretzero(&clone, &["lockfile", "commit"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(world.remote_log(), ["seed"]);

    world.git(&clone, &["remote", "set-url", "origin", remote.trim()]);
    let run = world.secretzero(&clone, &["lockfile", "commit"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "✓ Pushed .gitsecrets.lock to origin main\n");
    assert_eq!(world.remote_log(), ["Update .gitsecrets.lock [skip ci]", "seed"]);
    assert_eq!(world.remote_entries()["a"], entries(&clone)["a"]);

    // A local commit that changes anything else is never pushed from here.
    std::fs::write(clone.join("notes.txt"), "x\n").unwrap();
    world.git(&clone, &["add", "notes.txt"]);
    world.git(
        &clone,
        &["-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "notes"],
    );
    let run = world.secretzero(&clone, &["lockfile", "commit"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    assert_eq!(world.remote_log().len(), 2);
}

#[test]
fn a_pull_request_build_has_no_branch_to_push_to() {
    let world = World::new();
    let clone = changed(&world, "clone", "a");
    world.git(&clone, &["checkout", "--quiet", "--detach"]);
    let run = run_env(
        &world,
        &clone,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/pull/12/merge"),
            ("GITHUB_REF_NAME", "12/merge"),
            ("GITHUB_REF_TYPE", "branch"),
        ],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: this is a pull request or merge request build, which has no branch to push the \
         lockfile to\nhint: commit the lockfile back from push or scheduled builds of the \
         branch, or name the branch with --branch\n"
    );
    assert_eq!(world.remote_log(), ["seed"]);
}

#[test]
fn staged_changes_stay_staged_through_a_rebase() {
    let world = World::new();
    let first = changed(&world, "first", "a");
    let second = changed(&world, "second", "b");
    assert_eq!(world.secretzero(&first, &["lockfile", "commit"]).code, 0);

    std::fs::write(second.join(".gitignore"), ".env\n*.tmp\n").unwrap();
    std::fs::write(second.join("new.txt"), "new\n").unwrap();
    world.git(&second, &["add", ".gitignore", "new.txt"]);
    let run = world.secretzero(&second, &["lockfile", "commit"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("(after 1 rejected push)"), "{run:?}");
    let status = world.git(&second, &["status", "--porcelain"]);
    assert_eq!(status, "M  .gitignore\nA  new.txt\n");
    let files = world.git(&second, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files, ".gitsecrets.lock\n");
}
