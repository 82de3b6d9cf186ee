//! backend: the system under test. `/` answers `ok`, `/sleep` holds a request
//! for N seconds, `/stream` sends chunked ticks; every response names the pod
//! in `x-served-by`; one logfmt line per request; graceful shutdown.
//!
//! [`serve`] runs a real server on a given listener (the binary and other
//! crates' tests both use it). This crate must never exit the process from
//! library code (only the binary's [`shutdown`] does, on a second signal).

use std::time::Duration;

pub mod body;
pub mod query;
mod request_log;
pub mod routes;
mod server;
pub mod shutdown;

pub use request_log::CLIENT_CLOSED_REQUEST;

/// What a server needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Sent as `x-served-by` on every response and logged as `hostname`.
    pub pod_name: String,
    /// How long shutdown waits for in-flight requests before cutting them.
    pub shutdown_timeout: Duration,
}

/// Connection-level limits, with defaults for [`serve`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A connection that has not sent a complete request head this long after
    /// it started waiting for one (on a new connection, or an idle keep-alive
    /// one) is closed. `None`: never.
    pub header_read_timeout: Option<Duration>,
    /// A request head larger than this gets 431.
    pub max_header_bytes: usize,
}

/// The default header read timeout (also the idle keep-alive timeout).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The default request-head limit.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Requests in flight when shutdown started (the ones it waited for).
    pub waited_for: usize,
    /// The shutdown timeout passed and the remaining requests were cut.
    pub timed_out: bool,
}

/// Why a server could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listener unusable: {0}")]
    Listener(#[source] std::io::Error),
    #[error("pod name {0:?} cannot be sent as an HTTP header value")]
    BadPodName(String),
}

/// Serves until `shutdown` resolves, then drains gracefully; returns how many
/// in-flight requests it waited for.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<ShutdownReport, Error> {
    serve_with(listener, config, ServeOptions::default(), shutdown).await
}

/// [`serve`] with explicit connection limits.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    config: Config,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<ShutdownReport, Error> {
    server::run(listener, config, options, shutdown).await
}
