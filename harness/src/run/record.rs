//! Record: a judged run's derived artifacts (latency.hgrm, plot.svg/png,
//! report.html, junit.xml), then summary.json, written once with every
//! note those left. requests.csv is read once, streamed into a
//! `RequestsDigest` (memory bounded by the disruptions, not the rows).
//!
//! Writes only inside the run folder; never changes a verdict. A failed
//! artifact becomes a note, never a lost summary.

use std::fmt::Display;

use crate::artifacts::plot::{write_png, write_svg, PlotData};
use crate::artifacts::{self, names, RequestsDigest, RunDir, Summary};

use super::judge::Judged;

/// Writes the run's derived artifacts and its final summary.json.
pub fn record(dir: &RunDir, judged: Judged) -> anyhow::Result<Summary> {
    let mut s = judged.summary;
    s.end(chrono::Utc::now());
    let p = dir.path();
    let digest = noted(&mut s, names::REQUESTS, RequestsDigest::read_if_any(p)).flatten();
    if let Some(d) = &digest {
        let lat = &d.tally.latency;
        noted(&mut s, names::HGRM, lat.write_hgrm(&dir.file(names::HGRM)));
        let uncorrected = dir.file(names::HGRM_UNCORRECTED);
        noted(
            &mut s,
            names::HGRM_UNCORRECTED,
            lat.write_hgrm_uncorrected(&uncorrected),
        );
    }
    let had_requests = digest.is_some();
    let data = noted(
        &mut s,
        names::PLOT_SVG,
        PlotData::with_requests(p, digest.unwrap_or_default()),
    );
    if let Some(data) = data {
        noted(&mut s, names::PLOT_SVG, write_svg(p, &data));
        noted(&mut s, names::PLOT_PNG, write_png(p, &data));
        let requests = had_requests.then_some(&data.requests);
        let report = artifacts::write_report_for(p, &s, requests);
        noted(&mut s, names::REPORT, report);
    }
    let junit = artifacts::junit::write_run(p, &s);
    noted(&mut s, "junit.xml", junit);
    artifacts::note_size_limit(p, &mut s.notes);
    s.write(p)?;
    Ok(s)
}

/// The value of `r`, or `None` with a note in the summary naming `what`.
fn noted<T, E: Display>(s: &mut Summary, what: &str, r: Result<T, E>) -> Option<T> {
    r.map_err(|e| s.notes.push(format!("{what}: {e}"))).ok()
}
