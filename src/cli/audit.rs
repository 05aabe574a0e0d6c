//! `secretzero audit`: reads the audit log that `serve`, and `sync` and `rotate` with
//! `--audit-log`, append to, filtered as `GET /audit/logs` filters it.

use std::path::PathBuf;

use clap::Args;
use jiff::Timestamp;

use super::{CliError, DataFormat, Exit, GlobalArgs, Ui};
use crate::api::audit::{AuditLog, Filter, MAX_LIMIT, Outcome, Record};

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

    /// Only records of this caller: a client's IP address, `cli:USER` for one user's CLI runs,
    /// or `cli` for every CLI run
    #[arg(long, value_name = "CALLER")]
    pub caller: Option<String>,

    /// Only records with this outcome
    #[arg(long, value_enum, value_name = "OUTCOME")]
    pub outcome: Option<Outcome>,

    /// Only records at or after this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub since: Option<Timestamp>,

    /// Only records at or before this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub until: Option<Timestamp>,

    /// Skip this many matching records
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub offset: usize,

    /// Show at most this many records, 1 to 1000 as for `GET /audit/logs` [default: all]
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_LIMIT as u64))]
    pub limit: Option<usize>,

    /// Output format; JSON is the document `GET /audit/logs` returns
    #[arg(long, value_enum, default_value_t = DataFormat::Text, value_name = "FORMAT")]
    pub format: DataFormat,
}

/// Appends to the audit log a command was given with `--audit-log`, if any.
pub(super) fn append(path: Option<&std::path::Path>, record: Record) -> Result<(), CliError> {
    let Some(path) = path else { return Ok(()) };
    AuditLog::new(path)
        .append(&record)
        .map_err(|source| CliError::Write { path: path.to_path_buf(), source })
}

/// Whether the audit log a command was given can be written, before the command changes
/// anything it would have to record.
pub(super) fn check_writable(path: Option<&std::path::Path>) -> Result<(), CliError> {
    let Some(path) = path else { return Ok(()) };
    AuditLog::new(path)
        .check_writable()
        .map_err(|source| CliError::Write { path: path.to_path_buf(), source })
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
        outcome: args.outcome.map(|outcome| outcome.as_str().to_string()),
        since: args.since,
        until: args.until,
        offset: args.offset,
        limit: args.limit,
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
