//! Findings and the renderers that turn them into what a person or a CI system reads.
//!
//! Every check (validation now; policy, drift and rotation later) produces [`Finding`]s and
//! hands them over as one [`CheckReport`]; only this module decides how they look. A report
//! holds names, rules and locations, never values. Each machine format lives in its own file and
//! sees the findings through [`prepare`], so all of them sort, locate and fingerprint alike.

mod github;
mod gitlab;
mod json;
mod markdown;
pub(crate) mod paths;
mod plan;
mod rules;
mod sarif;
mod text;

use std::collections::HashMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub use github::render_github;
pub use gitlab::render_gitlab;
pub use json::{render_json, report_value};
pub use markdown::{plan_markdown, render_markdown};
pub use paths::Root;
pub use plan::{plan_json, plan_text, plan_value};
pub use rules::{RULES, Rule, rule};
pub use sarif::render_sarif;
pub use text::render_text;

use crate::secretfile::Loc;

/// How much a finding matters. The order is most severe first, so sorting puts errors on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The check fails: the command exits 1.
    Error,
    /// Worth fixing, but the file can be used as it is.
    Warning,
    /// For information; nothing is wrong.
    Info,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Info];

    /// The name reports use: `error`, `warning` or `info`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The checks that produce findings. Each becomes its own SARIF run and summary section, so a
/// code-scanning upload of one check never closes the alerts of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// `secretzero validate`: the Secretfile's syntax, shape and settings.
    Validate,
    /// `secretzero policy`: the compliance packs and custom policies.
    Policy,
    /// `secretzero drift`: the targets and the Secretfile against the lockfile.
    Drift,
    /// `secretzero rotate --dry-run`: secrets that are due.
    Rotation,
}

impl Check {
    /// The command's name, as used in `automationDetails.id` (`secretzero/validate/`).
    pub fn name(self) -> &'static str {
        match self {
            Check::Validate => "validate",
            Check::Policy => "policy",
            Check::Drift => "drift",
            Check::Rotation => "rotation",
        }
    }
}

/// One problem, at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// A stable identifier such as `secretfile/unknown-key`: an `id` of [`RULES`].
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The secret the finding is about, when it is about one.
    pub secret: Option<String>,
    /// The file the finding is about, as the user named it.
    pub file: PathBuf,
    pub loc: Option<Loc>,
    /// The primary label shown under the excerpt.
    pub label: Option<String>,
    /// Other places that explain the finding, such as the first definition of a duplicate.
    pub related: Vec<(Loc, String)>,
    pub help: Option<String>,
    /// Further explanation, each shown as a `note:` line.
    pub notes: Vec<String>,
}

impl Finding {
    pub fn new(
        rule: &'static str,
        severity: Severity,
        file: PathBuf,
        loc: Option<Loc>,
        message: String,
    ) -> Self {
        Finding {
            rule,
            severity,
            message,
            secret: None,
            file,
            loc,
            label: None,
            related: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn error(rule: &'static str, file: PathBuf, loc: Option<Loc>, message: String) -> Self {
        Finding::new(rule, Severity::Error, file, loc, message)
    }

    pub fn warning(rule: &'static str, file: PathBuf, loc: Option<Loc>, message: String) -> Self {
        Finding::new(rule, Severity::Warning, file, loc, message)
    }

    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_related(mut self, loc: Loc, label: impl Into<String>) -> Self {
        self.related.push((loc, label.into()));
        self
    }

    /// Sets the help line of a finding already recorded.
    pub fn set_help(&mut self, help: impl Into<String>) {
        self.help = Some(help.into());
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The findings of one check, which every machine format keeps apart (one SARIF run each).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub check: Check,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }
}

/// A finding as the machine formats see it: its repository-relative path and its fingerprint.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub finding: &'a Finding,
    /// `/`-separated and relative to the repository root, or absolute when the file is outside.
    pub path: String,
    /// Whether `path` is relative to the repository root.
    pub in_root: bool,
    pub fingerprint: String,
}

/// Sorts findings by path, line, column, rule and message, and fingerprints each.
///
/// A fingerprint must survive edits elsewhere in the file, so it hashes what the finding is
/// about (check, rule, path, secret, and the message with its digits left out, since messages
/// quote line numbers), plus how many identical findings came before it. Lines and columns stay
/// out of it.
pub(crate) fn prepare<'a>(report: &'a CheckReport, root: &Root) -> Vec<Entry<'a>> {
    let mut entries: Vec<Entry<'a>> = report
        .findings
        .iter()
        .map(|finding| {
            let (path, in_root) = root.locate(&finding.file);
            Entry { finding, path, in_root, fingerprint: String::new() }
        })
        .collect();
    entries.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));

    let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
    for entry in &mut entries {
        let finding = entry.finding;
        let message: String = finding.message.chars().filter(|c| !c.is_ascii_digit()).collect();
        let mut hash = Sha256::new();
        for part in [
            report.check.name(),
            finding.rule,
            &entry.path,
            finding.secret.as_deref().unwrap_or(""),
            &message,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let base: [u8; 32] = hash.clone().finalize().into();
        let occurrence = seen.entry(base).or_insert(0);
        hash.update(occurrence.to_string().as_bytes());
        *occurrence += 1;
        entry.fingerprint = hex::encode(hash.finalize());
    }
    entries
}

fn sort_key<'e>(entry: &'e Entry<'_>) -> (&'e str, (usize, usize), &'e str, &'e str, Severity) {
    let (_, at, rule, message, severity) = finding_order(entry.finding);
    (&entry.path, at, rule, message, severity)
}

/// The order of findings in every format: by file, line, column, rule and message; a finding
/// with no line comes first in its file.
pub(crate) fn finding_order(
    finding: &Finding,
) -> (&std::path::Path, (usize, usize), &str, &str, Severity) {
    let at = finding.loc.map_or((0, 0), |l| (l.line, l.column));
    (&finding.file, at, finding.rule, &finding.message, finding.severity)
}

/// A finding's message with its help and notes, one per line, for formats with one text field.
pub(crate) fn full_message(finding: &Finding) -> String {
    let mut text = finding.message.clone();
    if let Some(help) = &finding.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    for note in &finding.notes {
        text.push_str("\nnote: ");
        text.push_str(note);
    }
    text
}

/// An error and its causes on one line, for per-target messages.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
pub(crate) mod fixture {
    //! Fixed findings shared by the renderers' exact tests.

    use super::*;

    pub fn loc(line: usize, column: usize) -> Loc {
        Loc { line, column, offset: 0, len: 1 }
    }

    /// Three findings out of order, one of each severity, with characters that need escaping.
    pub fn report() -> CheckReport {
        let file = PathBuf::from("Secretfile.yml");
        CheckReport {
            check: Check::Validate,
            findings: vec![
                Finding::warning(
                    "secretfile/ambient-variable",
                    file.clone(),
                    Some(loc(7, 3)),
                    "secret `path` takes its value from PATH, 100%: a, b".into(),
                )
                .with_secret("path")
                .with_help("rename the secret"),
                Finding::error(
                    "secretfile/unknown-key",
                    file.clone(),
                    Some(loc(2, 1)),
                    "unknown key `secrest` in the top level".into(),
                )
                .with_label("expected one of: version, secrets")
                .with_help("did you mean `secrets`?"),
                Finding::new(
                    "secretfile/duplicate-key",
                    Severity::Info,
                    file,
                    None,
                    "`a|b` is defined twice\r\nsee <here>".into(),
                )
                .with_related(loc(3, 5), "first defined here")
                .with_note("the later one wins"),
            ],
        }
    }

    /// A root that puts `Secretfile.yml` at `config/Secretfile.yml`.
    pub fn root() -> Root {
        Root::fixed("/repo", "/repo/config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_sorted_and_fingerprints_ignore_lines() {
        let report = fixture::report();
        let entries = prepare(&report, &fixture::root());
        let order: Vec<&str> = entries.iter().map(|e| e.finding.rule).collect();
        assert_eq!(
            order,
            ["secretfile/duplicate-key", "secretfile/unknown-key", "secretfile/ambient-variable"]
        );
        assert!(entries.iter().all(|e| e.path == "config/Secretfile.yml" && e.in_root));

        let mut moved = report.clone();
        moved.findings[1].loc = Some(fixture::loc(40, 9));
        moved.findings[1].message = "unknown key `secrest` in the top level".into();
        let again = prepare(&moved, &fixture::root());
        let prints = |e: &[Entry<'_>]| e.iter().map(|e| e.fingerprint.clone()).collect::<Vec<_>>();
        let (mut before, mut after) = (prints(&entries), prints(&again));
        before.sort();
        after.sort();
        assert_eq!(before, after);
    }

    /// Code scanning and GitLab match alerts across runs by fingerprint: a change to the hash
    /// reopens every alert, so it is pinned here and versioned in its SARIF key.
    #[test]
    fn the_fingerprint_construction_is_pinned() {
        let report = fixture::report();
        let entries = prepare(&report, &fixture::root());
        assert_eq!(
            entries[1].fingerprint,
            "806c185346322dc8a088a3607ab7c049c9c26543f8038a665a41da07d5f59496"
        );
    }

    #[test]
    fn identical_findings_get_distinct_fingerprints() {
        let mut report = fixture::report();
        report.findings.push(report.findings[1].clone());
        let entries = prepare(&report, &fixture::root());
        assert_eq!(entries[1].finding, entries[2].finding);
        assert_ne!(entries[1].fingerprint, entries[2].fingerprint);
    }
}
