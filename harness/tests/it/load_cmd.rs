//! `harness load` against a real `backend` on a free loopback port: the
//! closed loop keeps one request per connection and never opens more than
//! `--connections`; the open loop sends exactly rate × duration requests;
//! every request is counted, a refused target is all errors, bad flags are
//! errors whose first line names the culprit. A smoke test, not a benchmark:
//! no timing is asserted beyond the closed loop stopping at its duration
//! (no request begun after it; the run back within its request deadline).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::apps::{build_in, profile_dir, workspace_root};
use harness::loadgen::{run, LoadConfig, LoadSpec};
use harness::model::{Outcome, RunClock};
use serde_json::Value;
use testkit::ChildGuard;
use tokio_util::sync::CancellationToken;

/// A backend on 127.0.0.1:0, killed on drop.
struct Backend {
    _child: ChildGuard,
    addr: String,
}

fn backend() -> Backend {
    let ws = workspace_root().expect("tests run inside the workspace");
    let bin = profile_dir(&ws).join("backend");
    if !bin.is_file() {
        build_in(&ws).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--pod-name", "loadsmoke"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("backend starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("msg=listening addr=").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("backend prints its listening address");
    Backend {
        _child: ChildGuard(child),
        addr,
    }
}

fn harness_load(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("load")
        .args(args)
        .output()
        .expect("harness runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `harness load --url <a fresh backend> --connections 4 --duration 1s`
/// and `extra`; the backend lives until the load is done.
fn load_backend_4x1s(extra: &[&str]) -> (i32, String, String) {
    let b = backend();
    let url = format!("http://{}/", b.addr);
    let mut args = vec!["--url", &url, "--connections", "4", "--duration", "1s"];
    args.extend_from_slice(extra);
    harness_load(&args)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn closed_loop_counts_every_request_and_reports_percentiles() {
    let (code, out, err) = load_backend_4x1s(&["--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["mode"], "closed");
    let ok = r["ok"].as_u64().unwrap();
    assert!(
        ok > 100,
        "a closed loop on loopback does more than 100 req/s: {r}"
    );
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["completed"].as_u64(), Some(ok), "{r}");
    assert_eq!(r["scheduled"].as_u64(), Some(ok), "{r}");
    let lat = &r["latency_ms"]["corrected"];
    assert_eq!(lat["count"].as_u64(), Some(ok), "{r}");
    let (p50, p99, max) = (
        lat["p50"].as_f64().unwrap(),
        lat["p99"].as_f64().unwrap(),
        lat["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{r}");
}

#[test]
fn open_loop_sends_rate_times_duration() {
    let (code, out, err) = load_backend_4x1s(&["--rate", "200"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("requests: 200 completed, 200 ok, 0 errors"),
        "{out}"
    );
    assert!(
        out.contains("latency (from intended send) ms: p50"),
        "{out}"
    );
}

#[test]
fn a_refused_target_is_all_errors_and_exit_1() {
    // A port that was free a moment ago: nothing listens on it.
    let port = testkit::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out, err) = harness_load(&[
        "--url",
        &url,
        "--duration",
        "500ms",
        "--rate",
        "20",
        "--json",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["ok"], 0, "{r}");
    assert_eq!(r["errors"], 10, "{r}");
    assert_eq!(r["outcomes"]["refused"], 10, "{r}");
}

#[test]
fn bad_flags_are_one_line_errors() {
    for (args, culprit) in [
        (
            vec!["--url", "http://10.9.9.9:80/"],
            "not a loopback address",
        ),
        (vec!["--url", "ftp://127.0.0.1/"], "only http://"),
        (
            vec!["--url", "http://127.0.0.1:1/", "--connections", "0"],
            "--connections 0",
        ),
        (
            vec!["--url", "http://127.0.0.1:1/", "--duration", "soon"],
            "soon",
        ),
    ] {
        let (code, out, err) = harness_load(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        // The first line names the culprit (clap adds a usage hint below its own).
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains(culprit), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_spec_keeps_one_request_per_connection() {
    let b = backend();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = LoadConfig {
        target: b.addr.parse().unwrap(),
        host: None,
        tls: None,
        horizon: None,
        specs: vec![LoadSpec::Closed {
            connections: 3,
            duration_ms: 500,
            path: "/".into(),
            start_ms: 0,
        }],
        request_timeout_margin: Duration::from_secs(20),
    };
    // The last request begins before 500 ms and may run to its deadline
    // (the 20 s margin): past that the loop did not stop. A loop that never
    // stops fails here instead of hanging the test.
    let bound = Duration::from_millis(500) + Duration::from_secs(20);
    let stats = tokio::time::timeout(
        bound,
        run(cfg, RunClock::new(), tx, CancellationToken::new()),
    )
    .await
    .unwrap_or_else(|_| panic!("the closed loop still running {bound:?} after its start"));
    let mut records = Vec::new();
    while let Ok(r) = rx.try_recv() {
        records.push(r);
    }
    assert!(records.len() > 30, "{}", records.len());
    assert_eq!(stats.completed, records.len() as u64);
    assert_eq!(stats.scheduled, records.len() as u64);
    assert!(records.iter().all(|r| r.outcome == Outcome::Ok));
    let mut per_conn: HashMap<u64, Vec<(f64, f64)>> = HashMap::new();
    for r in &records {
        assert!(r.intended_ms < 500.0, "started after the duration: {r:?}");
        per_conn
            .entry(r.conn_id)
            .or_default()
            .push((r.sent_ms, r.end_ms));
    }
    assert!(per_conn.len() <= 3, "{} connections", per_conn.len());
    for spans in per_conn.values_mut() {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlapping requests on one connection");
        }
    }
}
