//! Messages for people, on standard error: quiet and verbose levels, colour only where it
//! belongs (a terminal, unless NO_COLOR or `--color` says otherwise).

use std::io::Write;

use anstyle::{AnsiColor, Style};

use super::{CliError, ColorChoice, GlobalArgs};
use crate::report::{Finding, render_text};
use crate::secretfile::LoadError;

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default();

#[derive(Debug)]
pub struct Ui {
    quiet: bool,
}

impl Ui {
    pub fn new(global: &GlobalArgs) -> Ui {
        let choice = match global.color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
        Ui { quiet: global.quiet }
    }

    /// Debug logs record decisions (`-v`), trace logs more (`-vv`); both name secrets and
    /// targets, never values.
    pub fn init_logging(&self, verbose: u8) {
        // Only SecretZero's own logs: SDKs log their retries and failures with request details,
        // and SecretZero reports the failures that matter itself.
        let level = match (self.quiet, verbose) {
            (true, _) => "secretzero=error",
            (false, 0) => "secretzero=warn",
            (false, 1) => "secretzero=debug",
            (false, _) => "secretzero=trace",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("SECRETZERO_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(anstream::stderr)
            .without_time()
            .with_target(false)
            .try_init();
    }

    /// Progress and results, unless `--quiet`.
    pub fn info(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(anstream::stderr(), "{message}");
        }
    }

    /// A line that starts with a green mark.
    pub fn done(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(anstream::stderr(), "{GOOD}✓{GOOD:#} {message}");
        }
    }

    pub fn warn(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(anstream::stderr(), "{WARNING}warning:{WARNING:#} {message}");
        }
    }

    /// A failure that does not end the command (one target among several).
    pub fn failure(&self, message: &str, cause: Option<&dyn std::error::Error>) {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{ERROR}✗{ERROR:#} {message}");
        let mut cause = cause;
        while let Some(error) = cause {
            let _ = writeln!(err, "  caused by: {error}");
            cause = error.source();
        }
    }

    /// Findings with source excerpts.
    pub fn findings(&self, findings: &[Finding], source: Option<&str>) {
        let text = render_text(findings, source, true);
        let _ = write!(anstream::stderr(), "{text}");
    }

    /// An error that ends the command: `error:`, then each `caused by:`, then `hint:`.
    pub fn error(&self, error: &CliError) {
        match error {
            CliError::Load(LoadError::Invalid { findings, masked_source, .. }) => {
                self.findings(findings, Some(masked_source));
            }
            CliError::Migrate(crate::migrate::MigrateError::Invalid(LoadError::Invalid {
                findings,
                masked_source,
                ..
            })) => {
                self.findings(findings, Some(masked_source));
            }
            CliError::Load(LoadError::Syntax { finding, source_text, .. }) => {
                self.findings(std::slice::from_ref(finding), Some(source_text));
            }
            _ => {}
        }
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{ERROR}error:{ERROR:#} {error}");
        let mut cause = std::error::Error::source(error);
        while let Some(source) = cause {
            let _ = writeln!(err, "  caused by: {source}");
            cause = source.source();
        }
        if let Some(hint) = error.hint() {
            let _ = writeln!(err, "{HINT}hint:{HINT:#} {hint}");
        }
    }

    /// A report meant for people, on standard error, unless `--quiet`: the text view when
    /// standard output carries another format.
    pub fn human(&self, text: &str) {
        if !self.quiet {
            let _ = write!(anstream::stderr(), "{text}");
        }
    }

    /// Data for standard output.
    pub fn data(&self, text: &str) {
        let mut out = anstream::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}
