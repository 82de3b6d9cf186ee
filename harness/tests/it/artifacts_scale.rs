//! The artifacts at scale, on real files: run folders written by
//! `harness synth-requests`' generator, rebuilt by the real `harness
//! report`, checked against straightforward counts of the CSV's lines.
//! No timing here (speed and memory are in `scripts/bench-artifacts.sh`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use harness::artifacts::band::MAX_BUCKETS;
use harness::artifacts::{names, RequestsDigest};
use harness::commands::synth::{write, Synth};
use rstest::rstest;
use serde_json::Value;

fn synth(dir: &Path, rows: u64, disruptions: u64) {
    let s = Synth {
        rows,
        disruptions,
        rate: 2000.0,
    };
    let w = write(dir, &s).unwrap();
    assert_eq!(w.tally.requests, rows);
    assert_eq!(
        w.tally.disruptions, disruptions,
        "the generator's own count"
    );
}

fn report(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("report")
        .arg(dir)
        .env_remove("LAB_ARTIFACTS")
        .output()
        .expect("harness binary runs");
    assert!(
        out.status.success(),
        "harness report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

/// Every `<circle` of the SVG (the disruption points are its only circles).
fn circles(svg: &str) -> usize {
    svg.matches("<circle").count()
}

/// `<rect` elements filled with the ok colour (the band's shades and its
/// two legend squares).
fn band_rects(svg: &str) -> usize {
    svg.split("<rect")
        .skip(1)
        .filter(|r| {
            let tag = &r[..r.find('>').unwrap_or(r.len())];
            tag.contains("fill=\"#5A82BE\"")
        })
        .count()
}

#[rstest]
#[case::none(0)]
#[case::a_few(7)]
#[case::dense_on_the_same_pixels(2000)]
fn the_plot_has_one_point_per_disruption_and_a_band(#[case] n: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    synth(&dir, 20_000, n);
    report(&dir);
    let svg = fs::read_to_string(dir.join(names::PLOT_SVG)).unwrap();
    assert_eq!(circles(&svg), n as usize, "one circle per disruption");
    let buckets = RequestsDigest::read(&dir).unwrap().band.buckets().len();
    assert!(buckets > 100 && buckets <= MAX_BUCKETS, "{buckets}");
    // Two shades per bucket (p50-p99, p99-max) and their two legend squares.
    assert_eq!(band_rects(&svg), 2 * buckets + 2, "the band");
    let legend = format!("reset ({})", n - n / 3);
    assert!(svg.contains(&legend), "plot lacks {legend:?}");
    let ok = format!("ok ({}): p50", 20_000 - n);
    assert!(svg.contains(&ok), "plot lacks {ok:?}");
}

/// The straightforward count: every line of requests.csv split on commas
/// (the generator writes no quoted field), counted by the outcome column.
fn count_lines(csv: &Path) -> (u64, BTreeMap<String, u64>, Vec<f64>, Vec<String>) {
    let text = fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (outcome, intended, end, id) =
        (col("outcome"), col("intended_ms"), col("end_ms"), col("id"));
    let mut n = 0;
    let mut by = BTreeMap::new();
    let mut ok_latency = Vec::new();
    let mut bad = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        n += 1;
        *by.entry(f[outcome].to_string()).or_insert(0) += 1;
        if f[outcome] == "ok" {
            let lat = f[end].parse::<f64>().unwrap() - f[intended].parse::<f64>().unwrap();
            ok_latency.push(lat);
        } else {
            bad.push(f[id].to_string());
        }
    }
    ok_latency.sort_by(f64::total_cmp);
    (n, by, ok_latency, bad)
}

fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// A run of many rows whose summary.json is gone: `harness report`
/// recounts it from requests.csv (streamed) and its numbers equal the
/// straightforward count; the same from a killed run's `.part`, cut in the
/// middle of a row.
#[rstest]
#[case::finished(false)]
#[case::killed(true)]
fn a_report_of_many_rows_equals_a_straightforward_count(#[case] killed: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    synth(&dir, 300_000, 45);
    fs::remove_file(dir.join(names::SUMMARY)).unwrap();
    let csv = dir.join(names::REQUESTS);
    if killed {
        let mut bytes = fs::read(&csv).unwrap();
        bytes.extend_from_slice(b"steady-300000,steady,GET,/,pod-a,1,tr");
        fs::write(dir.join("requests.csv.part"), bytes).unwrap();
        fs::remove_file(&csv).unwrap();
    }
    let (n, by, ok_latency, bad) = count_lines(&if killed {
        // The straightforward count of what was complete.
        let keep = dir.join("complete.csv");
        let text = fs::read_to_string(dir.join("requests.csv.part")).unwrap();
        fs::write(&keep, &text[..=text.rfind('\n').unwrap()]).unwrap();
        keep
    } else {
        csv.clone()
    });
    assert_eq!(n, 300_000);
    report(&dir);
    let s = json(&dir.join(names::SUMMARY));
    assert_eq!(s["requests"], n);
    for (outcome, count) in &by {
        assert_eq!(s["outcomes"][outcome], *count, "{outcome}");
    }
    let disrupted: u64 = by.iter().filter(|(o, _)| *o != "ok").map(|(_, c)| c).sum();
    assert_eq!(s["disruptions"], disrupted);
    assert_eq!(disrupted, 45);
    let lat = &s["latency_ms"]["corrected"];
    assert_eq!(lat["count"], ok_latency.len() as u64);
    for (key, q) in [("p50", 0.5), ("p99", 0.99)] {
        let want = exact_quantile(&ok_latency, q);
        let got = lat[key].as_f64().unwrap();
        // 3 significant digits, microsecond units.
        assert!(
            (got - want).abs() <= want * 0.001 + 0.002,
            "{key}: {got} vs {want}"
        );
    }
    // summary.json was gone: the rebuilt one cannot know the verdict.
    assert_eq!(s["verdict"], "interrupted");
    let hgrm = fs::read_to_string(dir.join(names::HGRM)).unwrap();
    let total = format!("Total count    = {:>12}]", ok_latency.len());
    assert!(hgrm.contains(&total), "{hgrm}");
    let html = fs::read_to_string(dir.join(names::REPORT)).unwrap();
    for id in &bad {
        assert!(
            html.contains(&format!("<td>{id}</td>")),
            "{id} not in the report"
        );
    }
    assert!(
        html.contains("45 of 300000 requests were disrupted"),
        "what happened"
    );
}

/// requests.csv written before the `phase` column existed still loads: the
/// report of such a file counts exactly what the same rows count with it.
#[test]
fn an_old_requests_csv_without_phase_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    synth(&dir, 50_000, 12);
    let csv = dir.join(names::REQUESTS);
    let new = fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = new.lines().next().unwrap().split(',').collect();
    let phase = header.iter().position(|h| *h == "phase").unwrap();
    let old: String = new
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(phase);
            f.join(",") + "\n"
        })
        .collect();
    assert!(!old.lines().next().unwrap().contains("phase"));
    let with = RequestsDigest::read(&dir).unwrap();
    fs::write(&csv, old).unwrap();
    fs::remove_file(dir.join(names::SUMMARY)).unwrap();
    let without = RequestsDigest::read(&dir).unwrap();
    assert_eq!(without.tally.outcomes, with.tally.outcomes);
    assert_eq!(without.disrupted.len(), 12);
    assert!(without.disrupted.iter().all(|r| r.phase.is_none()));
    assert!(with.disrupted.iter().any(|r| r.phase.is_some()));
    report(&dir);
    let s = json(&dir.join(names::SUMMARY));
    assert_eq!(s["requests"], 50_000);
    assert_eq!(s["disruptions"], 12);
    let svg = fs::read_to_string(dir.join(names::PLOT_SVG)).unwrap();
    assert_eq!(circles(&svg), 12);
}

/// The plot's size does not grow with the ok requests: 20 times the rows,
/// the same elements (give or take the band's buckets), under 2 MB.
#[test]
fn the_plot_does_not_grow_with_ok_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let (small, big) = (tmp.path().join("small"), tmp.path().join("big"));
    synth(&small, 10_000, 30);
    synth(&big, 200_000, 30);
    report(&small);
    report(&big);
    let size = |d: &Path| fs::metadata(d.join(names::PLOT_SVG)).unwrap().len();
    let (a, b) = (size(&small), size(&big));
    assert!(b < 2_000_000, "plot.svg of 200,000 rows is {b} bytes");
    assert!(
        b < a * 2,
        "plot.svg grew from {a} to {b} bytes with 20x the rows"
    );
    let page = fs::metadata(big.join(names::REPORT)).unwrap().len();
    assert!(page < 2_000_000, "report.html is {page} bytes");
}
