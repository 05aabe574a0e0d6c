//! `secretzero drift [NAME]`: where the targets and the Secretfile no longer match the lockfile.

use std::io::Write;

use clap::Args;

use super::{CliError, Exit, GlobalArgs, Ui, check_selection, open};
use crate::engine::Targets;
use crate::lockfile::Lockfile;
use crate::report::render_text;

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only this secret
    pub name: Option<String>,
}

pub fn run(global: &GlobalArgs, args: &DriftArgs, ui: &Ui) -> Result<Exit, CliError> {
    let opened = open(global)?;
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

    let mut targets = Targets::new(&file.path, &opened.lockfile_path);
    let report =
        crate::drift::check(file, &lock, &hasher, &mut targets, &only, &opened.lockfile_path);
    let text = render_text(&report.findings, Some(&file.masked_source), true);
    let _ = write!(anstream::stdout(), "{text}");

    let checked = format!(
        "{} secret{} and {} target{} checked",
        report.secrets,
        if report.secrets == 1 { "" } else { "s" },
        report.targets,
        if report.targets == 1 { "" } else { "s" },
    );
    if report.drifted() {
        let count = report.findings.iter().filter(|f| f.rule != crate::drift::rule::UNREADABLE);
        ui.failure(&format!("Drift found: {} difference(s); {checked}", count.count()), None);
        Ok(Exit::Drift)
    } else {
        let unknown = report.findings.len();
        match unknown {
            0 => ui.done(&format!("No drift: {checked}")),
            n => ui.warn(&format!(
                "No drift found, but {n} target(s) could not be read back; {checked}"
            )),
        }
        Ok(Exit::Success)
    }
}
