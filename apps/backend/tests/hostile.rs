//! Hostile input against the real binary: malformed request lines and query
//! strings, huge or too many headers, odd methods, slow clients. Each gets a
//! clear 4xx or a closed connection, never a panic, and `/` keeps answering
//! promptly meanwhile.
//!
//! "Promptly" is [`HEALTHY`]: a server held up by a hostile client would be
//! held until that client is cut (the 60 s header-read timeout) or its
//! stream ends (60 s), far past it. Slow clients are cut between the
//! configured timeout and [`CUT_BOUND`], well short of the 60 s default a
//! server ignoring the setting would use.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{parse, raw_exchange, Backend};
use rstest::rstest;

/// How long `/` may take while hostile clients are around.
const HEALTHY: Duration = Duration::from_secs(5);
/// The header-read timeout of the cut test, and how late its cut may come.
const CUT_AFTER: Duration = Duration::from_secs(1);
const CUT_BOUND: Duration = Duration::from_secs(10);

/// `GET /` on a fresh connection answers 200 `ok` within [`HEALTHY`], and
/// the backend is alive with no panic logged.
fn assert_healthy(b: &mut Backend) {
    let t = Instant::now();
    let mut s = TcpStream::connect(b.addr).expect("connect");
    s.set_read_timeout(Some(HEALTHY)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let read = s.read_to_end(&mut raw);
    let took = t.elapsed();
    read.unwrap_or_else(|e| panic!("/ not answered within {HEALTHY:?}: {e}"));
    let r = parse(&raw).expect("parse response");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert!(took < HEALTHY, "/ took {took:?}");
    assert!(b.child.try_wait().unwrap().is_none(), "backend died");
    assert!(!b.logs.lines().iter().any(|l| l.contains("panicked")));
}

fn big_header(n: usize) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(n)
    )
    .into_bytes()
}

fn many_headers(n: usize) -> Vec<u8> {
    let mut s = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..n {
        s.push_str(&format!("X-H{i}: v\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// `None` in `want`: any 4xx, or the connection closed without an answer.
#[rstest]
#[case::garbage(b"GARBAGE\r\n\r\n".to_vec(), None)]
#[case::binary(b"\x00\x01\x02\xff\xfe\r\n\r\n".to_vec(), None)]
#[case::http2_preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), None)]
#[case::bad_version(b"GET / HTTP/9.9\r\nHost: t\r\n\r\n".to_vec(), None)]
#[case::space_in_target(b"GET /sl eep HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), None)]
#[case::bad_percent(b"GET /sleep?seconds=%%zz%G HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), Some(400))]
#[case::query_only_separators(b"GET /sleep?&&&=&==& HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), Some(200))]
#[case::absolute_form(b"GET http://x/stream?seconds=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(200))]
#[case::connect(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n".to_vec(), None)]
#[case::trace(b"TRACE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), Some(405))]
#[case::options_star(b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), None)]
#[case::post_with_body(b"POST /sleep HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec(), Some(405))]
#[case::bad_content_length(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\n".to_vec(), None)]
// RFC 9112 §6.1: chunked wins, and the connection must be closed after.
#[case::conflicting_lengths(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), Some(200))]
#[case::huge_header(big_header(200 * 1024), Some(431))]
#[case::too_many_headers(many_headers(500), Some(431))]
fn hostile_request_gets_4xx_or_close(#[case] raw: Vec<u8>, #[case] want: Option<u16>) {
    let mut b = Backend::start(&[]);
    let out = raw_exchange(b.addr, &raw);
    match (want, out) {
        (Some(code), Ok(bytes)) => {
            let r = parse(&bytes).unwrap_or_else(|| panic!("no response: {bytes:?}"));
            assert_eq!(r.status, code, "{}", r.text());
            if code == 200 && !String::from_utf8_lossy(&raw).contains("Connection: close") {
                assert_eq!(r.header("connection"), Some("close"));
            }
        }
        (Some(code), Err(e)) => panic!("wanted {code}, got {e}"),
        (None, Ok(bytes)) if bytes.is_empty() => {}
        (None, Ok(bytes)) => {
            let r = parse(&bytes).unwrap_or_else(|| panic!("unparseable: {bytes:?}"));
            assert!((400..500).contains(&r.status), "got {}", r.status);
        }
        // A reset instead of an answer is a close too.
        (None, Err(_)) => {}
    }
    assert_healthy(&mut b);
}

/// Twenty clients that never finish their request head, one that sends
/// nothing, and an idle keep-alive connection.
fn slow_clients(b: &Backend) -> Vec<TcpStream> {
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = b.connect();
            s.write_all(b"GET /sleep?seconds=1 HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    slow.push(b.connect());
    let mut idle = b.connect();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).unwrap();
    assert_eq!(parse(&buf[..n]).unwrap().status, 200);
    slow.push(idle);
    slow
}

#[test]
fn slow_clients_do_not_block_others() {
    // With a 60 s timeout, a server that served them before others would
    // answer `/` only after a minute.
    let mut b = Backend::start(&["--header-read-timeout", "60s"]);
    let mut slow = slow_clients(&b);
    for _ in 0..3 {
        assert_healthy(&mut b);
    }
    // ...and they were all still held open while `/` was answered.
    for s in &mut slow {
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a slow connection was not held open: {other:?}"),
        }
    }
}

#[test]
fn slow_clients_are_cut() {
    let mut b = Backend::start(&["--header-read-timeout", "1s"]);
    let mut slow = slow_clients(&b);
    let started = Instant::now();
    // Each slow connection is closed (optionally after a 408) after the
    // timeout and before CUT_BOUND: a server without the cut, or with the
    // 60 s default instead of the setting, leaves a read here to time out.
    for s in &mut slow {
        let left = CUT_BOUND.saturating_sub(started.elapsed());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut out = Vec::new();
        match s.read_to_end(&mut out) {
            Ok(_) => {
                if !out.is_empty() {
                    let r = parse(&out).expect("unparseable answer");
                    assert_eq!(r.status, 408);
                }
            }
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "not closed within {CUT_BOUND:?}: {e}"
            ),
        }
    }
    let took = started.elapsed();
    assert!(
        took >= CUT_AFTER - Duration::from_millis(100),
        "closed too early: {took:?}"
    );
    assert!(took < CUT_BOUND, "closed too late: {took:?}");
    assert_healthy(&mut b);
}

#[test]
fn a_client_that_never_reads_its_stream_does_not_block_others() {
    let mut b = Backend::start(&[]);
    let mut s = b.connect();
    // A minute of ticks every 1 ms: a server whose writer waited on this
    // client would hold `/` far past HEALTHY.
    s.write_all(b"GET /stream?seconds=60&interval_ms=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Ticks pile up in socket buffers while this client reads nothing.
    for _ in 0..5 {
        assert_healthy(&mut b);
    }
    drop(s);
}
