//! `/stream` read byte by byte: each line arrives on its own tick (flushed at
//! once, not buffered), the count is ceil(N × 1000 / M), and the body ends
//! with the chunked terminator.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{dechunk, Backend};
use rstest::rstest;

#[rstest]
#[case::even(1, 250, 4)]
#[case::ceil(1, 300, 4)]
#[case::one_line(1, 1000, 1)]
#[case::empty(0, 100, 0)]
fn stream_arrives_chunk_by_chunk(
    #[case] seconds: u64,
    #[case] interval_ms: u64,
    #[case] lines: usize,
) {
    let b = Backend::start(&[]);
    let mut s = b.connect();
    write!(
        s,
        "GET /stream?seconds={seconds}&interval_ms={interval_ms}&pod=pod-a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let t0 = Instant::now();
    let mut raw = Vec::new();
    let mut arrivals = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match s.read(&mut byte).unwrap() {
            0 => break,
            _ => raw.push(byte[0]),
        }
        if raw.ends_with(b"ms\n") {
            arrivals.push(t0.elapsed());
        }
    }
    let total = t0.elapsed();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let head_end = text.find("\r\n\r\n").expect("no header end") + 4;
    let head = text[..head_end].to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("x-served-by: pod-test"), "{head}");
    let body = dechunk(&raw[head_end..]).expect("no chunked terminator");
    let body = String::from_utf8(body).unwrap();
    let got: Vec<&str> = body.lines().collect();
    assert_eq!(got.len(), lines, "{body:?}");
    assert_eq!(arrivals.len(), lines);

    let m = interval_ms as i128;
    for (i, line) in got.iter().enumerate() {
        let (label, at) = line.split_once(" @ ").expect(line);
        assert_eq!(label, format!("chunk {i}"));
        let at: i128 = at.strip_suffix("ms").unwrap().parse().unwrap();
        let due = i as i128 * m;
        // The server stamps each line at its tick...
        assert!(
            at >= due && at < due + m / 2,
            "line {i} stamped {at}ms, due {due}ms"
        );
        // ...and the client has it before the next tick: nothing is held back.
        let seen = arrivals[i].as_millis() as i128;
        assert!(
            seen >= due - 5,
            "line {i} seen at {seen}ms, before its tick"
        );
        assert!(
            seen < due + m,
            "line {i} seen at {seen}ms, after the next tick (buffered?)"
        );
    }
    // The terminator comes at the end of the stream's N seconds.
    let n = Duration::from_secs(seconds);
    assert!(
        total + Duration::from_millis(40) >= n,
        "ended after {total:?}"
    );
    assert!(
        total < n + Duration::from_millis(500),
        "ended after {total:?}"
    );
}
