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
    "modes.graceful.expect.outcomes_min"
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

/// Every typed setting: a misspelled value is rejected by serde, and the
/// one-line error names the file, the line the value is on and the key.
#[rstest]
#[case::drain_order(
    "[modes.graceful.drain]\norder = \"lbfirst\"",
    "modes.graceful.drain.order"
)]
#[case::lb_buffer(
    "[modes.graceful.drain]\nlb_buffer = \"soon\"",
    "modes.graceful.drain.lb_buffer"
)]
#[case::active_stat(
    "[modes.graceful.drain]\nactive_stat = \"req\"",
    "modes.graceful.drain.active_stat"
)]
#[case::prestop("[modes.other]\nprestop = \"drian\"", "modes.other.prestop")]
#[case::lb_signal("[topology.haproxy]\nlb_signal = 500", "topology.haproxy.lb_signal")]
#[case::drain_strategy(
    "[topology.envoy]\ndrain_strategy = \"gradul\"",
    "topology.envoy.drain_strategy"
)]
#[case::sidecar("[topology.envoy]\nsidecar = \"envoy\"", "topology.envoy.sidecar")]
#[case::fault_signal(
    "[[faults]]\nat = \"1s\"\nkill = \"pod-b\"\nprocess = \"hc\"\nsignal = \"SIGHUP\"",
    "faults[1].signal"
)]
#[case::fault_process(
    "[[faults]]\nat = \"1s\"\nkill = \"pod-b\"\nprocess = \"nginx\"",
    "faults[1].process"
)]
#[case::outcome(
    "[modes.graceful.expect]\noutcomes_max = { resets = 1 }",
    "modes.graceful.expect.outcomes_max"
)]
#[case::exit_code_container(
    "[modes.graceful.expect]\nexit_codes = { nginx = 137 }",
    "modes.graceful.expect.exit_codes"
)]
fn misspelled_values_name_file_line_and_key(#[case] table: &str, #[case] key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{GOOD}{table}\n");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, &text).unwrap();
    let (ok, out) = check(&bad);
    assert!(!ok, "must be rejected: {out}");
    // The value sits on the table's last line.
    let line = text.lines().count();
    assert_eq!(out.trim().lines().count(), 1, "one line: {out}");
    assert!(out.contains("bad.toml"), "names the file: {out}");
    assert!(
        out.contains(&format!("line {line},")),
        "names line {line}: {out}"
    );
    assert!(
        out.contains(&format!("key `{key}`")),
        "names key {key}: {out}"
    );
}
