//! The raw std-socket clients of the slowloris tests (backend and hc): slow
//! connections that dribble a request head or send nothing, a loop of
//! oversized requests, and a one-request check on a fresh connection.
//!
//! Clients only: what the tests assert about the answers stays in the tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The status of the answer to `request` sent on a fresh connection (3 s
/// bounds), and how long it took; `None` when there was no answer.
pub fn check(addr: SocketAddr, request: &[u8]) -> (Option<u16>, Duration) {
    let t = Instant::now();
    let status = (|| {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        s.write_all(request).ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        status_of(&out)
    })();
    (status, t.elapsed())
}

/// The status code of a raw HTTP/1.x answer.
pub fn status_of(raw: &[u8]) -> Option<u16> {
    String::from_utf8_lossy(raw).get(9..12)?.parse().ok()
}

/// `n` connections to `addr`: the even ones have sent `head` (and are to
/// be dribbled), the odd ones nothing. Returns (dribblers, silent).
pub fn open_slow(addr: SocketAddr, n: usize, head: &[u8]) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let mut dribblers = Vec::new();
    let mut silent = Vec::new();
    for i in 0..n {
        let mut s = TcpStream::connect(addr).expect("connect");
        if i % 2 == 0 {
            s.write_all(head).expect("send the slow head");
            dribblers.push(s);
        } else {
            silent.push(s);
        }
    }
    (dribblers, silent)
}

/// Sends `msgs` in turn, each on a fresh connection, until `stop`; calls
/// `answered` with each answer's status (`None`: closed without one) and
/// counts the answers in `refused`.
pub fn oversized(
    addr: SocketAddr,
    msgs: &[String],
    stop: &AtomicBool,
    refused: &AtomicU64,
    answered: impl Fn(Option<u16>),
) {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let Ok(mut s) = TcpStream::connect(addr) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        // The server may refuse (close) before it read the whole message.
        s.write_all(msgs[i % msgs.len()].as_bytes()).ok();
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok();
        answered(status_of(&out));
        refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts `threads` threads running [`oversized`] until `stop`.
pub fn spawn_oversized(
    addr: SocketAddr,
    threads: usize,
    msgs: Vec<String>,
    stop: &Arc<AtomicBool>,
    refused: &Arc<AtomicU64>,
    answered: fn(Option<u16>),
) -> Vec<std::thread::JoinHandle<()>> {
    let msgs = Arc::new(msgs);
    (0..threads)
        .map(|_| {
            let (stop, refused, msgs) = (stop.clone(), refused.clone(), msgs.clone());
            std::thread::spawn(move || oversized(addr, &msgs, &stop, &refused, answered))
        })
        .collect()
}
