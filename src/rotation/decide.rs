//! Which secrets a rotation run rotates, and the findings of `rotate --dry-run`. The CLI and the
//! HTTP API both decide here, so they never disagree about what is due.

use jiff::Timestamp;

use super::{Schedule, schedule, stamp};
use crate::generate::Spec;
use crate::lockfile::{Hasher, Lockfile, SecretEntry};
use crate::report::{Finding, Severity};
use crate::secretfile::{Secret, Secretfile, env_override};
use secrecy::ExposeSecret;

/// What a rotation run decides for one secret.
#[derive(Debug)]
pub struct Decision<'a> {
    pub secret: &'a Secret,
    pub schedule: Schedule,
    pub rotate: bool,
    /// Every field's value comes from a static value or the environment and is still the
    /// recorded one, so rotating cannot give the secret a new value.
    pub fixed: bool,
    /// Why the secret rotates or waits.
    pub reason: String,
}

/// Which secrets rotate, in Secretfile order. `named` limits the run (and is the only way to
/// rotate a `one_time` secret); `force` rotates secrets that are not due yet. Secrets without a
/// period are listed only when named, so that the list answers what the user asked about.
pub fn decide<'a>(
    file: &'a Secretfile,
    lock: &Lockfile,
    hasher: &Hasher,
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
            let entry = lock.secrets.get(&secret.name);
            let schedule = schedule(secret, entry, now);
            let fixed = entry.is_some_and(|entry| fixed_and_recorded(secret, entry, hasher));
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
            Decision { secret, schedule, rotate, fixed, reason }
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
