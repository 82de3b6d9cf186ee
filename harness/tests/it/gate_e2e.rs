//! The gate seen failing on real runs (real HAProxy, Envoy and apps, local
//! runtime, seconds each): a zero-loss mode that really loses a request
//! makes the harness exit 1 and `scripts/gate.sh` exit non-zero; a
//! zero-loss claim whose load does not cover the termination is `invalid`,
//! and `harness gate` fails on it by name. Each test has its own pod net.

use crate::run_support;

use std::path::Path;
use std::process::Command;

use run_support::{fixture, run_dirs, summary};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_zero_loss_mode_that_loses_a_request_fails_the_harness_and_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("sh")
        .arg(root.join("scripts/gate.sh"))
        .env("GATE_SCENARIO", fixture("gate-lossy.toml"))
        .env("GATE_RUNTIME", "local")
        .env("HARNESS_BIN", run_support::harness_bin())
        .env("LAB_NO_BUILD", "1")
        .env("LAB_ARTIFACTS", tmp.path())
        .env("LAB_POD_NET", "57")
        .output()
        .expect("gate.sh runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "the gate passed a lossy graceful run\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("gate: FAIL: the harness exited 1"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("gate: FAIL: graceful lost"),
        "{stdout}\n{stderr}"
    );
    // The harness's own verdicts: current passes (it must lose), graceful fails.
    let mut verdicts: Vec<(String, String, u64)> = run_dirs(tmp.path())
        .iter()
        .map(|d| {
            let s = summary(d);
            (
                s["mode"].as_str().unwrap().to_string(),
                s["verdict"].as_str().unwrap().to_string(),
                s["disruptions"].as_u64().unwrap(),
            )
        })
        .collect();
    verdicts.sort();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert_eq!(
        (verdicts[0].0.as_str(), verdicts[0].1.as_str()),
        ("current", "pass")
    );
    assert_eq!(
        (verdicts[1].0.as_str(), verdicts[1].1.as_str()),
        ("graceful", "fail")
    );
    assert!(verdicts[1].2 >= 1, "{verdicts:?}");
}

#[test]
fn a_zero_loss_claim_whose_load_ends_before_the_termination_settled_is_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_support::harness(
        &["scenario", &fixture("uncovered.toml"), "--runtime", "local"],
        tmp.path(),
    )
    .env("LAB_POD_NET", "58")
    .output()
    .expect("harness runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("[INVALID] the load (from"),
        "{stdout}\n{stderr}"
    );
    let dirs = run_dirs(tmp.path());
    assert_eq!(dirs.len(), 1);
    let s = summary(&dirs[0]);
    assert_eq!(s["verdict"], "invalid", "{s}");
    assert_eq!(s["coverage"]["covered"], false, "{s}");
    // The window was measured: it needs load until one check interval after
    // the pod's last exit and HAProxy's settling, which is after the load's end.
    let end = s["coverage"]["load_end_ms"].as_f64().unwrap();
    let exit = s["coverage"]["last_exit_ms"].as_f64().unwrap();
    let settled = s["coverage"]["lb_settled_ms"].as_f64().unwrap();
    let need = s["coverage"]["required_end_ms"].as_f64().unwrap();
    assert!(need >= exit.max(settled) && need > end, "{s}");
    // Every request is still accounted for: the run is invalid for its
    // window alone.
    for e in s["accounting"].as_array().unwrap() {
        assert_eq!(e["scheduled"], e["recorded"], "{s}");
    }
    let gate = run_support::harness(&["gate", "--scenario", "uncovered"], tmp.path())
        .output()
        .expect("harness gate runs");
    let gout = text(&gate.stdout);
    assert_eq!(gate.status.code(), Some(1), "{gout}");
    assert!(
        gout.contains("graceful run") && gout.contains("is invalid: the load"),
        "{gout}"
    );
}
