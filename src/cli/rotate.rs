//! `secretzero rotate`: a new value for every secret that has fallen due, written to every
//! target and recorded as a rotation.

use clap::Args;
use jiff::Timestamp;

use super::output::{ReportArgs, Requested, deliver_with_text};
use super::status::stamp;
use super::sync::{auth_exit, check_writable, report};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui, check_selection, now, open};
use crate::engine::{self, Options, Targets};
use crate::generate::Spec;
use crate::lockfile::Lockfile;
use crate::report::{Check, CheckReport, Finding, Root, Severity};
use crate::rotation::{Schedule, schedule};
use crate::secretfile::{Secret, Secretfile, env_override};

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
}

/// What `rotate` decides for one secret.
#[derive(Debug)]
struct Decision<'a> {
    secret: &'a Secret,
    schedule: Schedule,
    rotate: bool,
    /// Why the secret rotates or waits.
    reason: String,
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
    let opened = open(global)?;
    let file = &opened.file;
    check_selection(file, &args.secrets)?;
    let now = now()?;
    let existed = opened.lockfile.is_some();
    let mut lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let decisions = decide(file, &lock, args, now);
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
    if rotating.is_empty() {
        ui.info("Nothing to rotate");
        return Ok(Exit::Success);
    }
    check_writable(&opened.lockfile_path)?;

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

    if outcome.lockfile_changed && lock.save(&opened.lockfile_path)? {
        let verb = if existed { "Updated" } else { "Created" };
        ui.done(&format!("{verb} lockfile {}", opened.lockfile_path.display()));
    }
    if let Some(exit) = auth_exit(&targets, ui) {
        return Ok(exit);
    }
    Ok(if outcome.failed() { Exit::Failure } else { Exit::Success })
}

/// Which secrets rotate, in Secretfile order. Secrets without a period are listed only when
/// named with -s, so that the list answers what the user asked about.
fn decide<'a>(
    file: &'a Secretfile,
    lock: &Lockfile,
    args: &RotateArgs,
    now: Timestamp,
) -> Vec<Decision<'a>> {
    let named = |secret: &Secret| args.secrets.contains(&secret.name);
    file.secrets
        .values()
        .filter(|secret| args.secrets.is_empty() || named(secret))
        .filter(|secret| secret.rotation_period.is_some() || named(secret))
        .map(|secret| {
            let schedule = schedule(secret, lock.secrets.get(&secret.name), now);
            let (rotate, reason) = match schedule {
                Schedule::NoPeriod => (false, "it has no rotation_period".to_string()),
                Schedule::NotSynced => {
                    (false, "it has never been synced; `secretzero sync` creates it".to_string())
                }
                _ if secret.one_time && !named(secret) => {
                    (false, format!("it is one_time; `rotate -s {}` rotates it", secret.name))
                }
                Schedule::Due { since } => (true, format!("due since {}", stamp(Some(since)))),
                Schedule::NotDue { next } if args.force => {
                    (true, format!("--force (due {})", stamp(Some(next))))
                }
                Schedule::NotDue { next } => {
                    (false, format!("not due until {}", stamp(Some(next))))
                }
            };
            Decision { secret, schedule, rotate, reason }
        })
        .collect()
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
                if d.rotate { "rotate" } else { "wait" }.to_string(),
                d.secret.rotation_period.map_or("-".to_string(), |(p, _)| p.to_string()),
                d.reason.clone(),
            ]
        })
        .collect();
    let header = ["SECRET", "ACTION", "PERIOD", "WHY"].map(str::to_string);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> =
            row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let count = decisions.iter().filter(|d| d.rotate).count();
    out.push_str(&format!("\n{count} to rotate.\n"));
    out
}

/// A finding for each secret that is due: where its period is, when it fell due, and whether a
/// rotation can give it a new value at all.
fn findings(file: &Secretfile, decisions: &[Decision<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for decision in decisions {
        let Schedule::Due { since } = decision.schedule else { continue };
        let secret = decision.secret;
        let loc = secret.rotation_period.map_or(secret.loc, |(_, loc)| loc);
        let period = secret.rotation_period.map(|(p, _)| p.to_string()).unwrap_or_default();
        let since = stamp(Some(since));
        let finding = |rule, severity, message: String| {
            Finding::new(rule, severity, file.path.clone(), Some(loc), message)
                .with_secret(&secret.name)
        };
        let fixed = secret.fields.iter().all(|field| {
            matches!(field.generator, Spec::Static(_)) || env_override(field).is_some()
        });
        if fixed && decision.rotate {
            findings.push(
                finding(
                    "rotation/fixed-value",
                    Severity::Warning,
                    format!(
                        "secret `{}` is due for rotation since {since}, but its value comes from \
                         the Secretfile or the environment, so a rotation cannot change it",
                        secret.name
                    ),
                )
                .with_help("change the value where it comes from, or make it generated"),
            );
            continue;
        }
        let (severity, message, help) = match decision.rotate {
            true => (
                Severity::Warning,
                format!(
                    "secret `{}` is due for rotation since {since} (every {period})",
                    secret.name
                ),
                "run `secretzero rotate`".to_string(),
            ),
            false => (
                Severity::Info,
                format!(
                    "secret `{}` is due for rotation since {since}, but {}",
                    secret.name, decision.reason
                ),
                format!("run `secretzero rotate -s {}` to rotate it", secret.name),
            ),
        };
        findings.push(finding("rotation/due", severity, message).with_help(help));
    }
    findings
}
