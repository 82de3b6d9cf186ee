//! 500 slowloris connections (half dribble a request head one byte at a
//! time, half send nothing) plus a stream of oversized requests against the
//! real binary: health checks on fresh connections keep answering the whole
//! time, each within the 5 s read timeout (a check held up by the slow
//! connections would wait for their cut), every slow connection is cut by
//! that read timeout (not before it, and by [`MARGIN`] after it at the
//! latest: a timeout re-armed by each byte, or hc's 60 s idle limit applied
//! instead, fails), and hc is alive afterwards.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Hc, Opts};
use testkit::slowloris::{open_slow, spawn_oversized};

const SLOW: usize = 500;
/// hc's read timeout for a request head (its default).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How late past its deadline a cut may come: half of hc's 60 s idle limit,
/// minus the read timeout. The test ends as soon as every cut is seen.
const MARGIN: Duration = Duration::from_secs(25);

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
fn health_answers_under_500_slowloris_connections() {
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
    let drib_count = dribblers.len();
    let drib_cut = Arc::new(AtomicUsize::new(0));
    let drib = {
        let stop = stop.clone();
        let drib_cut = drib_cut.clone();
        std::thread::spawn(move || {
            let mut alive: Vec<(TcpStream, Option<Duration>)> =
                dribblers.into_iter().map(|s| (s, None)).collect();
            while !stop.load(Ordering::Relaxed) {
                for (s, cut) in alive.iter_mut().filter(|(_, c)| c.is_none()) {
                    if s.write_all(b"X").is_err() {
                        *cut = Some(t0.elapsed());
                        drib_cut.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            alive.into_iter().map(|(_, c)| c).collect::<Vec<_>>()
        })
    };
    let refused = Arc::new(AtomicU64::new(0));
    let big = spawn_oversized(addr, 4, oversized_msgs(), &stop, &refused, refused_only);
    // Health checks every 50 ms for at least the read timeout after the last
    // slow connection was opened (hc arms it at accept), then until every
    // dribbler is seen cut, or `until` at the latest.
    let until = opened + READ_TIMEOUT + MARGIN;
    let mut worst = Duration::ZERO;
    let mut checks = 0;
    while t0.elapsed() < opened + READ_TIMEOUT
        || (drib_cut.load(Ordering::Relaxed) < drib_count && t0.elapsed() < until)
    {
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
            // Whatever is left until `until`: a cut comes at once or is late.
            let left = until.saturating_sub(t0.elapsed());
            s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
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
    // (Each check gives up after 3 s, below the read timeout; a check that
    // trickled in past that would still show here.)
    assert!(worst < READ_TIMEOUT, "a health check took {worst:?}");
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
