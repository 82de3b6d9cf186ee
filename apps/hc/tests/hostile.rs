//! Hostile clients against the real binary: huge heads, garbage, slowloris,
//! silent and unread connections. hc must answer 4xx or close, never die,
//! and keep answering health checks on time meanwhile.
//!
//! Slow connections are cut at hc's 5 s read timeout and asserted gone by
//! [`CUT_BY`], half its 60 s idle limit: a timeout re-armed by each byte,
//! or the idle limit applied instead, fails; a busy machine has 25 s of
//! slack. Answers due at once are awaited up to 10 s: what they guard
//! against (a close, a cut by the 5 s read timeout) shows as no answer at
//! all, not as a late one.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every slow connection is closed this long after it was opened.
const CUT_BY: Duration = Duration::from_secs(30);

/// Sends `raw`, then reads until close (bounded); returns the bytes read.
async fn send_raw(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = connect_from(addr, None).await;
    // The server may close before taking everything: ignore write errors.
    let _ = s.write_all(raw).await;
    let mut out = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(8), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(r.is_ok(), "hc neither answered nor closed within 8 s");
    out
}

fn status_of(raw: &[u8]) -> Option<u16> {
    let t = String::from_utf8_lossy(raw);
    t.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

async fn assert_healthy(hc: &Hc) {
    let r = get(hc.addr, "/health_check.html").await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK"), "hc still answers");
}

#[rstest]
#[case::huge_header(format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024)).into_bytes(), 431)]
#[case::many_headers((0..200).fold("GET /health HTTP/1.1\r\nHost: x\r\n".to_string(), |s, i| s + &format!("X-{i}: v\r\n")).into_bytes(), 431)]
#[case::huge_uri(format!("GET /health?{} HTTP/1.1\r\nHost: x\r\n\r\n", "q".repeat(64 * 1024)).into_bytes(), 431)]
#[case::garbage_line(b"\x00\x01\x02 garbage\r\n\r\n".to_vec(), 400)]
#[case::no_version(b"GET /health\r\n\r\n".to_vec(), 400)]
#[case::bad_header(b"GET /health HTTP/1.1\r\nHost x\r\n\r\n".to_vec(), 400)]
#[case::binary_noise((0..=255u8).cycle().take(10_000).collect::<Vec<u8>>(), 400)]
#[case::http2_preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), 0)]
#[tokio::test]
async fn bad_requests_get_4xx_or_close(#[case] raw: Vec<u8>, #[case] want: u16) {
    let mut hc = Hc::start(Opts::default()).await;
    let out = send_raw(hc.addr, &raw).await;
    match status_of(&out) {
        Some(s) => assert!(
            s == want || (400..500).contains(&s),
            "answered {s}, want {want} or another 4xx"
        ),
        None => assert!(
            out.is_empty(),
            "neither a 4xx nor a plain close: {:?}",
            String::from_utf8_lossy(&out)
        ),
    }
    assert_healthy(&hc).await;
    assert!(hc.child.try_wait().unwrap().is_none(), "hc exited");
}

#[tokio::test]
async fn unread_body_and_pipelining() {
    let hc = Hc::start(Opts::default()).await;
    // A POST that promises a body it never sends is answered at once (hc reads no body).
    let mut s = connect_from(hc.addr, None).await;
    s.write_all(b"POST /drain HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    // An hc that waited for the body would be cut by its 5 s read timeout
    // and close with no answer.
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answer without the body")
        .unwrap();
    assert_eq!(status_of(&buf[..n]), Some(200));
    assert_eq!(
        get(hc.addr, "/drain/status").await.json()["state"],
        "DRAINING"
    );
    // Two pipelined requests get two answers, in order.
    let out = send_raw(hc.addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let t = String::from_utf8_lossy(&out);
    let first = t.find("HTTP/1.1 200").expect("first answer");
    let second = t.find("HTTP/1.1 404").expect("second answer");
    assert!(first < second, "{t}");
}

/// Health answers while `n` slowloris clients dribble a request head and
/// `n` more send nothing; every such connection is closed by the 5 s read timeout.
#[tokio::test]
async fn slowloris_does_not_delay_health_answers() {
    let hc = Hc::start(Opts::default()).await;
    let n = 100;
    let mut silent = Vec::new();
    let mut dribblers = Vec::new();
    let t0 = Instant::now();
    for _ in 0..n {
        silent.push(TcpStream::connect(hc.addr).await.unwrap());
        let addr = hc.addr;
        dribblers.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let start = Instant::now();
            if s.write_all(b"GET /health_check.html HTTP/1.1\r\nHost: x\r\n")
                .await
                .is_err()
            {
                return start.elapsed();
            }
            // One header byte every 200 ms, never finishing the head.
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if s.write_all(b"X").await.is_err() {
                    return start.elapsed();
                }
                let mut b = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
                    Ok(Ok(_)) => return start.elapsed(), // a 408/4xx answer, then close
                    Err(_) => {}
                }
                // A read timeout re-armed by each byte would keep it forever.
                assert!(
                    start.elapsed() < CUT_BY,
                    "slowloris connection still open after {CUT_BY:?} (read timeout 5 s)"
                );
            }
        }));
    }
    // While they hang on, health answers keep coming on time.
    let mut worst = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(4) {
        let s = Instant::now();
        let r = get(hc.addr, "/health_check.html").await;
        assert_eq!(r.status, 200);
        worst = worst.max(s.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each answered 200 (no deadline race: a starved hc fails the request's
    // own timeout); the worst time is only reported.
    eprintln!("worst health answer under slowloris: {worst:?}");
    for d in dribblers {
        let lived = d.await.unwrap();
        assert!(
            lived >= Duration::from_millis(4500),
            "slowloris closed after {lived:?}, before the 5 s read timeout"
        );
    }
    for mut s in silent {
        let mut b = [0u8; 16];
        let left = CUT_BY.saturating_sub(t0.elapsed());
        let r = tokio::time::timeout(left.max(Duration::from_millis(200)), s.read(&mut b)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "silent connection not closed by the read timeout: {r:?}"
        );
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(4500),
        "silent connections closed before the read timeout"
    );
    assert_healthy(&hc).await;
}

#[tokio::test]
async fn keep_alive_survives_past_the_read_timeout() {
    // Idle keep-alive is governed by the 60 s idle limit, not the 5 s read limit.
    let hc = Hc::start(Opts::default()).await;
    let mut s = connect_from(hc.addr, None).await;
    let one = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut buf = [0u8; 1024];
    s.write_all(one).await.unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&buf[..n]), Some(200));
    tokio::time::sleep(Duration::from_millis(6000)).await;
    s.write_all(one).await.unwrap();
    // A closed connection reads 0 at once; only a hung hc waits this out.
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status_of(&buf[..n]),
        Some(200),
        "keep-alive connection closed after 6 s idle"
    );
}
