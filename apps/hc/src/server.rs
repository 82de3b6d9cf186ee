//! The listeners: HTTP on the public and admin sockets (one hyper HTTP/1
//! connection task per client, with hc's read/write/idle timeouts) and the
//! HAProxy agent-check socket (one line per connection).
//!
//! Connection plumbing only; what is answered is decided in `routes`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gate::State;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::routes::{self, App, Listener};
use crate::timeout_io::{Limits, TimeoutIo};

/// Requests with a head larger than this get 431 (hyper's minimum buffer).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// An agent-check client gets this long to send (and have discarded) its
/// optional `agent-send` string before the socket is dropped.
const AGENT_LINGER: Duration = Duration::from_secs(1);

/// Accepts forever; connection tasks die with this future.
pub async fn accept_http(listener: TcpListener, app: Arc<App>, role: Listener) {
    let mut conns = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(MAX_HEAD_BYTES)
        .header_read_timeout(None)
        .keep_alive(true);
    let builder = Arc::new(builder);
    loop {
        while conns.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!(error = %e, "accept_failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let builder = builder.clone();
        conns.spawn(serve_conn(stream, peer, app, role, builder));
    }
}

async fn serve_conn(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    role: Listener,
    builder: Arc<http1::Builder>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(TimeoutIo::new(stream, Limits::default()));
    let ip = peer.ip();
    let svc = service_fn(move |req| {
        let resp = routes::handle(&app, &req, ip, role);
        tracing::debug!(
            method = %req.method(),
            path = req.uri().path(),
            status = resp.status().as_u16(),
            remote = %peer,
            "request"
        );
        std::future::ready(Ok::<_, Infallible>(resp))
    });
    if let Err(e) = builder.serve_connection(io, svc).await {
        tracing::debug!(remote = %peer, error = %e, "connection_closed");
    }
}

/// HAProxy's agent-check answer for a state.
pub fn agent_reply(state: State) -> &'static str {
    match state {
        // `ready` undoes an earlier `drain` (after /reopen from CLOSING).
        State::Open | State::Draining => "up ready\n",
        State::Closing => "drain\n",
        State::Closed | State::Fault => "down\n",
    }
}

/// Accepts agent-check connections forever: one line each, then close.
pub async fn accept_agent(listener: TcpListener, app: Arc<App>) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (mut stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "agent_accept_failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let line = agent_reply(app.fsm.current());
        conns.spawn(async move {
            let _ = tokio::time::timeout(AGENT_LINGER, async {
                stream.write_all(line.as_bytes()).await?;
                stream.shutdown().await?;
                // Read what the agent may have sent, so closing sends FIN, not RST.
                let mut sink = [0u8; 512];
                while stream.read(&mut sink).await? > 0 {}
                Ok::<_, std::io::Error>(())
            })
            .await;
        });
    }
}
