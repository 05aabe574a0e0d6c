//! One function per endpoint. Each runs the same library calls as the command it mirrors, on a
//! blocking thread, and records what it did in the audit log from that thread, so a request cut
//! off by its timeout is still recorded when its work ends. Responses hold names, states,
//! findings and counts, never a value.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clap::ValueEnum;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OwnedMutexGuard;

use super::audit::{self, Filter, outcome};
use super::server::{AppState, Caller, FileStamp, error, ok};
use crate::cli::{CliError, Opened, check_selection, now, open_at};
use crate::engine::{self, Action, Options, Outcome, Targets, statuses};
use crate::lockfile::Lockfile;
use crate::policy::FailOn;
use crate::report::{Check, CheckReport, Finding, Root, error_chain, plan_value, report_value};
use crate::secretfile::{LoadError, missing_static_values};

/// The OpenAPI document, also shown in docs/api.md (a test keeps the two the same).
pub(super) const OPENAPI: &str = include_str!("openapi.json");

pub(super) async fn root(State(state): State<Arc<AppState>>) -> Response {
    ok(json!({
        "name": "secretzero",
        "version": env!("CARGO_PKG_VERSION"),
        "authentication": if state.keys.is_empty() { "none" } else { "X-API-Key" },
        "openapi": "/openapi.json",
        "health": "/health",
    }))
}

pub(super) async fn health() -> Response {
    ok(json!({"status": "ok"}))
}

pub(super) async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(super) async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint",
        Some("GET /openapi.json lists them"),
    )
}

/// An error as a response: the status, a stable code, and the message and hint the CLI would
/// print on standard error (which never quote a value).
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    hint: Option<String>,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            hint: None,
        }
    }
}

impl From<CliError> for ApiError {
    fn from(error: CliError) -> ApiError {
        let (status, code) = match &error {
            CliError::Usage { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            CliError::Load(LoadError::Invalid { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_secretfile")
            }
            CliError::Write { .. }
            | CliError::Lockfile(crate::lockfile::LockfileError::Write { .. }) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "cannot_write")
            }
            CliError::Load(_) | CliError::Lockfile(_) | CliError::Read { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "cannot_load")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
        };
        let hint = match &error {
            CliError::Load(LoadError::Invalid { .. }) => {
                Some("POST /config/validate lists every problem".to_string())
            }
            _ => error.hint(),
        };
        ApiError { status, code, message: error_chain(&error), hint }
    }
}

impl From<crate::lockfile::LockfileError> for ApiError {
    fn from(error: crate::lockfile::LockfileError) -> ApiError {
        CliError::from(error).into()
    }
}

/// What a handler's work produced: the response body and the audit record's parts.
struct Reply {
    body: Value,
    outcome: &'static str,
    details: Value,
}

/// Runs `work` on a blocking thread (the engine reads and writes files and may run scripts),
/// audits its result there, and answers with it. `busy` is held until the work ends.
async fn run<F>(
    state: Arc<AppState>,
    caller: Caller,
    action: &'static str,
    resource: Option<String>,
    busy: Option<OwnedMutexGuard<()>>,
    work: F,
) -> Response
where
    F: FnOnce(&AppState) -> Result<Reply, ApiError> + Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || {
        let resource = resource.unwrap_or_else(|| state.secretfile.display().to_string());
        // A run that changes targets does not start unless it can be recorded.
        if busy.is_some()
            && let Err(source) = state.audit.check_writable()
        {
            let failure = cannot_audit(&state, source, false);
            audit_failure(&state, &caller, action, &resource, &failure);
            return Err(failure);
        }

        let result = work(&state);
        drop(busy);
        match result {
            Ok(reply) => {
                let record = state.record(&caller, action, &resource, reply.outcome);
                // Fail closed: an answer that is not in the audit log is not given.
                match state.audit(record.with_details(reply.details)) {
                    Ok(()) => Ok(reply.body),
                    Err(source) => Err(cannot_audit(&state, source, true)),
                }
            }
            Err(failure) => {
                audit_failure(&state, &caller, action, &resource, &failure);
                Err(failure)
            }
        }
    });
    match task.await {
        Ok(Ok(body)) => ok(body),
        Ok(Err(failure)) => {
            error(failure.status, failure.code, &failure.message, failure.hint.as_deref())
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request failed", None),
    }
}

/// The answer when the audit log cannot be written: the server does not answer a request it
/// cannot record. `done` says whether the request was carried out all the same (its record
/// is written after the work), which the caller needs to know before retrying a sync.
fn cannot_audit(state: &AppState, source: std::io::Error, done: bool) -> ApiError {
    let path = state.audit.path().to_path_buf();
    let hint = match done {
        true => "the request was carried out, but the server gives no answer it cannot record",
        false => "nothing was done: the server runs no request it cannot record",
    };
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "cannot_write",
        message: error_chain(&CliError::Write { path, source }),
        hint: Some(hint.into()),
    }
}

/// Answers a request refused before any work, and audits it.
fn refuse(state: &AppState, caller: &Caller, action: &str, failure: ApiError) -> Response {
    audit_failure(state, caller, action, &state.secretfile.display().to_string(), &failure);
    error(failure.status, failure.code, &failure.message, failure.hint.as_deref())
}

/// Records an error answer: `rejected` for the caller's mistakes (4xx), `error` for the
/// server's. The message stays out; the code and status say what went wrong. A body too large
/// is recorded by the guard, which sees every 413.
fn audit_failure(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    failure: &ApiError,
) {
    if failure.status == StatusCode::PAYLOAD_TOO_LARGE {
        return;
    }
    let outcome = match failure.status.is_client_error() {
        true => outcome::REJECTED,
        false => outcome::ERROR,
    };
    let details = json!({"error": failure.code, "status": failure.status.as_u16()});
    // The answer is an error already; one that cannot be recorded is logged by `audit`.
    let _ = state.audit(state.record(caller, action, resource, outcome).with_details(details));
}

/// A JSON request body. It must be an object: serde would also read an array as the fields
/// in order, so `[true]` would be a dry run and `[]` a sync. An empty body, or one of
/// whitespace only, is `{}`: every field's default.
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            message: "the request body is too large".into(),
            hint: None,
        },
        status => {
            ApiError { status, code: "bad_request", message: rejection.body_text(), hint: None }
        }
    })?;
    let invalid =
        |e: serde_json::Error| ApiError::bad_request(format!("the request body is not valid: {e}"));
    let value = match body.iter().all(u8::is_ascii_whitespace) {
        true => Value::Object(serde_json::Map::new()),
        false => serde_json::from_slice(&body).map_err(invalid)?,
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// Takes the Secretfile's sync lock, or explains that another run holds it.
fn take_busy(state: &AppState) -> Result<OwnedMutexGuard<()>, ApiError> {
    state.busy.clone().try_lock_owned().map_err(|_| ApiError {
        status: StatusCode::CONFLICT,
        code: "busy",
        message: format!("a sync or rotation of {} is already running", state.secretfile.display()),
        hint: Some("retry when it has finished".to_string()),
    })
}

/// The Secretfile and lockfile, read afresh: for the runs that change them.
fn open(state: &AppState) -> Result<Opened, ApiError> {
    Ok(open_at(&state.secretfile, state.lockfile.as_deref())?)
}

/// The Secretfile and lockfile as last read, or read again when either file changed since:
/// for the endpoints that only read them. Parsing a large Secretfile takes far longer than
/// answering from it, and these endpoints are the ones called often.
fn cached(state: &AppState) -> Result<Arc<Opened>, ApiError> {
    let lockfile = state
        .lockfile
        .clone()
        .unwrap_or_else(|| crate::secretfile::default_lockfile_path(&state.secretfile));
    // Taken before reading, so a change made while the files are read is seen next time.
    let stamp = (file_stamp(&state.secretfile), file_stamp(&lockfile));
    let mut cache = state.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((cached_stamp, opened)) = &*cache
        && stamp.0.is_some()
        && *cached_stamp == stamp
    {
        return Ok(opened.clone());
    }
    let opened = Arc::new(open(state)?);
    *cache = Some((stamp, opened.clone()));
    Ok(opened)
}

/// The lockfile, or a new empty one where there is none yet (as the commands do).
fn lock_or_new(opened: &Opened) -> std::borrow::Cow<'_, Lockfile> {
    opened
        .lockfile
        .as_ref()
        .map_or_else(|| std::borrow::Cow::Owned(Lockfile::new()), std::borrow::Cow::Borrowed)
}

/// What tells one version of a file from the next: an atomic replace (as every save here
/// does) changes the inode, an edit in place the size or the modification time.
fn file_stamp(path: &std::path::Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some((inode, metadata.len(), metadata.modified().ok()?))
}

fn root_of(state: &AppState) -> Root {
    Root::for_secretfile(&state.secretfile)
}

fn report(state: &AppState, check: Check, findings: Vec<Finding>) -> Value {
    report_value(&[CheckReport { check, findings }], &root_of(state))
}

/// `POST /config/validate` takes no field; its body may only be empty or `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateRequest {}

pub(super) async fn validate(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(failure) = parse::<ValidateRequest>(body) {
        return refuse(&state, &caller, "config.validate", failure);
    }
    run(state, caller, "config.validate", None, None, |state| {
        // As `secretzero validate`: a file that does not load is reported, not an error.
        let (findings, errors) = match open_at(&state.secretfile, state.lockfile.as_deref()) {
            Err(CliError::Load(LoadError::Invalid { findings, .. })) => {
                let errors = findings.len();
                (findings, errors)
            }
            Err(CliError::Load(LoadError::Syntax { finding, .. })) => (vec![*finding], 1),
            Err(other) => return Err(other.into()),
            Ok(opened) => {
                // A lockfile that needs SECRETZERO_LOCK_KEY fails every other endpoint without it.
                opened.lockfile.as_ref().map(Lockfile::hasher).transpose()?;
                let errors = missing_static_values(&opened.file, opened.lockfile.as_ref());
                let count = errors.len();
                (errors.into_iter().chain(opened.file.warnings.iter().cloned()).collect(), count)
            }
        };
        let warnings = findings.len() - errors;
        Ok(Reply {
            body: json!({
                "valid": errors == 0,
                "report": report(state, Check::Validate, findings),
            }),
            outcome: if errors == 0 { outcome::SUCCESS } else { outcome::FAILURE },
            details: json!({"errors": errors, "warnings": warnings}),
        })
    })
    .await
}

pub(super) async fn secrets(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    run(state, caller, "secrets.list", None, None, |state| {
        let opened = cached(state)?;
        let hasher = opened.lockfile.as_ref().map(Lockfile::hasher).transpose()?;
        let rows = statuses(&opened.file, opened.lockfile.as_ref(), hasher.as_ref(), now()?);
        let rows: Vec<Value> = rows.iter().map(engine::SecretStatus::to_json).collect();
        let details = json!({"count": rows.len()});
        Ok(Reply { body: json!({"secrets": rows}), outcome: outcome::SUCCESS, details })
    })
    .await
}

pub(super) async fn secret_status(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    run(state, caller, "secrets.status", Some(name.clone()), None, move |state| {
        let opened = cached(state)?;
        let hasher = opened.lockfile.as_ref().map(Lockfile::hasher).transpose()?;
        let lock = opened.lockfile.as_ref();
        // One declared secret is looked at alone; only a name the Secretfile no longer
        // declares needs the whole list, which also holds what the lockfile alone records.
        let rows = match opened.file.secrets.get(&name) {
            Some(secret) => {
                let entry = lock.and_then(|l| l.secrets.get(&name));
                vec![engine::status(secret, entry, hasher.as_ref(), now()?)]
            }
            None => statuses(&opened.file, lock, hasher.as_ref(), now()?),
        };
        let Some(row) = rows.iter().find(|row| row.name == name) else {
            let hint = check_selection(&opened.file, std::slice::from_ref(&name))
                .err()
                .and_then(|e| e.hint());
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: format!("no secret named `{name}`"),
                hint,
            });
        };
        Ok(Reply {
            body: row.to_json(),
            outcome: outcome::SUCCESS,
            details: json!({"state": row.state.name()}),
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SyncRequest {
    dry_run: bool,
    force: bool,
    secrets: Vec<String>,
}

pub(super) async fn sync(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: SyncRequest = match parse(body) {
        Ok(request) => request,
        Err(failure) => return refuse(&state, &caller, "sync", failure),
    };
    // A dry run writes nothing, so it runs beside a sync; a real one waits for no one.
    let busy = match request.dry_run {
        true => None,
        false => match take_busy(&state) {
            Ok(guard) => Some(guard),
            Err(failure) => return refuse(&state, &caller, "sync", failure),
        },
    };
    run(state, caller, "sync", None, busy, move |state| sync_work(state, request)).await
}

fn sync_work(state: &AppState, request: SyncRequest) -> Result<Reply, ApiError> {
    let opened = open(state)?;
    let file = &opened.file;
    check_selection(file, &request.secrets)?;
    let now = now()?;
    let existed = opened.lockfile.is_some();
    let mut lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let options = Options {
        force: request.force,
        only: request.secrets.clone(),
        drop_undeclared: request.secrets.is_empty(),
        ..Options::default()
    };
    let mut targets = Targets::new(file, &opened.lockfile_path);
    let plan = engine::plan(file, &lock, &hasher, &mut targets, &options);
    let mut details = json!({
        "dry_run": request.dry_run,
        "force": request.force,
        "secrets": request.secrets,
    });
    if request.dry_run {
        let blocked =
            plan.count(Action::Skip) > 0 || plan.secrets.iter().any(|s| s.conflict.is_some());
        let plan = plan_value(&plan);
        details["summary"] = plan["summary"].clone();
        return Ok(Reply {
            body: json!({"dry_run": true, "success": !blocked, "plan": plan}),
            outcome: if blocked { outcome::FAILURE } else { outcome::SUCCESS },
            details,
        });
    }

    check_writable(&opened.lockfile_path)?;
    let outcome = engine::apply(plan, file, &mut lock, &hasher, &mut targets, now, &mut |_, _| {});
    // As the CLI: a failed first run leaves no empty lockfile behind.
    let first = !existed && !outcome.failed();
    let must_save = outcome.lockfile_changed || first || lock.read_older_format();
    let saved = must_save && lock.save(&opened.lockfile_path)?;
    let lockfile = match (saved, existed) {
        (true, false) => "created",
        (true, true) => "updated",
        (false, _) => "unchanged",
    };
    summarise(&outcome, lockfile, &mut details);
    Ok(Reply {
        body: json!({
            "dry_run": false,
            "success": !outcome.failed(),
            "lockfile": lockfile,
            "result": outcome_json(&outcome),
        }),
        outcome: if outcome.failed() { outcome::FAILURE } else { outcome::SUCCESS },
        details,
    })
}

fn check_writable(lockfile: &std::path::Path) -> Result<(), ApiError> {
    crate::lockfile::check_writable(lockfile)
        .map_err(|source| CliError::Write { path: lockfile.to_path_buf(), source }.into())
}

/// What a sync or rotation did, by secret and target name: the summary the CLI prints, as data.
fn outcome_json(outcome: &Outcome) -> Value {
    json!({
        "generated": outcome.generated,
        "adopted": outcome.adopted,
        "rotated": outcome.rotated,
        "dropped": outcome.dropped.iter().map(|(secret, _)| secret).collect::<Vec<_>>(),
        "written": outcome.written.iter()
            .map(|(secret, target)| json!({"secret": secret, "target": target}))
            .collect::<Vec<_>>(),
        "unchanged": outcome.unchanged,
        "failed": outcome.failures.iter()
            .map(|f| json!({
                "secret": f.secret,
                "target": f.target_id,
                "error": error_chain(f.error.as_ref()),
            }))
            .collect::<Vec<_>>(),
        "conflicts": outcome.conflicts.iter()
            .map(|(secret, why)| json!({"secret": secret, "reason": why}))
            .collect::<Vec<_>>(),
        "generate_failures": outcome.generate_failures.iter()
            .map(|(secret, e)| json!({"secret": secret, "error": error_chain(e)}))
            .collect::<Vec<_>>(),
        "not_rotated": outcome.not_rotated.iter()
            .map(|(secret, why)| json!({"secret": secret, "reason": why}))
            .collect::<Vec<_>>(),
    })
}

/// Adds what a run did to the audit details of its request.
fn summarise(outcome: &Outcome, lockfile: &str, details: &mut Value) {
    if let Value::Object(map) = details {
        map.extend(audit::run_details(outcome, lockfile));
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RotationRequest {
    force: bool,
    secrets: Vec<String>,
}

pub(super) async fn rotation_check(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: RotationRequest = match parse(body) {
        Ok(request) => request,
        Err(failure) => return refuse(&state, &caller, "rotation.check", failure),
    };
    run(state, caller, "rotation.check", None, None, move |state| {
        let opened = cached(state)?;
        check_selection(&opened.file, &request.secrets)?;
        let lock = lock_or_new(&opened);
        let hasher = lock.hasher()?;
        let decisions = crate::rotation::decide(
            &opened.file,
            &lock,
            &hasher,
            &request.secrets,
            request.force,
            now()?,
        );
        let rows: Vec<Value> = decisions
            .iter()
            .map(|d| {
                json!({
                    "secret": d.secret.name,
                    "action": if d.rotate { "rotate" } else { "wait" },
                    "period": d.secret.rotation_period.map(|(p, _)| p.to_string()),
                    "due_at": d.schedule.due_at().map(|t| crate::rotation::stamp(Some(t))),
                    "reason": d.reason,
                })
            })
            .collect();
        let findings = crate::rotation::findings(&opened.file, &decisions);
        let to_rotate = decisions.iter().filter(|d| d.rotate).count();
        Ok(Reply {
            body: json!({
                "secrets": rows,
                "report": report(state, Check::Rotation, findings),
            }),
            outcome: outcome::SUCCESS,
            details: json!({
                "force": request.force,
                "secrets": request.secrets,
                "to_rotate": to_rotate,
            }),
        })
    })
    .await
}

pub(super) async fn rotation_execute(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: RotationRequest = match parse(body) {
        Ok(request) => request,
        Err(failure) => return refuse(&state, &caller, "rotate", failure),
    };
    let busy = match take_busy(&state) {
        Ok(guard) => guard,
        Err(failure) => return refuse(&state, &caller, "rotate", failure),
    };
    run(state, caller, "rotate", None, Some(busy), move |state| rotate_work(state, request)).await
}

fn rotate_work(state: &AppState, request: RotationRequest) -> Result<Reply, ApiError> {
    let opened = open(state)?;
    let file = &opened.file;
    check_selection(file, &request.secrets)?;
    let now = now()?;
    let mut lock = opened.lockfile.unwrap_or_else(Lockfile::new);
    let hasher = lock.hasher()?;

    let decisions =
        crate::rotation::decide(file, &lock, &hasher, &request.secrets, request.force, now);
    let rotating: Vec<String> =
        decisions.iter().filter(|d| d.rotate).map(|d| d.secret.name.clone()).collect();
    let waiting: Vec<Value> = decisions
        .iter()
        .filter(|d| !d.rotate)
        .map(|d| json!({"secret": d.secret.name, "reason": d.reason}))
        .collect();
    let mut details = json!({"force": request.force, "secrets": request.secrets});
    let mut outcome = Outcome::default();
    let mut lockfile = "unchanged";
    if !rotating.is_empty() {
        check_writable(&opened.lockfile_path)?;
        let options = Options { only: rotating.clone(), rotate: rotating, ..Options::default() };
        let mut targets = Targets::new(file, &opened.lockfile_path);
        let plan = engine::plan(file, &lock, &hasher, &mut targets, &options);
        outcome = engine::apply(plan, file, &mut lock, &hasher, &mut targets, now, &mut |_, _| {});
        if outcome.lockfile_changed && lock.save(&opened.lockfile_path)? {
            lockfile = "updated";
        }
    }
    summarise(&outcome, lockfile, &mut details);
    Ok(Reply {
        body: json!({
            "success": !outcome.failed(),
            "lockfile": lockfile,
            "waiting": waiting,
            "result": outcome_json(&outcome),
        }),
        outcome: if outcome.failed() { outcome::FAILURE } else { outcome::SUCCESS },
        details,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PolicyRequest {
    fail_on: Option<String>,
}

pub(super) async fn policy_check(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let parsed = parse::<PolicyRequest>(body).and_then(|request| {
        let text = request.fail_on.as_deref().unwrap_or("error");
        FailOn::from_str(text, false).map_err(|_| {
            ApiError::bad_request(format!(
                "fail_on is `{text}`; it must be `error`, `warning` or `never`"
            ))
        })
    });
    let fail_on = match parsed {
        Ok(fail_on) => fail_on,
        Err(failure) => return refuse(&state, &caller, "policy.check", failure),
    };
    run(state, caller, "policy.check", None, None, move |state| {
        let opened = cached(state)?;
        let checked = crate::policy::check(&opened.file, opened.lockfile.as_ref());
        let passed = !checked.findings.iter().any(|f| fail_on.fails(f.severity));
        let name = fail_on.to_possible_value().map(|v| v.get_name().to_string());
        let count = checked.findings.len();
        Ok(Reply {
            body: json!({
                "passed": passed,
                "fail_on": name,
                "packs": checked.packs,
                "custom_policies": checked.custom,
                "report": report(state, Check::Policy, checked.findings),
            }),
            outcome: if passed { outcome::SUCCESS } else { outcome::FAILURE },
            details: json!({"fail_on": name, "findings": count}),
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DriftRequest {
    secrets: Vec<String>,
}

pub(super) async fn drift_check(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: DriftRequest = match parse(body) {
        Ok(request) => request,
        Err(failure) => return refuse(&state, &caller, "drift.check", failure),
    };
    run(state, caller, "drift.check", None, None, move |state| {
        let opened = cached(state)?;
        let file = &opened.file;
        // As `secretzero drift`: a name the lockfile alone still knows may be checked too.
        let recorded = |name: &String| {
            opened.lockfile.as_ref().is_some_and(|lock| lock.secrets.contains_key(name))
        };
        let unknown: Vec<String> =
            request.secrets.iter().filter(|name| !recorded(name)).cloned().collect();
        check_selection(file, &unknown)?;
        let lock = lock_or_new(&opened);
        let hasher = lock.hasher()?;
        let mut targets = Targets::new(file, &opened.lockfile_path);
        let checked = crate::drift::check(
            file,
            &lock,
            &hasher,
            &mut targets,
            &request.secrets,
            &opened.lockfile_path,
        );
        let drifted = checked.drifted();
        let count = checked.findings.len();
        Ok(Reply {
            body: json!({
                "drifted": drifted,
                "secrets_checked": checked.secrets,
                "targets_checked": checked.targets,
                "report": report(state, Check::Drift, checked.findings),
            }),
            outcome: if drifted { outcome::FAILURE } else { outcome::SUCCESS },
            details: json!({"secrets": request.secrets, "drifted": drifted, "findings": count}),
        })
    })
    .await
}

pub(super) async fn audit_logs(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let filter = match filter(&query) {
        Ok(filter) => filter,
        Err(failure) => return refuse(&state, &caller, "audit.read", failure),
    };
    let resource = Some(state.audit.path().display().to_string());
    run(state, caller, "audit.read", resource, None, move |state| {
        let page = state.audit.read(&filter).map_err(|source| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "cannot_load",
            message: error_chain(&CliError::Read {
                path: state.audit.path().to_path_buf(),
                source,
            }),
            hint: None,
        })?;
        let details = json!({"filter": query, "returned": page.records.len()});
        Ok(Reply {
            body: serde_json::to_value(&page).expect("a page serializes"),
            outcome: outcome::SUCCESS,
            details,
        })
    })
    .await
}

/// The audit filter from the query string; an unknown parameter is an error, not ignored.
fn filter(query: &HashMap<String, String>) -> Result<Filter, ApiError> {
    let mut filter = Filter::default();
    for (name, value) in query {
        let text = || Some(value.clone());
        let time = || {
            value.parse::<jiff::Timestamp>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("{name} `{value}` is not an RFC 3339 time"))
            })
        };
        let number = || {
            value.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("{name} `{value}` is not a whole number"))
            })
        };
        match name.as_str() {
            "action" => filter.action = text(),
            "resource" => filter.resource = text(),
            "key_name" => filter.key_name = text(),
            "caller" => filter.caller = text(),
            "outcome" => {
                let known = audit::Outcome::from_str(value, false).map_err(|_| {
                    ApiError::bad_request(format!(
                        "outcome `{value}` is not one of success, failure, denied, rejected, \
                         error"
                    ))
                })?;
                filter.outcome = Some(known.as_str().to_string());
            }
            "since" => filter.since = time()?,
            "until" => filter.until = time()?,
            "offset" => filter.offset = number()?,
            "limit" => filter.limit = Some(number()?),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{name}`; known: action, resource, key_name, caller, \
                     outcome, since, until, offset, limit"
                )));
            }
        }
    }
    if filter.limit.is_none_or(|limit| limit == 0 || limit > audit::MAX_LIMIT) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {}",
            audit::MAX_LIMIT
        )));
    }
    Ok(filter)
}
