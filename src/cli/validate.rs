//! `secretzero validate`: every problem in the Secretfile at once, each at its place, in every
//! report format a CI system reads.

use clap::Args;

use super::output::{ReportArgs, Requested, deliver};
use super::{CliError, Exit, GlobalArgs, ReportFormat, Ui, open};
use crate::generate::Spec;
use crate::lockfile::Lockfile;
use crate::report::{Check, CheckReport, Finding, Root};
use crate::secretfile::{LoadError, Secretfile, env_override};

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

/// A `static` generator without `value` needs its environment variable, unless the lockfile
/// already records the value (then sync keeps what the targets hold). Other commands load such
/// a file: only a sync that needs the value fails, for that secret alone.
fn missing_static_values(file: &Secretfile, lock: Option<&Lockfile>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for secret in file.secrets.values() {
        let entry = lock.and_then(|l| l.secrets.get(&secret.name));
        for field in &secret.fields {
            let Spec::Static(spec) = &field.generator else { continue };
            let recorded = entry.is_some_and(|e| {
                e.fields.contains_key(&field.name)
                    || e.fields.contains_key(crate::lockfile::LEGACY_VALUE_FIELD)
            });
            if spec.value.is_some() || recorded || env_override(field).is_some() {
                continue;
            }
            let owner = match secret.is_single() {
                true => format!("secret `{}`", secret.name),
                false => format!("field `{}` of secret `{}`", field.name, secret.name),
            };
            findings.push(
                Finding::error(
                    "secretfile/static-value",
                    file.path.clone(),
                    Some(field.loc),
                    format!(
                        "the static generator of {owner} has no `value`, {} is not set, and the \
                         lockfile records no value",
                        field.env_var
                    ),
                )
                .with_help(format!(
                    "add `value:`, or set the environment variable {} when you validate and sync",
                    field.env_var
                )),
            );
        }
    }
    findings
}
