//! Record: a judged run's derived artifacts (latency.hgrm, plot.svg/png,
//! report.html, junit.xml), then summary.json, written once with every
//! note those left. requests.csv is read once, streamed into a
//! `RequestsDigest` (memory bounded by the disruptions, not the rows).
//!
//! Writes only inside the run folder; never changes a verdict. A failed
//! artifact becomes a note, never a lost summary.

use crate::artifacts::derived::{write_derived, OnFailure};
use crate::artifacts::{self, names, RequestsDigest, RunDir, Summary};

use super::judge::Judged;

/// Writes the run's derived artifacts and its final summary.json.
pub fn record(dir: &RunDir, judged: Judged) -> anyhow::Result<Summary> {
    let mut s = judged.summary;
    s.end(chrono::Utc::now());
    let p = dir.path();
    let digest = match RequestsDigest::read_if_any(p) {
        Ok(d) => d,
        Err(e) => {
            s.notes.push(format!("{}: {e}", names::REQUESTS));
            None
        }
    };
    write_derived(p, &mut s, digest, OnFailure::Note)?;
    artifacts::note_size_limit(p, &mut s.notes);
    s.write(p)?;
    Ok(s)
}
