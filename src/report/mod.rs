//! Findings and the renderers that turn them into what a person or a CI system reads.
//!
//! Every check (validation now; policy, drift and rotation later) produces [`Finding`]s; only
//! this module decides how they look. Findings hold names, rules and locations, never values.

mod plan;
mod text;

use std::path::PathBuf;

pub use plan::{plan_json, plan_text};
pub use text::render_text;

use crate::secretfile::Loc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// One problem, at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// A stable identifier such as `secretfile/unknown-key`, for SARIF rules and filtering.
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The file the finding is about, as the user named it.
    pub file: PathBuf,
    pub loc: Option<Loc>,
    /// The primary label shown under the excerpt.
    pub label: Option<String>,
    /// Other places that explain the finding, such as the first definition of a duplicate.
    pub related: Vec<(Loc, String)>,
    pub help: Option<String>,
}

impl Finding {
    pub fn error(rule: &'static str, file: PathBuf, loc: Option<Loc>, message: String) -> Self {
        Finding {
            rule,
            severity: Severity::Error,
            message,
            file,
            loc,
            label: None,
            related: Vec::new(),
            help: None,
        }
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
