//! `--format` and `--output`: which reports a command writes, and where each goes.
//!
//! Each `--output` belongs to the `--format` right before it, so one CI step can write the
//! SARIF file, the annotations and the job summary together. A format without an `--output`
//! goes to standard output, which carries one format at most. The text view is for the person
//! at the terminal: it is printed to standard output when no other format claims it, and
//! otherwise to standard error, so standard output stays one machine-readable document.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{ArgMatches, Args};

use super::{CliError, ReportFormat, Ui};
use crate::report::{
    Check, CheckReport, Root, render_github, render_gitlab, render_json, render_markdown,
    render_sarif, render_text,
};

/// `--format` and `--output` for commands whose report is a list of findings.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report format; repeat `--format F [--output FILE]` for several reports in one run. The
    /// text view (source excerpts) goes to standard output unless another format takes it,
    /// then to standard error [default: text]
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub formats: Vec<ReportFormat>,

    /// Write the report of the --format just before it to FILE (replaced atomically); a
    /// format without --output goes to standard output, which takes one format at most
    #[arg(long = "output", value_name = "FILE")]
    pub outputs: Vec<PathBuf>,
}

/// Writes every requested report of one check's findings; `source` is the masked Secretfile
/// text for the excerpts. `terminal_text` is false when the caller shows the excerpt itself.
pub fn deliver(
    requested: &Requested<ReportFormat>,
    report: CheckReport,
    source: &str,
    root: &Root,
    terminal_text: bool,
    ui: &Ui,
) -> Result<(), CliError> {
    deliver_with_text(requested, report, root, terminal_text, ui, |report, styled| {
        render_text(&report.findings, Some(source), styled)
    })
}

/// [`deliver`], with the text view drawn by `text` (a table rather than findings, say).
pub fn deliver_with_text(
    requested: &Requested<ReportFormat>,
    report: CheckReport,
    root: &Root,
    terminal_text: bool,
    ui: &Ui,
    text: impl Fn(&CheckReport, bool) -> String,
) -> Result<(), CliError> {
    let reports = [report];
    requested.deliver(ReportFormat::Text, terminal_text, ui, |format, styled| match format {
        ReportFormat::Text => text(&reports[0], styled),
        ReportFormat::Json => render_json(&reports, root),
        ReportFormat::Sarif => render_sarif(&reports, root),
        ReportFormat::Github => render_github(&reports, root),
        ReportFormat::Gitlab => render_gitlab(&reports, root),
        ReportFormat::Markdown => render_markdown(&reports, root),
    })
}

/// Opens the Secretfile for a check; when it cannot be loaded, every requested report is
/// still written with the problems found (the check's SARIF run, annotations, summary), so a CI
/// step that uploads it finds its file, and the error is returned as it was.
pub fn open_or_report(
    global: &super::GlobalArgs,
    requested: &Requested<ReportFormat>,
    check: Check,
    ui: &Ui,
) -> Result<super::Opened, CliError> {
    use crate::secretfile::LoadError;
    let error = match super::open(global) {
        Ok(opened) => return Ok(opened),
        Err(error) => error,
    };
    let (findings, source) = match &error {
        CliError::Load(LoadError::Invalid { findings, masked_source, .. }) => {
            (findings.clone(), masked_source.as_str())
        }
        CliError::Load(LoadError::Syntax { finding, source_text, .. }) => {
            (vec![(**finding).clone()], source_text.as_str())
        }
        _ => return Err(error),
    };
    let root = Root::for_secretfile(&global.file);
    // The text view is left out: the error shows the same findings on standard error.
    deliver(requested, CheckReport { check, findings }, source, &root, false, ui)?;
    Err(error)
}

/// Where one report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

/// The reports a command was asked for, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested<F> {
    pub reports: Vec<(F, Destination)>,
}

impl<F: Copy + PartialEq> Requested<F> {
    /// Pairs `formats` with `outputs` by their positions on the command line (`format_at` and
    /// `output_at`, as clap counts them). With no format at all, `text` goes to standard output.
    pub fn pair(
        formats: &[F],
        format_at: &[usize],
        outputs: &[PathBuf],
        output_at: &[usize],
        text: F,
    ) -> Result<Requested<F>, CliError> {
        let mut reports: Vec<(F, Destination)> =
            formats.iter().map(|f| (*f, Destination::Stdout)).collect();
        for (output, at) in outputs.iter().zip(output_at) {
            let owner = format_at.iter().rposition(|f| f < at).ok_or_else(|| CliError::Usage {
                message: format!("--output {} comes before any --format", output.display()),
                hint: Some("write --format FORMAT --output FILE, the format first".into()),
            })?;
            if reports[owner].1 != Destination::Stdout {
                return Err(CliError::Usage {
                    message: format!(
                        "two --output options follow the same --format (the {})",
                        ordinal(owner + 1)
                    ),
                    hint: Some("give each --output its own --format".into()),
                });
            }
            reports[owner].1 = match output.as_os_str() == "-" {
                true => Destination::Stdout,
                false => Destination::File(output.clone()),
            };
        }
        if reports.is_empty() {
            reports.push((text, Destination::Stdout));
        }

        let to_stdout = reports.iter().filter(|(_, d)| *d == Destination::Stdout).count();
        if to_stdout > 1 {
            return Err(CliError::Usage {
                message: "more than one --format would go to standard output".into(),
                hint: Some("add --output FILE after all but one of them".into()),
            });
        }
        // Two spellings of one file (`a.json`, `./a.json`) are one file.
        let cwd = std::env::current_dir().unwrap_or_default();
        let file_of = |destination: &Destination| match destination {
            Destination::File(path) => Some(super::comparable(&cwd, path)),
            Destination::Stdout => None,
        };
        for (i, (_, destination)) in reports.iter().enumerate() {
            let Some(file) = file_of(destination) else { continue };
            if reports[..i].iter().any(|r| file_of(&r.1).as_ref() == Some(&file)) {
                let Destination::File(path) = destination else { continue };
                return Err(CliError::Usage {
                    message: format!("--output {} is given twice", path.display()),
                    hint: Some("write each report to its own file".into()),
                });
            }
        }
        Ok(Requested { reports })
    }

    /// Reads the positions from the subcommand's matches; the arguments must be named `formats`
    /// and `outputs`.
    pub fn from_matches(
        matches: Option<&ArgMatches>,
        formats: &[F],
        outputs: &[PathBuf],
        text: F,
    ) -> Result<Requested<F>, CliError> {
        let positions = |id: &str| -> Vec<usize> {
            matches.and_then(|m| m.indices_of(id)).map(Iterator::collect).unwrap_or_default()
        };
        Requested::pair(formats, &positions("formats"), outputs, &positions("outputs"), text)
    }

    /// The format written to standard output, if any.
    pub fn stdout(&self) -> Option<F> {
        self.reports.iter().find(|(_, d)| *d == Destination::Stdout).map(|(f, _)| *f)
    }

    /// Renders and writes every report: files first (each replaced atomically), then standard
    /// output, then the text view on standard error when standard output holds another format.
    /// `render` gets `true` for text meant for a terminal (styled, which anstream strips when the
    /// stream is no terminal).
    pub fn deliver(
        &self,
        text: F,
        terminal_text: bool,
        ui: &Ui,
        render: impl Fn(F, bool) -> String,
    ) -> Result<(), CliError> {
        for (format, destination) in &self.reports {
            if let Destination::File(path) = destination {
                write_atomically(path, &render(*format, false))?;
            }
        }
        match self.stdout() {
            Some(format) if format != text => {
                ui.data(&render(format, false));
                if terminal_text {
                    ui.human(&render(text, true));
                }
            }
            // Text on standard output, asked for or by default.
            _ if terminal_text => ui.data(&render(text, true)),
            _ => {}
        }
        Ok(())
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Replaces `path` with `text` through a temporary file in the same folder and a rename, so a
/// reader (a CI upload step) never sees half a report. Missing folders are created, a symbolic
/// link is followed, and an existing file keeps its permissions; a new one is readable by all,
/// as reports hold no value.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let error = |source| CliError::Write { path: path.to_path_buf(), source };
    let target = crate::target::follow_links(path).map_err(error)?;
    // A device or a pipe (`/dev/null`, `/dev/stderr`, a FIFO) is written to, never replaced:
    // renaming a file over it would destroy it, for every program on the machine when run as
    // root.
    if std::fs::metadata(&target).is_ok_and(|meta| !meta.is_file() && !meta.is_dir()) {
        let mut file = std::fs::OpenOptions::new().write(true).open(&target).map_err(error)?;
        return file.write_all(text.as_bytes()).map_err(error);
    }
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(&target).ok().map(|m| m.permissions());
    std::fs::create_dir_all(folder).map_err(error)?;

    let mut temp =
        tempfile::Builder::new().prefix(".secretzero-report").tempfile_in(folder).map_err(error)?;
    temp.write_all(text.as_bytes()).map_err(error)?;
    if let Some(permissions) = existing.or_else(new_file_permissions) {
        temp.as_file().set_permissions(permissions).map_err(error)?;
    }
    temp.as_file().sync_all().map_err(error)?;
    temp.persist(&target).map_err(|e| error(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// Rows as aligned columns, two spaces apart, without trailing spaces: the tables of `status`,
/// `rotate --dry-run` and `audit`. The first row is the header.
pub(super) fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let rows: Vec<[String; N]> =
        rows.iter().map(|row| row.clone().map(|c| printable(&c).into_owned())).collect();
    let mut widths = [0usize; N];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> =
            row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `text` with control characters (and the invisible ones that reorder or break lines) escaped
/// as Rust writes them (`\n`, `\u{202e}`): a cell may hold a name a caller chose, such as
/// a secret name in an API request, and must not start a row of its own or rewrite the others.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}')
            || matches!(c, '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match hidden(c) {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum F {
        Text,
        Sarif,
        Github,
    }

    fn pair(formats: &[(F, usize)], outputs: &[(&str, usize)]) -> Result<Requested<F>, String> {
        let (f, fa): (Vec<F>, Vec<usize>) = formats.iter().copied().unzip();
        let (o, oa): (Vec<PathBuf>, Vec<usize>) =
            outputs.iter().map(|(p, a)| (PathBuf::from(p), *a)).unzip();
        Requested::pair(&f, &fa, &o, &oa, F::Text).map_err(|e| e.to_string())
    }

    #[test]
    fn each_output_belongs_to_the_format_before_it() {
        let requested =
            pair(&[(F::Sarif, 2), (F::Github, 6), (F::Text, 8)], &[("r.sarif", 4), ("t.txt", 10)])
                .unwrap();
        assert_eq!(
            requested.reports,
            [
                (F::Sarif, Destination::File("r.sarif".into())),
                (F::Github, Destination::Stdout),
                (F::Text, Destination::File("t.txt".into())),
            ]
        );
        assert_eq!(requested.stdout(), Some(F::Github));
        assert_eq!(pair(&[], &[]).unwrap().reports, [(F::Text, Destination::Stdout)]);
        assert_eq!(pair(&[(F::Sarif, 2)], &[("-", 4)]).unwrap().stdout(), Some(F::Sarif));
    }

    #[test]
    fn pairs_that_cannot_be_told_apart_are_refused() {
        assert_eq!(
            pair(&[(F::Sarif, 4)], &[("r.sarif", 2)]).unwrap_err(),
            "--output r.sarif comes before any --format"
        );
        assert_eq!(
            pair(&[(F::Sarif, 2)], &[("a", 4), ("b", 6)]).unwrap_err(),
            "two --output options follow the same --format (the 1st)"
        );
        assert_eq!(
            pair(&[(F::Sarif, 2), (F::Github, 4)], &[]).unwrap_err(),
            "more than one --format would go to standard output"
        );
        assert_eq!(
            pair(&[(F::Sarif, 2), (F::Github, 6)], &[("a", 4), ("a", 8)]).unwrap_err(),
            "--output a is given twice"
        );
    }

    #[test]
    fn a_report_replaces_the_file_and_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sarif");
        write_atomically(&path, "one").unwrap();
        write_atomically(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }
}
