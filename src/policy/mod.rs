//! Policy: the built-in compliance packs that `metadata.compliance` switches on, and the custom
//! policies under `policies:`. Each check yields [`Finding`]s at the place in the Secretfile
//! that breaks the rule; nothing here reads a target or prints.
//!
//! The rules and their texts are in the catalogue, `crate::report::RULES`; custom policies of
//! one kind share a rule (`custom/rotation`, `custom/access`, `custom/generator`) and their
//! findings name the policy.
//!
//! Periods are compared by their nominal length (a day is 1, a week 7, a month 30 and a year
//! 365 days), so `3m` meets a 90-day limit and `1y` a 365-day one, as people mean them.

use crate::generate::Spec;
use crate::lockfile::Lockfile;
use crate::report::{Finding, Severity};
use crate::rotation::{Period, Unit};
use crate::secretfile::{
    CharClass, Field, Policy, PolicyRule, Secret, Secretfile, TargetDef, TargetKind,
};

/// What `secretzero policy` found.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// The packs and custom policies that ran, for the summary.
    pub packs: Vec<String>,
    pub custom: usize,
}

/// The least severe finding that fails a policy check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

/// Evaluates every pack that `metadata.compliance` names and every custom policy.
/// `lock` is `None` when there is no lockfile yet.
pub fn check(file: &Secretfile, lock: Option<&Lockfile>) -> Report {
    let mut report = Report {
        packs: file.metadata.compliance.iter().map(|(name, _)| name.clone()).collect(),
        custom: file.policies.len(),
        ..Report::default()
    };
    let mut out = Out { file, findings: &mut report.findings };
    for (pack, _) in &file.metadata.compliance {
        match pack.as_str() {
            "soc2" => soc2(&mut out, lock),
            "iso27001" => iso27001(&mut out),
            // The loader refuses any other name.
            _ => {}
        }
    }
    for policy in &file.policies {
        custom(&mut out, policy);
    }
    report.findings.sort_by_key(|f| (f.loc.map(|l| (l.line, l.column)), f.rule));
    report
}

/// Collects findings about one Secretfile.
struct Out<'a> {
    file: &'a Secretfile,
    findings: &'a mut Vec<Finding>,
}

impl Out<'_> {
    #[expect(clippy::too_many_arguments, reason = "a finding has this many parts")]
    fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        secret: &Secret,
        loc: crate::secretfile::Loc,
        message: String,
        help: String,
        note: Option<String>,
    ) {
        let mut finding = Finding::new(rule, severity, self.file.path.clone(), Some(loc), message)
            .with_secret(&secret.name)
            .with_help(help);
        finding.notes.extend(note);
        self.findings.push(finding);
    }

    /// A finding of a built-in rule, with the catalogue's fix.
    fn builtin(
        &mut self,
        rule: &'static str,
        secret: &Secret,
        loc: crate::secretfile::Loc,
        message: String,
    ) {
        let help = crate::report::rule(rule).map_or("", |r| r.help).to_string();
        self.push(rule, Severity::Error, secret, loc, message, help, None);
    }
}

/// The nominal length of a period, in days.
fn nominal_days(period: Period) -> u64 {
    let per_unit = match period.unit {
        Unit::Day => 1,
        Unit::Week => 7,
        Unit::Month => 30,
        Unit::Year => 365,
    };
    u64::from(period.count) * per_unit
}

/// The rotation period rules that both packs share: a period, no longer than `max_days`.
fn rotation_rules(out: &mut Out<'_>, required: &'static str, max: &'static str, max_days: u64) {
    for secret in out.file.secrets.values() {
        match secret.rotation_period {
            None => out.builtin(
                required,
                secret,
                secret.loc,
                format!("secret `{}` has no rotation period", secret.name),
            ),
            Some((period, loc)) if nominal_days(period) > max_days => out.builtin(
                max,
                secret,
                loc,
                format!(
                    "secret `{}` rotates every {period} ({} days), more than {max_days} days",
                    secret.name,
                    nominal_days(period)
                ),
            ),
            Some(_) => {}
        }
    }
}

fn soc2(out: &mut Out<'_>, lock: Option<&Lockfile>) {
    rotation_rules(out, "soc2/rotation-required", "soc2/rotation-max-90d", 90);
    for secret in out.file.secrets.values() {
        if !lock.is_some_and(|l| l.secrets.contains_key(&secret.name)) {
            out.builtin(
                "soc2/tracked",
                secret,
                secret.loc,
                format!("secret `{}` is not tracked in the lockfile", secret.name),
            );
        }
        for field in &secret.fields {
            if let Spec::Static(spec) = &field.generator
                && spec.value.is_some()
                && field.sensitive
            {
                out.builtin(
                    "soc2/no-literal-values",
                    secret,
                    field.loc,
                    format!("{} has its value written in the Secretfile", owner(secret, field)),
                );
            }
        }
    }
}

fn iso27001(out: &mut Out<'_>) {
    rotation_rules(out, "iso27001/rotation-required", "iso27001/rotation-max-365d", 365);
    for secret in out.file.secrets.values() {
        for field in &secret.fields {
            if let Some(length) = random_length(&field.generator)
                && length < 16
            {
                out.builtin(
                    "iso27001/password-length",
                    secret,
                    field.loc,
                    format!(
                        "{} draws {length} characters; at least 16 are required",
                        owner(secret, field)
                    ),
                );
            }
        }
    }
}

fn custom(out: &mut Out<'_>, policy: &Policy) {
    let rule = match policy.rule {
        PolicyRule::Rotation { .. } => "custom/rotation",
        PolicyRule::Access { .. } => "custom/access",
        PolicyRule::Generator { .. } => "custom/generator",
    };
    let selected = out
        .file
        .secrets
        .values()
        .filter(|s| policy.secrets.as_ref().is_none_or(|set| set.is_match(&s.name)));
    let name = &policy.name;
    let mut found: Vec<Found> = Vec::new();
    match &policy.rule {
        PolicyRule::Rotation { require, max_age } => {
            for secret in selected {
                match (secret.rotation_period, max_age) {
                    (None, _) if *require => found.push((
                        secret,
                        secret.loc,
                        format!("secret `{}` has no rotation period", secret.name),
                        match max_age {
                            Some((max, _)) => format!("add `rotation_period: {max}` or shorter"),
                            None => "add a `rotation_period` such as 90d".to_string(),
                        },
                    )),
                    (Some((period, loc)), Some((max, _)))
                        if nominal_days(period) > nominal_days(*max) =>
                    {
                        found.push((
                            secret,
                            loc,
                            format!(
                                "secret `{}` rotates every {period}, longer than the {max} that \
                                 policy `{name}` allows",
                                secret.name
                            ),
                            format!("shorten `rotation_period` to {max} or less"),
                        ));
                    }
                    _ => {}
                }
            }
        }
        PolicyRule::Access { environments, allowed, denied } => {
            let environment = out.file.variables.get("environment");
            let applies = match (environments, environment) {
                (None, _) => true,
                (Some(set), Some(environment)) => set.is_match(environment),
                (Some(_), None) => false,
            };
            if applies {
                let context = match environment {
                    Some(environment) if environments.is_some() => {
                        format!(" in environment `{environment}`")
                    }
                    _ => String::new(),
                };
                for secret in selected {
                    for target in &secret.targets {
                        let kind = target_type(target);
                        let refused = denied.iter().any(|d| d == kind)
                            || allowed.as_ref().is_some_and(|a| !a.iter().any(|t| t == kind));
                        if refused {
                            let help = match allowed {
                                Some(allowed) if !allowed.is_empty() => format!(
                                    "write it to {} instead",
                                    allowed
                                        .iter()
                                        .map(|t| format!("`{t}`"))
                                        .collect::<Vec<_>>()
                                        .join(" or ")
                                ),
                                _ => "remove this target".to_string(),
                            };
                            found.push((
                                secret,
                                target.loc,
                                format!(
                                    "secret `{}` may not be written to {kind} targets{context}",
                                    secret.name
                                ),
                                help,
                            ));
                        }
                    }
                }
            }
        }
        PolicyRule::Generator { min_length, classes } => {
            for secret in selected {
                for field in &secret.fields {
                    generator_rule(secret, field, *min_length, classes, &mut found);
                }
            }
        }
    }
    for (secret, loc, message, fix) in found {
        let note = match &policy.description {
            Some(why) => format!("policy `{name}`: {why}"),
            None => format!("policy `{name}`"),
        };
        out.push(rule, policy.severity, secret, loc, message, fix, Some(note));
    }
}

/// A custom policy's finding before it is recorded: about what, where, what, and the fix.
type Found<'a> = (&'a Secret, crate::secretfile::Loc, String, String);

fn generator_rule<'a>(
    secret: &'a Secret,
    field: &Field,
    min_length: Option<usize>,
    classes: &[CharClass],
    found: &mut Vec<Found<'a>>,
) {
    // Static and script values are not drawn here, so their shape is not ours to promise.
    let Some(length) = random_length(&field.generator) else { return };
    let who = owner(secret, field);
    if let Some(min) = min_length
        && length < min
    {
        found.push((
            secret,
            field.loc,
            format!("{who} draws {length} characters; at least {min} needed"),
            format!("set `length: {min}` or more"),
        ));
    }
    let missing: Vec<&str> = classes
        .iter()
        .filter(|class| !guarantees(&field.generator, **class))
        .map(|class| class.name())
        .collect();
    if !missing.is_empty() {
        let fix = match field.generator {
            Spec::RandomString(_) => {
                "use random-password, which puts one character of every class it draws from \
                 in each value"
            }
            _ => "turn the class on and leave some of its characters out of exclude_characters",
        };
        found.push((
            secret,
            field.loc,
            format!("{who} does not guarantee {} characters", missing.join(", ")),
            fix.to_string(),
        ));
    }
}

/// Whether every value the generator makes holds a character of `class`: a random password
/// puts one of every enabled, non-empty class in each value.
fn guarantees(spec: &Spec, class: CharClass) -> bool {
    let Spec::RandomPassword(p) = spec else { return false };
    let (on, chars) = match class {
        CharClass::Upper => (p.include_upper, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        CharClass::Lower => (p.include_lower, "abcdefghijklmnopqrstuvwxyz"),
        CharClass::Numbers => (p.include_numbers, "0123456789"),
        CharClass::Symbols => {
            (p.include_symbols, p.symbols.as_deref().unwrap_or(crate::generate::DEFAULT_SYMBOLS))
        }
    };
    on && chars.chars().any(|c| !p.exclude_characters.contains(c))
}

/// The number of characters a random generator draws; `None` for static and script values.
fn random_length(spec: &Spec) -> Option<usize> {
    match spec {
        Spec::RandomPassword(p) => Some(p.length),
        Spec::RandomString(s) => Some(s.length),
        Spec::Static(_) | Spec::Script(_) => None,
    }
}

fn owner(secret: &Secret, field: &Field) -> String {
    match secret.is_single() {
        true => format!("secret `{}`", secret.name),
        false => format!("field `{}` of secret `{}`", field.name, secret.name),
    }
}

fn target_type(target: &TargetDef) -> &'static str {
    match &target.kind {
        TargetKind::LocalFile(_) => "local-file",
        TargetKind::Remote(remote) => remote.kind.name(),
    }
}
