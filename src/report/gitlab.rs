//! GitLab Code Quality: a JSON array of issues, which merge requests show on the changed lines.
//!
//! GitLab reads `description`, `check_name`, `fingerprint`, `severity`, `location.path` and
//! `location.lines.begin`, and compares fingerprints across pipelines to tell new issues from
//! fixed ones, so the fingerprint must not change when lines move.

use serde_json::{Value, json};

use super::{CheckReport, Root, Severity, full_message, prepare};

pub fn render_gitlab(reports: &[CheckReport], root: &Root) -> String {
    let issues: Vec<Value> = reports
        .iter()
        .flat_map(|report| prepare(report, root))
        .map(|entry| {
            let finding = entry.finding;
            // Code Quality places every issue on a line; a finding about a whole file is on
            // its first.
            let line = finding.loc.map_or(1, |l| l.line.max(1));
            json!({
                "check_name": finding.rule,
                "description": full_message(finding),
                "fingerprint": entry.fingerprint,
                "location": {"lines": {"begin": line}, "path": entry.path},
                "severity": severity(finding.severity),
                "type": "issue",
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&issues).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Code Quality's scale is info, minor, major, critical, blocker. A validation error stops
/// every sync, but nothing is exposed by it: major.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Info => "info",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn issues_in_code_quality_shape() {
        let text = render_gitlab(&[fixture::report()], &fixture::root());
        let issues: Value = serde_json::from_str(&text).unwrap();
        let prints: Vec<String> = (0..3).map(|i| issues[i]["fingerprint"].to_string()).collect();
        assert_eq!(
            text,
            format!(
                r#"[
  {{
    "check_name": "secretfile/duplicate-key",
    "description": "`a|b` is defined twice\r\nsee <here>\nnote: the later one wins",
    "fingerprint": {},
    "location": {{
      "lines": {{
        "begin": 1
      }},
      "path": "config/Secretfile.yml"
    }},
    "severity": "info",
    "type": "issue"
  }},
  {{
    "check_name": "secretfile/unknown-key",
    "description": "unknown key `secrest` in the top level\nhelp: did you mean `secrets`?",
    "fingerprint": {},
    "location": {{
      "lines": {{
        "begin": 2
      }},
      "path": "config/Secretfile.yml"
    }},
    "severity": "major",
    "type": "issue"
  }},
  {{
    "check_name": "secretfile/ambient-variable",
    "description": "secret `path` takes its value from PATH, 100%: a, b\nhelp: rename the secret",
    "fingerprint": {},
    "location": {{
      "lines": {{
        "begin": 7
      }},
      "path": "config/Secretfile.yml"
    }},
    "severity": "minor",
    "type": "issue"
  }}
]
"#,
                prints[0], prints[1], prints[2]
            )
        );
    }
}
