//! 500 slowloris connections (half dribble a request head one byte at a
//! time, half send nothing) plus a stream of oversized requests against the
//! real binary: health checks on fresh connections keep answering within
//! 1 s the whole time, every slow connection is cut by the 5 s read timeout,
//! and hc is alive afterwards.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Hc, Opts};
use testkit::slowloris::{open_slow, spawn_oversized};

const SLOW: usize = 500;
/// hc's read timeout for a request head (its default).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How late past its deadline a cut may come on a busy 2-core machine.
const MARGIN: Duration = Duration::from_secs(2);

/// One request on a fresh connection (as HAProxy checks); status and time.
fn check(addr: SocketAddr) -> (Option<u16>, Duration) {
    testkit::slowloris::check(addr, b"GET /health_check.html HTTP/1.0\r\n\r\n")
}

/// The oversized requests sent in a loop: a huge head, a body past the limit.
fn oversized_msgs() -> Vec<String> {
    let big_head = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let big_body = format!(
        "POST /drain HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
        8 << 20,
        "b".repeat(1 << 20)
    );
    vec![big_head, big_body]
}

/// hc has no POST body to read and no admin route here: a 404 or 431, or a close.
fn refused_only(status: Option<u16>) {
    if !status.is_none_or(|c| (400..500).contains(&c)) {
        panic!("an oversized request got {status:?}");
    }
}

#[test]
fn health_answers_within_a_second_under_500_slowloris_connections() {
    let hc = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(Hc::start(Opts {
            admin: true,
            ..Opts::default()
        }))
    };
    let addr = hc.addr;
    let t0 = Instant::now();
    let (dribblers, mut silent) = open_slow(
        addr,
        SLOW,
        b"GET /health_check.html HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    );
    let opened = t0.elapsed();
    // One byte per connection every 200 ms, never ending the head.
    let stop = Arc::new(AtomicBool::new(false));
    let drib = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut alive: Vec<(TcpStream, Option<Duration>)> =
                dribblers.into_iter().map(|s| (s, None)).collect();
            while !stop.load(Ordering::Relaxed) {
                for (s, cut) in alive.iter_mut().filter(|(_, c)| c.is_none()) {
                    if s.write_all(b"X").is_err() {
                        *cut = Some(t0.elapsed());
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            alive.into_iter().map(|(_, c)| c).collect::<Vec<_>>()
        })
    };
    let refused = Arc::new(AtomicU64::new(0));
    let big = spawn_oversized(addr, 4, oversized_msgs(), &stop, &refused, refused_only);
    // Health checks every 50 ms until every slow connection must have been
    // cut: the read timeout after the last one was opened (hc arms it at
    // accept), plus a margin for a busy machine.
    let until = opened + READ_TIMEOUT + MARGIN;
    let mut worst = Duration::ZERO;
    let mut checks = 0;
    while t0.elapsed() < until {
        let (status, took) = check(addr);
        assert_eq!(
            status,
            Some(200),
            "health check failed after {took:?} at +{:?}",
            t0.elapsed()
        );
        worst = worst.max(took);
        checks += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let cuts = drib.join().unwrap();
    for b in big {
        b.join().unwrap();
    }
    // Every dribbler was cut (a write failed) near the read timeout.
    let cut: Vec<Duration> = cuts.iter().flatten().copied().collect();
    let silent_closed = silent
        .iter_mut()
        .filter_map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut b = [0u8; 64];
            let closed = match s.read(&mut b) {
                Ok(_) => true,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            };
            closed.then_some(())
        })
        .count();
    eprintln!(
        "{SLOW} slow connections opened in {opened:?}; {checks} health checks, worst {worst:?}; {} oversized requests refused; {} of {} dribblers cut (last at {:?}); {silent_closed} of {} silent closed",
        refused.load(Ordering::Relaxed),
        cut.len(),
        cuts.len(),
        cut.iter().max(),
        silent.len()
    );
    assert!(
        worst < Duration::from_secs(1),
        "a health check took {worst:?}"
    );
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "no oversized request was answered"
    );
    assert_eq!(
        cut.len(),
        cuts.len(),
        "dribblers still open {until:?} after the first was opened (the last at {opened:?})"
    );
    assert!(
        cut.iter().all(|c| *c >= Duration::from_millis(4500)),
        "cut before the 5 s read timeout: {cut:?}"
    );
    assert_eq!(
        silent_closed,
        silent.len(),
        "silent connections still open {until:?} after the first was opened"
    );
    assert_eq!(check(addr).0, Some(200));
    let mut hc = hc;
    assert!(hc.child.try_wait().unwrap().is_none(), "hc exited");
}
