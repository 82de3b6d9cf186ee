//! 500 slowloris connections (half dribble a request head one byte at a
//! time, half send nothing) plus a stream of oversized requests against the
//! real binary with its default settings: `/` on fresh connections keeps
//! answering (200, each within the check's own 3 s timeout; no race on a
//! tighter figure) the whole time, and the backend is alive afterwards.
//! (The default header read timeout is 60 s: the slow connections are still
//! open when the test ends; tests/hostile.rs shows the cut with a short one.)

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Backend;
use testkit::slowloris::{open_slow, spawn_oversized};

const SLOW: usize = 500;

/// `GET /` on a fresh connection; status and time.
fn check(addr: SocketAddr) -> (Option<u16>, Duration) {
    testkit::slowloris::check(
        addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
}

/// The oversized requests sent in a loop: a huge head, many headers, a
/// body past the limit, a huge URI.
fn oversized_msgs() -> Vec<String> {
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let many = (0..2000).fold(String::from("GET / HTTP/1.1\r\nHost: t\r\n"), |s, i| {
        s + &format!("X-{i}: v\r\n")
    }) + "\r\n";
    let big_body = format!(
        "POST /sleep HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{}",
        64 << 20,
        "b".repeat(1 << 20)
    );
    let huge_uri = format!(
        "GET /sleep?seconds=0&x={} HTTP/1.1\r\nHost: t\r\n\r\n",
        "q".repeat(1 << 20)
    );
    vec![big_head, many, big_body, huge_uri]
}

/// Every oversized request is refused: a 4xx, or a close.
fn refused_only(status: Option<u16>) {
    assert!(
        status.is_none_or(|c| (400..500).contains(&c)),
        "an oversized request got {status:?}"
    );
}

#[test]
fn root_answers_under_500_slowloris_connections() {
    let mut b = Backend::start(&[]);
    let addr = b.addr;
    let t0 = Instant::now();
    let (mut dribblers, silent) = open_slow(
        addr,
        SLOW,
        b"GET /sleep?seconds=1 HTTP/1.1\r\nHost: t\r\nX-Slow: ",
    );
    let opened = t0.elapsed();
    let stop = Arc::new(AtomicBool::new(false));
    let drib = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut failed = 0;
            while !stop.load(Ordering::Relaxed) {
                for s in &mut dribblers {
                    if s.write_all(b"X").is_err() {
                        failed += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            failed
        })
    };
    let refused = Arc::new(AtomicU64::new(0));
    let big = spawn_oversized(addr, 4, oversized_msgs(), &stop, &refused, refused_only);
    let mut worst = Duration::ZERO;
    let mut checks = 0;
    while t0.elapsed() < Duration::from_secs(6) {
        let (status, took) = check(addr);
        assert_eq!(
            status,
            Some(200),
            "GET / failed after {took:?} at +{:?}",
            t0.elapsed()
        );
        worst = worst.max(took);
        checks += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let failed_writes = drib.join().unwrap();
    for t in big {
        t.join().unwrap();
    }
    eprintln!(
        "{SLOW} slow connections opened in {opened:?}; {checks} checks of /, worst {worst:?}; {} oversized requests refused; {failed_writes} dribble writes failed",
        refused.load(Ordering::Relaxed)
    );
    assert!(refused.load(Ordering::Relaxed) > 0);
    drop(silent);
    assert_eq!(check(addr).0, Some(200));
    assert!(b.child.try_wait().unwrap().is_none(), "backend exited");
    assert!(!b.logs.lines().iter().any(|l| l.contains("panicked")));
}
