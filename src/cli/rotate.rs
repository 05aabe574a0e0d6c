//! `secretzero rotate`: a new value for every secret that has fallen due, written to every
//! target and recorded as a rotation.

use clap::Args;

use super::output::{ReportArgs, Requested, deliver_with_text, open_or_report};
use super::sync::{audit_run, auth_exit, check_writable, report};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui, check_selection, now};
use crate::engine::{self, Options, Targets};
use crate::lockfile::Lockfile;
use crate::report::{Check, CheckReport, Root};
use crate::rotation::{Decision, decide, findings};

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// List what would rotate and when each secret fell due, and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Rotate every secret that has a rotation period, due or not (`one_time` secrets only
    /// when named with -s)
    #[arg(long)]
    pub force: bool,

    /// Only this secret (repeat for several); also the only way to rotate a `one_time` secret
    #[arg(short = 's', long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Reports of --dry-run: the text view is the list; the other formats carry a finding per
    /// secret that is due
    #[command(flatten)]
    pub report: ReportArgs,

    /// Append a record of the run (not of a dry run) to this audit log, the JSON Lines file
    /// `secretzero serve` writes and `secretzero audit` reads
    #[arg(long, env = "SECRETZERO_AUDIT_LOG", value_name = "PATH")]
    pub audit_log: Option<std::path::PathBuf>,
}

pub fn run(
    global: &GlobalArgs,
    args: &RotateArgs,
    requested: &Requested<ReportFormat>,
    ui: &Ui,
) -> Result<Exit, CliError> {
    if !args.dry_run && !args.report.formats.is_empty() {
        return Err(CliError::Usage {
            message: "--format describes the list of `rotate --dry-run`".into(),
            hint: Some("add --dry-run, or leave --format out".into()),
        });
    }
    let opened = open_or_report(global, requested, Check::Rotation, ui)?;
    let file = &opened.file;
    check_selection(file, &args.secrets)?;
    let now = now()?;
    let existed = opened.lockfile.is_some();
    let mut lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let decisions = decide(file, &lock, &hasher, &args.secrets, args.force, now);
    if args.dry_run {
        let findings = CheckReport { check: Check::Rotation, findings: findings(file, &decisions) };
        let root = Root::for_secretfile(&global.file);
        deliver_with_text(requested, findings, &root, true, ui, |_, _| list_text(&decisions))?;
        return Ok(Exit::Success);
    }

    let rotating: Vec<String> =
        decisions.iter().filter(|d| d.rotate).map(|d| d.secret.name.clone()).collect();
    for decision in decisions.iter().filter(|d| !d.rotate && !args.secrets.is_empty()) {
        ui.info(&format!("Not rotating {}: {}", decision.secret.name, decision.reason));
    }
    let details = serde_json::json!({"force": args.force, "secrets": args.secrets});
    if rotating.is_empty() {
        ui.info("Nothing to rotate");
        let nothing = engine::Outcome::default();
        audit_run(
            args.audit_log.as_deref(),
            "rotate",
            file,
            &nothing,
            (&Ok(false), existed),
            details,
        )?;
        return Ok(Exit::Success);
    }
    check_writable(&opened.lockfile_path)?;
    super::audit::check_writable(args.audit_log.as_deref())?;

    let options = Options { only: rotating.clone(), rotate: rotating, ..Options::default() };
    let mut targets = Targets::new(file, &opened.lockfile_path);
    let plan = engine::plan(file, &lock, &hasher, &mut targets, &options);
    let outcome = engine::apply(
        plan,
        file,
        &mut lock,
        &hasher,
        &mut targets,
        now,
        &mut super::mask::observer(ui),
    );
    for name in &outcome.rotated {
        ui.done(&format!("Rotated {name}"));
    }
    for (name, why) in &outcome.not_rotated {
        ui.failure(&format!("Did not rotate {name}: {why}"), None);
    }
    report(&outcome, file, ui);

    let saved = if outcome.lockfile_changed { lock.save(&opened.lockfile_path) } else { Ok(false) };
    let audited =
        audit_run(args.audit_log.as_deref(), "rotate", file, &outcome, (&saved, existed), details);
    if saved? {
        let verb = if existed { "Updated" } else { "Created" };
        ui.done(&format!("{verb} lockfile {}", opened.lockfile_path.display()));
    }
    audited?;
    if let Some(exit) = auth_exit(&targets, ui) {
        return Ok(exit);
    }
    Ok(if outcome.failed() { Exit::Failure } else { Exit::Success })
}

fn list_text(decisions: &[Decision<'_>]) -> String {
    if decisions.is_empty() {
        return "No secret has a rotation period.\n".to_string();
    }
    let rows: Vec<[String; 4]> = decisions
        .iter()
        .map(|d| {
            [
                d.secret.name.clone(),
                match (d.rotate, d.fixed) {
                    (true, true) => "fixed",
                    (true, false) => "rotate",
                    (false, _) => "wait",
                }
                .to_string(),
                d.secret.rotation_period.map_or("-".to_string(), |(p, _)| p.to_string()),
                match d.rotate && d.fixed {
                    true => format!(
                        "{}, but its value comes from the Secretfile or the environment and is \
                         still the recorded one",
                        d.reason
                    ),
                    false => d.reason.clone(),
                },
            ]
        })
        .collect();
    let header = ["SECRET", "ACTION", "PERIOD", "WHY"].map(str::to_string);
    let mut out = super::output::columns(&[&[header][..], &rows].concat());
    let count = decisions.iter().filter(|d| d.rotate && !d.fixed).count();
    out.push_str(&format!("\n{count} to rotate.\n"));
    let fixed = decisions.iter().filter(|d| d.rotate && d.fixed).count();
    if fixed > 0 {
        out.push_str(&format!(
            "{fixed} due but fixed: set a new value where it comes from, then run rotate.\n"
        ));
    }
    out
}
