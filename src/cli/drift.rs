//! `secretzero drift [NAME]`: where the targets and the Secretfile no longer match the lockfile.

use clap::Args;

use super::output::{ReportArgs, Requested, deliver, open_or_report};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui, check_selection};
use crate::engine::Targets;
use crate::lockfile::Lockfile;
use crate::report::{Check, CheckReport, Root};

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only this secret
    pub name: Option<String>,

    #[command(flatten)]
    pub report: ReportArgs,
}

pub fn run(
    global: &GlobalArgs,
    args: &DriftArgs,
    requested: &Requested<ReportFormat>,
    ui: &Ui,
) -> Result<Exit, CliError> {
    let opened = open_or_report(global, requested, Check::Drift, ui)?;
    let file = &opened.file;
    let only: Vec<String> = args.name.iter().cloned().collect();
    if opened
        .lockfile
        .as_ref()
        .is_none_or(|lock| !only.iter().any(|name| lock.secrets.contains_key(name)))
    {
        check_selection(file, &only)?;
    }
    if opened.lockfile.is_none() {
        ui.warn(&format!(
            "no lockfile at {}: nothing has been synced yet",
            opened.lockfile_path.display()
        ));
    }
    let lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let mut targets = Targets::new(file, &opened.lockfile_path);
    let report =
        crate::drift::check(file, &lock, &hasher, &mut targets, &only, &opened.lockfile_path);
    let drifted = report.drifted();
    let unread = report.unread();
    let findings = CheckReport { check: Check::Drift, findings: report.findings };
    let root = Root::for_secretfile(&global.file);
    deliver(requested, findings.clone(), &file.masked_source, &root, true, ui)?;

    let checked = format!(
        "{} secret{} and {} target{} checked",
        report.secrets,
        if report.secrets == 1 { "" } else { "s" },
        report.targets,
        if report.targets == 1 { "" } else { "s" },
    );
    if let Some(exit) = super::sync::auth_exit(&targets, ui) {
        return Ok(exit);
    }
    if drifted {
        let count = findings.findings.iter().filter(|f| f.rule != crate::drift::rule::UNREADABLE);
        ui.failure(&format!("Drift found: {} difference(s); {checked}", count.count()), None);
        Ok(Exit::Drift)
    } else if unread > 0 {
        ui.failure(
            &format!("Drift unknown: {unread} target(s) could not be read; {checked}"),
            None,
        );
        Ok(Exit::Failure)
    } else {
        match findings.findings.len() {
            0 => ui.done(&format!("No drift: {checked}")),
            n => ui.warn(&format!(
                "No drift found, but {n} target(s) never give their value back; {checked}"
            )),
        }
        Ok(Exit::Success)
    }
}
