//! GitHub Actions workflow commands, which the runner turns into annotations on the lines.
//!
//! GitHub shows at most 10 error, 10 warning and 10 notice annotations per step and drops the
//! rest, so the most severe come first and whatever does not fit is counted in one closing line.

use super::{CheckReport, Root, Severity, full_message, prepare};

/// Annotations GitHub keeps per step, for each of error, warning and notice.
pub const PER_STEP: usize = 10;

pub fn render_github(reports: &[CheckReport], root: &Root) -> String {
    let mut entries: Vec<_> = reports.iter().flat_map(|r| prepare(r, root)).collect();
    // Stable, so each severity keeps the path and line order `prepare` gave it.
    entries.sort_by_key(|e| e.finding.severity);

    let mut out = String::new();
    let mut shown = [0usize; 3];
    let mut left = [0usize; 3];
    for entry in &entries {
        let finding = entry.finding;
        let slot = finding.severity as usize;
        if shown[slot] == PER_STEP {
            left[slot] += 1;
            continue;
        }
        shown[slot] += 1;

        let mut properties = vec![format!("file={}", property(&entry.path))];
        if let Some(loc) = finding.loc {
            properties.push(format!("line={}", loc.line));
            properties.push(format!("col={}", loc.column));
        }
        properties.push(format!("title={}", property(finding.rule)));
        out.push_str(&format!(
            "::{} {}::{}\n",
            command(finding.severity),
            properties.join(","),
            data(&full_message(finding))
        ));
    }

    if left.iter().any(|&n| n > 0) {
        let counts: Vec<String> = Severity::ALL
            .iter()
            .filter(|s| left[**s as usize] > 0)
            .map(|s| plural(left[*s as usize], command(*s)))
            .collect();
        let total: usize = left.iter().sum();
        let line = format!(
            "{total} more {} not shown as annotations (GitHub shows {PER_STEP} of each kind per \
             step): {}; the report files list them all",
            if total == 1 { "finding" } else { "findings" },
            counts.join(", ")
        );
        // As a notice while notices have room, so it shows with the annotations; otherwise as
        // a plain log line, since an eleventh notice would be dropped.
        match shown[Severity::Info as usize] < PER_STEP {
            true => out.push_str(&format!("::notice title=SecretZero::{}\n", data(&line))),
            false => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

/// The message after `::`, escaped as the runner unescapes it.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property value: as data, and `:` and `,` too, which would end it.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Finding, fixture};

    #[test]
    fn most_severe_first_escaped() {
        let text = render_github(&[fixture::report()], &fixture::root());
        assert_eq!(
            text,
            "::error file=config/Secretfile.yml,line=2,col=1,title=secretfile/unknown-key::\
             unknown key `secrest` in the top level%0Ahelp: did you mean `secrets`?\n\
             ::warning file=config/Secretfile.yml,line=7,col=3,title=secretfile/ambient-variable::\
             secret `path` takes its value from PATH, 100%25: a, b%0Ahelp: rename the secret\n\
             ::notice file=config/Secretfile.yml,title=secretfile/duplicate-key::\
             `a|b` is defined twice%0D%0Asee <here>%0Anote: the later one wins\n"
        );
    }

    #[test]
    fn properties_escape_colons_and_commas() {
        assert_eq!(property("a:b,c%d\ne"), "a%3Ab%2Cc%25d%0Ae");
        assert_eq!(data("a:b,c"), "a:b,c");
    }

    fn many(count: usize, severity: Severity) -> Vec<Finding> {
        (1..=count)
            .map(|line| {
                let mut finding = Finding::error(
                    "secretfile/type",
                    "S.yml".into(),
                    Some(fixture::loc(line, 1)),
                    format!("problem {line}"),
                );
                finding.severity = severity;
                finding
            })
            .collect()
    }

    #[test]
    fn the_caps_hold_and_the_rest_is_counted() {
        let mut findings = many(12, Severity::Error);
        findings.extend(many(10, Severity::Warning));
        let report = CheckReport { check: Check::Validate, findings };
        let text = render_github(&[report], &Root::fixed("/r", "/r"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 21);
        assert!(lines[..10].iter().all(|l| l.starts_with("::error ")));
        assert!(lines[9].ends_with("::problem 10"), "{}", lines[9]);
        assert!(lines[10..20].iter().all(|l| l.starts_with("::warning ")));
        assert_eq!(
            lines[20],
            "::notice title=SecretZero::2 more findings not shown as annotations (GitHub shows \
             10 of each kind per step): 2 errors; the report files list them all"
        );
    }

    #[test]
    fn with_the_notices_full_the_count_is_a_plain_line() {
        let mut findings = many(11, Severity::Info);
        findings.extend(many(1, Severity::Warning));
        let report = CheckReport { check: Check::Validate, findings };
        let text = render_github(&[report], &Root::fixed("/r", "/r"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 12);
        assert!(lines[0].starts_with("::warning "));
        assert_eq!(
            lines[11],
            "1 more finding not shown as annotations (GitHub shows 10 of each kind per step): \
             1 notice; the report files list them all"
        );
    }
}
