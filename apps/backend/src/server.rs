//! The accept loop and graceful shutdown: one task per connection (HTTP/1.1
//! via hyper); on shutdown the listener is closed first (new connections are
//! refused), idle keep-alive connections are closed at once, and in-flight
//! requests are waited for up to the shutdown timeout, then cut.
//!
//! Connection lifecycle only; it must never look inside requests.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::request_log::Shared;
use crate::{routes, Config, Error, ServeOptions, ShutdownReport};

/// Pause after a failed accept (e.g. EMFILE) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

pub(crate) async fn run(
    listener: TcpListener,
    config: Config,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<ShutdownReport, Error> {
    let served_by = http::HeaderValue::from_str(&config.pod_name)
        .map_err(|_| Error::BadPodName(config.pod_name.clone()))?;
    let local = listener.local_addr().map_err(Error::Listener)?;
    let shared = Arc::new(Shared::new(served_by));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_header_size(options.max_header_bytes)
        .keep_alive(true)
        // An EOF while a request runs means the client left: hyper then
        // drops the handler (logged as client_disconnected). With half-close
        // allowed it would only notice on the next write.
        .half_close(false);
    let builder = Arc::new(builder);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tracing::info!(
        addr = %local,
        hostname = shared.hostname(),
        shutdown_timeout = %gate::duration::format_duration(config.shutdown_timeout),
        "listening"
    );

    let shutdown = shutdown;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_conn(
                        builder.clone(),
                        stream,
                        remote,
                        shared.clone(),
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept_failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }

    // Closing the listening socket makes the kernel refuse new connections.
    drop(listener);
    Ok(drain(conns, &shared, stop_tx, config.shutdown_timeout).await)
}

/// After the listener closed: tells every connection to stop taking new
/// requests, waits up to `timeout` for the requests in flight, then aborts
/// what is left (each cut request is logged by its handler).
async fn drain<T: 'static>(
    mut conns: JoinSet<T>,
    shared: &Shared,
    stop_tx: watch::Sender<bool>,
    timeout: std::time::Duration,
) -> ShutdownReport {
    let started = Instant::now();
    let waited_for = shared.in_flight.load(Ordering::SeqCst);
    tracing::info!(
        in_flight = waited_for,
        connections = conns.len(),
        timeout = %gate::duration::format_duration(timeout),
        "shutdown_started"
    );
    // No receiver left means no connection left to tell.
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    let mut cut = 0;
    if !drained {
        shared.aborting.store(true, Ordering::SeqCst);
        cut = shared.in_flight.load(Ordering::SeqCst);
        tracing::warn!(
            still_in_flight = cut,
            connections = conns.len(),
            "shutdown_timeout_reached"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    tracing::info!(
        waited_for,
        timed_out = !drained,
        cut,
        duration_ms = started.elapsed().as_millis() as u64,
        "shutdown_complete"
    );
    ShutdownReport {
        waited_for,
        timed_out: !drained,
    }
}

/// Serves one connection until it closes; on the stop signal, asks hyper to
/// finish the request in progress (if any) and close instead of keeping alive.
async fn serve_conn(
    builder: Arc<http1::Builder>,
    stream: TcpStream,
    remote: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let svc = service_fn(move |req| routes::handle(req, remote, shared.clone()));
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let res = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = res {
        tracing::debug!(remote = %remote, error = %e, "connection_error");
    }
}
