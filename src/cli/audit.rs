//! `secretzero audit`: reads the audit log that `serve`, and `sync` and `rotate` with
//! `--audit-log`, append to, filtered as `GET /audit/logs` filters it.

use std::path::PathBuf;

use clap::Args;
use jiff::Timestamp;

use super::{CliError, DataFormat, Exit, GlobalArgs, Ui};
use crate::api::audit::{AuditLog, Filter, Record};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The audit log [default: secretzero-audit.jsonl beside the Secretfile]
    #[arg(long, env = "SECRETZERO_AUDIT_LOG", value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Only records of this action (`sync`, `rotate`, `auth`, `drift.check`, ...)
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,

    /// Only records about this resource (the Secretfile, a secret's name, a request path)
    #[arg(long, value_name = "RESOURCE")]
    pub resource: Option<String>,

    /// Only requests made with the API key of this name
    #[arg(long = "key-name", value_name = "NAME")]
    pub key_name: Option<String>,

    /// Only records of this caller (a client's IP address, or `cli`)
    #[arg(long, value_name = "CALLER")]
    pub caller: Option<String>,

    /// Only records with this outcome: success, failure, denied, rejected or error
    #[arg(long, value_name = "OUTCOME")]
    pub outcome: Option<String>,

    /// Only records at or after this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub since: Option<Timestamp>,

    /// Only records at or before this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub until: Option<Timestamp>,

    /// Skip this many matching records
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub offset: usize,

    /// Show at most this many records [default: all]
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Output format; JSON is the document `GET /audit/logs` returns
    #[arg(long, value_enum, default_value_t = DataFormat::Text, value_name = "FORMAT")]
    pub format: DataFormat,
}

/// The audit log a command appends to: `--audit-log`, or none.
pub(super) fn append(path: Option<&std::path::Path>, record: Record, ui: &Ui) {
    let Some(path) = path else { return };
    if let Err(error) = AuditLog::new(path).append(&record) {
        ui.failure(&format!("Could not append to the audit log {}", path.display()), Some(&error));
    }
}

pub fn run(global: &GlobalArgs, args: &AuditArgs, ui: &Ui) -> Result<Exit, CliError> {
    let log = match &args.audit_log {
        Some(path) => AuditLog::new(path),
        None => AuditLog::beside(&global.file),
    };
    let filter = Filter {
        action: args.action.clone(),
        resource: args.resource.clone(),
        key_name: args.key_name.clone(),
        caller: args.caller.clone(),
        outcome: args.outcome.clone(),
        since: args.since,
        until: args.until,
        offset: args.offset,
        limit: args.limit.unwrap_or(usize::MAX),
    };
    if !log.path().exists() {
        ui.warn(&format!("no audit log at {}", log.path().display()));
    }
    let page = log
        .read(&filter)
        .map_err(|source| CliError::Read { path: log.path().to_path_buf(), source })?;
    if page.unreadable_lines > 0 {
        ui.warn(&format!(
            "{} line(s) of {} are not audit records and were skipped",
            page.unreadable_lines,
            log.path().display()
        ));
    }
    ui.data(&match args.format {
        DataFormat::Json => {
            let mut text = serde_json::to_string_pretty(&page).expect("a page serializes");
            text.push('\n');
            text
        }
        DataFormat::Text => table(&page.records),
    });
    Ok(Exit::Success)
}

fn table(records: &[Record]) -> String {
    let header = ["TIME", "ACTION", "RESOURCE", "KEY", "CALLER", "OUTCOME"];
    let mut lines: Vec<[String; 6]> = vec![header.map(str::to_string)];
    for record in records {
        lines.push([
            record.timestamp.clone(),
            record.action.clone(),
            record.resource.clone(),
            record.key_name.clone().unwrap_or_else(|| "-".into()),
            record.caller.clone(),
            record.outcome.clone(),
        ]);
    }
    super::output::columns(&lines)
}
