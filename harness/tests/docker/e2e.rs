//! End to end on the docker runtime: the `harness` binary runs the short s1
//! (tests/fixtures/quick.toml) with `--runtime docker` against containers
//! built locally (no pulls), gives the local runtime's verdicts, sends the
//! load from inside HAProxy's network namespace, and leaves no container or
//! network behind; the seed script runs as preStop from the hc image's copy
//! (tests/fixtures/script.toml); a run interrupted mid-run removes its
//! containers too; an engine that does not answer stops `--runtime docker`
//! before anything starts, with one line naming it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::run_support::{
    current_and_graceful, harness, run_dirs, sigint, spawn_lines, summary, wait_exit, wait_for_line,
};
use crate::support::docker_ids;

fn fixture() -> String {
    crate::run_support::fixture("quick.toml")
}

fn run_label(dir: &Path) -> String {
    let s = summary(dir);
    format!(
        "graceful-lab.run={}",
        s["run_id"].as_str().expect("run_id in summary.json")
    )
}

/// Runs `harness scenario <fixture> --runtime docker` into a folder kept
/// when the test fails (the panic names it; the test removes it when it
/// passes); asserts exit 0 and gives the folder and stdout.
fn run_kept(fixture: &str, prefix: &str) -> (PathBuf, String) {
    // The apps the images are built from.
    let _ = crate::support::apps();
    let kept = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap()
        .keep();
    let out = harness(&["scenario", fixture, "--runtime", "docker"], &kept)
        .output()
        .expect("harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?} (artifacts kept in {})\n{stdout}\n{stderr}",
        out.status,
        kept.display()
    );
    (kept, stdout)
}

#[test]
fn quick_s1_on_docker_gives_the_local_verdicts_and_leaves_nothing() {
    let (kept, stdout) = run_kept(&fixture(), "e2e-docker-");
    crate::run_support::assert_plan_then_runtime(
        &stdout,
        "quick",
        "runtime: docker (asked for with --runtime docker",
    );
    assert!(stdout.contains("images:  pause "), "{stdout}");
    let (cur, gra) = current_and_graceful(&kept);
    let sc = summary(&cur);
    let sg = summary(&gra);
    for s in [&sc, &sg] {
        assert_eq!(s["runtime"], "docker", "{s}");
        assert_eq!(s["verdict"], "pass", "{s}");
        assert_eq!(s["interrupted"], false, "{s}");
    }
    assert!(sc["disruptions"].as_u64().unwrap() >= 1, "{sc}");
    assert_eq!(sg["disruptions"].as_u64().unwrap(), 0, "{sg}");
    for d in [&cur, &gra] {
        for f in [
            "requests.csv",
            "timeline.csv",
            "samples.csv",
            "summary.json",
            "report.html",
            "logs/haproxy.log",
            "logs/pod-a-backend.log",
            "logs/pod-a-hc.log",
            "logs/pod-a-envoy.log",
            "logs/pod-a-prestop.log",
        ] {
            assert!(d.join(f).is_file(), "{} lacks {f}", d.display());
        }
        // The load came from inside HAProxy's network namespace: HAProxy
        // logs its own container address as the client.
        let tl = std::fs::read_to_string(d.join("timeline.csv")).unwrap();
        assert!(
            tl.contains("load_netns,sending from inside HAProxy's network namespace"),
            "{tl}"
        );
        let log = std::fs::read_to_string(d.join("logs/haproxy.log")).unwrap();
        let fe = log
            .lines()
            .find(|l| l.contains(" http rid=steady-"))
            .expect("a steady request in HAProxy's log");
        let client = fe
            .split_whitespace()
            .find_map(|w| w.strip_prefix("client="))
            .unwrap();
        let haproxy_ip = client.rsplit_once(':').unwrap().0;
        assert!(haproxy_ip.ends_with(".2"), "client {client} in {fe}");
        // Nothing of the run is left in the engine.
        let label = run_label(d);
        assert!(docker_ids("containers", &label).is_empty(), "{label}");
        assert!(docker_ids("networks", &label).is_empty(), "{label}");
    }
    // graceful: drain ran by exec in the hc container and closed after the long request.
    let tl = std::fs::read_to_string(gra.join("timeline.csv")).unwrap();
    assert!(tl.contains(",drain,pod-a,hc_close_lb,"), "{tl}");
    let _ = std::fs::remove_dir_all(&kept);
}

#[test]
fn an_interrupted_docker_run_removes_its_containers() {
    let _ = crate::support::apps();
    let tmp = tempfile::tempdir().unwrap();
    let cmd = harness(
        &[
            "scenario",
            &fixture(),
            "--runtime",
            "docker",
            "--mode",
            "graceful",
        ],
        tmp.path(),
    );
    let (mut child, rx) = spawn_lines(cmd);
    // Wait until the load runs (pods, Envoys and HAProxy are up), then Ctrl-C.
    wait_for_line(&rx, "load running", Duration::from_secs(240));
    std::thread::sleep(Duration::from_millis(2000));
    let dirs = run_dirs(tmp.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let dir = dirs[0].clone();
    let label = run_label(&dir);
    assert!(
        !docker_ids("containers", &label).is_empty(),
        "containers run"
    );
    sigint(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(!status.success());
    assert!(docker_ids("containers", &label).is_empty(), "{label}");
    assert!(docker_ids("networks", &label).is_empty(), "{label}");
    let s = summary(&dir);
    assert_eq!(s["interrupted"], true, "{s}");
    assert_eq!(s["runtime"], "docker", "{s}");
}

#[test]
fn an_engine_that_does_not_answer_stops_docker_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = harness(&["scenario", &fixture(), "--runtime", "docker"], tmp.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("harness runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("--runtime docker: no Docker Engine answered"),
        "{stderr}"
    );
    assert!(run_dirs(tmp.path()).is_empty(), "no run folder was made");
}

/// The seed script as preStop on docker: the engine's exec runs the hc
/// image's copy of graceful-drain.sh (a host path means nothing inside the
/// container), which walks every step to `[done]` and loses nothing.
#[test]
fn the_seed_script_runs_as_prestop_inside_the_hc_container() {
    let (kept, _) = run_kept(
        &crate::run_support::fixture("script.toml"),
        "e2e-docker-script-",
    );
    let dirs = run_dirs(&kept);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let s = summary(&dirs[0]);
    assert_eq!(s["runtime"], "docker", "{s}");
    assert_eq!(s["verdict"], "pass", "{s}");
    let log = std::fs::read_to_string(dirs[0].join("logs/pod-a-prestop.log")).unwrap();
    assert!(
        log.contains("[done] preStop completed in "),
        "the script ran to its end: {log}"
    );
    let tl = std::fs::read_to_string(dirs[0].join("timeline.csv")).unwrap();
    assert!(
        tl.contains(",kubelet,pod-a,prestop_end,exit code 0"),
        "{tl}"
    );
    let label = run_label(&dirs[0]);
    assert!(docker_ids("containers", &label).is_empty(), "{label}");
    let _ = std::fs::remove_dir_all(&kept);
}
