//! `secretzero sync`: generate what is missing, write every target, update the lockfile.

use clap::Args;
use serde_json::json;
use tracing::debug;

use super::output::Requested;
use super::{CliError, Exit, GlobalArgs, PlanFormat, Ui, check_selection, now, open};
use crate::engine::{self, Action, Options, Outcome, Targets};
use crate::lockfile::Lockfile;
use crate::report::{error_chain, plan_json, plan_markdown, plan_text};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Print the plan (what would be created, updated or left alone, and why) and change
    /// nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Regenerate the selected values, `one_time` ones included; rotation history is kept
    #[arg(long)]
    pub force: bool,

    /// Only this secret (repeat for several). Without it, the lockfile entries of secrets the
    /// Secretfile no longer declares are dropped
    #[arg(short = 's', long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Format of the plan that --dry-run prints; repeat `--format F [--output FILE]` for
    /// several. The text plan goes to standard output unless another format takes it, then to
    /// standard error [default: text]
    #[arg(long = "format", value_enum, value_name = "FORMAT", requires = "dry_run")]
    pub formats: Vec<PlanFormat>,

    /// Write the plan in the --format just before it to FILE (replaced atomically); a format
    /// without --output goes to standard output, which takes one format at most
    #[arg(long = "output", value_name = "FILE", requires = "dry_run")]
    pub outputs: Vec<std::path::PathBuf>,

    /// Append a record of the run (not of a dry run) to this audit log, the JSON Lines file
    /// `secretzero serve` writes and `secretzero audit` reads
    #[arg(long, env = "SECRETZERO_AUDIT_LOG", value_name = "PATH")]
    pub audit_log: Option<std::path::PathBuf>,
}

pub fn run(
    global: &GlobalArgs,
    args: &SyncArgs,
    requested: &Requested<PlanFormat>,
    ui: &Ui,
) -> Result<Exit, CliError> {
    let opened = open(global)?;
    let file = &opened.file;
    check_selection(file, &args.secrets)?;
    let now = now()?;
    let existed = opened.lockfile.is_some();
    let mut lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let options = Options {
        force: args.force,
        only: args.secrets.clone(),
        drop_undeclared: args.secrets.is_empty(),
        ..Options::default()
    };
    let mut targets = Targets::new(file, &opened.lockfile_path);
    let plan = engine::plan(file, &lock, &hasher, &mut targets, &options);
    // The targets left as recorded because they could not be read, and why, once per reason
    // (one unreachable store is the same reason for all its targets).
    let mut unverified: Vec<&str> = Vec::new();
    let mut why_unverified: Vec<&str> = Vec::new();
    for target in plan.secrets.iter().flat_map(|s| &s.targets).filter(|t| t.unverified) {
        unverified.push(&target.id);
        if !why_unverified.contains(&target.reason.as_str()) {
            why_unverified.push(&target.reason);
        }
    }
    // The run exits 1 for these, so the reason shows even with `--quiet`.
    let unread = !unverified.is_empty();
    if unread {
        ui.failure(&format!(
            "{} target{} could not be read back, so whether {} still hold{} the recorded value is \
             unknown: {}",
            unverified.len(),
            if unverified.len() == 1 { "" } else { "s" },
            if unverified.len() == 1 { "it" } else { "they" },
            if unverified.len() == 1 { "s" } else { "" },
            unverified.join(", ")
        ), None);
        for why in why_unverified.iter().take(10) {
            ui.info(&format!("  {why}"));
        }
    }

    if args.dry_run {
        requested.deliver(PlanFormat::Text, true, ui, |format, _| match format {
            PlanFormat::Text => plan_text(&plan),
            PlanFormat::Json => plan_json(&plan),
            PlanFormat::Markdown => plan_markdown(&plan),
        })?;
        if let Some(exit) = auth_exit(&targets, ui) {
            return Ok(exit);
        }
        // A target that could not be read leaves the plan unsure: the sync may fail there.
        let blocked = plan.count(Action::Skip) > 0
            || plan.secrets.iter().any(|s| s.conflict.is_some())
            || plan.secrets.iter().any(|s| s.targets.iter().any(|t| t.unread));
        return Ok(if blocked { Exit::Failure } else { Exit::Success });
    }

    // A lockfile or audit log that cannot be written would leave targets holding values
    // nothing records: find out before writing any of them.
    check_writable(&opened.lockfile_path)?;
    super::audit::check_writable(args.audit_log.as_deref())?;

    let pending = plan.count(Action::Create) + plan.count(Action::Update);
    debug!(secrets = plan.secrets.len(), pending, "planned");
    let outcome = engine::apply(
        plan,
        file,
        &mut lock,
        &hasher,
        &mut targets,
        now,
        &mut super::mask::observer(ui),
    );
    report(&outcome, file, ui);

    // A first run makes the lockfile, even with nothing to record, unless it failed: a failed
    // first run leaves no empty lockfile behind (which would then need deleting by hand to
    // start it with a key).
    let first = !existed && !outcome.failed();
    let must_save = outcome.lockfile_changed || first || lock.read_older_format();
    let saved = if must_save { lock.save(&opened.lockfile_path) } else { Ok(false) };
    let details = json!({"force": args.force, "secrets": args.secrets});
    let audited =
        audit_run(args.audit_log.as_deref(), "sync", file, &outcome, (&saved, existed), details);
    match (saved?, existed) {
        (true, false) => ui.done(&format!("Created lockfile {}", opened.lockfile_path.display())),
        (true, true) => ui.done(&format!("Updated lockfile {}", opened.lockfile_path.display())),
        (false, _) => debug!("lockfile unchanged"),
    }
    audited?;

    let auth = auth_exit(&targets, ui);
    // The process ends right after this. Freeing every node, name and hash one by one takes a
    // noticeable share of a large run; the operating system reclaims the memory at once.
    std::mem::forget((opened.file, lock, targets));
    if let Some(exit) = auth {
        return Ok(exit);
    }
    // A store that could not be read was not synced, whatever the plan assumed.
    Ok(if outcome.failed() || unread { Exit::Failure } else { Exit::Success })
}

/// Exit 3 when a remote store refused the credentials: nothing else can succeed until they
/// are fixed, whatever else failed.
pub(super) fn auth_exit(targets: &Targets, ui: &Ui) -> Option<Exit> {
    let failure = targets.auth_failure()?;
    ui.failure(&format!("Authentication failed: {failure}"), None);
    ui.info("  hint: `secretzero test` checks every provider's credentials and permissions");
    Some(Exit::Auth)
}

/// Creates and removes a temporary file where the lockfile will be written (following a
/// symbolic link, as saving does).
pub(super) fn check_writable(lockfile: &std::path::Path) -> Result<(), CliError> {
    crate::lockfile::check_writable(lockfile)
        .map_err(|source| CliError::Write { path: lockfile.to_path_buf(), source })
}

/// Appends the record of a sync or rotation to `--audit-log`, if given. `saved` is how saving
/// the lockfile went, and whether it existed before. A record that cannot be written fails
/// the command (exit 1), after it has reported what it did.
pub(super) fn audit_run(
    log: Option<&std::path::Path>,
    action: &str,
    file: &crate::secretfile::Secretfile,
    outcome: &Outcome,
    saved: (&Result<bool, crate::lockfile::LockfileError>, bool),
    mut details: serde_json::Value,
) -> Result<(), CliError> {
    use crate::api::audit::{self, Record, outcome as result};
    let lockfile = match saved {
        (Ok(true), false) => "created",
        (Ok(true), true) => "updated",
        (Ok(false), _) => "unchanged",
        (Err(_), _) => "not written",
    };
    if let serde_json::Value::Object(map) = &mut details {
        map.extend(audit::run_details(outcome, lockfile));
    }
    let failed = outcome.failed() || saved.0.is_err();
    let record = Record::new(
        jiff::Timestamp::now(),
        action,
        &file.path.display().to_string(),
        &audit::cli_caller(),
        if failed { result::FAILURE } else { result::SUCCESS },
    );
    super::audit::append(log, record.with_details(details))
}

pub(super) fn report(outcome: &Outcome, file: &crate::secretfile::Secretfile, ui: &Ui) {
    for name in &outcome.generated {
        ui.done(&format!("Generated secret: {name}"));
    }
    for name in &outcome.adopted {
        ui.done(&format!("Adopted the value its targets already hold: {name}"));
    }
    for (name, target) in &outcome.written {
        ui.done(&format!("Wrote {name} to {target}"));
    }
    for (name, targets) in &outcome.dropped {
        ui.done(&format!("Dropped {name} from the lockfile: the Secretfile no longer declares it"));
        if !targets.is_empty() {
            ui.info(&format!("  its value may still be in {}", targets.join(", ")));
        }
    }
    for (name, conflict) in &outcome.conflicts {
        ui.failure(&format!("Left {name} untouched: {conflict}"), None);
        ui.info(&format!(
            "  hint: remove the wrong values, or run `sync --force -s {name}` to replace them all"
        ));
    }
    for (name, error) in &outcome.generate_failures {
        ui.failure(&format!("Could not generate {name}"), Some(error));
        if let crate::generate::GenerateError::MissingStaticValue = error {
            let variables: Vec<&str> = file.secrets[name]
                .fields
                .iter()
                .filter(|f| {
                    matches!(&f.generator, crate::generate::Spec::Static(s) if s.value.is_none())
                })
                .map(|f| f.env_var.as_str())
                .collect();
            ui.info(&format!("  hint: set {} in the environment", variables.join(" and ")));
        }
    }
    for failure in &outcome.failures {
        ui.failure(
            &format!(
                "Failed to write {} to {}: {}",
                failure.secret,
                failure.target_id,
                error_chain(failure.error.as_ref())
            ),
            None,
        );
    }

    let failed = outcome.failures.len()
        + outcome.generate_failures.len()
        + outcome.conflicts.len()
        + outcome.not_rotated.len();
    let summary = format!(
        "Summary: generated {}, targets updated {}, unchanged {}, failed {}",
        outcome.generated.len(),
        outcome.written.len(),
        outcome.unchanged,
        failed,
    );
    if outcome.failed() {
        ui.failure(&summary, None);
    } else {
        ui.info(&summary);
    }
}
