//! `secretzero policy`: the compliance packs and custom policies, checked against the
//! Secretfile and the lockfile.

use std::io::Write;

use clap::{Args, ValueEnum};

use super::{CliError, Exit, GlobalArgs, Ui, open};
use crate::report::{Severity, render_text};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The least severe finding that fails the check (exit 1)
    #[arg(long, value_enum, default_value_t = FailOn::Error, value_name = "LEVEL")]
    pub fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Fail on errors
    Error,
    /// Fail on errors and warnings
    Warning,
    /// Never fail; report only
    Never,
}

impl FailOn {
    pub fn fails(self, severity: Severity) -> bool {
        match self {
            FailOn::Error => severity == Severity::Error,
            FailOn::Warning => severity <= Severity::Warning,
            FailOn::Never => false,
        }
    }
}

pub fn run(global: &GlobalArgs, args: &PolicyArgs, ui: &Ui) -> Result<Exit, CliError> {
    let opened = open(global)?;
    let file = &opened.file;
    let report = crate::policy::check(file, opened.lockfile.as_ref());
    if report.packs.is_empty() && report.custom == 0 {
        ui.warn(&format!(
            "{} switches on no policy: list packs in `metadata.compliance` (soc2, iso27001) or \
             add `policies`",
            file.path.display()
        ));
        return Ok(Exit::Success);
    }

    let text = render_text(&report.findings, Some(&file.masked_source), true);
    let _ = write!(anstream::stdout(), "{text}");

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
