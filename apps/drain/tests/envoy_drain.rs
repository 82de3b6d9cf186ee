//! drain and the seed script against a real Envoy with a real backend and a
//! real hc: waiting for a request in flight, Envoy's admin unreachable (the
//! seed's flaw), and the admin listener's own gauge.
//!
//! "At once" is shown by the polls (one reading of 0) and bounded by half of
//! a deadline set long for the purpose (30 s), which a drain that did not
//! drain at once would wait out; waits are measured by hc's own clock.

mod common;

use std::time::Duration;

use common::*;
use rstest::rstest;

const HUGE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_the_request_in_flight_then_closes() {
    let (envoy, hc) = envoy_and_hc().await;
    let req = request_in_flight(&envoy, 3).await;

    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_TIMEOUT", "20s"),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "300ms"),
        ],
        &[],
    );
    let (code, _) = d.finish(HUGE).await;
    let (status, body, ended) = req.await.unwrap();
    let log = d.text();
    assert_eq!((status, body.as_str()), (200, "slept 3s"), "{log}");
    assert_eq!(code, 0, "{log}");

    let polls = d.msgs("poll");
    let first: u64 = field(&polls[0].text, "active").unwrap().parse().unwrap();
    assert!(
        first >= 2,
        "first poll must see the request (downstream + upstream): {log}"
    );
    // Drained on a reading of 0, i.e. once Envoy counted the request done...
    let last: u64 = field(&polls[polls.len() - 1].text, "active")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last, 0, "drained on a poll that saw {last}: {log}");
    // ...which is when the client got its answer, give or take the two
    // readers' lag: a drain that did not wait would be 3 s early.
    let drained = &d.msgs("drained")[0];
    assert!(
        drained.at + Duration::from_secs(1) >= ended,
        "drained {:?} before the request ended: {log}",
        ended - drained.at
    );
    // The steps in the seed's order, each once.
    let order: Vec<_> = [
        "hc_drain",
        "envoy_drain_listeners",
        "drained",
        "hc_close_lb",
        "lb_wait",
        "hc_close",
    ]
    .iter()
    .map(|m| {
        let l = d.msgs(m);
        assert_eq!(l.len(), 1, "{m}: {log}");
        l[0].at
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{log}");

    let st = hc_status(&hc).await;
    assert_eq!(st.state, "CLOSED");
    let path: Vec<_> = st
        .progress
        .transitions
        .iter()
        .map(|t| t.to.as_str())
        .collect();
    assert_eq!(path, ["DRAINING", "CLOSING", "CLOSED"]);
    // LB_BUFFER between /close-lb and /close, by hc's clock (when each call
    // arrived), not by when this test happened to read drain's lines.
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(&st.progress.transitions[i].at)
            .unwrap_or_else(|e| panic!("{:?}: {e}", st.progress.transitions[i]))
    };
    let buffer = at(2) - at(1);
    assert!(
        buffer >= chrono::TimeDelta::milliseconds(300),
        "LB_BUFFER not waited ({buffer}): {log}"
    );

    let stderr_last = d.last_msg();
    assert!(
        stderr_last.text.contains("[done] preStop completed in"),
        "{log}"
    );
    assert!(
        field(&stderr_last.text, "elapsed_ms").is_some() && stderr_last.text.contains("step=7")
    );
    assert!(
        d.lines
            .iter()
            .any(|l| l.text.starts_with("[done] preStop completed in ") && l.text.ends_with('s')),
        "{log}"
    );
}

#[derive(Debug, Clone, Copy)]
enum Runner {
    Drain,
    DrainZeroOnError,
    Script,
}

fn start(runner: Runner, env: &[(&str, &str)]) -> Proc {
    match runner {
        Runner::Drain => drain(env, &[]),
        Runner::DrainZeroOnError => drain(env, &["--zero-on-stats-error"]),
        Runner::Script => script(env),
    }
}

/// Envoy's admin unreachable while a request is in flight: drain polls until
/// its deadline (exit 3); the seed's flaw (script, or the flag) reads 0 and
/// drains at once, while the request is still running.
#[rstest]
#[case::drain(Runner::Drain, false, 3)]
#[case::drain_zero_on_stats_error(Runner::DrainZeroOnError, true, 0)]
#[case::script(Runner::Script, true, 0)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_unreachable(
    #[case] runner: Runner,
    #[case] drains_early: bool,
    #[case] want_code: i32,
) {
    let (envoy, hc) = envoy_and_hc().await;
    // 8 s: still running when even the 3 s deadline has passed.
    let req = request_in_flight(&envoy, 8).await;
    let dead_admin = format!("http://127.0.0.1:{}", free_port());

    // Drains that end at once get a deadline far away (30 s), so that
    // waiting it out cannot pass for "at once".
    let deadline = if drains_early { "30" } else { "3" };
    let mut d = start(
        runner,
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &dead_admin),
            ("DRAIN_TIMEOUT", deadline),
            ("POLL_INTERVAL", "1"),
            ("LB_BUFFER", "0"),
        ],
    );
    let (code, wall) = d.finish(HUGE).await;
    let log = d.text();
    assert_eq!(code, want_code, "{log}");
    assert_eq!(
        envoy.active_rq().await,
        2,
        "the request is still in flight when the drain ends"
    );
    if drains_early {
        assert_eq!(d.msgs("drained").len(), 1, "{log}");
        assert!(d.msgs("drain_timeout").is_empty(), "{log}");
        assert!(
            wall < Duration::from_secs(15),
            "drained early, in {wall:?}: {log}"
        );
    } else {
        assert!(d.msgs("drained").is_empty(), "{log}");
        assert_eq!(d.msgs("drain_timeout").len(), 1, "{log}");
        assert!(wall >= Duration::from_secs(3), "{wall:?}");
        let polls = d.msgs("poll");
        assert!(polls.len() >= 3, "{log}");
        assert!(
            polls
                .iter()
                .all(|l| field(&l.text, "active") == Some("unknown")),
            "{log}"
        );
    }
    // Best effort: the sequence went on to the end either way.
    assert_eq!(hc_status(&hc).await.state, "CLOSED", "{log}");
    assert_done_last(&mut d);
    let (status, _, _) = req.await.unwrap();
    assert_eq!(status, 200);
}

/// Nothing in flight on a plain Envoy: the admin's own
/// `http.admin.downstream_rq_active: 1` keeps the seed's sum at 1, so the
/// script runs to its deadline; drain leaves it out and drains at once.
#[rstest]
#[case::drain(Runner::Drain)]
#[case::script(Runner::Script)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_own_gauge(#[case] runner: Runner) {
    let (envoy, hc) = envoy_and_hc().await;
    assert_eq!(envoy.active_rq().await, 0);

    // The script runs to its deadline (3 s); drain, which drains at once,
    // gets one far away (30 s) so that waiting it out cannot pass.
    let deadline = match runner {
        Runner::Script => "3",
        _ => "30",
    };
    let mut d = start(
        runner,
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_TIMEOUT", deadline),
            ("POLL_INTERVAL", "1"),
            ("LB_BUFFER", "0"),
        ],
    );
    let (code, wall) = d.finish(HUGE).await;
    let log = d.text();
    let polls = d.msgs("poll");
    match runner {
        Runner::Script => {
            assert!(
                polls.iter().all(|l| field(&l.text, "active") == Some("1")),
                "{log}"
            );
            let timeouts = d.msgs("drain_timeout");
            assert_eq!(timeouts.len(), 1, "{log}");
            // The script's clock is `date +%s`: its deadline is START_TS + 3
            // in whole seconds, so on the wall it ends between 2 s and 3 s
            // after a start late in a second. Its own count says >= 3 s.
            let elapsed: u64 = field(&timeouts[0].text, "elapsed")
                .and_then(|e| e.strip_suffix('s'))
                .and_then(|e| e.parse().ok())
                .unwrap_or_else(|| panic!("no elapsed=Ns on drain_timeout: {log}"));
            assert!(elapsed >= 3, "{log}");
            assert!(wall > Duration::from_secs(2), "{wall:?}: {log}");
        }
        _ => {
            assert_eq!(code, 0, "{log}");
            assert_eq!(polls.len(), 1, "{log}");
            assert_eq!(field(&polls[0].text, "active"), Some("0"), "{log}");
            assert_eq!(d.msgs("drained").len(), 1, "{log}");
            assert!(wall < Duration::from_secs(15), "{wall:?}: {log}");
        }
    }
    assert_eq!(hc_status(&hc).await.state, "CLOSED", "{log}");
    assert_done_last(&mut d);
}

/// The last log line (drain: stderr; script: its only stream) says `[done]`.
fn assert_done_last(d: &mut Proc) {
    let log = d.text();
    let last = d.last_msg();
    assert!(last.text.contains("[done] preStop completed in "), "{log}");
}
