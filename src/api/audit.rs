//! The audit log: one JSON object per line (JSON Lines), appended by the HTTP API for every
//! authenticated request and every refused one, and by `sync` and `rotate` given `--audit-log`.
//!
//! A record names the action, what it acted on, the API key's name (never the key), the caller
//! and the outcome, with details that hold names and counts, never a value. Each record is
//! appended with one `write` of the whole line to a file opened with `O_APPEND`, so lines from
//! concurrent writers (the server's threads, a CLI run beside it) never interleave.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file's name beside the Secretfile when no `--audit-log` names another.
pub const DEFAULT_FILE_NAME: &str = "secretzero-audit.jsonl";

/// How a request or run ended.
pub mod outcome {
    /// Done, and nothing to report (a command would exit 0).
    pub const SUCCESS: &str = "success";
    /// Done, with something to report: a failed check, drift, a target not written (a command
    /// would exit non-zero).
    pub const FAILURE: &str = "failure";
    /// No valid API key.
    pub const DENIED: &str = "denied";
    /// Refused before it started: a bad request, a sync already running, a rate limit.
    pub const REJECTED: &str = "rejected";
    /// The Secretfile or lockfile could not be loaded or written.
    pub const ERROR: &str = "error";
}

/// The outcomes, for the filters of `GET /audit/logs` and `secretzero audit`, which refuse
/// any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
    Rejected,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => outcome::SUCCESS,
            Outcome::Failure => outcome::FAILURE,
            Outcome::Denied => outcome::DENIED,
            Outcome::Rejected => outcome::REJECTED,
            Outcome::Error => outcome::ERROR,
        }
    }
}

/// One line of the log. Field order is the order on the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// RFC 3339 in UTC, to the millisecond.
    pub timestamp: String,
    /// `sync`, `rotate`, `drift.check`, `auth` and so on; docs/api.md lists them.
    pub action: String,
    /// What the action was about: the Secretfile, a secret's name, or a request path.
    pub resource: String,
    /// The name the API key was given; `null` for the CLI and an unauthenticated server.
    pub key_name: Option<String>,
    /// The client's IP address, or for a CLI run `cli:USER` (the login name), or `cli` when
    /// no name is known.
    pub caller: String,
    pub outcome: String,
    /// Names, counts and reasons; never a value.
    pub details: Value,
}

impl Record {
    pub fn new(
        now: Timestamp,
        action: &str,
        resource: &str,
        caller: &str,
        outcome: &str,
    ) -> Record {
        Record {
            timestamp: format_time(now),
            action: action.to_string(),
            resource: resource.to_string(),
            key_name: None,
            caller: caller.to_string(),
            outcome: outcome.to_string(),
            details: Value::Object(Default::default()),
        }
    }

    pub fn with_key(mut self, key_name: Option<&str>) -> Record {
        self.key_name = key_name.map(str::to_string);
        self
    }

    pub fn with_details(mut self, details: Value) -> Record {
        self.details = details;
        self
    }
}

/// RFC 3339 in UTC with milliseconds: sortable as text, precise enough to order requests.
pub fn format_time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Who runs a CLI command, for the `caller` field.
pub fn cli_caller() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_string(),
    }
}

/// The details of a sync or rotation: which secrets were generated and rotated, how many
/// targets were written, which secrets failed, and what became of the lockfile (`created`,
/// `updated`, `unchanged` or `not written`). Error texts stay out; they go where the run reports.
pub fn run_details(
    outcome: &crate::engine::Outcome,
    lockfile: &str,
) -> serde_json::Map<String, Value> {
    let failed: Vec<&str> = outcome
        .failures
        .iter()
        .map(|f| f.secret.as_str())
        .chain(outcome.generate_failures.iter().map(|(s, _)| s.as_str()))
        .chain(outcome.conflicts.iter().map(|(s, _)| s.as_str()))
        .chain(outcome.not_rotated.iter().map(|(s, _)| s.as_str()))
        .collect();
    let mut details = serde_json::Map::new();
    details.insert("generated".into(), serde_json::json!(outcome.generated));
    details.insert("rotated".into(), serde_json::json!(outcome.rotated));
    details.insert("targets_written".into(), serde_json::json!(outcome.written.len()));
    details.insert("targets_unchanged".into(), serde_json::json!(outcome.unchanged));
    details.insert("failed".into(), serde_json::json!(failed));
    details.insert("lockfile".into(), serde_json::json!(lockfile));
    details
}

/// An audit log file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog { path: path.into() }
    }

    /// The log beside `secretfile`, for when no path is given.
    pub fn beside(secretfile: &Path) -> AuditLog {
        AuditLog::new(crate::secretfile::beside(secretfile, DEFAULT_FILE_NAME))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line. A new file is created readable by its owner only: the
    /// log holds no values, but it does map who touched which secret.
    pub fn append(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path)?;

        // A last line cut short (a full disk, a killed writer) has no newline; the record
        // would be glued to it and be unreadable too. Ending it first costs at worst a blank
        // line, which readers skip, when two writers find it cut at once.
        if !ends_a_line(&mut file)? {
            line.insert(0, b'\n');
        }

        // One write: with O_APPEND the kernel places the whole line at the end of the file in
        // one step. Writing the rest in a second call could put another writer's line in the
        // middle, so a short write (only on a full disk) is reported instead.
        let written = file.write(&line)?;
        if written != line.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("only {written} of {} bytes of the audit record were written", line.len()),
            ));
        }
        Ok(())
    }

    /// Creates the file if needed without adding a line, to find out at start-up whether
    /// records can be written.
    pub fn check_writable(&self) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.path).map(drop)
    }

    /// The records that match `filter`, oldest first, one page of them. A missing file is an
    /// empty log. Lines that are not records (a line cut short by a full disk, a hand edit) are
    /// counted and skipped.
    pub fn read(&self, filter: &Filter) -> io::Result<Page> {
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(Page::empty(filter));
            }
            Err(error) => return Err(error),
        };
        let mut page = Page::empty(filter);
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(record) = serde_json::from_slice::<Record>(&line) else {
                page.unreadable_lines += 1;
                continue;
            };
            if !filter.matches(&record) {
                continue;
            }
            let room = filter.limit.is_none_or(|limit| page.records.len() < limit);
            if page.total >= filter.offset && room {
                page.records.push(record);
            }
            page.total += 1;
        }
        Ok(page)
    }
}

/// Whether `file` is empty or ends with a newline.
fn ends_a_line(file: &mut std::fs::File) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    let mut last = [0u8];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Which records to read. Every field that is set must match; times are inclusive.
#[derive(Debug, Clone)]
pub struct Filter {
    pub action: Option<String>,
    pub resource: Option<String>,
    pub key_name: Option<String>,
    /// A caller; `cli` also matches `cli:USER`, every CLI run.
    pub caller: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Matching records to skip.
    pub offset: usize,
    /// Matching records to return at most; `None` for all of them (the CLI's default).
    pub limit: Option<usize>,
}

/// The most records one page holds.
pub const MAX_LIMIT: usize = 1000;
/// Records per page when none is asked for.
pub const DEFAULT_LIMIT: usize = 100;

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            action: None,
            resource: None,
            key_name: None,
            caller: None,
            outcome: None,
            since: None,
            until: None,
            offset: 0,
            limit: Some(DEFAULT_LIMIT),
        }
    }
}

impl Filter {
    fn matches(&self, record: &Record) -> bool {
        let equal = |wanted: &Option<String>, got: &str| wanted.as_deref().is_none_or(|w| w == got);
        let time = || record.timestamp.parse::<Timestamp>().ok();
        equal(&self.action, &record.action)
            && equal(&self.resource, &record.resource)
            && self.caller.as_deref().is_none_or(|c| caller_matches(c, &record.caller))
            && equal(&self.outcome, &record.outcome)
            && self.key_name.as_deref().is_none_or(|k| record.key_name.as_deref() == Some(k))
            && self.since.is_none_or(|since| time().is_some_and(|t| t >= since))
            && self.until.is_none_or(|until| time().is_some_and(|t| t <= until))
    }
}

/// `cli` stands for every CLI run, whoever ran it; any other caller must match exactly.
fn caller_matches(wanted: &str, got: &str) -> bool {
    wanted == got || (wanted == "cli" && got.strip_prefix("cli:").is_some())
}

/// One page of matching records.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// How many records match, on every page.
    pub total: usize,
    pub offset: usize,
    /// `null` when every match is returned (`secretzero audit` without `--limit`).
    pub limit: Option<usize>,
    /// Lines skipped because they are not records.
    pub unreadable_lines: usize,
    pub records: Vec<Record>,
}

impl Page {
    fn empty(filter: &Filter) -> Page {
        Page {
            total: 0,
            offset: filter.offset,
            limit: filter.limit,
            unreadable_lines: 0,
            records: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_record_is_one_line_with_its_fields_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let record =
            Record::new(at("2026-12-04T08:00:00.5Z"), "sync", "Secretfile.yml", "cli", "success")
                .with_key(Some("ci"))
                .with_details(json!({"written": 2}));
        log.append(&record).unwrap();
        log.append(&record).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let line = concat!(
            r#"{"timestamp":"2026-12-04T08:00:00.500Z","action":"sync","#,
            r#""resource":"Secretfile.yml","key_name":"ci","caller":"cli","outcome":"success","#,
            r#""details":{"written":2}}"#
        );
        assert_eq!(text, format!("{line}\n{line}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(log.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn filters_and_pages_count_every_match() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        for (i, action) in ["sync", "auth", "sync", "drift.check", "sync"].iter().enumerate() {
            let time = at("2026-12-04T08:00:00Z") + jiff::SignedDuration::from_mins(i as i64);
            log.append(&Record::new(time, action, "S.yml", "127.0.0.1", outcome::SUCCESS)).unwrap();
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"cut short\n")
            .unwrap();

        let filter =
            Filter { action: Some("sync".into()), offset: 1, limit: Some(1), ..Filter::default() };
        let page = log.read(&filter).unwrap();
        assert_eq!((page.total, page.records.len(), page.unreadable_lines), (3, 1, 1));
        assert_eq!(page.records[0].timestamp, "2026-12-04T08:02:00.000Z");

        let filter = Filter {
            since: Some(at("2026-12-04T08:01:00Z")),
            until: Some(at("2026-12-04T08:03:00Z")),
            ..Filter::default()
        };
        let actions: Vec<String> =
            log.read(&filter).unwrap().records.into_iter().map(|r| r.action).collect();
        assert_eq!(actions, ["auth", "sync", "drift.check"]);
    }

    #[test]
    fn a_record_after_a_line_cut_short_starts_a_line_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        std::fs::write(log.path(), "{\"truncated").unwrap();
        let record = Record::new(at("2026-12-04T08:00:00Z"), "sync", "S.yml", "cli", "success");
        log.append(&record).unwrap();
        let page = log.read(&Filter::default()).unwrap();
        assert_eq!((page.total, page.unreadable_lines), (1, 1));
        assert_eq!(page.records, [record]);
    }

    #[test]
    fn a_missing_log_is_empty() {
        let page = AuditLog::new("/nonexistent/audit.jsonl").read(&Filter::default()).unwrap();
        assert_eq!((page.total, page.records.len()), (0, 0));
    }
}
