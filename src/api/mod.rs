//! The HTTP API (`secretzero serve`) and the audit log.
//!
//! The audit log is always built: `sync` and `rotate` append to it with `--audit-log`, and
//! `secretzero audit` reads it. The server is behind the `api` cargo feature, so that a build
//! without it needs neither axum nor tokio. docs/api.md describes the endpoints.

pub mod audit;
#[cfg(feature = "api")]
mod auth;
#[cfg(feature = "api")]
mod handlers;
#[cfg(feature = "api")]
mod server;

#[cfg(feature = "api")]
pub use auth::{ENV_KEY_NAME, KEY_ENV, KeyError, Keys, MIN_KEY_LEN};
#[cfg(feature = "api")]
pub use server::{KEY_HEADER, ServeError, Settings, serve};
