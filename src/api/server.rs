//! The server: settings, the router, and the guards every protected request passes (API key,
//! rate limit), plus the limits on every request (body size, time).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper::body::Incoming;
use jiff::Timestamp;
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::audit::{AuditLog, Record, outcome};
use super::auth::{KeyError, Keys};
use super::handlers;

/// The header that carries the API key.
pub const KEY_HEADER: &str = "x-api-key";

/// What `secretzero serve` runs with.
#[derive(Debug)]
pub struct Settings {
    pub host: String,
    /// 0 picks a free port; the callback given to [`serve`] learns which.
    pub port: u16,
    pub secretfile: PathBuf,
    pub lockfile: Option<PathBuf>,
    pub keys: Keys,
    /// Serve without keys; refused unless every address `host` names is a loopback one.
    pub insecure: bool,
    pub audit: AuditLog,
    pub max_body: usize,
    /// How long a request may take, and how long a connection may take to send the headers
    /// of its next request.
    pub timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Requests per minute for each key (and failed authentications per client address).
    pub rate_per_minute: NonZeroU32,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no API key is configured")]
    NoKey,
    #[error(
        "--insecure-no-auth serves without API keys on a loopback address only, and `{host}` \
         is not one"
    )]
    NotLoopback { host: String },
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot resolve the address `{host}`")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {host}:{port}")]
    Bind {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the audit log {}", path.display())]
    Audit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped")]
    Io(#[source] std::io::Error),
}

impl ServeError {
    /// Whether the settings are at fault (exit 2) rather than the machine (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, ServeError::NoKey | ServeError::NotLoopback { .. } | ServeError::Keys(_))
    }

    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ServeError::NoKey => Some(
                "set SECRETZERO_API_KEY or give --api-keys FILE; on a loopback address only, \
                 --insecure-no-auth serves without keys",
            ),
            ServeError::NotLoopback { .. } => Some("configure an API key, or use --host 127.0.0.1"),
            _ => None,
        }
    }
}

/// Who made a request, as the guard established it.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    /// `None` on a server without keys.
    pub key_name: Option<String>,
    pub ip: IpAddr,
}

/// What every handler shares.
#[derive(Debug)]
pub(super) struct AppState {
    pub secretfile: PathBuf,
    pub lockfile: Option<PathBuf>,
    pub keys: Keys,
    pub audit: AuditLog,
    /// Held by a sync or rotation for its whole run, so a second one is refused (409) rather
    /// than racing the first on the same targets and lockfile.
    pub busy: Arc<tokio::sync::Mutex<()>>,
    /// The Secretfile and lockfile as last read, with what identified each file's version.
    pub opened: std::sync::Mutex<Option<(FileStamps, Arc<crate::cli::Opened>)>>,
    limiter: DefaultKeyedRateLimiter<String>,
}

/// Inode, size and modification time of the Secretfile and of the lockfile (if any).
pub(super) type FileStamps = (Option<FileStamp>, Option<FileStamp>);
pub(super) type FileStamp = (u64, u64, std::time::SystemTime);

impl AppState {
    /// Appends an audit record. A record that cannot be written is logged here; the caller
    /// decides what its request then answers (see [`handlers`]: the server fails closed).
    pub fn audit(&self, record: Record) -> std::io::Result<()> {
        let written = self.audit.append(&record);
        if let Err(error) = &written {
            tracing::error!(
                path = %self.audit.path().display(),
                action = %record.action,
                "cannot write the audit log: {error}"
            );
        }
        written
    }

    pub fn record(&self, caller: &Caller, action: &str, resource: &str, outcome: &str) -> Record {
        Record::new(Timestamp::now(), action, resource, &caller.ip.to_string(), outcome)
            .with_key(caller.key_name.as_deref())
    }

    /// How long `bucket` must wait, if it is over its rate.
    fn over_rate(&self, bucket: String) -> Option<Duration> {
        self.limiter
            .check_key(&bucket)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Starts the server and runs it until Ctrl-C or SIGTERM. `ready` learns the address it
/// listens on (useful with port 0) before the first request is taken.
pub fn serve(settings: Settings, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let addresses: Vec<SocketAddr> = (settings.host.as_str(), settings.port)
        .to_socket_addrs()
        .map_err(|source| ServeError::Resolve { host: settings.host.clone(), source })?
        .collect();
    if settings.keys.is_empty() {
        if !settings.insecure {
            return Err(ServeError::NoKey);
        }
        if addresses.is_empty() || !addresses.iter().all(|a| a.ip().is_loopback()) {
            return Err(ServeError::NotLoopback { host: settings.host.clone() });
        }
    }
    settings.audit.check_writable().map_err(|source| ServeError::Audit {
        path: settings.audit.path().to_path_buf(),
        source,
    })?;

    let state = Arc::new(AppState {
        secretfile: settings.secretfile,
        lockfile: settings.lockfile,
        keys: settings.keys,
        audit: settings.audit,
        busy: Arc::default(),
        opened: std::sync::Mutex::default(),
        limiter: RateLimiter::keyed(Quota::per_minute(settings.rate_per_minute)),
    });
    let app = router(state.clone(), settings.max_body, settings.timeout);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("secretzero-api")
        .build()
        .map_err(ServeError::Io)?;
    runtime.block_on(async move {
        let (host, port) = (settings.host, settings.port);
        let listener = tokio::net::TcpListener::bind(addresses.as_slice())
            .await
            .map_err(|source| ServeError::Bind { host: host.clone(), port, source })?;
        ready(listener.local_addr().map_err(ServeError::Io)?);

        // Buckets of callers gone quiet are dropped, so addresses that once failed to
        // authenticate do not accumulate.
        let sweeper = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                sweeper.limiter.retain_recent();
            }
        });

        accept(listener, app, settings.timeout, settings.max_connections).await;
        Ok(())
    })
}

/// Serves connections until Ctrl-C or SIGTERM, then waits for the requests in flight.
///
/// hyper is driven here rather than through `axum::serve`, which gives no way to bound how
/// long a client may take to send its headers: a client that sends them a byte at a time
/// would hold its connection, and its task, for ever. Each connection also takes a permit,
/// so that many such clients cannot exhaust the server's memory or file descriptors.
async fn accept(
    listener: tokio::net::TcpListener,
    app: Router,
    timeout: Duration,
    max_connections: usize,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(timeout);
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown());
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut stop => break,
        };
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it was taken: wait
                // rather than spin, as the listener stays usable.
                Err(error) => {
                    tracing::debug!("cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(address));
            tower_service::Service::call(&mut app.clone(), request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%address, "connection ended: {error}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn router(state: Arc<AppState>, max_body: usize, timeout: Duration) -> Router {
    // The body limit sits inside the guard, so that a caller without a key is told 401 (and
    // audited) whatever the size of its body, and every 413 is audited with who sent it.
    let protected = Router::new()
        .route("/config/validate", post(handlers::validate))
        .route("/secrets", get(handlers::secrets))
        .route("/secrets/{name}/status", get(handlers::secret_status))
        .route("/sync", post(handlers::sync))
        .route("/rotation/check", post(handlers::rotation_check))
        .route("/rotation/execute", post(handlers::rotation_execute))
        .route("/policy/check", post(handlers::policy_check))
        .route("/drift/check", post(handlers::drift_check))
        .route("/audit/logs", get(handlers::audit_logs))
        .route_layer(RequestBodyLimitLayer::new(max_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/", get(handlers::root))
        .route("/health", get(handlers::health))
        .route("/openapi.json", get(handlers::openapi))
        .merge(protected)
        .fallback(handlers::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        // Outermost, so that it sees the answers of the layers above too.
        .layer(middleware::map_response(json_errors))
}

/// Checks the API key and the caller's rate before a protected handler runs.
async fn guard(
    State(state): State<Arc<AppState>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = address.ip();
    let path = request.uri().path().to_string();
    let key_name = match state.keys.is_empty() {
        true => None,
        false => match request.headers().get(KEY_HEADER) {
            None => return deny(&state, ip, &path, "no X-API-Key header"),
            Some(value) => match state.keys.check(value.as_bytes()) {
                Some(name) => Some(name.to_string()),
                None => return deny(&state, ip, &path, "not a known API key"),
            },
        },
    };

    let caller = Caller { key_name, ip };
    let bucket =
        caller.key_name.as_ref().map_or_else(|| format!("addr:{ip}"), |n| format!("key:{n}"));
    let method = request.method().as_str().to_string();
    if let Some(wait) = state.over_rate(bucket) {
        let details = json!({"reason": "rate limit", "method": method,
                             "error": "rate_limited", "status": 429});
        let record = state.record(&caller, "request", &path, outcome::REJECTED);
        let _ = state.audit(record.with_details(details));
        return too_many(wait, "too many requests for this API key");
    }
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;

    // A body over the limit is refused by the layer, or found too large while the handler
    // reads it (a chunked body); either way nothing was done, and the refusal is recorded
    // here, once, for every endpoint.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let details = json!({"reason": "body too large", "method": method,
                             "error": "body_too_large", "status": 413});
        let record = state.record(&caller, "request", &path, outcome::REJECTED);
        let _ = state.audit(record.with_details(details));
    }
    response
}

/// Refuses a request without a valid key, and records it. Failures count against the
/// caller's address, so keys cannot be guessed at full speed.
fn deny(state: &AppState, ip: IpAddr, path: &str, reason: &str) -> Response {
    let caller = Caller { key_name: None, ip };
    if let Some(wait) = state.over_rate(format!("addr:{ip}")) {
        let details = json!({"reason": format!("{reason}; rate limit"),
                             "error": "rate_limited", "status": 429});
        let record = state.record(&caller, "auth", path, outcome::REJECTED);
        let _ = state.audit(record.with_details(details));
        return too_many(wait, "too many failed authentications from this address");
    }
    let details = json!({"reason": reason, "error": "unauthorized", "status": 401});
    let _ = state.audit(state.record(&caller, "auth", path, outcome::DENIED).with_details(details));
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &format!("{reason}: this endpoint needs an API key"),
        Some("send the key in the X-API-Key header"),
    )
}

fn too_many(wait: Duration, message: &str) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        message,
        Some("wait for the number of seconds in Retry-After"),
    );
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The error body every endpoint uses.
pub(super) fn error(status: StatusCode, code: &str, message: &str, hint: Option<&str>) -> Response {
    let body = json!({"error": {"code": code, "message": message, "hint": hint}});
    (status, axum::Json(body)).into_response()
}

/// Turns the plain-text errors of the layers (body too large, timeout, wrong method) into the
/// JSON error body, so a client reads every error the same way.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::SERVICE_UNAVAILABLE => ("timeout", "the request took too long"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "this endpoint takes another method")
        }
        _ => ("error", status.canonical_reason().unwrap_or("error")),
    };
    let mut json = error(status, code, message, None);
    if let Some(allow) = response.headers().get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    json
}

async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// The JSON of a value, for handlers.
pub(super) fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}
