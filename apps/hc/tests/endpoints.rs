//! The endpoint table against the real binary: every row in every state,
//! both namings, both LB signals; every transition from every state;
//! conditional requests; 405/404; `/drain/status`.

mod common;

use common::*;
use rstest::rstest;

/// The contract (DESIGN §2.2), written out independently of the code.
fn expected(path: &str, state: &str, signal: &str) -> (u16, &'static str) {
    match (path, state) {
        ("/health_check.html", "OPEN" | "DRAINING") => (200, "OK"),
        ("/health_check.html", "CLOSING") if signal == "404" => (404, "DRAIN"),
        ("/health_check.html", _) => (503, "DRAIN"),
        ("/health", "OPEN" | "DRAINING" | "CLOSING") => (200, ""),
        ("/health", _) => (503, ""),
        ("/live", "FAULT") => (500, ""),
        ("/live", _) => (200, ""),
        _ => unreachable!(),
    }
}

#[rstest]
#[tokio::test]
async fn health_answers_follow_the_table(
    #[values("OPEN", "DRAINING", "CLOSING", "CLOSED", "FAULT")] state: &str,
    #[values("gate", "legacy")] naming: &'static str,
    #[values("503", "404")] signal: &'static str,
) {
    let hc = Hc::start(Opts {
        naming: Some(naming),
        lb_signal: Some(signal),
        ..Default::default()
    })
    .await;
    hc.goto(state).await;
    let name = named(state, naming);
    let tag = format!("\"{name}\"");
    for path in ["/health_check.html", "/health", "/live"] {
        let (status, body) = expected(path, state, signal);
        let body = if body.is_empty() { name } else { body };
        let ctx = format!("GET {path} in {state} ({naming}, signal {signal})");
        let r = get(hc.addr, path).await;
        assert_eq!((r.status, r.body.as_str()), (status, body), "{ctx}");
        assert_eq!(r.header("cache-control"), Some("max-age=1"), "{ctx}");
        assert_eq!(r.header("etag"), Some(tag.as_str()), "{ctx}");

        // HEAD: same status and headers, no body.
        let h = req(hc.addr, "HEAD", path, &[]).await;
        assert_eq!((h.status, h.body.as_str()), (status, ""), "HEAD {ctx}");
        assert_eq!(h.header("etag"), Some(tag.as_str()), "HEAD {ctx}");

        // Conditional: the current tag gets 304 only where the answer is 200.
        for inm in [
            tag.clone(),
            format!("W/{tag}"),
            "*".to_string(),
            format!("\"X\", {tag}"),
        ] {
            let c = req(hc.addr, "GET", path, &[("If-None-Match", &inm)]).await;
            let want = if status == 200 { 304 } else { status };
            assert_eq!(c.status, want, "{ctx} with If-None-Match {inm}");
            assert_eq!(
                c.header("etag"),
                Some(tag.as_str()),
                "{ctx} with If-None-Match {inm}"
            );
            assert_eq!(c.header("cache-control"), Some("max-age=1"));
            if want == 304 {
                assert_eq!(c.body, "", "a 304 has no body");
            }
        }
        // A stale tag (another state's) gets the full answer.
        let other = if state == "OPEN" { "DRAINING" } else { "OPEN" };
        let stale = format!("\"{}\"", named(other, naming));
        let c = req(hc.addr, "GET", path, &[("If-None-Match", &stale)]).await;
        assert_eq!(
            (c.status, c.body.as_str()),
            (status, body),
            "{ctx} with stale tag"
        );
    }

    let s = get(hc.addr, "/drain/status").await;
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("application/json"));
    let j = s.json();
    assert_eq!(j["state"], name);
    assert_eq!(
        j["ready"],
        expected("/health_check.html", state, signal).0 == 200
    );
    assert_eq!(j["progress"]["lb_signal"], signal.parse::<u16>().unwrap());
    let hist = j["progress"]["transitions"].as_array().unwrap();
    assert_eq!(hist.len(), path_to(state).len());
    if let Some(last) = hist.last() {
        assert_eq!(last["to"], name);
    }
}

const ACTIONS: [&str; 5] = ["/drain", "/close-lb", "/close", "/reopen", "/fault"];

/// Legal moves: (action, from) -> to.
fn legal(action: &str, from: &str) -> Option<&'static str> {
    match (action, from) {
        ("/drain", "OPEN") => Some("DRAINING"),
        ("/close-lb", "DRAINING") => Some("CLOSING"),
        ("/close", "CLOSING") => Some("CLOSED"),
        ("/reopen", "DRAINING" | "CLOSING") => Some("OPEN"),
        ("/fault", _) => Some("FAULT"),
        _ => None,
    }
}

#[rstest]
#[tokio::test]
async fn every_transition_from_every_state(
    #[values("/drain", "/close-lb", "/close", "/reopen", "/fault")] action: &str,
    #[values("OPEN", "DRAINING", "CLOSING", "CLOSED", "FAULT")] from: &str,
    #[values("gate", "legacy")] naming: &'static str,
) {
    let hc = Hc::start(Opts {
        naming: Some(naming),
        ..Default::default()
    })
    .await;
    hc.goto(from).await;
    let r = req(
        hc.addr,
        "POST",
        &format!("{action}?reason=case%20{action}"),
        &[],
    )
    .await;
    let j = r.json();
    let st = get(hc.addr, "/drain/status").await.json();
    let hist = st["progress"]["transitions"].as_array().unwrap().clone();
    match legal(action, from) {
        Some(to) => {
            assert_eq!(r.status, 200, "{action} from {from}: {r:?}");
            assert_eq!(j["state"], named(to, naming));
            assert_eq!(j["from"], named(from, naming));
            assert!(j.get("error").is_none());
            assert_eq!(st["state"], named(to, naming));
            let last = hist.last().unwrap();
            assert_eq!(last["from"], named(from, naming));
            assert_eq!(last["to"], named(to, naming));
            assert_eq!(last["reason"], format!("case {action}"));
            let warned = r.header("warning");
            if action == "/reopen" && from == "CLOSING" {
                let w = warned.expect("reopen from CLOSING warns");
                assert!(
                    w.starts_with("199 - \"") && w.ends_with('"') && w.contains("rise"),
                    "{w}"
                );
            } else {
                assert_eq!(warned, None, "{action} from {from}");
            }
        }
        None => {
            assert_eq!(r.status, 409, "{action} from {from}: {r:?}");
            assert_eq!(
                j["state"],
                named(from, naming),
                "409 names the current state"
            );
            assert!(j["error"].as_str().unwrap().contains(named(from, naming)));
            assert_eq!(
                st["state"],
                named(from, naming),
                "a refusal changes nothing"
            );
            assert_eq!(
                hist.len(),
                path_to(from).len(),
                "a refusal is not in the history"
            );
        }
    }
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let hc = Hc::start(Opts::default()).await;
    for path in ["/health_check.html", "/health", "/live", "/drain/status"] {
        for m in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"] {
            let r = req(hc.addr, m, path, &[]).await;
            assert_eq!(
                (r.status, r.header("allow")),
                (405, Some("GET, HEAD")),
                "{m} {path}"
            );
        }
    }
    for path in ACTIONS {
        for m in ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"] {
            let r = req(hc.addr, m, path, &[]).await;
            assert_eq!(
                (r.status, r.header("allow")),
                (405, Some("POST")),
                "{m} {path}"
            );
        }
    }
    assert_eq!(
        get(hc.addr, "/drain/status").await.json()["state"],
        "OPEN",
        "405s change nothing"
    );
}

#[rstest]
#[case("/")]
#[case("/nope")]
#[case("/health/")]
#[case("/HEALTH")]
#[case("/drain/status/x")]
#[case("/health_check.htm")]
#[tokio::test]
async fn unknown_paths_get_404(#[case] path: &str) {
    let hc = Hc::start(Opts::default()).await;
    for m in ["GET", "POST", "DELETE"] {
        assert_eq!(req(hc.addr, m, path, &[]).await.status, 404, "{m} {path}");
    }
}

#[tokio::test]
async fn drain_status_shape_and_history() {
    let hc = Hc::start(Opts::default()).await;
    let j = get(hc.addr, "/drain/status").await.json();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&j), ["progress", "ready", "state"]);
    assert_eq!(
        keys(&j["progress"]),
        [
            "elapsed_ms",
            "lb_refusals",
            "lb_signal",
            "since",
            "transitions"
        ]
    );
    let typed: gate::DrainStatus = serde_json::from_value(j).unwrap();
    assert!(typed.ready);

    // 120 drain/reopen cycles: 240 transitions, the last 100 kept in order.
    for i in 0..120 {
        assert_eq!(
            post(hc.addr, &format!("/drain?reason=d{i}")).await.status,
            200
        );
        assert_eq!(
            post(hc.addr, &format!("/reopen?reason=r{i}")).await.status,
            200
        );
    }
    assert_eq!(post(hc.addr, "/drain").await.status, 200);
    let st: gate::DrainStatus =
        serde_json::from_str(&get(hc.addr, "/drain/status").await.body).unwrap();
    let t = &st.progress.transitions;
    assert_eq!(t.len(), 100);
    assert_eq!(t.last().unwrap().reason, "POST /drain", "default reason");
    assert_eq!(t[0].reason, "r70");
    assert_eq!(t[98].reason, "r119");
    for w in t.windows(2) {
        assert!(w[0].at <= w[1].at, "oldest first");
        assert_eq!(w[0].to, w[1].from, "transitions chain");
    }
    for ts in [st.progress.since.as_str(), t[0].at.as_str()] {
        let p = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
        assert_eq!(p.offset().local_minus_utc(), 0, "{ts} is UTC");
        assert!(
            ts.ends_with('Z') && ts.len() == "2026-04-26T10:00:00.123Z".len(),
            "{ts}: RFC 3339 with ms"
        );
    }
    assert_eq!(
        st.progress.since,
        t.last().unwrap().at,
        "since = entry into the current state"
    );
    assert!(st.progress.elapsed_ms < 5_000);
}
