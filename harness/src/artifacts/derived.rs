//! The files derived from a run folder and its summary, in one place for a
//! run's own record and `harness report`: latency.hgrm (both, when
//! missing), plot.svg and plot.png, report.html, junit.xml.
//!
//! Writes only inside the run folder; it never writes summary.json nor
//! changes a verdict.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::plot::{write_png, write_svg, PlotData};
use super::{junit, names, write_report_for, ArtifactsError, RequestsDigest, Summary};

/// What a failed derived file does to the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// A note in the summary, and the next file (a run's own record: a
    /// failed artifact never costs the summary).
    Note,
    /// The error, at once (`harness report`).
    Stop,
}

/// Writes every derived file of `dir` from `s` and `requests` (requests.csv
/// digested; `None`: the run has none); returns the files written. With
/// [`OnFailure::Note`] it never fails: each failure is a note in `s`, seen
/// by the files written after it.
pub fn write_derived(
    dir: &Path,
    s: &mut Summary,
    requests: Option<RequestsDigest>,
    on_failure: OnFailure,
) -> Result<Vec<PathBuf>, ArtifactsError> {
    let mut w = Written {
        s,
        on_failure,
        files: Vec::new(),
    };
    let hgrm = dir.join(names::HGRM);
    if let Some(d) = requests.as_ref().filter(|_| !hgrm.is_file()) {
        let lat = &d.tally.latency;
        let r = lat.write_hgrm(&hgrm).map(|()| hgrm.clone());
        w.file(names::HGRM, r)?;
        let uncorrected = dir.join(names::HGRM_UNCORRECTED);
        let r = lat
            .write_hgrm_uncorrected(&uncorrected)
            .map(|()| uncorrected);
        w.file(names::HGRM_UNCORRECTED, r)?;
    }
    let had_requests = requests.is_some();
    let data = PlotData::with_requests(dir, requests.unwrap_or_default());
    if let Some(data) = w.take(names::PLOT_SVG, data)? {
        w.file(names::PLOT_SVG, write_svg(dir, &data))?;
        w.file(names::PLOT_PNG, write_png(dir, &data))?;
        let report = write_report_for(dir, w.s, had_requests.then_some(&data.requests));
        w.file(names::REPORT, report)?;
    }
    let r = junit::write_run(dir, w.s);
    w.file(junit::RUN_JUNIT, r)?;
    Ok(w.files)
}

/// The files written so far, and where a failure goes.
struct Written<'a> {
    s: &'a mut Summary,
    on_failure: OnFailure,
    files: Vec<PathBuf>,
}

impl Written<'_> {
    /// The value of `r`; a failure is noted naming `what` (`Ok(None)`) or
    /// returned, as `on_failure` says.
    fn take<T, E: Display + Into<ArtifactsError>>(
        &mut self,
        what: &str,
        r: Result<T, E>,
    ) -> Result<Option<T>, ArtifactsError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if self.on_failure == OnFailure::Note => {
                self.s.notes.push(format!("{what}: {e}"));
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn file(
        &mut self,
        what: &str,
        r: Result<PathBuf, ArtifactsError>,
    ) -> Result<(), ArtifactsError> {
        if let Some(p) = self.take(what, r)? {
            self.files.push(p);
        }
        Ok(())
    }
}
