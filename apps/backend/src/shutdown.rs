//! The shutdown trigger of the binary: a future that resolves on the first
//! SIGTERM or SIGINT. A second signal while draining exits at once (code 1).
//!
//! Signal handling only; it must never decide how the server drains.

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};

/// Installs the handlers now (so a signal arriving before the future is
/// polled is not lost) and returns the future that waits for one.
pub fn on_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "signal_received");
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::warn!(signal = name, "second_signal_exiting_now");
            std::process::exit(1);
        });
    })
}
