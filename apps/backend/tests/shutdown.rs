//! Graceful shutdown of the real binary: in-flight requests finish, the
//! listener refuses new connections at once, idle keep-alives are closed,
//! exit 0, and the logs count what was waited for; past the timeout the rest
//! is cut.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{field, parse, Backend};
use nix::sys::signal::Signal;
use rstest::rstest;

fn start() -> Backend {
    Backend::start(&["--shutdown-timeout", "20s"])
}

/// Sends a keep-alive request and returns the open connection.
fn send(b: &Backend, path: &str) -> TcpStream {
    let mut s = b.connect();
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    s
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

    let sent = Instant::now();
    let mut busy = send(&b, path);
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=request_started") && l.contains(path.split('?').next().unwrap())
        })
        .expect("request never started");

    b.signal(sig);
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=shutdown_started")
        })
        .expect("no shutdown_started");
    // The listener is gone while the request is still running.
    let refused = TcpStream::connect(b.addr);
    assert!(
        sent.elapsed() < Duration::from_millis(1900),
        "too slow to check refusal while in flight"
    );
    let err = refused.expect_err("a new connection was accepted during shutdown");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");

    // The idle keep-alive connection is closed at once.
    idle.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert_eq!(idle.read(&mut buf).expect("idle connection not closed"), 0);
    assert!(sent.elapsed() < Duration::from_millis(1900));

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

    let status = b.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}");
    let done = b.shutdown_complete();
    assert_eq!(field(&done, "waited_for"), Some("1"), "{done}");
    assert_eq!(field(&done, "timed_out"), Some("false"), "{done}");
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
    assert_eq!(b.wait_exit(Duration::from_secs(5)).code(), Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    let done = b.shutdown_complete();
    assert_eq!(field(&done, "waited_for"), Some("0"), "{done}");
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
    assert_eq!(b.wait_exit(Duration::from_secs(10)).code(), Some(0));
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
    assert_eq!(b.wait_exit(Duration::from_secs(3)).code(), Some(1));
    assert!(b
        .logs
        .wait_for(Duration::from_secs(1), |l| l
            .contains("msg=second_signal_exiting_now"))
        .is_some());
}
