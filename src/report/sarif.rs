//! SARIF 2.1.0 for code scanning, built from the `serde-sarif` types.
//!
//! One run per check, told apart by `automationDetails.id` (`secretzero/validate/`), so that
//! GitHub keeps each check's alerts as a category of its own. Artifact URIs are relative to
//! `%SRCROOT%`, the repository root; the run does not say where that root is on this machine
//! (no `originalUriBaseIds`), so the file holds no user or host names and is the same on every
//! machine. Everything is sorted: rules by id, results as [`super::prepare`] sorts them.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    Region, ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run,
    RunAutomationDetails, Sarif, Tool, ToolComponent,
};

use super::{CheckReport, Entry, RULES, Root, Rule, Severity, full_message, prepare};
use crate::secretfile::Loc;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base that relative artifact URIs start from.
pub const SRCROOT: &str = "%SRCROOT%";
/// The key of our fingerprint in `partialFingerprints`; the version changes if the hash does.
pub const FINGERPRINT_KEY: &str = "secretzeroFindingHash/v1";

pub fn render_sarif(reports: &[CheckReport], root: &Root) -> String {
    let runs: Vec<Run> = reports.iter().map(|report| run(report, root)).collect();
    let log = Sarif::builder().schema(SCHEMA).version(json!("2.1.0")).runs(runs).build();
    let mut text = serde_json::to_string_pretty(&log).expect("a SARIF log always serializes");
    text.push('\n');
    text
}

fn run(report: &CheckReport, root: &Root) -> Run {
    let entries = prepare(report, root);

    // The driver lists every rule of the check, so a rule with no results in this run still
    // has a description, and code scanning can close its alerts.
    let mut ids: Vec<&'static str> =
        RULES.iter().filter(|r| r.check == report.check).map(|r| r.id).collect();
    ids.extend(entries.iter().map(|e| e.finding.rule));
    ids.sort_unstable();
    ids.dedup();
    let rules: Vec<ReportingDescriptor> = ids.iter().map(|id| descriptor(id)).collect();

    let results: Vec<SarifResult> = entries
        .iter()
        .map(|entry| {
            let index = ids.binary_search(&entry.finding.rule).expect("every rule is listed");
            result(entry, index)
        })
        .collect();

    let driver = ToolComponent::builder()
        .name("SecretZero")
        .full_name(format!("SecretZero {}", env!("CARGO_PKG_VERSION")))
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let automation =
        RunAutomationDetails::builder().id(format!("secretzero/{}/", report.check.name())).build();
    Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .automation_details(automation)
        .column_kind(json!("unicodeCodePoints"))
        .results(results)
        .build()
}

fn descriptor(id: &'static str) -> ReportingDescriptor {
    let Some(rule) = super::rule(id) else {
        // Only a rule missing from the catalogue, which a test prevents: still a valid entry.
        return ReportingDescriptor::builder()
            .id(id)
            .short_description(text(id))
            .help(text(id))
            .build();
    };
    let mut tags = vec!["secretzero".to_string(), rule.check.name().to_string()];
    if rule.is_security() {
        tags.push("security".into());
    }
    let properties = PropertyBag::builder()
        .tags(tags)
        .additional_properties(BTreeMap::from([(
            "security-severity".to_string(),
            json!(format!("{:.1}", rule.security_severity)),
        )]))
        .build();
    ReportingDescriptor::builder()
        .id(rule.id)
        .name(pascal_case(rule))
        .short_description(text(rule.short))
        .full_description(text(rule.full))
        .help(text(rule.help))
        .default_configuration(
            ReportingConfiguration::builder().level(json!(level(rule.severity))).build(),
        )
        .properties(properties)
        .build()
}

fn result(entry: &Entry<'_>, rule_index: usize) -> SarifResult {
    let finding = entry.finding;
    let related: Vec<Location> = finding
        .related
        .iter()
        .enumerate()
        .map(|(i, (loc, message))| {
            Location::builder()
                .id(i as i64 + 1)
                .physical_location(physical(entry, Some(*loc)))
                .message(Message::builder().text(message.as_str()).build())
                .build()
        })
        .collect();
    let mut properties = BTreeMap::new();
    if let Some(secret) = &finding.secret {
        properties.insert("secret".to_string(), json!(secret));
    }
    let mut result = SarifResult::builder()
        .rule_id(finding.rule)
        .rule_index(rule_index as i64)
        .level(level(finding.severity))
        .message(Message::builder().text(full_message(finding)).build())
        .locations(vec![
            Location::builder().physical_location(physical(entry, finding.loc)).build(),
        ])
        .partial_fingerprints(BTreeMap::from([(
            FINGERPRINT_KEY.to_string(),
            entry.fingerprint.clone(),
        )]))
        .build();
    if !related.is_empty() {
        result.related_locations = Some(related);
    }
    if !properties.is_empty() {
        result.properties = Some(PropertyBag::builder().additional_properties(properties).build());
    }
    result
}

/// The file, and the line and column when the finding has them. A finding about a whole file
/// points at its first line, since code scanning places every alert on a line.
fn physical(entry: &Entry<'_>, loc: Option<Loc>) -> PhysicalLocation {
    let artifact = match entry.in_root {
        true => {
            ArtifactLocation::builder().uri(encode_uri(&entry.path)).uri_base_id(SRCROOT).build()
        }
        false => {
            ArtifactLocation::builder().uri(format!("file://{}", encode_uri(&entry.path))).build()
        }
    };
    let region = match loc {
        Some(loc) => Region::builder()
            .start_line(loc.line.max(1) as i64)
            .start_column(loc.column.max(1) as i64)
            .build(),
        None => Region::builder().start_line(1).build(),
    };
    PhysicalLocation::builder().artifact_location(artifact).region(region).build()
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
    }
}

fn text(text: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(text).build()
}

/// `secretfile/unknown-key` -> `UnknownKey`: SARIF's readable rule name.
fn pascal_case(rule: &Rule) -> String {
    let name = rule.id.rsplit('/').next().unwrap_or(rule.id);
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect::<Option<String>>()
        .unwrap_or_default()
}

/// Percent-encodes everything but unreserved characters and `/`, so any file name is a URI.
fn encode_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Finding, fixture};

    #[test]
    fn a_run_per_check_with_rules_results_and_fingerprints() {
        let text = render_sarif(&[fixture::report()], &fixture::root());
        let log: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(log["$schema"], SCHEMA);
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["automationDetails"]["id"], "secretzero/validate/");
        assert_eq!(run["columnKind"], "unicodeCodePoints");

        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let validate_rules = RULES.iter().filter(|r| r.check == Check::Validate).count();
        assert_eq!(rules.len(), validate_rules);
        let ambient = &rules[0];
        assert_eq!(
            ambient,
            &json!({
                "defaultConfiguration": {"level": "warning"},
                "fullDescription": {"text": crate::report::rule("secretfile/ambient-variable")
                    .unwrap().full},
                "help": {"text": "Rename the secret or the field."},
                "id": "secretfile/ambient-variable",
                "name": "AmbientVariable",
                "properties": {
                    "security-severity": "5.0",
                    "tags": ["secretzero", "validate", "security"],
                },
                "shortDescription": {
                    "text": "A secret is named after an environment variable that shells set"
                },
            })
        );

        let results = run["results"].as_array().unwrap();
        let rule_ids: Vec<&str> = results.iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
        assert_eq!(
            rule_ids,
            ["secretfile/duplicate-key", "secretfile/unknown-key", "secretfile/ambient-variable"]
        );
        for result in results {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
        }
        let unknown = &results[1];
        assert_eq!(
            unknown["message"]["text"],
            "unknown key `secrest` in the top level\nhelp: did you mean `secrets`?"
        );
        assert_eq!(unknown["level"], "error");
        assert_eq!(
            unknown["locations"],
            json!([{"physicalLocation": {
                "artifactLocation": {"uri": "config/Secretfile.yml", "uriBaseId": "%SRCROOT%"},
                "region": {"startColumn": 1, "startLine": 2},
            }}])
        );
        assert_eq!(unknown["partialFingerprints"][FINGERPRINT_KEY].as_str().unwrap().len(), 64);
        assert_eq!(results[0]["level"], "note");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": 1})
        );
        assert_eq!(
            results[0]["relatedLocations"],
            json!([{
                "id": 1,
                "message": {"text": "first defined here"},
                "physicalLocation": {
                    "artifactLocation": {"uri": "config/Secretfile.yml", "uriBaseId": "%SRCROOT%"},
                    "region": {"startColumn": 5, "startLine": 3},
                },
            }])
        );
        assert_eq!(results[2]["properties"], json!({"secret": "path"}));
    }

    #[test]
    fn the_same_findings_give_the_same_bytes_in_any_order() {
        let report = fixture::report();
        let mut reversed = report.clone();
        reversed.findings.reverse();
        assert_eq!(
            render_sarif(&[report], &fixture::root()),
            render_sarif(&[reversed], &fixture::root())
        );
    }

    #[test]
    fn odd_file_names_are_encoded_and_outside_files_are_absolute() {
        let root = Root::fixed("/repo", "/repo");
        let findings = vec![
            Finding::error("secretfile/type", "my secrets/S#1.yml".into(), None, "x".into()),
            Finding::error("secretfile/type", "/elsewhere/S.yml".into(), None, "x".into()),
        ];
        let report = CheckReport { check: Check::Validate, findings };
        let log: serde_json::Value = serde_json::from_str(&render_sarif(&[report], &root)).unwrap();
        let uri = |i: usize| {
            log["runs"][0]["results"][i]["locations"][0]["physicalLocation"]["artifactLocation"]
                .clone()
        };
        assert_eq!(uri(0), json!({"uri": "file:///elsewhere/S.yml"}));
        assert_eq!(uri(1), json!({"uri": "my%20secrets/S%231.yml", "uriBaseId": "%SRCROOT%"}));
    }
}
