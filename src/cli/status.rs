//! `secretzero status`: every secret, where it is stored and when it changed. Never a value.

use clap::Args;
use serde_json::{Value, json};

use super::{CliError, DataFormat, Exit, GlobalArgs, Ui, now, open};
use crate::engine::{SecretStatus, statuses};
use crate::rotation::Schedule;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = DataFormat::Text, value_name = "FORMAT")]
    pub format: DataFormat,
}

pub fn run(global: &GlobalArgs, args: &StatusArgs, ui: &Ui) -> Result<Exit, CliError> {
    let opened = open(global)?;
    let hasher = opened.lockfile.as_ref().map(|l| l.hasher()).transpose()?;
    let rows = statuses(&opened.file, opened.lockfile.as_ref(), hasher.as_ref(), now()?);
    if opened.lockfile.is_none() {
        ui.warn(&format!(
            "no lockfile at {}: nothing has been synced yet",
            opened.lockfile_path.display()
        ));
    }
    ui.data(&match args.format {
        DataFormat::Text => table(&rows),
        DataFormat::Json => {
            let rows: Vec<Value> = rows.iter().map(row_json).collect();
            let mut text = serde_json::to_string_pretty(&json!({ "secrets": rows }))
                .expect("a JSON value always serializes");
            text.push('\n');
            text
        }
    });
    Ok(Exit::Success)
}

pub(super) fn stamp(value: Option<jiff::Timestamp>) -> String {
    value.map_or_else(|| "-".to_string(), |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

pub(super) fn row_json(row: &SecretStatus<'_>) -> Value {
    json!({
        "name": row.name,
        "state": row.state.name(),
        "in_secretfile": row.secret.is_some(),
        "targets": row.secret.map(|s| s.targets.iter().map(|t| t.id.clone()).collect::<Vec<_>>()),
        "pending_targets": row.pending_targets,
        "rotation_period": row.secret.and_then(|s| s.rotation_period.map(|(p, _)| p.to_string())),
        "one_time": row.secret.map(|s| s.one_time),
        "created_at": row.entry.map(|e| stamp(Some(e.created_at))),
        "updated_at": row.entry.map(|e| stamp(Some(e.updated_at))),
        "last_rotated": row.entry.and_then(|e| e.last_rotated).map(|t| stamp(Some(t))),
        "rotation_count": row.entry.map(|e| e.rotation_count),
        "next_rotation": row.schedule.due_at().map(|t| stamp(Some(t))),
        "rotation_due": matches!(row.schedule, Schedule::Due { .. }),
    })
}

/// When the secret next rotates, for a person.
pub(super) fn next_rotation(schedule: Schedule) -> String {
    match schedule {
        Schedule::NoPeriod | Schedule::NotSynced => "-".to_string(),
        Schedule::NotDue { next } => stamp(Some(next)),
        Schedule::Due { since } => format!("due since {}", stamp(Some(since))),
    }
}

fn table(rows: &[SecretStatus<'_>]) -> String {
    let header =
        ["SECRET", "STATE", "TARGETS", "UPDATED", "LAST ROTATED", "ROTATION", "NEXT ROTATION"];
    let mut lines: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for row in rows {
        let declared = row.secret.map_or(0, |s| s.targets.len());
        let recorded = declared - row.pending_targets.len();
        lines.push([
            row.name.to_string(),
            row.state.name().to_string(),
            if row.secret.is_some() { format!("{recorded}/{declared}") } else { "-".into() },
            stamp(row.entry.map(|e| e.updated_at)),
            row.entry.and_then(|e| e.last_rotated).map_or("never".into(), |t| stamp(Some(t))),
            row.secret
                .and_then(|s| s.rotation_period.map(|(p, _)| p.to_string()))
                .unwrap_or_else(|| "-".into()),
            next_rotation(row.schedule),
        ]);
    }
    let mut widths = [0usize; 7];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> =
            line.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
