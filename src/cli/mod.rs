//! The command line: arguments (clap derive), one file per command, and exit codes.
//!
//! Standard output carries data (plans, reports, JSON); everything for people goes to
//! standard error through [`Ui`].

mod audit;
mod drift;
mod error;
mod init;
mod lockfile;
mod mask;
mod migrate;
mod output;
mod policy;
mod rotate;
mod serve;
mod show;
mod status;
mod sync;
mod test;
mod ui;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use error::{CliError, Exit};
pub use ui::Ui;

/// Declare your project's secrets once; generate, store, track and rotate them everywhere.
#[derive(Debug, Parser)]
#[command(name = "secretzero", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The Secretfile to read (for `init` and `migrate`, to write)
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        env = "SECRETZERO_FILE",
        default_value = "Secretfile.yml",
        value_name = "PATH"
    )]
    pub file: PathBuf,

    /// The lockfile to read and write [default: .gitsecrets.lock beside the Secretfile]
    #[arg(long, global = true, env = "SECRETZERO_LOCKFILE", value_name = "PATH")]
    pub lockfile: Option<PathBuf>,

    /// Print less on standard error: only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more on standard error (repeat for more detail)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto,
          value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter Secretfile.yml
    Init(init::InitArgs),
    /// Check the Secretfile and report every problem with its location
    #[command(after_long_help = VALIDATE_EXAMPLE)]
    Validate(validate::ValidateArgs),
    /// Generate missing values, write every target and update the lockfile
    Sync(sync::SyncArgs),
    /// Show every secret: its targets, when it changed, and whether the lockfile has it in sync
    Status(status::StatusArgs),
    /// Show one secret in detail (never its value)
    Show(show::ShowArgs),
    /// Give every secret that has fallen due a new value, everywhere
    Rotate(rotate::RotateArgs),
    /// Compare the targets and the Secretfile with the lockfile; exit 4 when they differ
    Drift(drift::DriftArgs),
    /// Check the compliance packs and custom policies; exit 1 when a finding fails the check
    Policy(policy::PolicyArgs),
    /// The lockfile in git: commit it back from CI, merge it between branches
    Lockfile(lockfile::LockfileArgs),
    /// Convert the older SecretZero's Secretfile and lockfile without regenerating anything
    #[command(after_long_help = MIGRATE_EXAMPLE)]
    Migrate(migrate::MigrateArgs),
    /// Serve the HTTP API for this Secretfile (builds with the `api` feature)
    #[command(after_long_help = SERVE_HELP)]
    Serve(serve::ServeArgs),
    /// Read the audit log, filtered
    Audit(audit::AuditArgs),
    /// Check every provider: credentials, endpoint and the permissions a sync needs; exit 3 on
    /// an authentication failure
    Test(test::TestArgs),
}

const MIGRATE_EXAMPLE: &str = "\
In a project of the older SecretZero, with Secretfile.yml and .gitsecrets.lock in place:
  secretzero migrate --dry-run   # the new files on standard output, and what has no equivalent
  secretzero migrate             # writes them; the older ones stay as *.v0
Local dotenv and YAML keys the older tool quoted its own way are requoted in place (values
unchanged) so that every reader reads the value the lockfile records; local targets that do
not confirm the older lockfile stop the migration. docs/migrate.md describes the translation.";

const VALIDATE_EXAMPLE: &str = "\
Example, in one CI step: SARIF for code scanning, annotations, and a job summary:
  secretzero validate --format sarif --output secretzero.sarif --format github \\
    --format markdown --output \"$GITHUB_STEP_SUMMARY\"
Every format is described in docs/reports.md.";

const SERVE_HELP: &str = "\
API keys: SECRETZERO_API_KEY holds one (named `default` in the audit log); --api-keys FILE
names more. Every endpoint but /, /health and /openapi.json needs the X-API-Key header.
Example:
  SECRETZERO_API_KEY=$(openssl rand -base64 32) secretzero -f Secretfile.yml serve --port 8080
The endpoints, limits and audit log are described in docs/api.md.";

/// Output formats for commands whose data is a table or a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    Text,
    Json,
}

/// Report formats for findings (`validate`); docs/reports.md describes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people: each finding with its source excerpt
    Text,
    /// For scripts: the documented schema, sorted
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers
    Sarif,
    /// GitHub Actions workflow commands: annotations on the lines
    Github,
    /// GitLab Code Quality JSON
    Gitlab,
    /// A job summary: counts and a table of findings
    Markdown,
}

/// Formats of the plan that `sync --dry-run` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For people: one line per target
    Text,
    /// For scripts
    Json,
    /// A job summary: the plan as a table
    Markdown,
}

pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// Runs the command line `args` (the first is the program's name).
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // The matches are kept because pairing each --output with its --format needs the
    // positions of both, which the derived structs do not record.
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)))
        .map_err(|error| error.format(&mut Cli::command()));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        // clap prints help and version to stdout with code 0, usage errors with code 2.
        Err(error) => error.exit(),
    };
    let sub = matches.subcommand().map(|(_, sub)| sub);
    let ui = Ui::new(&cli.global);
    ui.init_logging(cli.global.verbose);

    let result = match &cli.command {
        Command::Init(args) => init::run(&cli.global, args, &ui),
        Command::Validate(args) => report_requested(&cli.global, sub, &args.report)
            .and_then(|requested| validate::run(&cli.global, args, &requested, &ui)),
        Command::Sync(args) => {
            output::Requested::from_matches(sub, &args.formats, &args.outputs, PlanFormat::Text)
                .and_then(|requested| refuse_own_files(&cli.global, requested))
                .and_then(|requested| sync::run(&cli.global, args, &requested, &ui))
        }
        Command::Status(args) => status::run(&cli.global, args, &ui),
        Command::Show(args) => show::run(&cli.global, args, &ui),
        Command::Rotate(args) => report_requested(&cli.global, sub, &args.report)
            .and_then(|requested| rotate::run(&cli.global, args, &requested, &ui)),
        Command::Drift(args) => report_requested(&cli.global, sub, &args.report)
            .and_then(|requested| drift::run(&cli.global, args, &requested, &ui)),
        Command::Policy(args) => report_requested(&cli.global, sub, &args.report)
            .and_then(|requested| policy::run(&cli.global, args, &requested, &ui)),
        Command::Lockfile(args) => lockfile::run(&cli.global, args, &ui),
        Command::Migrate(args) => migrate::run(&cli.global, args, &ui),
        Command::Serve(args) => serve::run(&cli.global, args, &ui),
        Command::Audit(args) => audit::run(&cli.global, args, &ui),
        Command::Test(args) => test::run(&cli.global, args, &ui),
    };
    finish(result, &ui)
}

fn finish(result: Result<Exit, CliError>, ui: &Ui) -> ExitCode {
    match result {
        Ok(exit) => exit.into(),
        Err(error) => {
            ui.error(&error);
            error.exit().into()
        }
    }
}

/// Serve the HTTP API for a Secretfile: `secretzero serve` as a program of its own
#[derive(Debug, Parser)]
#[command(name = "secretzero-api", version, long_about = None, after_long_help = SERVE_HELP)]
pub struct ServeCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub serve: serve::ServeArgs,
}

/// `secretzero-api`, which takes the options of `secretzero serve` and names itself in its
/// help and version.
pub fn serve_main() -> ExitCode {
    let cli = ServeCli::parse();
    let ui = Ui::new(&cli.global);
    ui.init_logging(cli.global.verbose);
    finish(serve::run(&cli.global, &cli.serve, &ui), &ui)
}

/// The reports asked for with `--format`/`--output`, paired by their positions.
fn report_requested(
    global: &GlobalArgs,
    matches: Option<&clap::ArgMatches>,
    args: &output::ReportArgs,
) -> Result<output::Requested<ReportFormat>, CliError> {
    output::Requested::from_matches(matches, &args.formats, &args.outputs, ReportFormat::Text)
        .and_then(|requested| refuse_own_files(global, requested))
}

/// What most commands start from: the Secretfile, and the lockfile if there is one.
#[derive(Debug)]
pub(crate) struct Opened {
    pub file: crate::secretfile::Secretfile,
    pub lockfile_path: PathBuf,
    pub lockfile: Option<crate::lockfile::Lockfile>,
}

pub(crate) fn open(global: &GlobalArgs) -> Result<Opened, CliError> {
    open_at(&global.file, global.lockfile.as_deref())
}

/// Opens the Secretfile at `path` and its lockfile (`lockfile`, or the default beside it).
pub(crate) fn open_at(
    path: &std::path::Path,
    lockfile: Option<&std::path::Path>,
) -> Result<Opened, CliError> {
    let lockfile_path = lockfile
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| crate::secretfile::default_lockfile_path(path));
    // The two files do not depend on each other, and in a large project each takes a good
    // part of a second to read: read them side by side.
    let (file, lockfile) = std::thread::scope(|scope| {
        let lockfile = scope.spawn(|| crate::lockfile::Lockfile::load(&lockfile_path));
        let file = crate::secretfile::load(path);
        (file, lockfile.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let file = file?;
    check_lockfile_is_no_target(&file, &lockfile_path)?;
    Ok(Opened { file, lockfile_path, lockfile: lockfile? })
}

/// A target that writes into the lockfile would corrupt it on every run.
fn check_lockfile_is_no_target(
    file: &crate::secretfile::Secretfile,
    lockfile: &std::path::Path,
) -> Result<(), CliError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    // Where each path leads once symbolic links are followed, even links to files that do not
    // exist yet: a lockfile linked to `.env` would otherwise be written over the secrets.
    let lockfile_real = leads_to(&cwd, lockfile);
    let lockfile = comparable(&cwd, lockfile);
    for secret in file.secrets.values() {
        for target in &secret.targets {
            // The files targets write: a local file, or an ExternalSecret manifest.
            let written = match &target.kind {
                crate::secretfile::TargetKind::LocalFile(local) => local.resolved.clone(),
                crate::secretfile::TargetKind::Remote(remote)
                    if remote.kind == crate::secretfile::RemoteKind::ExternalSecret =>
                {
                    let path = remote.options.get("path").map_or("", String::as_str);
                    crate::secretfile::join(&remote.base, path)
                }
                crate::secretfile::TargetKind::Remote(_) => continue,
            };
            let target_real = leads_to(&cwd, &written);
            // A target that links to the lockfile is refused alone, when it is written; a
            // lockfile that links to a target would take every run's secrets with it.
            let lockfile_links = lockfile_real != lockfile;
            if comparable(&cwd, &written) == lockfile
                || (lockfile_links && target_real == lockfile_real)
            {
                return Err(CliError::Usage {
                    message: format!(
                        "secret `{}` has a target that writes into the lockfile {}",
                        secret.name,
                        lockfile.display()
                    ),
                    hint: Some("choose another --lockfile or another target path".into()),
                });
            }
        }
    }
    Ok(())
}

/// Where `path` leads once symbolic links are followed (even to a file that does not exist
/// yet), as an absolute path with `.` and `..` resolved.
fn leads_to(cwd: &std::path::Path, path: &std::path::Path) -> PathBuf {
    let followed = crate::target::follow_links(path).unwrap_or_else(|_| path.to_path_buf());
    comparable(cwd, &followed)
}

/// A report written over the Secretfile or the lockfile would destroy it: refused before the
/// command runs.
fn refuse_own_files<F>(
    global: &GlobalArgs,
    requested: output::Requested<F>,
) -> Result<output::Requested<F>, CliError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let lockfile = global
        .lockfile
        .clone()
        .unwrap_or_else(|| crate::secretfile::default_lockfile_path(&global.file));
    let own = [
        ("the Secretfile", leads_to(&cwd, &global.file)),
        ("the lockfile", leads_to(&cwd, &lockfile)),
    ];
    for (_, destination) in &requested.reports {
        let output::Destination::File(path) = destination else { continue };
        let real = leads_to(&cwd, path);
        if let Some((what, _)) = own.iter().find(|(_, file)| *file == real) {
            return Err(CliError::Usage {
                message: format!("--output {} would overwrite {what}", path.display()),
                hint: Some("write the report to another file".into()),
            });
        }
    }
    Ok(requested)
}

/// An absolute path with `.` and `..` resolved as text, so two spellings of a path compare
/// equal without touching the file system (the files may not exist yet).
fn comparable(cwd: &std::path::Path, path: &std::path::Path) -> PathBuf {
    crate::report::paths::absolute(cwd, path)
}

/// Checks `-s NAME` selections against the Secretfile, with a "did you mean" for typos.
pub(crate) fn check_selection(
    file: &crate::secretfile::Secretfile,
    names: &[String],
) -> Result<(), CliError> {
    for name in names {
        if !file.secrets.contains_key(name) {
            let known: Vec<&str> = file.secrets.keys().map(String::as_str).collect();
            let close = known
                .iter()
                .map(|k| (strsim::jaro_winkler(&name.to_lowercase(), &k.to_lowercase()), *k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            return Err(CliError::Usage {
                message: format!("no secret named `{name}` in {}", file.path.display()),
                hint: Some(match close {
                    Some((_, close)) => format!("did you mean `{close}`?"),
                    None => "`secretzero status` lists the secrets".into(),
                }),
            });
        }
    }
    Ok(())
}

/// The time a run records. `SECRETZERO_NOW` (RFC 3339) fixes it, for reproducible tests and
/// for replaying a CI run; it is not meant for everyday use.
pub(crate) fn now() -> Result<jiff::Timestamp, CliError> {
    match std::env::var("SECRETZERO_NOW") {
        Ok(text) if !text.is_empty() => text.parse().map_err(|_| CliError::Usage {
            message: format!("SECRETZERO_NOW `{text}` is not an RFC 3339 time"),
            hint: Some("write it like 2026-01-31T12:00:00Z, or unset it".into()),
        }),
        _ => Ok(crate::lockfile::now()),
    }
}
