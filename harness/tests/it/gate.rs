//! `harness gate` (the CI gate's judgement over summary.json files): which
//! runs it reads (collision suffixes, mode names with dashes, runs older
//! than the gate's marker) and every rule seen both passing and failing,
//! through the library and through the real binary's exit code.

use std::path::Path;
use std::process::Command;

use harness::artifacts::{Summary, Verdict};
use harness::commands::ci_gate::{collect, judge};
use harness::model::RuntimeKind;
use rstest::rstest;

/// A finished run's summary: `mode` with `disruptions` of 1000 requests.
fn summary(mode: &str, disruptions: u64, verdict: Verdict) -> Summary {
    let mut s = Summary::new("s1", mode, "test", chrono::Utc::now());
    s.runtime = Some(RuntimeKind::Local);
    s.interrupted = verdict == Verdict::Interrupted;
    s.requests = 1000;
    s.disruptions = disruptions;
    s.verdict = verdict;
    if verdict == Verdict::Invalid {
        s.invalid = vec!["load[1] (steady): 10 scheduled, 0 sent, 0 recorded".into()];
    }
    s
}

fn write_run(root: &Path, name: &str, s: &Summary) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    s.write(&dir).unwrap();
}

/// current, graceful and seed-graceful runs with the given numbers.
fn three(root: &Path, current: (u64, Verdict), graceful: (u64, Verdict), seed: (u64, Verdict)) {
    write_run(
        root,
        "20261203T100000Z-s1-current",
        &summary("current", current.0, current.1),
    );
    write_run(
        root,
        "20261203T100130Z-s1-graceful",
        &summary("graceful", graceful.0, graceful.1),
    );
    write_run(
        root,
        "20261203T100300Z-s1-seed-graceful",
        &summary("seed-graceful", seed.0, seed.1),
    );
}

#[rstest]
#[case::all_good((1, Verdict::Pass), (0, Verdict::Pass), (3, Verdict::Pass), None)]
#[case::seed_loss_is_only_reported((1, Verdict::Pass), (0, Verdict::Pass), (40, Verdict::Pass), None)]
#[case::graceful_loses_one((1, Verdict::Pass), (1, Verdict::Pass), (0, Verdict::Pass), Some("graceful lost 1 request"))]
#[case::graceful_fails((1, Verdict::Pass), (0, Verdict::Fail), (0, Verdict::Pass), Some("graceful run 20261203T100130Z-s1-graceful failed"))]
#[case::current_sees_nothing((0, Verdict::Pass), (0, Verdict::Pass), (0, Verdict::Pass), Some("current shows no disruption"))]
#[case::graceful_invalid((1, Verdict::Pass), (0, Verdict::Invalid), (0, Verdict::Pass), Some("graceful run 20261203T100130Z-s1-graceful is invalid: load[1]"))]
#[case::seed_invalid((1, Verdict::Pass), (0, Verdict::Pass), (0, Verdict::Invalid), Some("seed-graceful run 20261203T100300Z-s1-seed-graceful is invalid"))]
#[case::current_interrupted((1, Verdict::Interrupted), (0, Verdict::Pass), (0, Verdict::Pass), Some("current run 20261203T100000Z-s1-current was interrupted"))]
fn gate_rules(
    #[case] current: (u64, Verdict),
    #[case] graceful: (u64, Verdict),
    #[case] seed: (u64, Verdict),
    #[case] failure: Option<&str>,
) {
    let root = tempfile::tempdir().unwrap();
    three(root.path(), current, graceful, seed);
    let runs = collect(root.path(), "s1", None).unwrap();
    assert_eq!(runs.len(), 3);
    let report = judge(&runs, RuntimeKind::Local);
    match failure {
        None => assert!(report.passed(), "{report:?}"),
        Some(f) => {
            assert!(!report.passed(), "{report:?}");
            assert!(
                report.failures.iter().any(|x| x.contains(f)),
                "no failure containing {f:?}: {report:?}"
            );
        }
    }
    // seed-graceful is always reported with its count.
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.starts_with("seed-graceful (reported)")),
        "{report:?}"
    );
}

#[test]
fn a_missing_mode_or_another_runtime_fails() {
    let root = tempfile::tempdir().unwrap();
    write_run(
        root.path(),
        "20261203T100000Z-s1-current",
        &summary("current", 1, Verdict::Pass),
    );
    let report = judge(
        &collect(root.path(), "s1", None).unwrap(),
        RuntimeKind::Local,
    );
    assert_eq!(report.failures, vec!["no graceful run found".to_string()]);

    let mut g = summary("graceful", 0, Verdict::Pass);
    g.runtime = Some(RuntimeKind::Docker);
    write_run(root.path(), "20261203T100130Z-s1-graceful", &g);
    let report = judge(
        &collect(root.path(), "s1", None).unwrap(),
        RuntimeKind::Local,
    );
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains("ran on runtime \"docker\", not \"local\"")),
        "{report:?}"
    );
}

/// A collision folder (`-2`) is a run like any other: its summary says its
/// mode, so a lossy graceful run in `...-graceful-2` fails the gate, and
/// `seed-graceful` is never mistaken for a `graceful` run.
#[test]
fn collision_suffix_folders_are_judged_by_their_summary() {
    let root = tempfile::tempdir().unwrap();
    three(
        root.path(),
        (1, Verdict::Pass),
        (0, Verdict::Pass),
        (5, Verdict::Pass),
    );
    write_run(
        root.path(),
        "20261203T100130Z-s1-graceful-2",
        &summary("graceful", 2, Verdict::Pass),
    );
    write_run(
        root.path(),
        "20261203T100300Z-s1-seed-graceful-2",
        &summary("seed-graceful", 7, Verdict::Pass),
    );
    let runs = collect(root.path(), "s1", None).unwrap();
    assert_eq!(runs.len(), 5);
    let report = judge(&runs, RuntimeKind::Local);
    assert_eq!(
        report
            .failures
            .iter()
            .filter(|f| f.starts_with("graceful lost"))
            .collect::<Vec<_>>(),
        vec!["graceful lost 2 request(s) in 20261203T100130Z-s1-graceful-2"],
        "{report:?}"
    );
    assert_eq!(report.failures.len(), 1, "{report:?}");
}

#[test]
fn runs_before_the_marker_and_other_scenarios_are_left_out() {
    let root = tempfile::tempdir().unwrap();
    // An old lossy graceful run, before the gate started.
    write_run(
        root.path(),
        "20261203T090000Z-s1-graceful",
        &summary("graceful", 9, Verdict::Fail),
    );
    let old = root
        .path()
        .join("20261203T090000Z-s1-graceful/summary.json");
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let marker = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    three(
        root.path(),
        (1, Verdict::Pass),
        (0, Verdict::Pass),
        (0, Verdict::Pass),
    );
    let mut other = summary("graceful", 4, Verdict::Pass);
    other.scenario = "s15".into();
    write_run(root.path(), "20261203T100400Z-s15-graceful", &other);
    let runs = collect(root.path(), "s1", Some(marker)).unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(judge(&runs, RuntimeKind::Local).passed());
    // Without the marker the old lossy run is judged too.
    assert!(!judge(
        &collect(root.path(), "s1", None).unwrap(),
        RuntimeKind::Local
    )
    .passed());
}

#[test]
fn an_unreadable_summary_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("20261203T100000Z-s1-current");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("summary.json"), "{ not json").unwrap();
    let e = collect(root.path(), "s1", None).unwrap_err().to_string();
    assert!(e.contains("20261203T100000Z-s1-current"), "{e}");
}

/// The real binary: exit 0 on a good set of runs, 1 on a lossy graceful.
#[test]
fn the_verb_exits_one_when_the_gate_fails() {
    let gate = |root: &Path| {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["gate", "--runtime", "local", "--artifacts"])
            .arg(root)
            .output()
            .unwrap()
    };
    let root = tempfile::tempdir().unwrap();
    three(
        root.path(),
        (1, Verdict::Pass),
        (0, Verdict::Pass),
        (2, Verdict::Pass),
    );
    let ok = gate(root.path());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains("gate: PASS"), "{out}");
    write_run(
        root.path(),
        "20261203T100130Z-s1-graceful-2",
        &summary("graceful", 1, Verdict::Pass),
    );
    let bad = gate(root.path());
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(
        out.contains("gate: FAIL: graceful lost 1 request(s)"),
        "{out}"
    );
}
