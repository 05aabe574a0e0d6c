//! The async runtime that remote targets run their requests on, and the per-provider limit on
//! requests in flight.
//!
//! The engine is synchronous; remote targets collect their reads and writes and run them here,
//! concurrently, each waiting for a permit of its provider's [`Limiter`].

use std::sync::{Arc, OnceLock};

use super::RemoteError;
use crate::secretfile::Provider;

/// One runtime per process, built on first use. Two worker threads: requests wait on the
/// network, not the CPU.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        install_crypto();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the async runtime starts")
    })
}

/// Makes aws-lc-rs rustls's process-wide crypto provider, before any client is built. Every
/// TLS stack in this build uses it, but rustls panics at the first handshake when two
/// providers are compiled in and none is chosen, and a dependency may one day bring ring's.
pub(crate) fn install_crypto() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Runs a future to completion from synchronous code.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// How many requests one provider may have in flight at once.
#[derive(Debug, Clone)]
pub(crate) struct Limiter(Arc<tokio::sync::Semaphore>);

impl Limiter {
    pub(crate) fn new(permits: usize) -> Limiter {
        Limiter(Arc::new(tokio::sync::Semaphore::new(permits.max(1))))
    }

    /// Waits for a free slot; the request holds the permit until it is dropped.
    pub(crate) async fn acquire(&self) -> tokio::sync::OwnedSemaphorePermit {
        Arc::clone(&self.0).acquire_owned().await.expect("the semaphore is never closed")
    }
}

/// `config: {max_in_flight: N}` of a provider, or `default`.
pub(crate) fn max_in_flight(provider: &Provider, default: usize) -> Result<usize, RemoteError> {
    Ok(super::config_number(provider, "max_in_flight", 1..=256)?.map_or(default, |n| n as usize))
}
