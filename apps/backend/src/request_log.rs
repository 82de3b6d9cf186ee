//! The one logfmt line per request (`msg=request ... status duration_ms`),
//! written when the response is finished or abandoned, and the in-flight count
//! that graceful shutdown waits on.
//!
//! Bookkeeping only; it must never delay or alter a response.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::HeaderValue;

/// The status logged for a request whose client left before any response
/// was sent (nginx's convention; nothing with this status went on the wire).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// State shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `x-served-by` on every response.
    pub served_by: HeaderValue,
    /// Requests begun and not yet finished or abandoned.
    pub in_flight: AtomicUsize,
    /// Set when the shutdown timeout passed and connections are being cut:
    /// an abandoned request is then the server's doing, not the client's.
    pub aborting: AtomicBool,
}

impl Shared {
    pub fn new(served_by: HeaderValue) -> Self {
        Shared {
            served_by,
            in_flight: AtomicUsize::new(0),
            aborting: AtomicBool::new(false),
        }
    }

    pub fn hostname(&self) -> &str {
        self.served_by.to_str().unwrap_or("?")
    }
}

/// One request from its first byte of handling to the end of its response.
/// Counts itself in flight while alive and logs itself when dropped.
#[derive(Debug)]
pub(crate) struct RequestLog {
    shared: Arc<Shared>,
    start: Instant,
    method: http::Method,
    path: String,
    remote: SocketAddr,
    request_id: Option<String>,
    /// The status sent, once the handler produced a response.
    status: Option<u16>,
    /// The whole response body was handed to the connection.
    completed: bool,
}

impl RequestLog {
    pub fn begin(
        shared: Arc<Shared>,
        method: http::Method,
        path: String,
        remote: SocketAddr,
        request_id: Option<String>,
    ) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        RequestLog {
            shared,
            start: Instant::now(),
            method,
            path,
            remote,
            request_id,
            status: None,
            completed: false,
        }
    }

    pub fn set_status(&mut self, status: u16) {
        self.status = Some(status);
    }

    pub fn set_completed(&mut self) {
        self.completed = true;
    }

    pub fn elapsed_ms(&self) -> u128 {
        self.start.elapsed().as_millis()
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let duration_ms = self.elapsed_ms();
        let request_id = self.request_id.as_deref();
        if !self.completed {
            let msg = if self.shared.aborting.load(Ordering::SeqCst) {
                "request_aborted"
            } else {
                "client_disconnected"
            };
            tracing::warn!(
                target: "request",
                method = %self.method,
                path = %self.path,
                remote = %self.remote,
                request_id,
                after_ms = duration_ms as u64,
                response_started = self.status.is_some(),
                "{msg}"
            );
        }
        // Out of the count before the line is written: whoever reads the
        // `request` line (a test, an operator) may rely on it being gone.
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        let status = self.status.unwrap_or(CLIENT_CLOSED_REQUEST);
        tracing::info!(
            target: "request",
            method = %self.method,
            path = %self.path,
            remote = %self.remote,
            hostname = self.shared.hostname(),
            status,
            duration_ms = duration_ms as u64,
            request_id,
            complete = self.completed,
            "request"
        );
    }
}
