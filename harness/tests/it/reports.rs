//! The read-only verbs end to end through the real `harness` binary, on
//! real run folders checked in under `tests/fixtures/`: a quick s1 graceful
//! run made with `--naming legacy` (hc spoke READY/DRAINING/DRAINED_WAIT_LB)
//! and one made with gate naming.

use std::fs;

use rstest::rstest;
use serde_json::Value;

mod support;
use support::{
    copy_dir, copy_run, edit_summary, fixture, harness, json, junit_counts, row, s, stdout,
};

const LEGACY: &str = "legacy-run/20261125T124615Z-quick-graceful";
const GATE: &str = "gate-run/20261125T124416Z-quick-graceful";

#[test]
fn the_legacy_fixture_really_speaks_legacy() {
    let samples = fs::read_to_string(fixture(LEGACY).join("samples.csv")).unwrap();
    assert!(samples.contains("READY") && samples.contains("DRAINED_WAIT_LB"));
    assert!(!samples.contains("OPEN") && !samples.contains("CLOSING"));
    assert_eq!(
        json(&fixture(LEGACY).join("summary.json"))["naming"],
        "legacy"
    );
    assert_eq!(json(&fixture(GATE).join("summary.json"))["naming"], "gate");
    let gate_samples = fs::read_to_string(fixture(GATE).join("samples.csv")).unwrap();
    assert!(gate_samples.contains("OPEN") && gate_samples.contains("CLOSING"));
}

#[test]
fn report_rebuilds_plot_page_hgrm_and_junit_of_a_copied_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_run(LEGACY, tmp.path());
    fs::remove_file(dir.join("latency.hgrm")).unwrap();
    let o = harness(&["report", s(&dir)]);
    assert!(o.status.success(), "{o:?}");
    // The hgrm is rebuilt from requests.csv exactly as the run wrote it.
    assert_eq!(
        fs::read_to_string(dir.join("latency.hgrm")).unwrap(),
        fs::read_to_string(fixture(LEGACY).join("latency.hgrm")).unwrap()
    );
    let png = fs::read(dir.join("plot.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(fs::read_to_string(dir.join("plot.svg"))
        .unwrap()
        .contains("<svg"));
    let page = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.contains(">PASS</div>"), "verdict first");
    assert!(page.find("id=\"verdict\"") < page.find("id=\"plot\""));
    assert!(page.contains("No request was disrupted</b>: all 81 requests"));
    assert!(page.contains("READY -&gt; DRAINING [OPEN -&gt; DRAINING]"));
    assert!(page.contains("DRAINING -&gt; DRAINED_WAIT_LB [DRAINING -&gt; CLOSING]"));
    assert!(page.contains("<b>Mode graceful:</b> preStop runs the Rust drain"));
    assert!(page.contains("<a href=\"logs/haproxy.log\">"));
    // The CSVs and summary are left as they were.
    for f in [
        "requests.csv",
        "timeline.csv",
        "samples.csv",
        "summary.json",
    ] {
        assert_eq!(
            fs::read(dir.join(f)).unwrap(),
            fs::read(fixture(LEGACY).join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(junit_counts(&dir.join("junit.xml")), (3, 0, 0));
}

/// A killed harness leaves `.part` CSVs (maybe a half row) and either no
/// summary or the one written at the start (interrupted, nothing counted).
#[rstest]
#[case::no_summary(false)]
#[case::initial_summary(true)]
fn report_of_a_killed_run_counts_the_parts_and_says_interrupted(#[case] keep_summary: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_run(LEGACY, tmp.path());
    for f in ["requests.csv", "timeline.csv", "samples.csv"] {
        fs::rename(dir.join(f), dir.join(format!("{f}.part"))).unwrap();
    }
    for f in ["latency.hgrm", "latency-uncorrected.hgrm"] {
        fs::remove_file(dir.join(f)).unwrap();
    }
    // Cut the last request row in half.
    let part = dir.join("requests.csv.part");
    let text = fs::read_to_string(&part).unwrap();
    let rows = text.lines().count() - 1;
    fs::write(&part, &text[..text.len() - 40]).unwrap();
    if keep_summary {
        edit_summary(&dir, |v| {
            v["interrupted"] = true.into();
            v["verdict"] = "interrupted".into();
            v["requests"] = 0.into();
            v["disruptions"] = 0.into();
            v["latency_ms"] = serde_json::json!({"corrected": null, "uncorrected": null});
            v["expectations"] = serde_json::json!([]);
            v["ended_at"] = Value::Null;
            v["wall_s"] = Value::Null;
        });
    } else {
        fs::remove_file(dir.join("summary.json")).unwrap();
    }
    let before = fs::read(&part).unwrap();
    let o = harness(&["report", s(&dir)]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("verdict interrupted"), "{}", stdout(&o));
    assert_eq!(fs::read(&part).unwrap(), before, "the .part is not touched");
    let v = json(&dir.join("summary.json"));
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["verdict"], "interrupted");
    assert_eq!(v["requests"], (rows - 1) as u64, "complete rows only");
    assert_eq!(v["outcomes"]["ok"], (rows - 1) as u64);
    assert!(v["latency_ms"]["corrected"]["p50"].as_f64().unwrap() > 0.0);
    assert_eq!(v["scenario"], "quick");
    assert_eq!(v["mode"], "graceful");
    assert_eq!(v["naming"], "legacy");
    assert!(dir.join("latency.hgrm").is_file());
    assert!(dir.join("plot.png").is_file());
    let page = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.contains(">INTERRUPTED</div>"));
    assert!(page.contains(&format!("all {} requests completed ok", rows - 1)));
    let (cases, failures, errors) = junit_counts(&dir.join("junit.xml"));
    assert_eq!((failures, errors), (0, 1), "{cases} cases");
}

#[test]
fn report_names_a_folder_that_is_not_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let o = harness(&["report", s(tmp.path())]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not a run folder") && err.contains(s(tmp.path())),
        "{err}"
    );
}

#[test]
fn compare_maps_legacy_and_gate_runs_to_one_table() {
    let o = harness(&["compare", s(&fixture(LEGACY)), s(&fixture(GATE))]);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    for legacy in ["READY", "DRAINED_WAIT_LB", "TERMINATING"] {
        assert!(!out.contains(legacy), "{legacy} in\n{out}");
    }
    assert_eq!(row(&out, "naming (as recorded)"), ["legacy", "gate"]);
    assert_eq!(
        row(&out, "hc states (gate names)"),
        ["OPEN>DRAINING>CLOSING", "OPEN>DRAINING>CLOSING"]
    );
    for label in [
        "  DRAINING after terminating s",
        "  CLOSING after terminating s",
    ] {
        let cells = row(&out, label);
        assert_eq!(cells.len(), 2, "{out}");
        for c in cells {
            let secs: f64 = c.parse().unwrap_or_else(|_| panic!("{label}: {c}\n{out}"));
            assert!((0.0..30.0).contains(&secs), "{label}: {secs}");
        }
    }
    assert_eq!(row(&out, "verdict"), ["PASS", "PASS"]);
    assert_eq!(row(&out, "disruptions"), ["0", "0"]);
    assert_eq!(row(&out, "requests"), ["81", "81"]);
    for label in [
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "drain (preStop) s",
        "wall time s",
    ] {
        assert_eq!(row(&out, label).len(), 2, "{label}\n{out}");
    }
    let lb = row(&out, "LB detection (close-lb -> DOWN) s");
    assert!(lb.iter().all(|c| c.parse::<f64>().is_ok()), "{lb:?}");
    assert!(out.contains("no regression"), "{out}");
}

#[test]
fn compare_writes_a_page_with_both_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let a = copy_run(LEGACY, tmp.path());
    let b = copy_run(GATE, tmp.path());
    let page = tmp.path().join("cmp.html");
    let o = harness(&["compare", s(&a), s(&b), "--html", s(&page)]);
    assert!(o.status.success(), "{o:?}");
    let html = fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<svg").count(), 2, "both plots inline");
    assert!(html.contains("OPEN&gt;DRAINING&gt;CLOSING"));
    assert!(!html.contains("DRAINED_WAIT_LB<"));
}

#[rstest]
#[case::same("base", true, &[], 0)]
#[case::more_disruptions("worse", true, &[], 1)]
#[case::more_disruptions_without_flag("worse", false, &[], 0)]
#[case::slower_p99("slow", true, &[], 1)]
#[case::slower_p99_within_a_wider_tolerance("slow", true, &["--p99-tolerance-pct", "100"], 0)]
#[case::fewer_disruptions("better", true, &[], 0)]
fn fail_on_regression_exit_codes(
    #[case] b: &str,
    #[case] flag: bool,
    #[case] extra: &[&str],
    #[case] code: i32,
) {
    let tmp = tempfile::tempdir().unwrap();
    let base = copy_run(GATE, &tmp.path().join("a"));
    let other = copy_run(GATE, &tmp.path().join("b"));
    let p99 = json(&base.join("summary.json"))["latency_ms"]["corrected"]["p99"]
        .as_f64()
        .unwrap();
    // "better": the baseline had the disruptions, the later run has none.
    let (baseline, changed) = (&base, &other);
    match b {
        "worse" | "better" => edit_summary(if b == "worse" { changed } else { baseline }, |v| {
            v["disruptions"] = 2.into();
            v["outcomes"]["reset"] = 2.into();
        }),
        // Just past the default tolerance: p99 × 1.5 + 5 ms.
        "slow" => edit_summary(changed, |v| {
            v["latency_ms"]["corrected"]["p99"] = (p99 * 1.5 + 5.0 + 1.0).into();
        }),
        _ => {}
    }
    let mut args = vec!["compare", s(baseline), s(changed)];
    if flag {
        args.push("--fail-on-regression");
    }
    args.extend_from_slice(extra);
    let o = harness(&args);
    assert_eq!(o.status.code(), Some(code), "{o:?}");
    let out = stdout(&o);
    let regressed = matches!(b, "worse" | "slow") && extra.is_empty();
    assert_eq!(out.contains("REGRESSION"), regressed, "{out}");
    if b == "worse" {
        assert!(out.contains("disruptions 2 > 0"), "{out}");
        assert_eq!(row(&out, "  reset"), ["0", "2"]);
    }
}

#[test]
fn compare_needs_two_runs() {
    let o = harness(&["compare", s(&fixture(GATE))]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn runs_lists_newest_first_and_skips_what_is_not_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mk = |src: &str, name: &str, started: &str| {
        let dir = root.join(name);
        copy_dir(&fixture(src), &dir);
        edit_summary(&dir, |v| v["started_at"] = started.into());
    };
    mk(GATE, "20260101T000000Z-s1-current", "2026-01-01T00:00:00Z");
    mk(
        LEGACY,
        "20260301T000000Z-s1-graceful",
        "2026-03-01T00:00:00Z",
    );
    mk(
        GATE,
        "20260301T000000Z-s1-graceful-2",
        "2026-03-01T00:00:00Z",
    );
    mk(
        GATE,
        "20260201T000000Z-quick-graceful",
        "2026-02-01T00:00:00Z",
    );
    // A killed run with no summary, a folder and a file that are not runs.
    let killed = root.join("20260401T000000Z-s9-current");
    fs::create_dir_all(&killed).unwrap();
    fs::copy(
        fixture(GATE).join("requests.csv"),
        killed.join("requests.csv.part"),
    )
    .unwrap();
    fs::create_dir_all(root.join("notes")).unwrap();
    fs::write(root.join("junit-s1-20260101T000000Z.xml"), "<testsuites/>").unwrap();

    let o = harness(&["runs", "--artifacts", s(root)]);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("time (UTC)"), "{out}");
    let folders: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        folders,
        [
            "20260401T000000Z-s9-current",
            "20260301T000000Z-s1-graceful-2",
            "20260301T000000Z-s1-graceful",
            "20260201T000000Z-quick-graceful",
            "20260101T000000Z-s1-current",
        ],
        "{out}"
    );
    let cols = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    // time (2 words), scenario, mode, runtime, naming, verdict, disruptions, folder
    assert_eq!(&cols(1)[2..8], ["s9", "current", "?", "?", "NO", "SUMMARY"]);
    assert_eq!(
        &cols(3)[2..8],
        ["quick", "graceful", "local", "legacy", "PASS", "0"]
    );
    assert_eq!(&cols(2)[..2], ["2026-03-01", "00:00:00"]);
}

#[test]
fn scenario_junit_has_a_suite_per_mode_and_is_well_formed() {
    use harness::artifacts::junit::{write_scenario_at, ModeResult};
    use harness::artifacts::Summary;
    let tmp = tempfile::tempdir().unwrap();
    let mut failing = Summary::read(&fixture(GATE)).unwrap();
    failing.mode = "current".into();
    failing.expectations[1].ok = false;
    failing.expectations[1].detail = "2 disruptions <long-0 & \"steady-3\">\u{7}".into();
    let passing = Summary::read(&fixture(LEGACY)).unwrap();
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .unwrap()
        .to_utc();
    let (gate_dir, legacy_dir) = (fixture(GATE), fixture(LEGACY));
    let results = vec![
        (
            "current".to_string(),
            ModeResult::Ran(&failing, gate_dir.as_path()),
        ),
        (
            "graceful".to_string(),
            ModeResult::Ran(&passing, legacy_dir.as_path()),
        ),
        (
            "stress".to_string(),
            ModeResult::Failed("no <stress> mode & co".into()),
        ),
    ];
    let a = write_scenario_at(tmp.path(), "quick", &results, t).unwrap();
    let b = write_scenario_at(tmp.path(), "quick", &results, t).unwrap();
    assert_eq!(a.file_name().unwrap(), "junit-quick-20261125T120000Z.xml");
    assert_eq!(b.file_name().unwrap(), "junit-quick-20261125T120000Z-2.xml");
    assert_eq!(junit_counts(&a), (3 + 3 + 1, 1, 1));
    let xml = fs::read_to_string(&a).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 3);
    assert!(xml.contains("name=\"quick/current\""));
}
