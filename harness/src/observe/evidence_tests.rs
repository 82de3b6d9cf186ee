//! Tests of the join and the causes, on log lines captured from real runs
//! (HAProxy 2.6.12, Envoy 1.40.0, local runtime).

use super::*;
use crate::model::{Origin, RequestKind, RunClock};
use crate::observe::{envoy_log, haproxy_log, proxy_logs::ProxyLogs};

fn ev(t: f64, source: &str, pod: &str, event: &str) -> Event {
    let source = Source::parse(source);
    let kind = EventKind::parse(&source, event, "");
    Event::new(t, source, Some(pod), kind, "")
}

fn req(id: &str, end: f64, pod: Option<&str>, outcome: Outcome) -> RequestRecord {
    RequestRecord {
        kind: RequestKind::Long,
        pod: pod.map(str::to_string),
        conn_id: 7,
        reused: true,
        end_ms: end,
        status: (outcome == Outcome::Http5xx).then_some(502),
        origin: (outcome == Outcome::Http5xx).then_some(Origin::Haproxy),
        ..RequestRecord::for_test(id, outcome)
    }
}

fn haproxy(line: &str, end_ms: f64) -> HaproxyLine {
    let haproxy_log::LogLine::Request(log) = haproxy_log::parse(line) else {
        panic!("not a request line: {line}");
    };
    HaproxyLine {
        source: "haproxy".into(),
        log,
        end_ms: Some(end_ms),
    }
}

fn envoy(line: &str, pod: &str, end_ms: f64) -> EnvoyLine {
    EnvoyLine {
        pod: pod.into(),
        log: envoy_log::parse(line).expect("an access line"),
        end_ms: Some(end_ms),
    }
}

const DH: &str = "2026-12-03T10:00:41.000100+00:00 http rid=long-0 srv=pod-a status=502 tsc=DH-- bytes=0 TR=0 Tw=0 Tc=0 Tr=-1 Ta=24000 Tt=24000 retries=0 conn=1/1/0/0 queue=0/0 client=127.0.0.1:4000 be=be_app method=GET uri=/sleep accept=1796292017.000";
const DC: &str = "access rid=long-0 status=0 flags=DC details=downstream_remote_disconnect upstream=127.0.10.1:8080 duration_ms=24000 bytes=0 start=1796292017.001 method=GET path=/sleep?seconds=60";

#[test]
fn a_dh_cites_haproxys_line_then_its_down() {
    let events = vec![
        ev(20_000.0, "kubelet", "pod-a", "sigterm"),
        ev(23_900.3, "haproxy", "pod-a", "server_down"),
        ev(23_900.0, "haproxy", "pod-b", "server_down"),
    ];
    let e = Evidence {
        haproxy: Some(haproxy(DH, 23_900.0)),
        envoy: Some(envoy(DC, "pod-a", 23_900.5)),
    };
    let a = attribute(
        &req("long-0", 23_901.0, Some("pod-a"), Outcome::Http5xx),
        &e,
        &events,
    );
    let c = a.cause.unwrap();
    assert!(
        c.starts_with("haproxy 502 DH-- on pod-a, envoy - DC on pod-a (downstream_remote_disconnect) 0.3 ms before haproxy pod-a server_down"),
        "{c}"
    );
    assert!(c.ends_with("shutdown-sessions killed the request"), "{c}");
    assert_eq!(a.evidence, EvidenceKind::Both);
    assert_eq!(a.cause_t_ms, Some(23_900.3));
    let mut r = req("long-0", 0.0, None, Outcome::Reset);
    e.fill(&mut r);
    assert_eq!(r.haproxy_term.as_deref(), Some("DH--"));
    assert_eq!(r.envoy_flags.as_deref(), Some("DC"));
}

#[test]
fn an_envoy_uc_names_its_backends_exit() {
    let line = "access rid=steady-9 status=503 flags=UC details=upstream_reset_before_response_started{connection_termination} upstream=127.0.10.1:8080 duration_ms=2 bytes=95 start=1.0 method=GET path=/";
    let events = vec![
        ev(21_377.0, "backend", "pod-a", "exit"),
        ev(21_377.5, "envoy", "pod-a", "exit"),
    ];
    let e = Evidence {
        haproxy: None,
        envoy: Some(envoy(line, "pod-a", 21_378.0)),
    };
    let a = attribute(
        &req("steady-9", 21_379.0, Some("pod-a"), Outcome::Http5xx),
        &e,
        &events,
    );
    let c = a.cause.unwrap();
    assert!(c.contains("envoy 503 UC on pod-a"), "{c}");
    assert!(c.contains("1.0 ms after backend pod-a exit"), "{c}");
    assert!(
        c.ends_with("the backend closed Envoy's upstream connection"),
        "{c}"
    );
    assert_eq!(a.evidence, EvidenceKind::EnvoyLog);
}

#[test]
fn evidence_never_cites_another_pods_event_nor_a_far_one() {
    let events = vec![
        ev(23_900.0, "haproxy", "pod-b", "server_down"),
        ev(10_000.0, "haproxy", "pod-a", "server_down"),
    ];
    let e = Evidence {
        haproxy: Some(haproxy(DH, 23_900.0)),
        envoy: None,
    };
    let a = attribute(
        &req("long-0", 23_901.0, Some("pod-a"), Outcome::Http5xx),
        &e,
        &events,
    );
    let c = a.cause.unwrap();
    assert!(!c.contains("pod-b") && !c.contains("before haproxy"), "{c}");
    assert_eq!(a.evidence, EvidenceKind::HaproxyLog);
    // The proxy's own time is the cause's time.
    assert_eq!(a.cause_t_ms, Some(23_900.0));
}

#[test]
fn no_line_is_said_and_inference_keeps_to_its_pod_and_window() {
    let events = vec![
        ev(4_000.0, "haproxy", "pod-a", "server_down"),
        ev(9_950.0, "haproxy", "pod-b", "server_down"),
        ev(9_800.0, "kubelet", "pod-a", "sigterm"),
        ev(9_900.0, "hc", "pod-a", "state"),
    ];
    let none = Evidence::default();
    let a = attribute(
        &req("steady-3", 10_000.0, Some("pod-a"), Outcome::Reset),
        &none,
        &events,
    );
    let c = a.cause.unwrap();
    assert!(
        c.starts_with("no proxy logged it: silent keep-alive close (reused connection 7)"),
        "{c}"
    );
    assert!(
        c.ends_with("inferred: 200.0 ms after kubelet pod-a sigterm"),
        "{c}"
    );
    assert_eq!(a.evidence, EvidenceKind::Inferred);
    // Unknown pod: nothing is inferred, and it says so.
    let a = attribute(
        &req("steady-3", 10_000.0, None, Outcome::Reset),
        &none,
        &events,
    );
    assert_eq!(a.evidence, EvidenceKind::None);
    assert!(a.cause.unwrap().contains("no event of its (unknown) pod"));
    // Only an event older than the window: none.
    let a = attribute(
        &req("steady-3", 7_500.0, Some("pod-a"), Outcome::Reset),
        &none,
        &events,
    );
    assert_eq!(a.evidence, EvidenceKind::None);
    assert_eq!(a.cause_t_ms, None);
}

#[test]
fn the_store_maps_proxy_times_to_the_run_clock() {
    let clock = RunClock::new();
    let start = clock
        .start_wall
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let logs = ProxyLogs::new(clock);
    let line = format!(
        "http rid=r1 srv=pod-a status=502 tsc=SH-- Ta=250 accept={:.3}",
        start + 2.0
    );
    let haproxy_log::LogLine::Request(l) = haproxy_log::parse(&line) else {
        panic!()
    };
    logs.add_haproxy(std::time::Instant::now(), "haproxy", l);
    let end = logs.evidence("r1").haproxy.unwrap().end_ms.unwrap();
    assert!((end - 2_250.0).abs() < 1.5, "{end}");
}

/// Seen in s15 (HAProxy 2.6.12): a session killed by shutdown-sessions at
/// pod-a's DOWN has no HAProxy line; Envoy logged DC. The DOWN just before
/// Envoy's line is cited; without one, nothing is claimed.
#[test]
fn an_envoy_dc_without_haproxys_line_cites_haproxys_down_when_there_is_one() {
    let line = "access rid=steady-2958 status=0 flags=DI,DC details=downstream_remote_disconnect upstream=127.0.10.1:8080 duration_ms=21 bytes=0 start=1.0 method=GET path=/slow/";
    let e = Evidence {
        haproxy: None,
        envoy: Some(envoy(line, "pod-a", 41_456.9)),
    };
    let r = req("steady-2958", 41_457.2, Some("pod-a"), Outcome::Closed);
    let down = vec![
        ev(41_455.8, "haproxy", "pod-a", "server_down"),
        ev(41_455.0, "haproxy", "pod-b", "server_up"),
    ];
    let a = attribute(&r, &e, &down);
    let c = a.cause.unwrap();
    assert!(c.contains("haproxy pod-a server_down"), "{c}");
    assert!(
        c.ends_with("Envoy saw HAProxy close the connection (downstream close)"),
        "{c}"
    );
    assert_eq!(a.evidence, EvidenceKind::EnvoyLog);
    // Another pod's DOWN, or one long before, is not this request's cause.
    for events in [
        vec![ev(41_455.8, "haproxy", "pod-b", "server_down")],
        vec![ev(30_000.0, "haproxy", "pod-a", "server_down")],
    ] {
        let c = attribute(&r, &e, &events).cause.unwrap();
        assert!(!c.contains("server_down"), "{c}");
    }
}
