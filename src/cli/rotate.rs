//! `secretzero rotate`: a new value for every secret that has fallen due, written to every
//! target and recorded as a rotation.

use clap::Args;
use jiff::Timestamp;

use super::output::{ReportArgs, Requested, deliver_with_text, open_or_report};
use super::status::stamp;
use super::sync::{check_writable, report};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui, check_selection, now};
use crate::engine::{self, Options, Targets};
use crate::generate::Spec;
use crate::lockfile::{Hasher, Lockfile, SecretEntry};
use crate::report::{Check, CheckReport, Finding, Root, Severity};
use crate::rotation::{Schedule, schedule};
use crate::secretfile::{Secret, Secretfile, env_override};
use secrecy::ExposeSecret;

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
    /// Every field's value comes from a static value or the environment and is still the
    /// recorded one, so rotating cannot give the secret a new value.
    fixed: bool,
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
    let opened = open_or_report(global, requested, Check::Rotation, ui)?;
    let file = &opened.file;
    check_selection(file, &args.secrets)?;
    let now = now()?;
    let existed = opened.lockfile.is_some();
    let mut lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let decisions = decide(file, &lock, &hasher, args, now);
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
    let mut targets = Targets::new(&file.path, &opened.lockfile_path);
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
    Ok(if outcome.failed() { Exit::Failure } else { Exit::Success })
}

/// Which secrets rotate, in Secretfile order. Secrets without a period are listed only when
/// named with -s, so that the list answers what the user asked about.
fn decide<'a>(
    file: &'a Secretfile,
    lock: &Lockfile,
    hasher: &Hasher,
    args: &RotateArgs,
    now: Timestamp,
) -> Vec<Decision<'a>> {
    let named = |secret: &Secret| args.secrets.contains(&secret.name);
    file.secrets
        .values()
        .filter(|secret| args.secrets.is_empty() || named(secret))
        .filter(|secret| secret.rotation_period.is_some() || named(secret))
        .map(|secret| {
            let entry = lock.secrets.get(&secret.name);
            let schedule = schedule(secret, entry, now);
            let fixed = entry.is_some_and(|entry| fixed_and_recorded(secret, entry, hasher));
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
            Decision { secret, schedule, rotate, fixed, reason }
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
        if decision.fixed && decision.rotate {
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

/// Whether every field of `secret` takes a fixed value (static, or from the environment) that
/// the lockfile already records: then a rotation would write the same value again.
fn fixed_and_recorded(secret: &Secret, entry: &SecretEntry, hasher: &Hasher) -> bool {
    secret.fields.iter().all(|field| {
        let value = match (env_override(field), &field.generator) {
            (Some(value), _) => value,
            (None, Spec::Static(spec)) => match &spec.value {
                Some(value) => value.clone(),
                None => return false,
            },
            (None, _) => return false,
        };
        entry.fields.get(&field.name).is_some_and(|recorded| {
            hasher.matches(recorded, &secret.name, &field.name, value.expose_secret().as_bytes())
        })
    })
}
