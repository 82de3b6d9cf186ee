//! The load generator's open loop, ids and cancel against a real HTTP server
//! written for the test (`loadgen/test_server.rs`): exact intended times,
//! coordinated-omission correction through a server stall, unique ids across
//! kinds, in-flight requests recorded on cancel (the cancel comes once the
//! server has the requests; the run's return is bounded by half the 30 s it
//! would run uncancelled).

use crate::drive;
use crate::test_server;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use harness::loadgen::{hard_cap, LoadSpec, LoadStats};
use harness::model::{Outcome, Phase, RequestKind, RequestRecord, RunClock};
use test_server::TestServer;
use tokio_util::sync::CancellationToken;

/// The load with a 2 s deadline margin.
async fn load(
    target: SocketAddr,
    specs: Vec<LoadSpec>,
    clock: RunClock,
    cancel: CancellationToken,
) -> (Vec<RequestRecord>, LoadStats) {
    drive::load(target, specs, Duration::from_secs(2), clock, cancel).await
}

fn steady(
    path: &str,
    rate: f64,
    duration_ms: u64,
    start_ms: u64,
    keepalive: f64,
    max_conns: usize,
) -> LoadSpec {
    LoadSpec::Steady {
        rate,
        duration_ms,
        path: path.into(),
        start_ms,
        keepalive,
        max_conns,
        seed: 7,
    }
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_sends_on_the_computed_schedule() {
    let server = TestServer::start().await;
    let (records, stats) = load(
        server.addr,
        vec![steady("/", 200.0, 2_000, 50, 0.8, 8)],
        RunClock::new(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(records.len(), 400);
    assert_eq!(
        (stats.scheduled, stats.sent, stats.completed),
        (400, 400, 400)
    );
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.id, format!("steady-{i}"));
        assert_eq!(r.intended_ms, 50.0 + i as f64 * 5.0, "{r:?}");
        assert!(r.sent_ms >= r.intended_ms, "{r:?}");
        assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    }
    let lag: Vec<f64> = records.iter().map(|r| r.sent_ms - r.intended_ms).collect();
    let (p50, p99) = (percentile(lag.clone(), 0.5), percentile(lag, 0.99));
    println!(
        "send lag p50 {p50:.3} ms, p99 {p99:.3} ms, late_sends {}",
        stats.late_sends
    );
    // The schedule holds: the median send is less than one interval (5 ms)
    // late. Finer precision is a benchmark's business (bench-loadgen.sh),
    // not a test's on a shared 2-core machine.
    assert!(p50 < 5.0, "the schedule holds: p50 send lag {p50} ms");
    let late = records
        .iter()
        .filter(|r| r.sent_ms - r.intended_ms > 1.0)
        .count();
    assert_eq!(stats.late_sends, late as u64);
    let reused = records.iter().filter(|r| r.reused).count();
    assert!((280..=360).contains(&reused), "about 80% reuse: {reused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stall_shows_in_the_corrected_latency() {
    let server = TestServer::start().await;
    let clock = RunClock::new();
    // Every /stall request arriving in [500, 800) ms is held until 800 ms.
    server.stall(clock.at_ms(500.0), clock.at_ms(800.0));
    let (records, stats) = load(
        server.addr,
        vec![steady("/stall", 200.0, 1_500, 0, 0.8, 4)],
        clock,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(records.len(), 300);
    assert!(records.iter().all(|r| r.outcome == Outcome::Ok));
    let in_stall: Vec<&RequestRecord> = records
        .iter()
        .filter(|r| (500.0..800.0).contains(&r.intended_ms))
        .collect();
    let corrected = in_stall.iter().map(|r| r.latency_ms()).fold(0.0, f64::max);
    let uncorrected = in_stall.iter().map(|r| r.service_ms()).fold(0.0, f64::max);
    let uncorrected_p50 = percentile(in_stall.iter().map(|r| r.service_ms()).collect(), 0.5);
    println!("stall: corrected max {corrected:.1} ms, uncorrected max {uncorrected:.1} ms p50 {uncorrected_p50:.1} ms, late_sends {}", stats.late_sends);
    assert!(corrected >= 250.0, "corrected max {corrected} ms");
    // While the 4 pooled connections hung, requests opened more, up to the
    // hard cap and no further (the rest waited for a connection: late sends).
    assert_eq!(hard_cap(4), 16);
    assert_eq!(server.peak_in_flight(), 16);
    assert!(stats.late_sends >= 30, "{stats:?}");
    // Those that waited for a connection were served fast once sent: only
    // the latency from the intended time shows what their users waited.
    let hidden = in_stall
        .iter()
        .filter(|r| r.latency_ms() >= 50.0 && r.service_ms() < 20.0)
        .count();
    assert!(
        hidden >= 20,
        "{hidden} requests whose wait only the corrected latency shows"
    );
    // Each one scheduled in the stall waited until its end, from its intended time.
    for r in &in_stall {
        assert!(r.end_ms >= 795.0, "{r:?}");
    }
    // Outside the stall the latencies are small again.
    let after: Vec<f64> = records
        .iter()
        .filter(|r| r.intended_ms >= 1_000.0)
        .map(|r| r.latency_ms())
        .collect();
    assert!(percentile(after, 0.5) < 20.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_unique_across_kinds() {
    let server = TestServer::start().await;
    let specs = vec![
        LoadSpec::Long {
            count: 2,
            seconds: 0,
            start_ms: 0,
            pin_pod: None,
        },
        LoadSpec::Stream {
            count: 2,
            seconds: 1,
            interval_ms: 500,
            start_ms: 0,
            pin_pod: Some("pod-b".into()),
        },
        steady("/", 20.0, 500, 0, 1.0, 2),
        steady("/", 20.0, 500, 0, 0.0, 2),
    ];
    let (records, stats) = load(
        server.addr,
        specs,
        RunClock::new(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(records.len(), 24);
    assert_eq!(stats.completed, 24);
    let ids: HashSet<_> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 24);
    for want in [
        "long-0",
        "long-1",
        "stream-0",
        "stream-1",
        "steady-0",
        "steady-19",
    ] {
        assert!(ids.contains(want), "{want} in {ids:?}");
    }
    let sent: HashSet<_> = server.seen().into_iter().map(|(_, id)| id).collect();
    assert_eq!(sent, ids, "the record id is the x-request-id sent");
    // A connection carries one request at a time: (conn_id, reused=false) is unique.
    let firsts: Vec<_> = records
        .iter()
        .filter(|r| !r.reused)
        .map(|r| r.conn_id)
        .collect();
    assert_eq!(firsts.len(), firsts.iter().collect::<HashSet<_>>().len());
    assert!(
        records.iter().all(|r| r.outcome == Outcome::Ok),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_records_what_is_in_flight_and_stops() {
    let server = TestServer::start().await;
    let specs = vec![
        LoadSpec::Long {
            count: 2,
            seconds: 30,
            start_ms: 0,
            pin_pod: None,
        },
        LoadSpec::Stream {
            count: 1,
            seconds: 30,
            interval_ms: 100,
            start_ms: 0,
            pin_pod: None,
        },
        steady("/", 10.0, 30_000, 0, 1.0, 2),
    ];
    let cancel = CancellationToken::new();
    // Cancel once the server has the long and stream requests, and the
    // stream has run for 500 ms (five of its 100 ms lines sent): what is in
    // flight then is known without reading a clock against the test's pace.
    let canceller = async {
        let want = ["long-0", "long-1", "stream-0"];
        while !want
            .iter()
            .all(|w| server.seen().iter().any(|(_, id)| id == w))
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
        Instant::now()
    };
    let ((records, stats), cancelled) = tokio::join!(
        load(server.addr, specs, RunClock::new(), cancel.clone()),
        canceller
    );
    // Uncancelled, every spec would run for 30 s: half of it is the bound.
    assert!(
        cancelled.elapsed() < Duration::from_secs(15),
        "run returned {:?} after the cancel",
        cancelled.elapsed()
    );
    let by_id = |id: &str| {
        records
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} in {records:?}"))
    };
    for id in ["long-0", "long-1"] {
        let r = by_id(id);
        assert_eq!(
            (r.outcome, r.phase, r.status, r.error.as_deref()),
            (Outcome::Timeout, Some(Phase::Head), None, Some("cancelled")),
            "{r:?}"
        );
    }
    let s = by_id("stream-0");
    assert_eq!(
        (s.outcome, s.phase, s.status, s.error.as_deref()),
        (
            Outcome::Timeout,
            Some(Phase::Body),
            Some(200),
            Some("cancelled")
        ),
        "{s:?}"
    );
    assert!(s.chunks.unwrap() >= 3, "{s:?}");
    assert_eq!(stats.scheduled, 2 + 1 + 300);
    assert_eq!(stats.completed as usize, records.len());
    // Unstarted steady requests are not recorded: the steady records are
    // exactly the started ones, fewer than the 300 scheduled.
    let steady = stats.entries[2];
    let steady_records = records
        .iter()
        .filter(|r| r.kind == RequestKind::Steady)
        .count() as u64;
    assert_eq!(
        (steady_records, steady.recorded),
        (steady.started, steady.started),
        "{stats:?}"
    );
    assert!(
        steady.started < steady.scheduled,
        "unstarted steady requests are not recorded: {stats:?}"
    );
    // Closed when run returns; the server notices within a moment (10 s
    // only bounds the wait for a client that left them open).
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.open_conns() > 0 {
        assert!(
            Instant::now() < deadline,
            "connections left open after cancel"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
