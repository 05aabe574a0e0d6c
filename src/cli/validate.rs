//! `secretzero validate`: every problem in the Secretfile at once, each at its place.

use std::io::Write;

use clap::Args;

use super::{CliError, Exit, GlobalArgs, Ui, open};
use crate::report::render_text;
use crate::secretfile::LoadError;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(global: &GlobalArgs, _: &ValidateArgs, ui: &Ui) -> Result<Exit, CliError> {
    // The findings are this command's report, so they go to standard output.
    let opened = match open(global) {
        Err(CliError::Load(LoadError::Invalid { path, findings, masked_source })) => {
            let text = render_text(&findings, Some(&masked_source), true);
            let _ = write!(anstream::stdout(), "{text}");
            let count = findings.len();
            let noun = if count == 1 { "problem" } else { "problems" };
            ui.failure(&format!("{} has {count} {noun}", path.display()), None);
            return Ok(Exit::Failure);
        }
        other => other?,
    };

    // A lockfile that needs SECRETZERO_LOCK_KEY fails every other command without it.
    opened.lockfile.as_ref().map(|lock| lock.hasher()).transpose()?;
    let file = &opened.file;
    if !file.warnings.is_empty() {
        let text = render_text(&file.warnings, Some(&file.masked_source), true);
        let _ = write!(anstream::stdout(), "{text}");
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
