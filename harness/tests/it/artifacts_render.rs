//! The artifacts of `artifacts`'s synthetic s1-like run rendered: plots,
//! report, latency.hgrm and summary, also from a killed run's `.part` files.

use std::fs;
use std::path::Path;

use harness::artifacts::{
    names, plot_png, plot_svg, write_report, DrainStep, LatencyStats, RequestsWriter, RunDir,
    Summary, Tally,
};
use harness::model::{Attribution, Outcome, RequestKind, Source};

use crate::artifacts::{request, synthetic_run};

#[test]
fn a_synthetic_run_renders_plots_and_report() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create(root.path(), "s1", "current").unwrap();
    let dir = run.path();
    let (reqs, timeline, _) = synthetic_run(dir);
    fs::write(
        dir.join(names::SCENARIO),
        "id = \"s1\"\n[load]\nrate = 50 # <b>not html</b>\n",
    )
    .unwrap();
    fs::write(run.logs_dir().join("haproxy.log"), "x\n").unwrap();
    let mut tally = Tally::new();
    reqs.iter().for_each(|r| tally.record(r));
    let mut s = Summary::new("s1", "current", &run.run_id(), chrono::Utc::now());
    tally.apply_to(&mut s);
    s.interrupted = false;
    s.runtime = Some(harness::model::RuntimeKind::Local);
    s.runtime_reason = "no docker engine answered".into();
    s.versions.insert("haproxy".into(), "2.6.12".into());
    s.drain.steps = timeline
        .iter()
        .filter(|e| e.source == Source::Drain)
        .map(|e| DrainStep {
            step: e.kind.to_string(),
            t_ms: e.t_ms,
        })
        .collect();
    s.drain.close_lb_to_down_ms = Some(4000.0);
    for r in reqs.iter().filter(|r| r.outcome.is_disruption()) {
        s.attributions.push(Attribution {
            request_id: r.id.clone(),
            outcome: r.outcome,
            t_ms: r.end_ms,
            cause: Some("haproxy server_down pod-a".into()),
            cause_t_ms: Some(9900.0),
            delta_ms: Some(r.end_ms - 9900.0),
            pod: r.pod.clone(),
            evidence: harness::model::EvidenceKind::Inferred,
        });
    }
    s.decide_verdict();
    s.write(dir).unwrap();
    tally.latency.write_hgrm(&dir.join(names::HGRM)).unwrap();
    assert!(s.disruptions >= 4, "{}", s.disruptions);
    assert_eq!(s.outcomes.len(), Outcome::ALL.len());

    let svg_path = plot_svg(dir).unwrap();
    let svg = fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    for label in [
        "pod-a server_down",
        "pod-a sigterm",
        "pod-a close-lb",
        "http_5xx (",
        "reset (1)",
        "pod-a hc",
        "pod-b lb",
    ] {
        assert!(svg.contains(label), "plot lacks {label:?}");
    }
    let png_path = plot_png(dir).unwrap();
    let png = fs::read(&png_path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "{}", png.len());

    let html_path = write_report(dir).unwrap();
    let html = fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg"), "plot not inline");
    assert!(html.contains("FAIL") || html.contains("PASS"), "no verdict");
    assert!(
        html.contains("&lt;b&gt;not html&lt;/b&gt;"),
        "scenario.toml not escaped"
    );
    assert!(
        html.contains("href=\"logs/haproxy.log\""),
        "no link to the log"
    );
    assert!(html.contains("haproxy server_down pod-a"), "no attribution");
    // Nothing to fetch: the only URL is the SVG namespace, which is a name.
    let no_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !no_ns.contains("http://") && !no_ns.contains("https://"),
        "network reference in report"
    );
    assert!(!html.contains("<script"), "script in report");
    if let Ok(keep) = std::env::var("ARTIFACTS_TEST_KEEP") {
        for n in [
            names::PLOT_SVG,
            names::PLOT_PNG,
            names::REPORT,
            names::HGRM,
            names::SUMMARY,
        ] {
            fs::copy(dir.join(n), Path::new(&keep).join(n)).unwrap();
        }
    }
}

#[test]
fn a_killed_run_still_plots_and_reports_from_part_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = RequestsWriter::create(tmp.path()).unwrap();
    w.write(&request(
        1,
        RequestKind::Steady,
        "pod-a",
        10.0,
        3.0,
        Outcome::Ok,
    ))
    .unwrap();
    w.write(&request(
        2,
        RequestKind::Long,
        "pod-a",
        15.0,
        300.0,
        Outcome::Reset,
    ))
    .unwrap();
    w.flush().unwrap(); // the records sink flushes every 20 ms
    std::mem::forget(w);
    let mut s = Summary::new("s1", "graceful", "x", chrono::Utc::now());
    s.notes.push("interrupted by Ctrl-C".into());
    s.write(tmp.path()).unwrap();
    plot_svg(tmp.path()).unwrap();
    plot_png(tmp.path()).unwrap();
    let html = fs::read_to_string(write_report(tmp.path()).unwrap()).unwrap();
    assert!(html.contains("INTERRUPTED"), "verdict missing");
    assert!(
        html.contains("requests.csv.part"),
        "link to the part file missing"
    );
    // An empty folder: still a plot and a page, nothing panics.
    let empty = tempfile::tempdir().unwrap();
    plot_svg(empty.path()).unwrap();
    write_report(empty.path()).unwrap();
}

#[test]
fn latency_stats_count_only_ok_requests() {
    let mut l = LatencyStats::new();
    assert!(l.record(&request(1, RequestKind::Steady, "a", 0.0, 5.0, Outcome::Ok)));
    assert!(!l.record(&request(
        2,
        RequestKind::Steady,
        "a",
        0.0,
        5.0,
        Outcome::Http5xx
    )));
    assert_eq!(l.len(), 1);
}
