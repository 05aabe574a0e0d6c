//! `secretzero policy`: the compliance packs and custom policies, checked against the
//! Secretfile and the lockfile.

use clap::Args;

use super::output::{ReportArgs, Requested, deliver, open_or_report};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui};
use crate::policy::FailOn;
use crate::report::{Check, CheckReport, Root, Severity};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The least severe finding that fails the check (exit 1)
    #[arg(long, value_enum, default_value_t = FailOn::Error, value_name = "LEVEL")]
    pub fail_on: FailOn,

    #[command(flatten)]
    pub report: ReportArgs,
}

pub fn run(
    global: &GlobalArgs,
    args: &PolicyArgs,
    requested: &Requested<ReportFormat>,
    ui: &Ui,
) -> Result<Exit, CliError> {
    let opened = open_or_report(global, requested, Check::Policy, ui)?;
    let file = &opened.file;
    let report = crate::policy::check(file, opened.lockfile.as_ref());

    // Reports are written even when no policy applies, so that a CI step uploading them finds
    // its files (an empty SARIF run also closes the alerts of policies since removed).
    let root = Root::for_secretfile(&global.file);
    let findings = CheckReport { check: Check::Policy, findings: report.findings.clone() };
    deliver(requested, findings, &file.masked_source, &root, true, ui)?;
    if report.packs.is_empty() && report.custom == 0 {
        ui.warn(&format!(
            "{} switches on no policy: list packs in `metadata.compliance` (soc2, iso27001) or \
             add `policies`",
            file.path.display()
        ));
        return Ok(Exit::Success);
    }

    let count = |severity| report.findings.iter().filter(|f| f.severity == severity).count();
    let mut checked: Vec<String> = report.packs.clone();
    match report.custom {
        0 => {}
        1 => checked.push("1 custom policy".to_string()),
        n => checked.push(format!("{n} custom policies")),
    }
    let summary = format!(
        "{} error(s), {} warning(s), {} note(s) from {}",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        checked.join(", ")
    );
    if report.findings.iter().any(|f| args.fail_on.fails(f.severity)) {
        ui.failure(&format!("Policy check failed: {summary}"), None);
        Ok(Exit::Failure)
    } else {
        ui.done(&format!("Policy check passed: {summary}"));
        Ok(Exit::Success)
    }
}
