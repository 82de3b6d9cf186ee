//! `harness up`, `harness terminate` and `harness watch` end to end: a real
//! `up` of tests/fixtures/watch.toml on the local runtime (real HAProxy,
//! Envoy and apps), then `watch --url <its frontend> --during "harness
//! terminate pod-a --up <its folder>"`. Current mode loses requests and
//! the watch fails; graceful loses none and passes; the command's lines
//! are on the timeline; the exit code follows --max-disruptions; bad input
//! is one line. Each test has its own pod net and artifacts folders; every
//! watch is bounded by --duration and every wait by a deadline.

use crate::run_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use run_support::{harness_bin, processes_with_env, sigint, summary, wait_exit};

/// A running `harness up`: the child, its folder and frontend.
struct Up {
    child: Child,
    dir: PathBuf,
    frontend: String,
    _lines: Receiver<String>,
}

/// Starts `harness up watch.toml --mode <mode>` and waits for its "ready".
fn start_up(mode: &str, net: u8, artifacts: &Path) -> Up {
    let mut c = run_support::harness(
        &[
            "up",
            &run_support::fixture("watch.toml"),
            "--mode",
            mode,
            "--runtime",
            "local",
        ],
        artifacts,
    );
    c.env("LAB_POD_NET", net.to_string());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("harness up starts");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            eprintln!("[up] {l}");
            let _ = tx.send(l);
        }
    });
    let (mut dir, mut frontend) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let l = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("harness up printed no `ready` within 120 s")
            });
        if let Some(f) = l.strip_prefix("frontend:") {
            frontend = Some(f.trim().to_string());
        }
        if let Some(d) = l.strip_prefix("folder:") {
            dir = Some(PathBuf::from(d.trim()));
        }
        if l.starts_with("ready;") {
            break;
        }
    }
    Up {
        child,
        dir: dir.expect("up prints its folder"),
        frontend: frontend.expect("up prints its frontend"),
        _lines: rx,
    }
}

impl Up {
    /// Ctrl-C; the up must end within 30 s and leave no process behind.
    fn stop(mut self) {
        let pid = self.child.id();
        sigint(&self.child);
        wait_exit(&mut self.child, Duration::from_secs(30));
        // The run id is `<folder>-p<pid>`: two ups of one second in two
        // artifacts folders share the folder name, never the pid.
        let folder = self.dir.file_name().unwrap().to_string_lossy().into_owned();
        let left = processes_with_env(&format!("GRACEFUL_LAB_RUN_ID={folder}-p{pid}"));
        assert!(left.is_empty(), "up left processes behind: {left:?}");
        let st: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("up.json")).unwrap())
                .unwrap();
        assert!(st["ended_at"].is_string(), "up.json marks its end: {st}");
        assert!(!self.dir.join("control.sock").exists());
    }
}

/// `harness watch` at the up's frontend during `harness terminate pod-a`:
/// 20 req/s over `/` and a 2 s `/sleep` (about 20 requests always in
/// flight, half on pod-a), warm-up 2 s, settle 3 s, at most 60 s.
fn watch(up: &Up, max_disruptions: &str, artifacts: &Path) -> (Output, PathBuf, Duration) {
    let during = format!(
        "{} terminate pod-a --up {}",
        harness_bin().display(),
        up.dir.display()
    );
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(up.dir.join("up.json")).unwrap()).unwrap();
    let socket = st["haproxy_stats_socket"].as_str().unwrap().to_string();
    let envoy_b = st["pods"][1]["envoy_admin"].as_str().unwrap().to_string();
    let mut c = Command::new(harness_bin());
    c.args([
        "watch",
        "--haproxy-socket",
        &socket,
        "--envoy-admin",
        &envoy_b,
        "--url",
        &up.frontend,
        "--path",
        "/",
        "--path",
        "/sleep?seconds=2",
        "--rate",
        "20",
        "--connections",
        "64",
        "--warmup",
        "2s",
        "--settle",
        "3s",
        "--duration",
        "60s",
        "--max-disruptions",
        max_disruptions,
        "--during",
        &during,
        "--artifacts",
    ])
    .arg(artifacts);
    let t = Instant::now();
    let out = c.output().expect("harness watch runs");
    let took = t.elapsed();
    eprintln!(
        "[watch] {:?} in {took:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = run_support::run_dirs(artifacts)
        .into_iter()
        .next()
        .expect("a watch folder");
    (out, dir, took)
}

/// The timeline rows of source `during`.
fn during_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("timeline.csv"))
        .expect("timeline.csv")
        .lines()
        .filter(|l| l.contains(",during,"))
        .map(str::to_string)
        .collect()
}

fn assert_accounted(s: &serde_json::Value) {
    for e in s["accounting"].as_array().expect("accounting") {
        assert_eq!(e["scheduled"], e["recorded"], "{e}");
        assert_eq!(e["scheduled"], e["sent"], "{e}");
    }
    assert!(s["invalid"].as_array().is_none_or(|v| v.is_empty()), "{s}");
}

#[test]
fn current_loses_requests_and_the_watch_fails_with_the_commands_lines_on_its_timeline() {
    let (ups, watches) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let up = start_up("current", 61, ups.path());
    let (out, dir, took) = watch(&up, "0", watches.path());
    up.stop();
    let s = summary(&dir);
    eprintln!(
        "current: {} requests, {} disruptions, {took:?}",
        s["requests"], s["disruptions"]
    );
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert_eq!(s["verdict"], "fail");
    assert!(s["disruptions"].as_u64().unwrap() >= 1, "{s}");
    assert_accounted(&s);
    let rows = during_rows(&dir);
    assert!(rows.iter().any(|r| r.contains("command_start")), "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.contains("command_output") && r.contains("terminating pod-a")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("command_output") && r.contains("sigterm")),
        "terminate printed the steps: {rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("command_exit") && r.contains("exit code 0")),
        "{rows:?}"
    );
    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    assert!(
        timeline
            .lines()
            .any(|l| l.contains(",haproxy,pod-a,status,") && l.contains("DOWN")),
        "the HAProxy observer saw pod-a DOWN"
    );
    for f in [
        "requests.csv",
        "latency.hgrm",
        "report.html",
        "junit.xml",
        "plot.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
}

#[test]
fn the_exit_code_follows_max_disruptions() {
    let (ups, watches) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let up = start_up("current", 62, ups.path());
    let (out, dir, took) = watch(&up, "100000", watches.path());
    up.stop();
    let s = summary(&dir);
    eprintln!(
        "current, --max-disruptions 100000: {} requests, {} disruptions, {took:?}",
        s["requests"], s["disruptions"]
    );
    assert!(s["disruptions"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(s["verdict"], "pass");
}

#[test]
fn graceful_loses_nothing_and_the_watch_passes() {
    let (ups, watches) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let up = start_up("graceful", 63, ups.path());
    let (out, dir, took) = watch(&up, "0", watches.path());
    up.stop();
    let s = summary(&dir);
    eprintln!(
        "graceful: {} requests, {} disruptions, {took:?}",
        s["requests"], s["disruptions"]
    );
    assert_eq!(s["disruptions"], 0, "{s}");
    assert!(s["requests"].as_u64().unwrap() > 100, "{s}");
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(s["verdict"], "pass");
    assert_accounted(&s);
    let rows = during_rows(&dir);
    assert!(
        rows.iter().any(|r| r.contains("hc_close_lb")),
        "drain's steps reached the watch through terminate: {rows:?}"
    );
}

/// One `harness` invocation's output.
fn run(args: &[&str]) -> Output {
    Command::new(harness_bin())
        .args(args)
        .output()
        .expect("harness runs")
}

fn assert_one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

#[test]
fn bad_input_is_one_line_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().to_str().unwrap();
    let marker = tmp.path().join("ran");
    let during = format!("touch {}", marker.display());
    // A port nobody listens on: refused before anything starts.
    let port = testkit::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = run(&[
        "watch",
        "--url",
        &url,
        "--during",
        &during,
        "--duration",
        "10s",
        "--artifacts",
        art,
    ]);
    assert_one_line_error(&out, "the command was not run");
    assert!(!marker.exists(), "CMD ran against an unreachable URL");
    assert!(run_support::run_dirs(tmp.path()).is_empty());
    let out = run(&["watch", "--url", "ftp://127.0.0.1/", "--during", "true"]);
    assert_one_line_error(&out, "only http:// and https:// URLs are supported");
    let out = run(&["watch", "--url", &url, "--during", "true", "--rate", "0"]);
    assert_one_line_error(&out, "--rate 0");
    let out = run(&["watch", "--url", &url, "--during", "true", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    let out = run(&["terminate", "pod-a", "--artifacts", art]);
    assert_one_line_error(&out, "no running `harness up` under");
    let out = run(&["terminate", "pod-a", "--up", art]);
    assert_one_line_error(&out, "not a running `harness up`");
}
