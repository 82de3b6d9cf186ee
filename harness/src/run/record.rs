//! Record: a judged run's derived artifacts (latency.hgrm, plot.svg/png,
//! report.html, junit.xml), then summary.json, written once with every
//! note those left.
//!
//! Writes only inside the run folder; never changes a verdict. A failed
//! artifact becomes a note, never a lost summary.

use crate::artifacts::{self, RunDir, Summary};

use super::judge::Judged;

/// Writes the run's derived artifacts and its final summary.json.
pub fn record(dir: &RunDir, judged: Judged) -> anyhow::Result<Summary> {
    let mut summary = judged.summary;
    summary.end(chrono::Utc::now());
    let p = dir.path();
    match artifacts::read_requests(p) {
        Ok(reqs) => {
            let mut lat = artifacts::LatencyStats::new();
            for r in &reqs {
                lat.record(r);
            }
            let hgrm = [
                (
                    artifacts::names::HGRM,
                    lat.write_hgrm(&dir.file(artifacts::names::HGRM)),
                ),
                (
                    artifacts::names::HGRM_UNCORRECTED,
                    lat.write_hgrm_uncorrected(&dir.file(artifacts::names::HGRM_UNCORRECTED)),
                ),
            ];
            for (name, r) in hgrm {
                if let Err(e) = r {
                    summary.notes.push(format!("{name}: {e}"));
                }
            }
        }
        Err(e) => summary.notes.push(format!("latency.hgrm: {e}")),
    }
    if let Err(e) = artifacts::plot_svg(p) {
        summary.notes.push(format!("plot.svg: {e}"));
    }
    if let Err(e) = artifacts::plot_png(p) {
        summary.notes.push(format!("plot.png: {e}"));
    }
    if let Err(e) = artifacts::write_report_for(p, &summary) {
        summary.notes.push(format!("report.html: {e}"));
    }
    if let Err(e) = artifacts::junit::write_run(p, &summary) {
        summary.notes.push(format!("junit.xml: {e}"));
    }
    artifacts::note_size_limit(p, &mut summary.notes);
    summary.write(p)?;
    Ok(summary)
}
