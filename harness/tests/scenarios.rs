//! The scenario catalogue and `harness check`: every file in `scenarios/`
//! parses and validates (and says what it shows in a header comment), and a
//! bad file is rejected with the file, the line or the key named, and a
//! non-zero exit. Runs the real `harness` binary; starts no pod.

use std::path::{Path, PathBuf};
use std::process::Command;

use rstest::rstest;
use testkit::fixtures::MINIMAL_SCENARIO as GOOD;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("check")
        .arg(file)
        .output()
        .expect("harness runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_catalogue_file_checks_and_has_a_header() {
    let mut n = 0;
    for e in std::fs::read_dir(scenarios_dir()).unwrap().flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        n += 1;
        let (ok, text) = check(&p);
        assert!(ok, "{}: {text}", p.display());
        let body = std::fs::read_to_string(&p).unwrap();
        let header: Vec<&str> = body.lines().take_while(|l| l.starts_with('#')).collect();
        let header = header.join("\n");
        for part in ["What it shows", "Why it matters", "A pass means"] {
            assert!(
                header.contains(part),
                "{}: header comment lacks {part:?}",
                p.display()
            );
        }
        let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
        assert!(
            body.contains(&format!("id = \"{stem}\"")),
            "{}: id must match the file name",
            p.display()
        );
    }
    assert!(n >= 10, "only {n} scenario files");
}

#[rstest]
#[case::unknown_key(
    "[modes.graceful]\nprestop = \"drain\"",
    "[modes.graceful]\nprestop = \"drain\"\nbogus = 1",
    "bogus"
)]
#[case::wrong_type("rate = 5.0", "rate = \"fast\"", "line 4, column 1 (at \"[[load]]")]
#[case::negative_duration("duration = \"10s\"", "duration = -3", "negative duration")]
#[case::fault_after_load("at = \"2s\"", "at = \"30s\"", "faults[0].at")]
#[case::two_actions(
    "terminate = \"pod-a\"",
    "terminate = \"pod-a\"\nhc_fault = \"pod-a\"",
    "exactly one of"
)]
#[case::unknown_pod("terminate = \"pod-a\"", "terminate = \"pod-z\"", "no pod \"pod-z\"")]
#[case::bad_outcome(
    "prestop = \"drain\"",
    "prestop = \"drain\"\n[modes.graceful.expect]\noutcomes_min = { resets = 1 }",
    "outcomes_min.resets"
)]
#[case::mode_topology(
    "prestop = \"drain\"",
    "prestop = \"drain\"\nhaproxy = { lb_signal = 500 }",
    "modes.graceful.haproxy.lb_signal"
)]
#[case::script_auto(
    "prestop = \"drain\"",
    "prestop = \"script\"\n[modes.graceful.drain]\nlb_buffer = \"auto\"",
    "modes.graceful.drain.lb_buffer"
)]
fn bad_files_are_rejected_naming_the_key(
    #[case] from: &str,
    #[case] to: &str,
    #[case] named: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, GOOD).unwrap();
    let (ok, text) = check(&good);
    assert!(ok, "the base file must pass: {text}");
    assert!(GOOD.contains(from), "case does not apply: {from}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, GOOD.replacen(from, to, 1)).unwrap();
    let (ok, text) = check(&bad);
    assert!(!ok, "must be rejected: {text}");
    assert!(text.contains("bad.toml"), "names the file: {text}");
    assert!(text.contains(named), "names {named:?}: {text}");
}

#[test]
fn scenario_all_refuses_an_unknown_id_before_running_anything() {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["scenario", "all", "--only", "s999"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("harness runs");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no scenario \"s999\""), "{text}");
}
