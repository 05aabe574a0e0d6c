//! `secretzero status`: every secret, where it is stored and when it changed. Never a value.

use clap::Args;
use serde_json::{Value, json};

use super::{CliError, DataFormat, Exit, GlobalArgs, Ui, now, open};
use crate::engine::{SecretStatus, statuses};
use crate::rotation::{Schedule, stamp};

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
            let rows: Vec<Value> = rows.iter().map(SecretStatus::to_json).collect();
            let mut text = serde_json::to_string_pretty(&json!({ "secrets": rows }))
                .expect("a JSON value always serializes");
            text.push('\n');
            text
        }
    });
    Ok(Exit::Success)
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
    super::output::columns(&lines)
}
