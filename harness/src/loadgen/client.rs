//! HTTP/1.1 connections of the load generator: a tokio `TcpStream` per
//! connection (with TLS over it for an `https://` target), each request written and its response read in the task of
//! the request itself (no connection task, no channel between them), so
//! every request knows its connection id and whether it was reused. The
//! bytes on the wire are [`super::wire`]'s.
//!
//! It only gathers facts ([`Progress`]: the phase reached, the io error
//! kind of a failed read or write, bytes and lines); [`super::classify`]
//! judges them. Never retries a request that reached the wire, never buffers
//! a body (only its size and its `chunk <i> @` line count are kept), and
//! never leaves a connection behind: a connection is closed when its
//! [`Conn`] is dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::classify::{Break, Stop};
use super::stream::Stream;
use super::tls::TlsClient;
use super::wire::{self, Body, Head, Parsed, WireError};
use crate::model::Phase;

/// The error text of a response cut by a clean close (hyper's words, kept
/// so records read the same as before).
pub const INCOMPLETE: &str = "connection closed before message completed";

/// A connection's read buffer starts at this size and grows to [`MAX_BUF`]
/// only for a long head or chunk line.
const START_BUF: usize = 8 * 1024;
const MAX_BUF: usize = 64 * 1024;

/// Opens connections to one target, numbering them (unique per run).
#[derive(Debug)]
pub struct Connector {
    target: SocketAddr,
    host: String,
    /// `https://`: every connection does this handshake first.
    tls: Option<TlsClient>,
    next_id: AtomicU64,
}

/// One open HTTP/1.1 connection. Fields drop in order: the socket closes
/// before the pool's permit comes back.
#[derive(Debug)]
pub struct Conn {
    pub id: u64,
    /// Requests already sent on it.
    pub uses: u32,
    stream: Stream,
    buf: ReadBuf,
    /// The request being written (its allocation is kept).
    out: Vec<u8>,
    /// The last response ended cleanly and allows another request.
    reusable: bool,
    _permit: Option<OwnedSemaphorePermit>,
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
    /// the address), over TLS when `tls` is given.
    pub fn new(target: SocketAddr, host: Option<String>, tls: Option<TlsClient>) -> Self {
        Connector {
            target,
            host: host.unwrap_or_else(|| target.to_string()),
            tls,
            next_id: AtomicU64::new(1),
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
        let failed = |what: &str, e: io::Error| ConnectError {
            conn_id,
            broke: Break::Io(e.kind()),
            text: format!("{what}: {e}"),
        };
        let tcp = TcpStream::connect(self.target)
            .await
            .map_err(|e| failed("connect", e))?;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(conn_id, "set_nodelay: {e}");
        }
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some(tls) => Stream::Tls(Box::new(
                tls.handshake(tcp)
                    .await
                    .map_err(|e| failed("TLS handshake", e))?,
            )),
        };
        Ok(Conn {
            id: conn_id,
            uses: 0,
            stream,
            buf: ReadBuf::new(),
            out: Vec::new(),
            reusable: true,
            _permit: permit,
        })
    }
}

impl Conn {
    /// Whether its last exchange left it able to carry another request.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Whether it can carry a request now: reusable, and the server has not
    /// closed it (or sent anything) since. Never blocks: it only reads what
    /// the runtime already knows has arrived (no syscall when nothing has).
    pub fn alive(&mut self) -> bool {
        if self.reusable {
            if self.stream.idle_and_open() {
                return true;
            }
            // A close, stray bytes, or an error: unusable.
            self.reusable = false;
        }
        false
    }

    /// Sends `GET path` (`x-request-id: id`) and reads the response's head
    /// only: its status (a probe; the connection is not reusable after).
    pub async fn head(&mut self, host: &str, path: &str, id: &str) -> Result<u16, String> {
        self.reusable = false;
        self.out.clear();
        wire::write_get(&mut self.out, path, host, id);
        self.send()
            .await
            .map_err(|e| format!("writing the request: {e}"))?;
        match read_head(self).await {
            Ok(head) => Ok(head.status),
            Err(Cut::Io(e)) => Err(format!("reading the response: {e}")),
            Err(Cut::Eof) => Err(INCOMPLETE.to_string()),
            Err(Cut::Wire(e)) => Err(e.to_string()),
        }
    }

    /// Writes the request in `out` (a TLS stream also flushes its records).
    async fn send(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await
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

/// Why reading a response stopped early.
enum Cut {
    Io(io::Error),
    /// A clean close before the response was complete.
    Eof,
    Wire(WireError),
}

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
        // A reused connection may have died idle; a fresh one has not.
        if conn.uses > 0 && !conn.alive() {
            return Err(NeverWritten);
        }
        conn.uses += 1;
        conn.reusable = false;
        conn.out.clear();
        wire::write_get(&mut conn.out, path, &self.host, id);
        p.sent_ms = Some(now_ms());
        if let Err(e) = conn.send().await {
            p.error = Some(format!("writing the request: {e}"));
            return Ok(Stop::Broke(Break::Io(e.kind())));
        }
        Ok(match read_response(p, now_ms).await {
            Ok(()) => Stop::Done,
            Err(cut) => {
                let (text, broke) = match cut {
                    Cut::Io(e) => (format!("reading the response: {e}"), Break::Io(e.kind())),
                    Cut::Eof => (INCOMPLETE.to_string(), Break::Eof),
                    Cut::Wire(e) => (e.to_string(), Break::Other),
                };
                p.error = Some(text);
                Stop::Broke(broke)
            }
        })
    }
}

/// Reads one response on `p.conn`: the head (skipping 1xx), then the body
/// to its end; marks the connection reusable when the response allows it
/// and nothing followed it.
async fn read_response(p: &mut Progress, now_ms: impl Fn() -> f64) -> Result<(), Cut> {
    let conn = p.conn.as_mut().expect("exchange needs a connection");
    let head = read_head(conn).await?;
    p.phase = Phase::Body;
    p.ttfb_ms = Some(now_ms());
    p.status = Some(head.status);
    p.server_envoy = head.server_envoy;
    p.served_by = head.served_by;
    let mut body = Body::new(head.framing);
    loop {
        let fed = body
            .feed(conn.buf.filled(), |data| {
                p.bytes += data.len() as u64;
                p.lines.feed(data);
            })
            .map_err(Cut::Wire)?;
        conn.buf.consume(fed.used);
        if fed.done {
            conn.reusable = head.keep_alive && conn.buf.filled().is_empty();
            return Ok(());
        }
        if conn.buf.fill(&mut conn.stream).await? == 0 {
            return if body.ends_at_close() {
                Ok(())
            } else {
                Err(Cut::Eof)
            };
        }
    }
}

/// Reads up to the final response head (skipping 1xx) and consumes it.
async fn read_head(conn: &mut Conn) -> Result<Head, Cut> {
    loop {
        match wire::parse_head(conn.buf.filled()).map_err(Cut::Wire)? {
            Parsed::Final(len, head) => {
                conn.buf.consume(len);
                return Ok(head);
            }
            Parsed::Interim(len) => conn.buf.consume(len),
            Parsed::Partial => {
                if conn.buf.fill(&mut conn.stream).await? == 0 {
                    return Err(Cut::Eof);
                }
            }
        }
    }
}

/// Bytes read from a connection and not used yet.
#[derive(Debug)]
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> Self {
        ReadBuf {
            data: vec![0; START_BUF],
            start: 0,
            end: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more from `stream` (0: the server closed it). Makes room first:
    /// moves what is left to the front, else grows up to [`MAX_BUF`].
    async fn fill(&mut self, stream: &mut Stream) -> Result<usize, Cut> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < MAX_BUF {
                self.data.resize((self.data.len() * 2).min(MAX_BUF), 0);
            } else {
                return Err(Cut::Wire(WireError::TooLong(MAX_BUF)));
            }
        }
        let n = stream
            .read(&mut self.data[self.end..])
            .await
            .map_err(Cut::Io)?;
        self.end += n;
        Ok(n)
    }
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
