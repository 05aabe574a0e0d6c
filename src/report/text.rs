//! Findings for a person: the message, then the source excerpt with the place underlined.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Finding, Severity};

/// Renders findings one after another, in the order every machine format uses (file, line,
/// column, rule, message). `source` is the text of the file the findings point into, already
/// masked where it holds values (see `Secretfile::masked_source`).
pub fn render_text(findings: &[Finding], source: Option<&str>, color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| super::finding_order(a).cmp(&super::finding_order(b)));
    let mut out = String::new();
    for finding in sorted {
        out.push_str(&renderer.render(&report(finding, source)).to_string());
        out.push_str("\n\n");
    }
    out
}

fn report<'a>(finding: &'a Finding, source: Option<&'a str>) -> Vec<Group<'a>> {
    let level = match finding.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    };
    let path = finding.file.display().to_string();
    let title = level.primary_title(finding.message.as_str()).id(finding.rule);

    // Without a location (or the source) there is nothing to underline: name the file alone.
    let group = match (finding.loc, source) {
        (Some(loc), Some(source)) => {
            let mut snippet = Snippet::source(source).path(path).fold(true).annotation(
                AnnotationKind::Primary
                    .span(span(source, loc.offset, loc.len))
                    .label(finding.label.as_deref()),
            );
            for (related, label) in &finding.related {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(span(source, related.offset, related.len))
                        .label(label.as_str()),
                );
            }
            title.element(snippet)
        }
        (loc, _) => {
            let mut origin = annotate_snippets::Origin::path(path);
            if let Some(loc) = loc {
                origin = origin.line(loc.line).char_column(loc.column.saturating_sub(1));
            }
            title.element(origin)
        }
    };

    let mut group = group;
    for note in &finding.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    match &finding.help {
        Some(help) => vec![group.element(Level::HELP.message(help.as_str()))],
        None => vec![group],
    }
}

/// A byte range that annotate-snippets can show: inside the text, on char boundaries, and at
/// least one character wide so empty nodes are still pointed at.
fn span(source: &str, offset: usize, len: usize) -> std::ops::Range<usize> {
    let mut start = offset.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len.max(1)).min(source.len());
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secretfile::Loc;

    #[test]
    fn excerpt_names_file_line_and_column() {
        let source = "version: \"1.0\"\nsecrest: {}\n";
        let finding = Finding::error(
            "secretfile/unknown-key",
            "Secretfile.yml".into(),
            Some(Loc { line: 2, column: 1, offset: 15, len: 7 }),
            "unknown key `secrest`".into(),
        )
        .with_label("not a top-level key")
        .with_help("did you mean `secrets`?");
        let text = render_text(&[finding], Some(source), false);
        assert_eq!(
            text,
            "error[secretfile/unknown-key]: unknown key `secrest`\n \
             --> Secretfile.yml:2:1\n  \
             |\n\
             2 | secrest: {}\n  \
             | ^^^^^^^ not a top-level key\n  \
             |\n  \
             = help: did you mean `secrets`?\n\n"
        );
    }

    #[test]
    fn info_findings_show_their_notes_before_the_help() {
        let finding = Finding::new(
            "secretfile/type",
            Severity::Info,
            "Secretfile.yml".into(),
            None,
            "nothing is wrong".into(),
        )
        .with_note("a note")
        .with_help("a help");
        assert_eq!(
            render_text(&[finding], None, false),
            "info[secretfile/type]: nothing is wrong\n\
             --> Secretfile.yml\n \
             = note: a note\n \
             = help: a help\n\n"
        );
    }

    #[test]
    fn findings_come_in_the_order_of_the_machine_formats() {
        let at = |line, message: &str| {
            let loc = crate::secretfile::Loc { line, column: 1, offset: 0, len: 0 };
            Finding::error("custom/access", "Secretfile.yml".into(), Some(loc), message.into())
        };
        let findings = [at(3, "b"), at(3, "a"), at(1, "c")];
        let text = render_text(&findings, None, false);
        let messages: Vec<&str> =
            text.lines().filter_map(|l| l.strip_prefix("error[custom/access]: ")).collect();
        assert_eq!(messages, ["c", "a", "b"]);
        let report = crate::report::CheckReport {
            check: crate::report::Check::Policy,
            findings: findings.to_vec(),
        };
        let root = crate::report::Root::fixed("/repo", "/repo");
        let json: serde_json::Value =
            serde_json::from_str(&crate::report::render_json(&[report], &root)).unwrap();
        let order: Vec<&str> = json["checks"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["message"].as_str().unwrap())
            .collect();
        assert_eq!(order, messages);
    }
}
