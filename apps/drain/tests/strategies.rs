//! The comparison knobs against a real Envoy: `--active-stat cx` (an idle
//! keep-alive connection keeps it above 0 where `rq` is 0) and `--min-drain`
//! (a floor under an otherwise instant drain).

mod common;

use std::time::Duration;

use common::*;
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one keep-alive request through Envoy and keeps the connection open.
async fn idle_keepalive(envoy: &Envoy) -> TcpStream {
    let mut s = TcpStream::connect(envoy.inbound).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: pod\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("\r\n\r\nok") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "envoy closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    s
}

#[rstest]
#[case::rq_ignores_idle_connection("rq", true, 0)]
#[case::cx_waits_for_idle_connection("cx", true, 3)]
#[case::cx_without_connection("cx", false, 0)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_stat(#[case] stat: &str, #[case] hold: bool, #[case] want: i32) {
    let (envoy, hc) = envoy_and_hc().await;
    let _conn = if hold {
        Some(idle_keepalive(&envoy).await)
    } else {
        None
    };
    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_TIMEOUT", "2s"),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "0"),
        ],
        &["--active-stat", stat],
    );
    let (code, _) = d.finish(Duration::from_secs(30)).await;
    let log = d.text();
    assert_eq!(code, want, "{log}");
    let first: u64 = field(&d.msgs("poll")[0].text, "active")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first, if want == 3 { 1 } else { 0 }, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_drain_is_a_floor() {
    let (envoy, hc) = envoy_and_hc().await;
    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "0"),
        ],
        &["--min-drain", "1500ms"],
    );
    let (code, _) = d.finish(Duration::from_secs(30)).await;
    let log = d.text();
    assert_eq!(code, 0, "{log}");
    let drained: u64 = field(&d.msgs("drained")[0].text, "elapsed_ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1500..2500).contains(&drained), "{log}");
    assert!(d.msgs("poll").len() >= 2, "{log}");
}
