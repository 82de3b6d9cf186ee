//! End to end: the `harness` binary runs a short s1 (tests/fixtures/quick.toml)
//! against real HAProxy, Envoy and the apps, and is interrupted mid-run.
//! Each test uses its own pod net (`LAB_POD_NET`) and artifacts folder.

use crate::run_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use run_support::{
    current_and_graceful, run_dirs, sigint, spawn_lines, summary, wait_exit, wait_for_line,
};

fn harness(args: &[&str], net: u8, artifacts: &Path) -> Command {
    let mut c = run_support::harness(args, artifacts);
    c.env("LAB_POD_NET", net.to_string());
    c
}

fn fixture() -> String {
    run_support::fixture("quick.toml")
}

/// Processes whose environment carries the run id of this run folder
/// (`<folder name>-p<harness pid>`).
fn processes_of_run(folder: &str) -> Vec<i32> {
    run_support::processes_with_env(&format!("GRACEFUL_LAB_RUN_ID={folder}-p"))
}

fn shm_entries() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn quick_s1_current_loses_the_long_request_and_graceful_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = harness(
        &["scenario", &fixture(), "--runtime", "local"],
        31,
        tmp.path(),
    )
    .output()
    .expect("harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    run_support::assert_plan_then_runtime(&stdout, "quick", "runtime: local");
    let (cur, gra) = current_and_graceful(tmp.path());
    let sc = summary(&cur);
    let sg = summary(&gra);
    assert_eq!(sc["verdict"], "pass", "{sc}");
    assert_eq!(sg["verdict"], "pass", "{sg}");
    assert!(sc["disruptions"].as_u64().unwrap() >= 1);
    assert_eq!(sg["disruptions"].as_u64().unwrap(), 0);
    assert_eq!(sc["interrupted"], false);
    // The long request's loss is attributed to something on the timeline.
    let att = sc["attributions"].as_array().unwrap();
    let long = att
        .iter()
        .find(|a| a["request_id"] == "long-0")
        .expect("long-0 attributed");
    assert!(long["cause_t_ms"].is_number(), "{long}");
    for d in [&cur, &gra] {
        for f in [
            "scenario.toml",
            "requests.csv",
            "timeline.csv",
            "samples.csv",
            "latency.hgrm",
            "summary.json",
            "plot.svg",
            "report.html",
            "config/haproxy.cfg",
            "config/envoy-pod-a.yaml",
            "logs/haproxy.log",
            "logs/pod-a-backend.log",
            "logs/pod-a-hc.log",
            "logs/pod-a-envoy.log",
        ] {
            assert!(d.join(f).is_file(), "{} lacks {f}", d.display());
        }
        assert!(processes_of_run(&d.file_name().unwrap().to_string_lossy()).is_empty());
    }
    // graceful: drain's steps are on the timeline, close-lb after the long request.
    let tl = std::fs::read_to_string(gra.join("timeline.csv")).unwrap();
    assert!(tl.contains(",drain,pod-a,hc_close_lb,"), "{tl}");
}

/// `load_end = "covered"`: quick's current mode with its steady load made
/// 60 s long ends once pod-a's coverage window closed plus one check
/// interval, not at 60 s; the accounting counts exactly the requests
/// scheduled before that end (else the verdict would be `invalid`) and the
/// window is still covered.
#[test]
fn a_covered_load_end_stops_the_steady_load_once_the_termination_settled() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let text = text
        .replacen("[[load]]", "load_end = \"covered\"\n\n[[load]]", 1)
        .replacen("duration = \"24s\"", "duration = \"60s\"", 1);
    assert!(
        text.contains("load_end") && text.contains("\"60s\""),
        "{text}"
    );
    let sc = tmp.path().join("covered.toml");
    std::fs::write(&sc, text).unwrap();
    let out = harness(
        &[
            "scenario",
            sc.to_str().unwrap(),
            "--mode",
            "current",
            "--runtime",
            "local",
        ],
        33,
        &tmp.path().join("artifacts"),
    )
    .output()
    .expect("harness runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let dir = &run_dirs(&tmp.path().join("artifacts"))[0];
    let s = summary(dir);
    assert_eq!(s["verdict"], "pass", "{s}");
    let c = &s["coverage"];
    let (start, end) = (
        c["load_start_ms"].as_f64().unwrap(),
        c["load_end_ms"].as_f64().unwrap(),
    );
    let required = c["required_end_ms"].as_f64().unwrap();
    assert_eq!(c["covered"], true, "{c}");
    // The end is one check interval (2 s) after the window closed (later
    // only when that was learnt late), long before the 60 s the entry asked
    // for at most.
    assert!(end >= required + 1_999.0, "{c}");
    assert!(end - start < 30_000.0, "{c}");
    let steady = s["accounting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["load"].as_str().unwrap().contains("steady"))
        .cloned()
        .unwrap();
    let want = (5.0 * (end - start) / 1000.0 - 1e-9).ceil() as u64;
    assert_eq!(steady["scheduled"].as_u64(), Some(want), "{steady}");
    assert_eq!(steady["recorded"].as_u64(), Some(want), "{steady}");
    let tl = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    assert!(tl.contains(",loadgen,,load_end,"), "{tl}");
}

#[test]
fn sigint_mid_run_tears_everything_down_and_marks_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let shm_before = shm_entries();
    let cmd = harness(
        &[
            "scenario",
            &fixture(),
            "--mode",
            "graceful",
            "--runtime",
            "local",
        ],
        32,
        tmp.path(),
    );
    let (mut child, rx) = spawn_lines(cmd);
    // Wait until the load runs (pods, Envoys and HAProxy are up).
    wait_for_line(&rx, "load running", Duration::from_secs(240));
    std::thread::sleep(Duration::from_millis(2500));
    let dirs = run_dirs(tmp.path());
    assert_eq!(dirs.len(), 1);
    let run_id = dirs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        !processes_of_run(&run_id).is_empty(),
        "the run's processes are up"
    );
    sigint(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(!status.success());
    assert!(
        processes_of_run(&run_id).is_empty(),
        "processes left: {:?}",
        processes_of_run(&run_id)
    );
    for port in [8080u16, 18180, 18181, 15000, 15006] {
        for host in [1u8, 2] {
            let addr = format!("127.0.32.{host}:{port}");
            std::net::TcpListener::bind(&addr)
                .unwrap_or_else(|e| panic!("{addr} still bound after SIGINT: {e}"));
        }
    }
    assert_eq!(shm_entries(), shm_before, "/dev/shm changed");
    let s = summary(&dirs[0]);
    assert_eq!(s["interrupted"], true, "{s}");
    assert_eq!(s["verdict"], "interrupted");
    // What was recorded so far is there, complete.
    let reqs = std::fs::read_to_string(dirs[0].join("requests.csv")).unwrap();
    assert!(reqs.starts_with("id,kind,method,path,pod,conn_id,reused,"));
    assert!(
        reqs.lines().count() > 1,
        "requests recorded before the interrupt"
    );
    assert!(dirs[0].join("logs/haproxy.log").is_file());
}

#[test]
fn check_names_file_line_and_key_of_a_bad_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    let text = std::fs::read_to_string(fixture())
        .unwrap()
        .replace("rate = 5.0", "rate = 5.0\nburst = 3");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("bad.toml") && err.contains("line ") && err.contains("burst"),
        "{err}"
    );

    let ok = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", &fixture()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn list_shows_s1_with_its_purpose() {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("s1 "))
        .expect("s1 listed");
    assert!(line.contains("60 s request"), "{line}");
}
