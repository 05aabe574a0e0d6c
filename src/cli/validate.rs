//! `secretzero validate`: every problem in the Secretfile at once, each at its place, in every
//! report format a CI system reads.

use clap::Args;

use super::output::{ReportArgs, Requested, deliver};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui, open};
use crate::report::{Check, CheckReport, Finding, Root};
use crate::secretfile::{LoadError, missing_static_values};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub report: ReportArgs,
}

fn check(findings: Vec<Finding>) -> CheckReport {
    CheckReport { check: Check::Validate, findings }
}

pub fn run(
    global: &GlobalArgs,
    _: &ValidateArgs,
    requested: &Requested<ReportFormat>,
    ui: &Ui,
) -> Result<Exit, CliError> {
    let root = Root::for_secretfile(&global.file);
    let opened = match open(global) {
        Err(CliError::Load(LoadError::Invalid { path, findings, masked_source })) => {
            let count = findings.len();
            deliver(requested, check(findings), &masked_source, &root, true, ui)?;
            let noun = if count == 1 { "problem" } else { "problems" };
            ui.failure(&format!("{} has {count} {noun}", path.display()), None);
            return Ok(Exit::Failure);
        }
        // The reports still carry the syntax error, so CI shows it at its line; the excerpt
        // (on standard error) and the exit code stay those of a file that cannot be loaded.
        Err(CliError::Load(LoadError::Syntax { path, finding, source_text })) => {
            deliver(requested, check(vec![(*finding).clone()]), &source_text, &root, false, ui)?;
            return Err(CliError::Load(LoadError::Syntax { path, finding, source_text }));
        }
        other => other?,
    };

    // A lockfile that needs SECRETZERO_LOCK_KEY fails every other command without it.
    opened.lockfile.as_ref().map(|lock| lock.hasher()).transpose()?;
    let file = &opened.file;
    let errors = missing_static_values(file, opened.lockfile.as_ref());
    let findings: Vec<Finding> = errors.iter().chain(&file.warnings).cloned().collect();
    deliver(requested, check(findings), &file.masked_source, &root, true, ui)?;
    if !errors.is_empty() {
        let count = errors.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        ui.failure(&format!("{} has {count} {noun}", file.path.display()), None);
        return Ok(Exit::Failure);
    }
    let targets: usize = file.secrets.values().map(|s| s.targets.len()).sum();
    ui.done(&format!(
        "{} is valid: {} secret{}, {targets} target{}",
        file.path.display(),
        file.secrets.len(),
        if file.secrets.len() == 1 { "" } else { "s" },
        if targets == 1 { "" } else { "s" },
    ));
    Ok(Exit::Success)
}
