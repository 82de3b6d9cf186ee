//! HTTP/1.1 connections (hyper's low-level client over a tokio TcpStream,
//! so every request knows its connection id and whether it was reused) and
//! the one exchange of a request on one of them.
//!
//! It only gathers facts ([`Progress`]: the phase reached, the io error
//! kind found in an error's chain, bytes and lines); [`super::classify`]
//! judges them. Never retries a request that reached the wire, never buffers a body
//! (only its size and its `chunk <i> @` line count are kept), and never
//! leaves a connection behind: every connection task ends when
//! [`Connector::close_all`] runs.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::classify::{Break, Stop};
use crate::model::Phase;

/// Opens connections to one target, numbering them (unique per run).
#[derive(Debug)]
pub struct Connector {
    target: SocketAddr,
    host: String,
    next_id: AtomicU64,
    closer: CancellationToken,
    tasks: TaskTracker,
}

/// One open HTTP/1.1 connection.
#[derive(Debug)]
pub struct Conn {
    pub id: u64,
    /// Requests already sent on it.
    pub uses: u32,
    sender: SendRequest<Empty<Bytes>>,
}

/// A failed connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub conn_id: u64,
    pub broke: Break,
    pub text: String,
}

impl Connector {
    /// Connections to `target`, each request with `Host: host` (default:
    /// the address).
    pub fn new(target: SocketAddr, host: Option<String>) -> Self {
        Connector {
            target,
            host: host.unwrap_or_else(|| target.to_string()),
            next_id: AtomicU64::new(1),
            closer: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Opens a new connection (its id is used even when the connect fails).
    /// `permit`, a pool's count of open connections, is held until the
    /// socket is closed.
    pub async fn connect(
        &self,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<Conn, ConnectError> {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let fail = |broke, text| ConnectError {
            conn_id,
            broke,
            text,
        };
        let stream = TcpStream::connect(self.target)
            .await
            .map_err(|e| fail(Break::Io(e.kind()), format!("connect: {e}")))?;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(conn_id, "set_nodelay: {e}");
        }
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(break_of(&e), error_chain(&e)))?;
        let closer = self.closer.clone();
        self.tasks.spawn(async move {
            // Dropping the connection closes its socket.
            tokio::select! {
                _ = connection => {}
                _ = closer.cancelled() => {}
            }
            drop(permit);
        });
        Ok(Conn {
            id: conn_id,
            uses: 0,
            sender,
        })
    }

    /// Closes every connection still open and waits until their sockets are
    /// closed.
    pub async fn close_all(&self) {
        self.closer.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Conn {
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
    /// Waits until the connection can carry a request; false when it is
    /// closed.
    pub async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }
}

/// What one exchange saw so far (kept when the deadline or the cancel cuts
/// it short).
#[derive(Debug, Default)]
pub struct Progress {
    /// Where the exchange is: `connect` until it holds a connection, `head`
    /// until the response head arrived, then `body`.
    pub phase: Phase,
    pub conn_id: u64,
    pub reused: bool,
    pub sent_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
    pub status: Option<u16>,
    pub served_by: Option<String>,
    pub server_envoy: bool,
    pub bytes: u64,
    pub lines: LineCounter,
    pub error: Option<String>,
    /// The connection, while the exchange holds it.
    pub conn: Option<Conn>,
}

/// Counts complete `chunk <i> @ ...` lines across body frames, keeping at
/// most the first 64 bytes of the current line.
#[derive(Debug, Default)]
pub struct LineCounter {
    head: Vec<u8>,
    pub lines: u32,
}

impl LineCounter {
    const KEEP: usize = 64;
    pub fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                if self.head.starts_with(b"chunk ") && self.head.windows(3).any(|w| w == b" @ ") {
                    self.lines += 1;
                }
                self.head.clear();
            } else if self.head.len() < Self::KEEP {
                self.head.push(b);
            }
        }
    }
}

/// The reused connection was already closed before the request was
/// written: it is safe to send it again on another connection.
#[derive(Debug)]
pub struct NeverWritten;

impl Connector {
    /// Sends `GET path` with `x-request-id: id` on `p.conn` and reads the
    /// whole response, recording into `p` as it goes (`now_ms` dates the
    /// send and the response head).
    pub async fn exchange(
        &self,
        p: &mut Progress,
        path: &str,
        id: &str,
        now_ms: impl Fn() -> f64,
    ) -> Result<Stop, NeverWritten> {
        let conn = p.conn.as_mut().expect("exchange needs a connection");
        p.conn_id = conn.id;
        p.reused = conn.uses > 0;
        let req = match Request::get(path)
            .header(hyper::header::HOST, self.host.as_str())
            .header("x-request-id", id)
            .body(Empty::<Bytes>::new())
        {
            Ok(req) => req,
            Err(e) => {
                p.error = Some(format!("invalid request: {e}"));
                return Ok(Stop::Broke(Break::Other));
            }
        };
        // A reused connection may have died idle; a fresh one has not been
        // polled yet and accepts its first request at once.
        if conn.uses > 0 && !conn.ready().await {
            return Err(NeverWritten);
        }
        conn.uses += 1;
        let response = conn.sender.try_send_request(req);
        p.sent_ms = Some(now_ms());
        let response = match response.await {
            Ok(r) => r,
            Err(mut e) => {
                if p.reused && e.take_message().is_some() {
                    return Err(NeverWritten);
                }
                let e = e.into_error();
                p.error = Some(error_chain(&e));
                return Ok(Stop::Broke(break_of(&e)));
            }
        };
        p.phase = Phase::Body;
        p.ttfb_ms = Some(now_ms());
        p.status = Some(response.status().as_u16());
        let headers = response.headers();
        p.served_by = headers
            .get("x-served-by")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        p.server_envoy = headers
            .get(hyper::header::SERVER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"envoy"));
        let mut body = response.into_body();
        loop {
            match body.frame().await {
                None => return Ok(Stop::Done),
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        p.bytes += data.len() as u64;
                        p.lines.feed(data);
                    }
                }
                Some(Err(e)) => {
                    p.error = Some(error_chain(&e));
                    return Ok(Stop::Broke(break_of(&e)));
                }
            }
        }
    }
}

/// What the socket said, from an error's chain: the first `io::Error` in
/// it (its kind tells an RST from a FIN mid-body, a refusal, a timeout),
/// else hyper's "connection closed before message completed" (a clean FIN
/// with no io error), else something else.
pub fn break_of(e: &hyper::Error) -> Break {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    // hyper may wrap the EOF: "operation was canceled: connection closed
    // before message completed" is a canceled error whose source is the
    // incomplete message.
    let mut incomplete = false;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Break::Io(io.kind());
        }
        incomplete |= s
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_incomplete_message());
        source = s.source();
    }
    if incomplete {
        Break::Eof
    } else {
        Break::Other
    }
}

/// An error and its sources, `: `-joined (hyper's own text is terse).
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_chunk_lines_split_across_frames() {
        let mut c = LineCounter::default();
        c.feed(b"chunk 0 @ 0ms\nchu");
        c.feed(b"nk 1 @ 250ms\n");
        c.feed(b"hello\nchunk 2 @ 500");
        assert_eq!(c.lines, 2, "an unterminated line does not count");
        c.feed(b"ms\n");
        assert_eq!(c.lines, 3);
        c.feed(&[b'x'; 10_000]);
        assert!(c.head.len() <= LineCounter::KEEP);
    }
}
