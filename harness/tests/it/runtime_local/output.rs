//! A process's output: every line reaches its log file and the run's tee,
//! in batches, whether the pump reads as output comes or paced
//! (`ProcSpec::batch_every`, as for HAProxy and Envoy).

use std::time::Duration;

use harness::runtime::{ProcSpec, Runtime};
use tokio::sync::mpsc;

use super::support::runtime;

#[tokio::test]
async fn output_goes_line_by_line_to_the_log_and_the_tee() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, "tee");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let p =
        rt.0.start(
            ProcSpec::new("talker", "/bin/sh")
                .pod("pod-x")
                .args(["-c", "echo one; echo two >&2; sleep 0.1; printf 'three'"])
                .tee(Some(tx)),
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.code, 0);
    let mut got = Vec::new();
    while got.len() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("three lines")
            .expect("channel open");
        got.extend(batch.lines);
    }
    got.sort();
    assert_eq!(got, ["one", "three", "two"]);
    let log = std::fs::read_to_string(dir.path().join("logs/pod-x-talker.log")).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort();
    assert_eq!(lines, ["one", "three", "two"]);
    assert_eq!(p.log_path, dir.path().join("logs/pod-x-talker.log"));
}

/// A paced pump (one read per 20 ms, as HAProxy's and Envoy's) loses no
/// line of a burst larger than its read buffer (64 KiB), and keeps order.
#[tokio::test]
async fn a_paced_pump_loses_no_line_of_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, "burst");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let n = 100_000; // ~590 KB of output, written as fast as seq can
    let p =
        rt.0.start(
            ProcSpec::new("seq", "seq")
                .args(["1".to_string(), n.to_string()])
                .tee(Some(tx))
                .batch_every(Duration::from_millis(20)),
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.code, 0);
    let mut got = Vec::new();
    while got.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("every line within 10 s")
            .expect("channel open");
        got.extend(batch.lines);
    }
    let want: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    assert!(
        got == want,
        "lines lost or out of order ({} got)",
        got.len()
    );
    let log = std::fs::read_to_string(dir.path().join("logs/seq.log")).unwrap();
    assert!(log.lines().eq(want.iter().map(String::as_str)));
}

/// A paced pump hands on a line-at-a-time writer's output in at most one
/// batch per 20 ms: however slow the machine, batches <= T / 20 ms + 2 for
/// a writer that ran T (an unpaced pump would hand on up to one per line).
#[tokio::test]
async fn a_paced_pump_reads_at_most_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, "paced");
    let (tx, mut rx) = mpsc::unbounded_channel();
    // 300 lines, each its own write, over at least 30 ms.
    let script = "i=0; while [ $i -lt 300 ]; do echo $i; i=$((i+1)); \
                  [ $((i % 10)) -eq 0 ] && sleep 0.001; done; true";
    let started = std::time::Instant::now();
    let p =
        rt.0.start(
            ProcSpec::new("writer", "/bin/sh")
                .args(["-c", script])
                .tee(Some(tx))
                .batch_every(Duration::from_millis(20)),
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.code, 0);
    let ran = started.elapsed();
    let (mut got, mut batches) = (Vec::new(), 0u128);
    while got.len() < 300 {
        let batch = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("every line within 10 s")
            .expect("channel open");
        batches += 1;
        got.extend(batch.lines);
    }
    let want: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    let bound = ran.as_millis() / 20 + 2;
    assert!(
        batches <= bound,
        "{batches} batches in {ran:?}: more than one per 20 ms ({bound})"
    );
}
