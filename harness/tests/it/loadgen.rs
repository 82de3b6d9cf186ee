//! The load generator against a real HTTP server written for the test
//! (`loadgen/test_server.rs`): every outcome, ids, connection reuse, the
//! open-loop schedule, coordinated-omission correction, cancel, cleanup.

use crate::drive;
use crate::test_server;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use drive::load;
use harness::loadgen::{EntryStats, LoadSpec, LoadStats};
use harness::model::{Origin, Outcome, Phase, RequestKind, RequestRecord, RunClock};
use rstest::rstest;
use test_server::{AtAccept, StreamEnd, TestServer, POD};
use tokio_util::sync::CancellationToken;

const MARGIN: Duration = Duration::from_millis(2_000);

async fn load_simple(target: SocketAddr, specs: Vec<LoadSpec>) -> (Vec<RequestRecord>, LoadStats) {
    load(
        target,
        specs,
        MARGIN,
        RunClock::new(),
        CancellationToken::new(),
    )
    .await
}

fn one(path: &str) -> LoadSpec {
    steady(path, 1.0, 1, 1.0, 4)
}

fn steady(path: &str, rate: f64, duration_ms: u64, keepalive: f64, max_conns: usize) -> LoadSpec {
    LoadSpec::Steady {
        rate,
        duration_ms,
        path: path.to_string(),
        start_ms: 0,
        keepalive,
        max_conns,
        seed: 42,
    }
}

async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    testkit::wait_for(what, limit, || std::future::ready(cond())).await
}

#[rstest]
#[case::ok("/", Outcome::Ok, None, Some(200), None, Some(POD))]
#[case::short_sleep_body(
    "/sleep?seconds=0&short=1",
    Outcome::Truncated,
    Some(Phase::Body),
    Some(200),
    None,
    Some(POD)
)]
#[case::rst_before_head("/reset", Outcome::Reset, Some(Phase::Head), None, None, None)]
#[case::fin_before_head("/fin", Outcome::Closed, Some(Phase::Head), None, None, None)]
#[case::rst_mid_body(
    "/reset-mid",
    Outcome::Reset,
    Some(Phase::Body),
    Some(200),
    None,
    Some(POD)
)]
#[case::fin_mid_body(
    "/fin-mid",
    Outcome::Closed,
    Some(Phase::Body),
    Some(200),
    None,
    Some(POD)
)]
#[case::fin_after_head(
    "/close-after-headers",
    Outcome::Closed,
    Some(Phase::Body),
    Some(200),
    None,
    Some(POD)
)]
#[case::haproxy_502("/502", Outcome::Http5xx, None, Some(502), Some(Origin::Haproxy), None)]
#[case::envoy_503("/503", Outcome::Http5xx, None, Some(503), Some(Origin::Envoy), None)]
#[case::app_500(
    "/500",
    Outcome::Http5xx,
    None,
    Some(500),
    Some(Origin::App),
    Some(POD)
)]
#[case::app_404(
    "/404",
    Outcome::HttpStatus,
    None,
    Some(404),
    Some(Origin::App),
    Some(POD)
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifies_what_the_server_does(
    #[case] path: &str,
    #[case] outcome: Outcome,
    #[case] phase: Option<Phase>,
    #[case] status: Option<u16>,
    #[case] origin: Option<Origin>,
    #[case] pod: Option<&str>,
) {
    let server = TestServer::start().await;
    let (records, stats) = load_simple(server.addr, vec![one(path)]).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(
        (r.outcome, r.phase, r.status, r.origin),
        (outcome, phase, status, origin),
        "{r:?}"
    );
    assert_eq!(r.pod.as_deref(), pod);
    assert_eq!(r.id, "steady-0");
    assert_eq!(r.path, path);
    assert_eq!(r.error.is_some(), outcome != Outcome::Ok, "{r:?}");
    assert!(r.intended_ms <= r.sent_ms && r.sent_ms <= r.end_ms, "{r:?}");
    assert_eq!(r.ttfb_ms.is_some(), status.is_some());
    assert_eq!(
        (stats.scheduled, stats.sent, stats.completed),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(
        stats.entries,
        vec![EntryStats {
            scheduled: 1,
            started: 1,
            recorded: 1
        }]
    );
    assert_eq!(
        server.seen(),
        vec![(path.to_string(), "steady-0".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_by_the_deadline_is_a_timeout() {
    let server = TestServer::start().await;
    let margin = Duration::from_millis(300);
    let (records, _) = load(
        server.addr,
        vec![one("/never")],
        margin,
        RunClock::new(),
        CancellationToken::new(),
    )
    .await;
    let r = &records[0];
    assert_eq!(
        (r.outcome, r.phase, r.status),
        (Outcome::Timeout, Some(Phase::Head), None),
        "{r:?}"
    );
    let waited = r.end_ms - r.intended_ms;
    assert!(
        (290.0..1_000.0).contains(&waited),
        "deadline = intended + margin, waited {waited} ms"
    );
    // The client closed its connection: the server sees it go.
    wait_until(
        "the timed-out connection to close",
        Duration::from_secs(2),
        || server.open_conns() == 0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_to_nothing_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let spec = LoadSpec::Long {
        count: 1,
        seconds: 0,
        start_ms: 0,
        pin_pod: None,
    };
    let (records, stats) = load_simple(port, vec![spec]).await;
    let r = &records[0];
    assert_eq!(
        (r.outcome, r.phase, r.status, r.reused),
        (Outcome::Refused, Some(Phase::Connect), None, false),
        "{r:?}"
    );
    assert!(r.error.as_deref().unwrap().contains("refused"), "{r:?}");
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.completed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_requests_each_get_their_own_connection_and_are_pinned() {
    let server = TestServer::start().await;
    let spec = LoadSpec::Long {
        count: 3,
        seconds: 1,
        start_ms: 100,
        pin_pod: Some("pod-a".into()),
    };
    let (records, stats) = load_simple(server.addr, vec![spec]).await;
    let ids: Vec<_> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["long-0", "long-1", "long-2"]);
    for r in &records {
        assert_eq!(
            (r.outcome, r.kind, r.reused),
            (Outcome::Ok, RequestKind::Long, false),
            "{r:?}"
        );
        assert_eq!(r.path, "/sleep?seconds=1&pod=pod-a");
        assert_eq!((r.intended_ms, r.bytes, r.chunks), (100.0, 8, None));
        assert!(r.ttfb_ms.unwrap() - r.sent_ms >= 990.0, "{r:?}");
    }
    let conns: HashSet<_> = records.iter().map(|r| r.conn_id).collect();
    assert_eq!(conns.len(), 3);
    assert_eq!((stats.scheduled, stats.sent, stats.completed), (3, 3, 3));
    assert!(server
        .seen()
        .iter()
        .all(|(p, _)| p == "/sleep?seconds=1&pod=pod-a"));
    wait_until("connections to close", Duration::from_secs(2), || {
        server.open_conns() == 0
    })
    .await;
}

#[rstest]
#[case::complete(StreamEnd::Complete, Outcome::Ok, None, 5)]
#[case::fin_mid_stream(StreamEnd::FinAfter(2), Outcome::Closed, Some(Phase::Body), 2)]
#[case::rst_mid_stream(StreamEnd::RstAfter(3), Outcome::Reset, Some(Phase::Body), 3)]
#[case::no_terminator(StreamEnd::FinAfter(5), Outcome::Closed, Some(Phase::Body), 5)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_judged_by_lines_and_terminator(
    #[case] end: StreamEnd,
    #[case] outcome: Outcome,
    #[case] phase: Option<Phase>,
    #[case] chunks: u32,
) {
    let server = TestServer::start_with(end).await;
    let spec = LoadSpec::Stream {
        count: 2,
        seconds: 1,
        interval_ms: 200,
        start_ms: 0,
        pin_pod: None,
    };
    let (records, _) = load_simple(server.addr, vec![spec]).await;
    assert_eq!(records.len(), 2);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.id, format!("stream-{i}"));
        assert_eq!(r.path, "/stream?seconds=1&interval_ms=200");
        assert_eq!(
            (r.outcome, r.phase, r.chunks, r.status),
            (outcome, phase, Some(chunks), Some(200)),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_reuses_pooled_connections_and_closes_them_at_the_end() {
    let server = TestServer::start().await;
    let (records, _) = load_simple(server.addr, vec![steady("/", 50.0, 500, 1.0, 2)]).await;
    assert_eq!(records.len(), 25);
    assert!(records.iter().all(|r| r.outcome == Outcome::Ok));
    assert!(!records[0].reused);
    let reused = records.iter().filter(|r| r.reused).count();
    assert!(reused >= 22, "{reused} of 25 reused");
    let conns: HashSet<_> = records.iter().map(|r| r.conn_id).collect();
    assert!(conns.len() <= 2, "{conns:?}");
    wait_until(
        "idle pooled connections to close",
        Duration::from_secs(2),
        || server.open_conns() == 0,
    )
    .await;

    let (records, _) = load_simple(server.addr, vec![steady("/", 50.0, 500, 0.0, 2)]).await;
    assert!(records
        .iter()
        .all(|r| !r.reused && r.outcome == Outcome::Ok));
    let conns: HashSet<_> = records.iter().map(|r| r.conn_id).collect();
    assert_eq!(conns.len(), 25, "keepalive 0: a new connection each");
    wait_until("connections to close", Duration::from_secs(2), || {
        server.open_conns() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fin_on_a_reused_connection_is_closed_before_head() {
    let server = TestServer::start().await;
    let (records, _) = load_simple(
        server.addr,
        vec![steady("/eof-on-reuse", 10.0, 250, 1.0, 1)],
    )
    .await;
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.id.as_str(), r.outcome, r.phase, r.reused, r.status))
        .collect();
    assert_eq!(
        got,
        [
            ("steady-0", Outcome::Ok, None, false, Some(200)),
            ("steady-1", Outcome::Closed, Some(Phase::Head), true, None),
            ("steady-2", Outcome::Ok, None, false, Some(200)),
        ]
    );
    assert_eq!(records[0].conn_id, records[1].conn_id);
    assert_ne!(records[1].conn_id, records[2].conn_id);
    let error = records[1].error.as_deref().unwrap();
    assert!(
        error.contains("connection closed before message completed"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_the_server_closed_is_not_reused() {
    let server = TestServer::start().await;
    let (records, _) =
        load_simple(server.addr, vec![steady("/then-close", 10.0, 300, 1.0, 2)]).await;
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!((r.outcome, r.reused), (Outcome::Ok, false), "{r:?}");
    }
    let conns: HashSet<_> = records.iter().map(|r| r.conn_id).collect();
    assert_eq!(conns.len(), 3);
}

/// A server that accepts the connection and then resets it (or closes it
/// cleanly) before reading anything: the TCP connect succeeded, so the
/// client sees it before the response head.
#[rstest]
#[case::rst_at_accept(AtAccept::Rst, Outcome::Reset)]
#[case::fin_at_accept(AtAccept::Fin, Outcome::Closed)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_at_accept_is_told_apart(#[case] at: AtAccept, #[case] outcome: Outcome) {
    let server = TestServer::bind("127.0.0.1:0".parse().unwrap(), StreamEnd::Complete, at).await;
    let spec = LoadSpec::Long {
        count: 3,
        seconds: 1,
        start_ms: 0,
        pin_pod: None,
    };
    let (records, _) = load_simple(server.addr, vec![spec]).await;
    assert_eq!(records.len(), 3);
    for r in &records {
        // An RST can land while the client is still in its connect step
        // (seen: "connect: Connection reset by peer") or after it sent the
        // request: both are the truth of that race. A FIN only shows once
        // the client waits for the head.
        let phases: &[Phase] = match at {
            AtAccept::Rst => &[Phase::Connect, Phase::Head],
            _ => &[Phase::Head],
        };
        assert_eq!((r.outcome, r.status), (outcome, None), "{r:?}");
        assert!(r.phase.is_some_and(|p| phases.contains(&p)), "{r:?}");
    }
}
