//! Findings for scripts: the schema that docs/reports.md documents, version 1.
//!
//! Keys are in alphabetical order and findings sorted as [`super::prepare`] sorts them, so two
//! runs over the same file give the same bytes. A new key may be added within version 1; a key
//! is never renamed or given another meaning without raising `schema_version`.

use serde_json::{Value, json};

use super::{CheckReport, Root, Severity, prepare};

pub const SCHEMA_VERSION: u32 = 1;

pub fn render_json(reports: &[CheckReport], root: &Root) -> String {
    let mut text = serde_json::to_string_pretty(&report_value(reports, root))
        .expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// The document [`render_json`] prints, for embedding in another (the HTTP API's responses).
pub fn report_value(reports: &[CheckReport], root: &Root) -> Value {
    let checks: Vec<Value> = reports
        .iter()
        .map(|report| {
            let findings: Vec<Value> = prepare(report, root)
                .iter()
                .map(|entry| {
                    let finding = entry.finding;
                    let related: Vec<Value> = finding
                        .related
                        .iter()
                        .map(|(loc, message)| {
                            json!({"column": loc.column, "line": loc.line, "message": message})
                        })
                        .collect();
                    json!({
                        "column": finding.loc.map(|l| l.column),
                        "file": entry.path,
                        "fingerprint": entry.fingerprint,
                        "help": finding.help,
                        "label": finding.label,
                        "line": finding.loc.map(|l| l.line),
                        "message": finding.message,
                        "notes": finding.notes,
                        "related": related,
                        "rule": finding.rule,
                        "secret": finding.secret,
                        "severity": finding.severity.name(),
                    })
                })
                .collect();
            json!({
                "check": report.check.name(),
                "counts": {
                    "error": report.count(Severity::Error),
                    "info": report.count(Severity::Info),
                    "warning": report.count(Severity::Warning),
                },
                "findings": findings,
            })
        })
        .collect();
    json!({
        "checks": checks,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "secretzero", "version": env!("CARGO_PKG_VERSION")},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn findings_are_sorted_with_every_documented_key() {
        let text = render_json(&[fixture::report()], &fixture::root());
        let value: Value = serde_json::from_str(&text).unwrap();
        let findings = &value["checks"][0]["findings"];
        let fingerprints: Vec<&str> =
            (0..3).map(|i| findings[i]["fingerprint"].as_str().unwrap()).collect();
        assert!(fingerprints.iter().all(|f| f.len() == 64));
        let expected = format!(
            r#"{{
  "checks": [
    {{
      "check": "validate",
      "counts": {{
        "error": 1,
        "info": 1,
        "warning": 1
      }},
      "findings": [
        {{
          "column": null,
          "file": "config/Secretfile.yml",
          "fingerprint": "{}",
          "help": null,
          "label": null,
          "line": null,
          "message": "`a|b` is defined twice\r\nsee <here>",
          "notes": [
            "the later one wins"
          ],
          "related": [
            {{
              "column": 5,
              "line": 3,
              "message": "first defined here"
            }}
          ],
          "rule": "secretfile/duplicate-key",
          "secret": null,
          "severity": "info"
        }},
        {{
          "column": 1,
          "file": "config/Secretfile.yml",
          "fingerprint": "{}",
          "help": "did you mean `secrets`?",
          "label": "expected one of: version, secrets",
          "line": 2,
          "message": "unknown key `secrest` in the top level",
          "notes": [],
          "related": [],
          "rule": "secretfile/unknown-key",
          "secret": null,
          "severity": "error"
        }},
        {{
          "column": 3,
          "file": "config/Secretfile.yml",
          "fingerprint": "{}",
          "help": "rename the secret",
          "label": null,
          "line": 7,
          "message": "secret `path` takes its value from PATH, 100%: a, b",
          "notes": [],
          "related": [],
          "rule": "secretfile/ambient-variable",
          "secret": "path",
          "severity": "warning"
        }}
      ]
    }}
  ],
  "schema_version": 1,
  "tool": {{
    "name": "secretzero",
    "version": "{}"
  }}
}}
"#,
            fingerprints[0],
            fingerprints[1],
            fingerprints[2],
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn no_findings_is_an_empty_list() {
        let report = CheckReport { check: crate::report::Check::Validate, findings: vec![] };
        let value: Value = serde_json::from_str(&render_json(&[report], &fixture::root())).unwrap();
        assert_eq!(value["checks"][0]["findings"], json!([]));
        assert_eq!(value["checks"][0]["counts"]["error"], 0);
    }
}
