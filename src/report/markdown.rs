//! Markdown for a CI job summary (`$GITHUB_STEP_SUMMARY`, a merge request note): counts and a
//! table of findings per check, and the sync plan.
//!
//! Summaries are capped in size (GitHub refuses one over 1 MiB), so a table stops after
//! [`MAX_ROWS`] rows and says how many it left out.

use super::plan::describe_fields;
use super::{CheckReport, Root, Severity, prepare};
use crate::engine::{Action, Plan};

/// Rows per table; a row is rarely over 300 bytes, so a full summary stays far below 1 MiB.
pub const MAX_ROWS: usize = 1000;

pub fn render_markdown(reports: &[CheckReport], root: &Root) -> String {
    let mut out = String::new();
    for report in reports {
        out.push_str(&format!("## SecretZero {}\n\n", report.check.name()));
        let counts: Vec<String> = Severity::ALL
            .iter()
            .map(|s| {
                let n = report.count(*s);
                let noun = match (s, n) {
                    (Severity::Info, _) | (_, 1) => s.name().to_string(),
                    _ => format!("{}s", s.name()),
                };
                format!("{n} {noun}")
            })
            .collect();
        if report.findings.is_empty() {
            out.push_str("No findings.\n\n");
            continue;
        }
        out.push_str(&format!("{}.\n\n", counts.join(", ")));

        out.push_str("| Severity | Rule | Location | Secret | Message |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        let entries = prepare(report, root);
        for entry in entries.iter().take(MAX_ROWS) {
            let finding = entry.finding;
            let location = match finding.loc {
                Some(loc) => format!("{}:{}:{}", entry.path, loc.line, loc.column),
                None => entry.path.clone(),
            };
            let mut message = finding.message.clone();
            if let Some(help) = &finding.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            for note in &finding.notes {
                message.push_str(&format!("\nnote: {note}"));
            }
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                finding.severity.name(),
                code(finding.rule),
                code(&location),
                finding.secret.as_deref().map(code).unwrap_or_default(),
                cell(&message),
            ));
        }
        if entries.len() > MAX_ROWS {
            out.push_str(&format!(
                "\n{} more not listed here; the other report formats list them all.\n",
                entries.len() - MAX_ROWS
            ));
        }
        out.push('\n');
    }
    out
}

/// The sync plan of `sync --dry-run`: one row per target, with where its value comes from.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::from("## SecretZero sync plan\n\n");
    out.push_str(&format!(
        "{} to create, {} to update, {} unchanged, {} skipped.\n\n",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Unchanged),
        plan.count(Action::Skip),
    ));
    if plan.secrets.is_empty() {
        out.push_str("No secrets selected.\n");
        return out;
    }

    out.push_str("| Secret | Value | Target | Action | Reason |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    let mut rows = 0;
    let total: usize = plan.secrets.iter().map(|s| s.targets.len().max(1)).sum();
    'secrets: for secret in &plan.secrets {
        let value = cell(&describe_fields(&secret.fields));
        if secret.targets.is_empty() {
            out.push_str(&format!("| {} | {value} | (no targets) | | |\n", code(&secret.name)));
            rows += 1;
        }
        for target in &secret.targets {
            if rows == MAX_ROWS {
                break 'secrets;
            }
            out.push_str(&format!(
                "| {} | {value} | {} | {} | {} |\n",
                code(&secret.name),
                code(&target.id),
                target.action.name(),
                cell(&target.reason),
            ));
            rows += 1;
        }
    }
    if total > rows {
        out.push_str(&format!("\n{} more targets not listed here.\n", total - rows));
    }

    let conflicts: Vec<_> = plan.secrets.iter().filter(|s| s.conflict.is_some()).collect();
    if !conflicts.is_empty() {
        out.push_str("\n**Conflicts** (nothing is written for these secrets):\n\n");
        for secret in conflicts {
            let conflict = secret.conflict.as_deref().unwrap_or_default();
            out.push_str(&format!("- {}: {}\n", code(&secret.name), cell(conflict)));
        }
    }
    if !plan.undeclared.is_empty() {
        out.push_str(
            "\n**Dropped from the lockfile** (the Secretfile no longer declares them):\n\n",
        );
        for (name, _) in &plan.undeclared {
            out.push_str(&format!("- {}\n", code(name)));
        }
    }
    out
}

/// Text as a code span, with a fence longer than any run of backticks inside it.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", text.replace('|', "\\|").replace(['\r', '\n'], " "))
}

/// Text for a table cell: `|` escaped, line breaks as `<br>`, and outside code spans the
/// characters that would start HTML written as entities.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' => out.push_str("\\|"),
            '\r' => {}
            '\n' => out.push_str("<br>"),
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '&' if !in_code => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{FieldPlan, SecretPlan, Source, TargetPlan};
    use crate::report::{Check, fixture};

    #[test]
    fn counts_and_a_sorted_escaped_table() {
        assert_eq!(
            render_markdown(&[fixture::report()], &fixture::root()),
            "## SecretZero validate\n\n\
             1 error, 1 warning, 1 info.\n\n\
             | Severity | Rule | Location | Secret | Message |\n\
             | --- | --- | --- | --- | --- |\n\
             | info | `secretfile/duplicate-key` | `config/Secretfile.yml` |  | \
             `a\\|b` is defined twice<br>see &lt;here&gt;<br>note: the later one wins |\n\
             | error | `secretfile/unknown-key` | `config/Secretfile.yml:2:1` |  | \
             unknown key `secrest` in the top level<br>help: did you mean `secrets`? |\n\
             | warning | `secretfile/ambient-variable` | `config/Secretfile.yml:7:3` | `path` | \
             secret `path` takes its value from PATH, 100%: a, b<br>help: rename the secret |\n\n"
        );
    }

    #[test]
    fn no_findings_says_so() {
        let report = CheckReport { check: Check::Validate, findings: vec![] };
        assert_eq!(
            render_markdown(&[report], &fixture::root()),
            "## SecretZero validate\n\nNo findings.\n\n"
        );
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a`b|c"), "`` a`b\\|c ``");
        assert_eq!(cell("x < `a<b` & y"), "x &lt; `a<b` &amp; y");
    }

    #[test]
    fn the_plan_as_a_table_with_conflicts() {
        let field = |source| FieldPlan { name: "value".into(), source, value: None };
        let target = |id: &str, action, reason: &str| TargetPlan {
            id: id.into(),
            action,
            reason: reason.into(),
            unverified: false,
            unread: false,
            stamp: None,
            settings: None,
        };
        let plan = Plan {
            undeclared: vec![("old_token".into(), vec!["local-file:.env#OLD_TOKEN".into()])],
            secrets: vec![
                SecretPlan {
                    name: "api_key".into(),
                    fields: vec![field(Source::Generate { reason: "new secret".into() })],
                    targets: vec![
                        target("local-file:.env#API_KEY", Action::Create, "not there yet"),
                        target("local-file:a.json#api_key", Action::Unchanged, "up to date"),
                    ],
                    conflict: None,
                    definition: String::new(),
                    definitions: Default::default(),
                    rotate: false,
                },
                SecretPlan {
                    name: "db".into(),
                    fields: vec![field(Source::Undecided)],
                    targets: vec![],
                    conflict: Some("`.env` and `a.json` hold different values".into()),
                    definition: String::new(),
                    definitions: Default::default(),
                    rotate: false,
                },
            ],
        };
        assert_eq!(
            plan_markdown(&plan),
            "## SecretZero sync plan\n\n\
             1 to create, 0 to update, 1 unchanged, 0 skipped.\n\n\
             | Secret | Value | Target | Action | Reason |\n\
             | --- | --- | --- | --- | --- |\n\
             | `api_key` | generate (new secret) | `local-file:.env#API_KEY` | create | \
             not there yet |\n\
             | `api_key` | generate (new secret) | `local-file:a.json#api_key` | unchanged | \
             up to date |\n\
             | `db` | undecided (the targets disagree) | (no targets) | | |\n\
             \n**Conflicts** (nothing is written for these secrets):\n\n\
             - `db`: `.env` and `a.json` hold different values\n\
             \n**Dropped from the lockfile** (the Secretfile no longer declares them):\n\n\
             - `old_token`\n"
        );
    }
}
