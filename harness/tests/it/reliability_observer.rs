//! HAProxy's runtime API goes away in the middle of a real run: its stats
//! socket is first replaced by one that accepts and never answers (2 s),
//! then by nothing at all (2 s), then put back. The observer must record the
//! gap (`observer_gap` on the timeline, samples without an HAProxy status)
//! and its end, and the run must go on to its normal verdict.
//! Pods on `127.0.92.N`.

use std::time::{Duration, Instant};

use crate::run_support;

use harness::model::{EventKind, Source};
use run_support::{spawn_lines, wait_exit, wait_for_line};

#[test]
fn a_vanished_runtime_api_is_a_recorded_gap_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = run_support::harness(&run_support::INTERRUPT_RUN, tmp.path());
    cmd.env("LAB_POD_NET", "92");
    let (mut child, rx) = spawn_lines(cmd);
    wait_for_line(&rx, "load running", Duration::from_secs(120));
    let dir = run_support::the_run_dir(tmp.path(), Duration::from_secs(60));
    let sock = dir.join("haproxy.sock");
    assert!(sock.exists(), "stats socket at {}", sock.display());
    let away = dir.join("haproxy.sock.away");
    std::thread::sleep(Duration::from_millis(500));
    // 1. A socket that accepts and never answers.
    std::fs::rename(&sock, &away).unwrap();
    let silent = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let held = std::thread::spawn(move || {
        silent.set_nonblocking(true).unwrap();
        let mut conns = Vec::new();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(2) {
            if let Ok((c, _)) = silent.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        conns.len()
    });
    let stalled = held.join().unwrap();
    // 2. Nothing at all.
    std::fs::remove_file(&sock).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // 3. Back.
    std::fs::rename(&away, &sock).unwrap();

    let status = wait_exit(&mut child, Duration::from_secs(120));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert!(
        status.success(),
        "exit {status:?} (its stderr is above); summary: {summary}"
    );
    assert_eq!(summary["interrupted"], false, "{summary}");
    assert_eq!(summary["verdict"], "pass", "{summary}");
    let tl = harness::artifacts::read_timeline(&dir).unwrap();
    let at = |ev: EventKind| tl.iter().find(|e| e.kind == ev).map(|e| e.t_ms);
    let gap = at(EventKind::ObserverGap).expect("observer_gap on the timeline");
    let resumed = at(EventKind::ObserverResumed).expect("observer_resumed on the timeline");
    assert!(resumed - gap >= 3000.0, "gap {gap} .. {resumed}");
    let samples = harness::artifacts::read_samples(&dir).unwrap();
    let before = samples
        .iter()
        .filter(|s| s.t_ms < gap && s.haproxy_status.is_some())
        .count();
    let during: Vec<_> = samples
        .iter()
        .filter(|s| s.t_ms >= gap && s.t_ms < resumed)
        .collect();
    let after = samples
        .iter()
        .filter(|s| s.t_ms >= resumed && s.haproxy_status.is_some())
        .count();
    assert!(
        before > 0 && after > 0,
        "HAProxy status before {before}, after {after}"
    );
    assert!(
        !during.is_empty(),
        "no samples during the gap: the observer stalled"
    );
    let made_up: Vec<_> = during
        .iter()
        .filter(|s| s.haproxy_status.is_some())
        .collect();
    assert!(
        made_up.is_empty(),
        "a status made up during the gap {gap}..{resumed}: {made_up:?}\n{:?}",
        tl.iter()
            .filter(|e| e.source == Source::Harness)
            .collect::<Vec<_>>()
    );
    // hc and Envoy kept being sampled through the gap.
    assert!(during.iter().any(|s| s.hc_state.is_some()));
    eprintln!(
        "runtime API gone {:.1} s ({stalled} connections to the silent socket): {} samples without an HAProxy status, run verdict {}",
        (resumed - gap) / 1000.0,
        during.len(),
        summary["verdict"]
    );
}
