//! Graceful shutdown of the real binary: in-flight requests finish, the
//! listener refuses new connections at once, idle keep-alives are closed,
//! exit 0, and the logs count what was waited for; past the timeout the rest
//! is cut.
//!
//! "At once" and "while a request runs" are shown by order, not by a clock:
//! a request that would run for 10 minutes holds the drain open until the
//! test lets it go, so everything checked before that happens mid-drain on
//! any machine. Upper bounds on time are half of a configured duration that
//! a broken server would wait out (the shutdown timeout, a request's
//! length), never a figure a busy machine can miss.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::{field, parse, Backend};
use nix::sys::signal::Signal;
use rstest::rstest;

/// The shutdown timeout of [`start`].
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

fn start() -> Backend {
    Backend::start(&["--shutdown-timeout", "20s"])
}

/// Sends a keep-alive request and returns the open connection.
fn send(b: &Backend, path: &str) -> TcpStream {
    let mut s = b.connect();
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    s
}

/// Waits for the `request_started` line of the request sent on `conn`
/// (the server logs the client's address as `remote`).
fn wait_started(b: &Backend, conn: &TcpStream) -> String {
    let remote = conn.local_addr().unwrap().to_string();
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=request_started") && field(l, "remote") == Some(remote.as_str())
        })
        .unwrap_or_else(|| panic!("the request from {remote} never started"))
}

#[rstest]
#[case::sigterm_sleep(Signal::SIGTERM, "/sleep?seconds=2", "slept 2s")]
#[case::sigint_sleep(Signal::SIGINT, "/sleep?seconds=2", "slept 2s")]
#[case::sigterm_stream(
    Signal::SIGTERM,
    "/stream?seconds=2&interval_ms=500",
    "chunk 0 @ 0ms\nchunk 1 @ 500ms\nchunk 2 @ 1000ms\nchunk 3 @ 1500ms\n"
)]
fn in_flight_request_completes_and_new_connections_are_refused(
    #[case] sig: Signal,
    #[case] path: &str,
    #[case] want_body: &str,
) {
    let mut b = start();
    // An idle keep-alive connection: one answered request, then nothing.
    let mut idle = send(&b, "/");
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).unwrap();
    assert!(parse(&buf[..n]).is_some_and(|r| r.status == 200));

    // The holder would run for 10 minutes: until it is let go below, the
    // server is draining, so the checks in between need no clock.
    let holder = send(&b, "/sleep?seconds=600");
    wait_started(&b, &holder);
    let sent = Instant::now();
    let mut busy = send(&b, path);
    wait_started(&b, &busy);

    b.signal(sig);
    let started = b
        .logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=shutdown_started")
        })
        .expect("no shutdown_started");
    assert_eq!(field(&started, "in_flight"), Some("2"), "{started}");
    // The listener is gone while the requests are still running.
    let err =
        TcpStream::connect(b.addr).expect_err("a new connection was accepted during shutdown");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");

    // The idle keep-alive connection is closed at once, while the holder
    // still runs: a server that kept it to the end of the drain (the 20 s
    // timeout at the earliest) leaves this read to fail at 10 s.
    idle.set_read_timeout(Some(SHUTDOWN_TIMEOUT / 2)).unwrap();
    assert_eq!(idle.read(&mut buf).expect("idle connection not closed"), 0);

    // The in-flight request completes, then the server closes the connection.
    let mut raw = Vec::new();
    busy.read_to_end(&mut raw).unwrap();
    let resp = parse(&raw).expect("in-flight request got no complete response");
    assert_eq!(resp.status, 200);
    let body = resp.text();
    // Elapsed values may be a ms late; compare the lines' shape and count.
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(" @ ").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(strip(&body), strip(want_body), "body {body:?}");
    assert!(sent.elapsed() >= Duration::from_secs(2));

    // Still draining: the holder is in flight.
    assert!(
        b.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    assert!(!b
        .logs
        .lines()
        .iter()
        .any(|l| l.contains("msg=shutdown_complete")));
    // Let it go: the client leaves, the drain has nothing left and ends
    // (a server still waiting for it would run to its 20 s timeout).
    holder.shutdown(Shutdown::Both).unwrap();
    drop(holder);
    let status = b.wait_exit(SHUTDOWN_TIMEOUT / 2);
    assert_eq!(status.code(), Some(0), "{status}");
    let done = b.shutdown_complete();
    assert_eq!(field(&done, "waited_for"), Some("2"), "{done}");
    assert_eq!(field(&done, "timed_out"), Some("false"), "{done}");
    assert!(b
        .logs
        .lines()
        .iter()
        .any(|l| l.contains("msg=client_disconnected") && l.contains("path=/sleep")));
    let sig_line = b
        .logs
        .wait_for(Duration::from_secs(1), |l| {
            l.contains("msg=signal_received")
        })
        .unwrap();
    assert_eq!(field(&sig_line, "signal"), Some(sig.as_str()));
}

#[test]
fn idle_server_exits_at_once() {
    let mut b = start();
    let r = common::get(b.addr, "/", "");
    assert_eq!(r.status, 200);
    let t = Instant::now();
    b.signal(Signal::SIGTERM);
    // A server that waited with nothing in flight would wait out its 20 s
    // timeout (and say timed_out=true): half of it is the bound.
    let bound = SHUTDOWN_TIMEOUT / 2;
    assert_eq!(b.wait_exit(bound).code(), Some(0));
    assert!(t.elapsed() < bound, "took {:?}", t.elapsed());
    let done = b.shutdown_complete();
    assert_eq!(field(&done, "waited_for"), Some("0"), "{done}");
    assert_eq!(field(&done, "timed_out"), Some("false"), "{done}");
}

#[test]
fn shutdown_timeout_cuts_what_is_left_and_exits_zero() {
    let mut b = Backend::start(&["--shutdown-timeout", "1s"]);
    let mut busy = send(&b, "/sleep?seconds=60");
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=request_started")
        })
        .unwrap();
    let t = Instant::now();
    b.signal(Signal::SIGTERM);
    // Uncut, the request would hold the exit for 60 s: half of it is the bound.
    assert_eq!(b.wait_exit(Duration::from_secs(30)).code(), Some(0));
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(900), "exited after {took:?}");
    let mut raw = Vec::new();
    let _ = busy.read_to_end(&mut raw);
    assert!(raw.is_empty(), "cut request got bytes: {raw:?}");
    let done = b.shutdown_complete();
    assert_eq!(field(&done, "timed_out"), Some("true"), "{done}");
    assert_eq!(field(&done, "waited_for"), Some("1"), "{done}");
    // The cut request is logged as aborted by the server, not as a client leaving.
    assert!(b
        .logs
        .lines()
        .iter()
        .any(|l| l.contains("msg=request_aborted")));
    assert!(!b
        .logs
        .lines()
        .iter()
        .any(|l| l.contains("msg=client_disconnected")));
}

#[test]
fn a_second_signal_exits_at_once_with_code_1() {
    let mut b = start();
    let _busy = send(&b, "/sleep?seconds=30");
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=request_started")
        })
        .unwrap();
    b.signal(Signal::SIGTERM);
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=shutdown_started")
        })
        .unwrap();
    b.signal(Signal::SIGINT);
    // Ignored, the second signal would leave the drain to its 20 s timeout.
    assert_eq!(b.wait_exit(SHUTDOWN_TIMEOUT / 2).code(), Some(1));
    assert!(b
        .logs
        .wait_for(Duration::from_secs(1), |l| l
            .contains("msg=second_signal_exiting_now"))
        .is_some());
}
