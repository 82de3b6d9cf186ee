//! A small real HTTP/1.1 test server for the load generator's tests: each
//! path makes it behave like one thing the harness must classify (an app
//! answer, a sleep, a stream, a reset, a close, a proxy's 5xx, silence).
//!
//! Test-only; it listens on 127.0.0.1 only and stops when dropped.

// Shared by several test binaries, each using a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const POD: &str = "test-pod";

/// What the server does with a connection it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtAccept {
    /// Reads requests and answers them by path.
    Serve,
    /// Resets it at once (SO_LINGER 0, then close), reading nothing.
    Rst,
    /// Sends a FIN at once (shutdown of its write side), then reads and
    /// drops whatever comes until the client closes (so the close sends no
    /// RST for unread data).
    Fin,
}

/// How a `/stream` ends (a `fin_after=N` or `rst_after=N` query parameter
/// overrides it per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    Complete,
    /// FIN after this many lines, no chunked terminator.
    FinAfter(u32),
    /// RST after this many lines.
    RstAfter(u32),
}

#[derive(Debug)]
struct State {
    stream_end: StreamEnd,
    at_accept: AtAccept,
    open: AtomicUsize,
    /// Requests being answered now, and the most at once.
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    /// (path, x-request-id) of every request read.
    seen: Mutex<Vec<(String, String)>>,
    stall: Mutex<Option<(Instant, Instant)>>,
}

/// The test server; stops (with every connection) when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(StreamEnd::Complete).await
    }

    pub async fn start_with(stream_end: StreamEnd) -> TestServer {
        Self::bind("127.0.0.1:0".parse().unwrap(), stream_end, AtAccept::Serve).await
    }

    /// A server on `addr` (port 0: any free port).
    pub async fn bind(addr: SocketAddr, stream_end: StreamEnd, at_accept: AtAccept) -> TestServer {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            stream_end,
            at_accept,
            open: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            stall: Mutex::new(None),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((s, _)) = listener.accept().await {
                st.open.fetch_add(1, Ordering::SeqCst);
                let st = st.clone();
                conns.spawn(async move {
                    handle(s, &st).await;
                    st.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        TestServer { addr, state, task }
    }

    /// Connections the server holds open now.
    pub fn open_conns(&self) -> usize {
        self.state.open.load(Ordering::SeqCst)
    }

    /// The most requests answered at once (one per client connection at a
    /// time, so a bound on the client's busy connections).
    pub fn peak_in_flight(&self) -> usize {
        self.state.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Every (path, x-request-id) read so far.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.state.seen.lock().unwrap().clone()
    }

    /// `/stall` requests arriving in `[from, until)` are held until `until`.
    pub fn stall(&self, from: Instant, until: Instant) {
        *self.state.stall.lock().unwrap() = Some((from, until));
    }
}

struct Req {
    path: String,
}

enum Next {
    KeepAlive,
    Close,
    Reset,
    /// Never answer; wait for the client to go away.
    Hold,
}

async fn handle(mut s: TcpStream, st: &State) {
    match st.at_accept {
        AtAccept::Serve => {}
        AtAccept::Rst => {
            s.set_zero_linger().expect("SO_LINGER 0");
            return;
        }
        AtAccept::Fin => {
            s.shutdown().await.expect("shutdown");
            let mut sink = [0u8; 512];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
    }
    let mut buf = Vec::new();
    let mut served = 0u32;
    while let Some(req) = read_request(&mut s, &mut buf, st).await {
        served += 1;
        let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        st.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let next = respond(&mut s, &req, served, st).await;
        st.in_flight.fetch_sub(1, Ordering::SeqCst);
        match next {
            Ok(Next::KeepAlive) => continue,
            Ok(Next::Close) | Err(_) => break,
            Ok(Next::Reset) => {
                let _ = s.set_zero_linger();
                break;
            }
            Ok(Next::Hold) => {
                let mut sink = [0u8; 512];
                while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                break;
            }
        }
    }
}

async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>, st: &State) -> Option<Req> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let path = head.split(' ').nth(1)?.to_string();
            let id = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default();
            st.seen.lock().unwrap().push((path.clone(), id));
            return Some(Req { path });
        }
        match s.read_buf(buf).await {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
    }
}

fn param(path: &str, key: &str) -> Option<u64> {
    let (_, q) = path.split_once('?')?;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

fn answer(status: &str, headers: &[&str], body: &str) -> String {
    let mut s = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

const SERVED_BY: &str = "x-served-by: test-pod";

async fn respond(s: &mut TcpStream, req: &Req, served: u32, st: &State) -> std::io::Result<Next> {
    let route = req.path.split('?').next().unwrap_or("");
    let ok = answer("200 OK", &[SERVED_BY], "ok");
    let text = match route {
        "/" | "/ok" => ok,
        "/sleep" => {
            let secs = param(&req.path, "seconds").unwrap_or(1);
            // Like the backend: stop when the client goes away first.
            let mut sink = [0u8; 512];
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                _ = s.read(&mut sink) => return Ok(Next::Close),
            }
            if param(&req.path, "short") == Some(1) {
                // Close-delimited body shorter than `slept Ns`.
                let head =
                    format!("HTTP/1.1 200 OK\r\n{SERVED_BY}\r\nconnection: close\r\n\r\nslept");
                s.write_all(head.as_bytes()).await?;
                return Ok(Next::Close);
            }
            answer("200 OK", &[SERVED_BY], &format!("slept {secs}s"))
        }
        "/stream" => return stream(s, req, st.stream_end).await,
        "/reset" => return Ok(Next::Reset),
        // The request read, then a FIN before any answer.
        "/fin" => return Ok(Next::Close),
        "/reset-mid" => {
            let head =
                format!("HTTP/1.1 200 OK\r\n{SERVED_BY}\r\ncontent-length: 100\r\n\r\nslept");
            s.write_all(head.as_bytes()).await?;
            s.flush().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(Next::Reset);
        }
        "/fin-mid" => {
            let head =
                format!("HTTP/1.1 200 OK\r\n{SERVED_BY}\r\ncontent-length: 100\r\n\r\nslept");
            s.write_all(head.as_bytes()).await?;
            s.flush().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(Next::Close);
        }
        "/close-after-headers" => {
            let head = format!("HTTP/1.1 200 OK\r\n{SERVED_BY}\r\ncontent-length: 100\r\n\r\n");
            s.write_all(head.as_bytes()).await?;
            return Ok(Next::Close);
        }
        "/502" => answer("502 Bad Gateway", &[], "bad gateway"),
        "/503" => answer(
            "503 Service Unavailable",
            &["server: envoy"],
            "no healthy upstream",
        ),
        "/500" => answer("500 Internal Server Error", &[SERVED_BY], "boom"),
        "/404" => answer("404 Not Found", &[SERVED_BY], "no such path"),
        "/never" => return Ok(Next::Hold),
        "/eof-on-reuse" if served > 1 => return Ok(Next::Close),
        "/eof-on-reuse" => ok,
        "/then-close" => {
            // A complete keep-alive answer, then the server closes the idle
            // connection (as a backend does at shutdown).
            s.write_all(ok.as_bytes()).await?;
            return Ok(Next::Close);
        }
        "/stall" => {
            let window = *st.stall.lock().unwrap();
            if let Some((from, until)) = window {
                let now = Instant::now();
                if now >= from && now < until {
                    tokio::time::sleep_until(until.into()).await;
                }
            }
            ok
        }
        _ => answer("404 Not Found", &[SERVED_BY], "unknown test path"),
    };
    s.write_all(text.as_bytes()).await?;
    Ok(Next::KeepAlive)
}

async fn stream(s: &mut TcpStream, req: &Req, end: StreamEnd) -> std::io::Result<Next> {
    let end = match (param(&req.path, "fin_after"), param(&req.path, "rst_after")) {
        (Some(n), _) => StreamEnd::FinAfter(n as u32),
        (_, Some(n)) => StreamEnd::RstAfter(n as u32),
        _ => end,
    };
    let secs = param(&req.path, "seconds").unwrap_or(30);
    let interval = param(&req.path, "interval_ms").unwrap_or(1000).max(1);
    let head = format!("HTTP/1.1 200 OK\r\n{SERVED_BY}\r\ntransfer-encoding: chunked\r\n\r\n");
    s.write_all(head.as_bytes()).await?;
    let start = Instant::now();
    let mut i = 0u64;
    while i * interval < secs * 1000 {
        match end {
            StreamEnd::FinAfter(n) if i == u64::from(n) => return Ok(Next::Close),
            StreamEnd::RstAfter(n) if i == u64::from(n) => return Ok(Next::Reset),
            _ => {}
        }
        tokio::time::sleep_until((start + Duration::from_millis(i * interval)).into()).await;
        let line = format!("chunk {i} @ {}ms\n", start.elapsed().as_millis());
        s.write_all(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes())
            .await?;
        i += 1;
    }
    if let StreamEnd::FinAfter(n) = end {
        if i <= u64::from(n) {
            return Ok(Next::Close);
        }
    }
    s.write_all(b"0\r\n\r\n").await?;
    Ok(Next::KeepAlive)
}
