//! A misbehaving Envoy admin (garbage, HTML, 500, a dripping body, a 1 GB
//! body, an endless body, silence, ...): drain never reads it as 0, polls
//! until its deadline, gives no poll more than what is left of it (at least
//! LAST_LOOK), as its own timeout errors say, and ends within its documented
//! worst case.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A valid answer that says 0: what a broken reader could wrongly settle on.
const ZERO: &str = "cluster.app.upstream_rq_active: 0\n";

#[derive(Debug, Clone, Copy)]
enum Bad {
    Garbage,
    Html,
    Status500,
    Status404,
    Empty,
    NoMatchingLines,
    DripOneBytePerSecond,
    ClaimsOneGigabyte,
    Endless,
    Silence,
    CloseAtOnce,
}

async fn head(s: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match s.read(&mut b).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
}

fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn serve_one(mut s: TcpStream, bad: Bad) {
    head(&mut s).await;
    let _ = match bad {
        Bad::Garbage => {
            s.write_all(answer("200 OK", "lorem ipsum\n\x01\x02 dolor\n").as_bytes())
                .await
        }
        Bad::Html => {
            let body = format!("<html><body><pre>\n{ZERO}</pre></body></html>\n");
            s.write_all(answer("200 OK", &body).as_bytes()).await
        }
        Bad::Status500 => {
            s.write_all(answer("500 Internal Server Error", ZERO).as_bytes())
                .await
        }
        Bad::Status404 => s.write_all(answer("404 Not Found", ZERO).as_bytes()).await,
        Bad::Empty => s.write_all(answer("200 OK", "").as_bytes()).await,
        Bad::NoMatchingLines => {
            s.write_all(
                answer(
                    "200 OK",
                    "server.uptime: 5\nhttp.admin.downstream_rq_active: 0\n",
                )
                .as_bytes(),
            )
            .await
        }
        Bad::DripOneBytePerSecond => {
            let h = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", ZERO.len());
            let _ = s.write_all(h.as_bytes()).await;
            for b in ZERO.bytes() {
                if s.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(())
        }
        Bad::ClaimsOneGigabyte => {
            let h = "HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n";
            let _ = s.write_all(h.as_bytes()).await;
            let line = ZERO.repeat(1000);
            while s.write_all(line.as_bytes()).await.is_ok() {}
            Ok(())
        }
        Bad::Endless => {
            // No length, closed-delimited: valid lines forever.
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
                .await;
            let line = ZERO.repeat(1000);
            while s.write_all(line.as_bytes()).await.is_ok() {}
            Ok(())
        }
        Bad::Silence => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok(())
        }
        Bad::CloseAtOnce => Ok(()),
    };
}

async fn start_bad_admin(bad: Bad) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_one(s, bad));
        }
    });
    addr
}

#[rstest]
#[case::garbage(Bad::Garbage)]
#[case::html(Bad::Html)]
#[case::status_500(Bad::Status500)]
#[case::status_404(Bad::Status404)]
#[case::empty(Bad::Empty)]
#[case::no_matching_lines(Bad::NoMatchingLines)]
#[case::drip_one_byte_per_second(Bad::DripOneBytePerSecond)]
#[case::claims_one_gigabyte(Bad::ClaimsOneGigabyte)]
#[case::endless_body(Bad::Endless)]
#[case::silence(Bad::Silence)]
#[case::close_at_once(Bad::CloseAtOnce)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_read_as_zero(#[case] bad: Bad) {
    let admin = format!("http://{}", start_bad_admin(bad).await);
    let hc = start_hc(hc::LbSignal::Status503).await;
    let timeout = Duration::from_secs(2);
    let call_timeout = Duration::from_secs(5);

    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &admin),
            ("DRAIN_TIMEOUT", "2s"),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "0"),
        ],
        &[],
    );
    let (code, wall) = d.finish(Duration::from_secs(60)).await;
    let log = d.text();
    assert_eq!(code, 3, "{log}");
    assert!(d.msgs("drained").is_empty(), "{log}");
    assert_eq!(d.msgs("drain_timeout").len(), 1, "{log}");
    let polls = d.msgs("poll");
    assert!(
        !polls.is_empty()
            && polls
                .iter()
                .all(|l| field(&l.text, "active") == Some("unknown")),
        "{log}"
    );
    // No poll ran into the whole call timeout: each one that timed out was
    // given what was left of the deadline, or LAST_LOOK once past it (a
    // hung drain_listeners call may eat the whole deadline). The timeout a
    // call gave up after is in its error, so no clock of the test's is read.
    let last_look = drain::sequence::LAST_LOOK;
    for p in &polls {
        if let Some(gave) = gave_up_after(&p.text) {
            assert!(
                gave <= timeout.max(last_look) && gave < call_timeout,
                "a poll waited {gave:?}: {log}"
            );
        }
    }
    // The deadline at least, and no longer than drain's worst case for these
    // settings (deadline + last look + four hung calls; this run has one
    // hung call at most, so a busy machine has seconds to spare).
    assert!(wall >= timeout, "{wall:?}");
    let cfg = drain::Config {
        drain_timeout: timeout,
        lb_buffer: Some(drain::LbBuffer::Fixed(Duration::ZERO)),
        ..drain::Config::default()
    };
    assert_eq!(cfg.call_timeout, call_timeout);
    let bound = drain::worst_case(&cfg);
    assert!(wall <= bound, "took {wall:?} > {bound:?}: {log}");
    assert_eq!(hc_status(&hc).await.state, "CLOSED", "{log}");
}

/// The timeout in a `timed out after <Duration>` error of a log line
/// (`Duration`'s debug form: `1.5s`, `999ms`, ...).
fn gave_up_after(line: &str) -> Option<Duration> {
    let rest = line.split("timed out after ").nth(1)?;
    let d: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == 'µ')
        .collect();
    let (num, unit) = d.split_at(d.find(|c: char| c.is_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "ms" => n / 1e3,
        "µs" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}
