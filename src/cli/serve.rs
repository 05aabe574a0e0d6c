//! `secretzero serve`: the HTTP API for the Secretfile given with `-f`.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, Exit, GlobalArgs, Ui};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on
    #[arg(long, env = "SECRETZERO_HOST", default_value = "127.0.0.1", value_name = "HOST")]
    pub host: String,

    /// The port to listen on; 0 picks a free one (the address is printed on standard error)
    #[arg(long, env = "SECRETZERO_PORT", default_value_t = 8000, value_name = "PORT")]
    pub port: u16,

    /// A file of named API keys, one `NAME=KEY` per line, besides or instead of the key in
    /// SECRETZERO_API_KEY (which is named `default`)
    #[arg(long, env = "SECRETZERO_API_KEYS", value_name = "FILE")]
    pub api_keys: Option<PathBuf>,

    /// Serve without API keys; refused unless the host is a loopback address
    #[arg(long)]
    pub insecure_no_auth: bool,

    /// The audit log to append to [default: secretzero-audit.jsonl beside the Secretfile]
    #[arg(long, env = "SECRETZERO_AUDIT_LOG", value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// The largest request body accepted, in bytes
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    pub max_body: usize,

    /// Requests per minute for each API key, and failed authentications per client address
    #[arg(long, default_value_t = 600, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,

    /// Seconds a request may take before it is answered with 503 (a sync that runs longer
    /// still finishes, and is audited, but holds off other syncs until then); also how long a
    /// connection may take to send a request's headers, or stay idle, before it is closed
    #[arg(long, default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// Connections served at once; further ones wait to be accepted
    #[arg(long, default_value_t = 256, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
}

#[cfg(not(feature = "api"))]
pub fn run(_: &GlobalArgs, _: &ServeArgs, _: &Ui) -> Result<Exit, CliError> {
    Err(CliError::Usage {
        message: "this build of secretzero has no API server".into(),
        hint: Some("build it with `cargo install --features api`".into()),
    })
}

#[cfg(feature = "api")]
pub fn run(global: &GlobalArgs, args: &ServeArgs, ui: &Ui) -> Result<Exit, CliError> {
    use crate::api::audit::AuditLog;
    use crate::api::{KEY_ENV, Keys, Settings, serve};

    // Fail now rather than on the first request.
    super::now()?;
    let env_key = std::env::var(KEY_ENV).ok();
    let keys = Keys::load(env_key.as_deref(), args.api_keys.as_deref())
        .map_err(crate::api::ServeError::from)?;
    let insecure = keys.is_empty() && args.insecure_no_auth;
    let audit = match &args.audit_log {
        Some(path) => AuditLog::new(path),
        None => AuditLog::beside(&global.file),
    };
    let audit_path = audit.path().display().to_string();
    let settings = Settings {
        host: args.host.clone(),
        port: args.port,
        secretfile: global.file.clone(),
        lockfile: global.lockfile.clone(),
        keys,
        insecure: args.insecure_no_auth,
        audit,
        max_body: args.max_body,
        timeout: std::time::Duration::from_secs(args.timeout),
        max_connections: args.max_connections,
        rate_per_minute: std::num::NonZeroU32::new(args.rate_limit).expect("clap checks >= 1"),
    };
    let file = global.file.display().to_string();
    serve(settings, |address| {
        if insecure {
            ui.warn(
                "serving without API keys (--insecure-no-auth): anyone who can connect may sync",
            );
        }
        ui.info(&format!("Serving {file} on http://{address} (audit log {audit_path})"));
    })?;
    ui.info("Stopped");
    Ok(Exit::Success)
}
