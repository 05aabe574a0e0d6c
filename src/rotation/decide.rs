//! Which secrets a rotation run rotates, and the findings of `rotate --dry-run`. The CLI and the
//! HTTP API both decide here, so they never disagree about what is due.

use jiff::Timestamp;

use super::{Schedule, schedule, stamp};
use crate::generate::Spec;
use crate::lockfile::Lockfile;
use crate::report::{Finding, Severity};
use crate::secretfile::{Secret, Secretfile, env_override};

/// What a rotation run decides for one secret.
#[derive(Debug)]
pub struct Decision<'a> {
    pub secret: &'a Secret,
    pub schedule: Schedule,
    pub rotate: bool,
    /// Why the secret rotates or waits.
    pub reason: String,
}

/// Which secrets rotate, in Secretfile order. `named` limits the run (and is the only way to
/// rotate a `one_time` secret); `force` rotates secrets that are not due yet. Secrets without a
/// period are listed only when named, so that the list answers what the user asked about.
pub fn decide<'a>(
    file: &'a Secretfile,
    lock: &Lockfile,
    named: &[String],
    force: bool,
    now: Timestamp,
) -> Vec<Decision<'a>> {
    let is_named = |secret: &Secret| named.contains(&secret.name);
    file.secrets
        .values()
        .filter(|secret| named.is_empty() || is_named(secret))
        .filter(|secret| secret.rotation_period.is_some() || is_named(secret))
        .map(|secret| {
            let schedule = schedule(secret, lock.secrets.get(&secret.name), now);
            let (rotate, reason) = match schedule {
                Schedule::NoPeriod => (false, "it has no rotation_period".to_string()),
                Schedule::NotSynced => {
                    (false, "it has never been synced; `secretzero sync` creates it".to_string())
                }
                _ if secret.one_time && !is_named(secret) => {
                    (false, format!("it is one_time; `rotate -s {}` rotates it", secret.name))
                }
                Schedule::Due { since } => (true, format!("due since {}", stamp(Some(since)))),
                Schedule::NotDue { next } if force => {
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

/// A finding for each secret that is due: where its period is, when it fell due, and whether a
/// rotation can give it a new value at all.
pub fn findings(file: &Secretfile, decisions: &[Decision<'_>]) -> Vec<Finding> {
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
