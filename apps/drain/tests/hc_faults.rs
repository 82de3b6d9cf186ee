//! hc misbehaving during a drain: reopened by the operator (exit 5, the drain
//! stops and does not fight it) and unreachable (exit 4, best effort goes on).
//!
//! How soon is bounded by what a drain that got it wrong would wait out (its
//! 60 s deadline and LB bound; one 5 s call timeout on the dead hc), with
//! the rest left as slack for a busy machine.

mod common;

use std::time::Duration;

use common::*;
use rstest::rstest;

/// `/reopen` while drain polls (seed order: the 409 from `/close-lb` stops it)
/// or while it waits for the LB (lb-first: `/drain/status` says OPEN).
#[rstest]
#[case::seed_order_reopen_while_polling("seed", "DRAINING", "/close-lb")]
#[case::lb_first_reopen_while_waiting_for_lb("lb-first", "CLOSING", "/drain/status")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopened_hc_aborts_with_5(
    #[case] order: &str,
    #[case] reopen_in: &str,
    #[case] noticed_by: &str,
) {
    let (envoy, hc) = envoy_and_hc().await;
    let req = request_in_flight(&envoy, 2).await;

    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_ORDER", order),
            ("DRAIN_TIMEOUT", "60s"),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "auto"),
            ("LB_BUFFER_MAX", "60s"),
        ],
        &[],
    );
    let h = hc.clone();
    wait_for(
        &format!("hc in {reopen_in}"),
        Duration::from_secs(10),
        || {
            let h = h.clone();
            async move { hc_status(&h).await.state == reopen_in }
        },
    )
    .await;
    let reopened = std::time::Instant::now();
    assert_eq!(hc_post(&hc, "/reopen").await, 200);

    let (code, _) = d.finish(Duration::from_secs(90)).await;
    let log = d.text();
    assert_eq!(code, 5, "{log}");
    let abort = d.msgs("aborted_reopened");
    assert_eq!(abort.len(), 1, "{log}");
    assert_eq!(field(&abort[0].text, "call"), Some(noticed_by), "{log}");
    assert_eq!(field(&abort[0].text, "state"), Some("OPEN"), "{log}");
    // Stopped, did not fight: no /close, hc stays OPEN.
    assert!(d.msgs("hc_close").is_empty(), "{log}");
    assert_eq!(hc_status(&hc).await.state, "OPEN");
    // Promptly: at the request's end (seed, 2 s) or the next LB poll
    // (lb-first). A drain that missed the reopen would run on to its 60 s
    // deadline or LB bound; a third of that is the bound.
    let took = abort[0].at - reopened;
    assert!(
        took < Duration::from_secs(20),
        "aborted {took:?} after: {log}"
    );
    let last = d.last_msg();
    assert!(
        last.text.contains("[done] preStop completed in") && last.text.contains("exit_code=5"),
        "{log}"
    );
    assert_eq!(req.await.unwrap().0, 200);
}

/// hc unreachable: every hc step warns, the Envoy steps still run, exit 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_hc_goes_on_and_exits_4() {
    let envoy = Envoy::start(start_backend().await).await;
    let dead_hc = format!("http://127.0.0.1:{}", free_port());
    let mut d = drain(
        &[
            ("HC_URL", &dead_hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_TIMEOUT", "10s"),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "200ms"),
        ],
        &[],
    );
    let (code, wall) = d.finish(Duration::from_secs(30)).await;
    let log = d.text();
    assert_eq!(code, 4, "{log}");
    for m in ["hc_drain", "hc_close_lb", "hc_close"] {
        let l = d.msgs(m);
        assert_eq!(l.len(), 1, "{m}: {log}");
        assert!(
            l[0].text.contains("level=warn") && l[0].text.contains("error="),
            "{log}"
        );
        // Refused at once, not waited on until the call gave up.
        assert!(!l[0].text.contains("timed out"), "{m}: {log}");
    }
    for m in ["envoy_drain_listeners", "drained", "lb_wait"] {
        assert_eq!(d.msgs(m).len(), 1, "{m}: {log}");
    }
    // Under one call timeout (the run itself takes well under a second): a
    // drain that waited on the dead hc even once, or ran to its 10 s
    // deadline, fails.
    let call_timeout = drain::Config::default().call_timeout;
    assert!(wall < call_timeout, "{wall:?}: {log}");
}
