//! `secretzero show NAME`: one secret in detail, from the Secretfile and the lockfile.

use clap::Args;
use serde_json::json;

use super::status::next_rotation;
use super::{CliError, DataFormat, Exit, GlobalArgs, Ui, check_selection, now, open};
use crate::engine::statuses;
use crate::rotation::stamp;
use crate::secretfile::SINGLE_FIELD;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The secret to show
    pub name: String,

    /// Output format
    #[arg(long, value_enum, default_value_t = DataFormat::Text, value_name = "FORMAT")]
    pub format: DataFormat,
}

pub fn run(global: &GlobalArgs, args: &ShowArgs, ui: &Ui) -> Result<Exit, CliError> {
    let opened = open(global)?;
    let hasher = opened.lockfile.as_ref().map(|l| l.hasher()).transpose()?;
    let rows = statuses(&opened.file, opened.lockfile.as_ref(), hasher.as_ref(), now()?);
    let Some(row) = rows.iter().find(|r| r.name == args.name) else {
        check_selection(&opened.file, std::slice::from_ref(&args.name))?;
        unreachable!("check_selection fails for a name that is neither declared nor recorded");
    };

    let fields: Vec<(String, &'static str)> = row
        .secret
        .map(|s| s.fields.iter().map(|f| (f.name.clone(), f.generator.type_name())).collect())
        .unwrap_or_default();
    let targets: Vec<serde_json::Value> = match row.secret {
        Some(secret) => secret
            .targets
            .iter()
            .map(|t| {
                let recorded = row.entry.and_then(|e| e.targets.get(&t.id));
                json!({
                    "id": t.id,
                    "written_at": recorded.map(|r| stamp(Some(r.updated_at))),
                    "current": !row.pending_targets.contains(&t.id.as_str()),
                })
            })
            .collect(),
        None => row
            .entry
            .map(|e| {
                e.targets
                    .iter()
                    .map(|(id, r)| {
                        json!({
                            "id": id,
                            "written_at": stamp(Some(r.updated_at)),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };

    let mut record = row.to_json();
    record["description"] = json!(row.secret.and_then(|s| s.description.clone()));
    record["template"] = json!(row.secret.and_then(|s| s.template.clone()));
    record["fields"] =
        json!(fields.iter().map(|(n, g)| json!({"name": n, "generator": g})).collect::<Vec<_>>());
    record["targets"] = json!(targets);

    ui.data(&match args.format {
        DataFormat::Json => {
            let mut text = serde_json::to_string_pretty(&record).expect("JSON serializes");
            text.push('\n');
            text
        }
        DataFormat::Text => text(&record, &fields, &next_rotation(row.schedule)),
    });
    Ok(Exit::Success)
}

fn text(record: &serde_json::Value, fields: &[(String, &'static str)], next: &str) -> String {
    let get = |key: &str| match &record[key] {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = format!("secret:        {}\n", get("name"));
    out.push_str(&format!("state:         {}\n", get("state")));
    out.push_str(&format!("description:   {}\n", get("description")));
    match fields {
        [(name, generator)] if name == SINGLE_FIELD => {
            out.push_str(&format!("generator:     {generator}\n"));
        }
        _ => {
            out.push_str(&format!("template:      {}\n", get("template")));
            for (name, generator) in fields {
                out.push_str(&format!("  field {name}: {generator}\n"));
            }
        }
    }
    out.push_str(&format!("rotation:      {}\n", get("rotation_period")));
    out.push_str(&format!("one_time:      {}\n", get("one_time")));
    out.push_str(&format!("created:       {}\n", get("created_at")));
    out.push_str(&format!("updated:       {}\n", get("updated_at")));
    out.push_str(&format!("last rotated:  {}\n", get("last_rotated")));
    out.push_str(&format!("rotations:     {}\n", get("rotation_count")));
    out.push_str(&format!("next rotation: {}\n", next));
    out.push_str("targets:\n");
    for target in record["targets"].as_array().into_iter().flatten() {
        let written = target["written_at"].as_str().unwrap_or("never written");
        let note = match (target["written_at"].is_string(), target["current"].as_bool()) {
            (true, Some(false)) => "  (holds an older value: the last write failed)",
            _ => "",
        };
        out.push_str(&format!("  {}  {written}{note}\n", target["id"].as_str().unwrap_or("")));
    }
    out
}
