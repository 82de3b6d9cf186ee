//! A run's artifacts: the run folder, the streaming CSV writers and their
//! readers, the requests' one-pass aggregates (`digest`, `band`), the
//! latency histograms (`latency.hgrm`), `summary.json`, the plot
//! (`plot.svg`, `plot.png`) and the one-page `report.html`.
//!
//! Everything here reads or writes files of one run folder; it never starts
//! processes, never talks to the network and never decides what a run means
//! (attribution and verdicts are computed elsewhere and only recorded here).

pub mod band;
pub mod csv;
pub mod derived;
pub mod digest;
pub mod hgrm;
pub mod junit;
pub mod plot;
pub mod report;
pub mod rundir;
pub mod summary;
pub mod tally;

use std::path::{Path, PathBuf};

pub use self::csv::{
    read_requests, read_samples, read_timeline, requests, RequestsWriter, SamplesWriter,
    TimelineWriter,
};
pub use digest::RequestsDigest;
pub use hgrm::{LatencyMs, LatencyStats, Percentiles};
pub use plot::{plot_png, plot_svg};
pub use report::{write_report, write_report_for};
pub use rundir::{write_atomic, RunDir};
pub use summary::{
    Coverage, DrainStep, DrainSummary, EntryAccount, ExpectationResult, Summary, Verdict,
};
pub use tally::Tally;

/// File names inside a run folder (DESIGN §3.7).
pub mod names {
    pub const SCENARIO: &str = "scenario.toml";
    pub const REQUESTS: &str = "requests.csv";
    pub const TIMELINE: &str = "timeline.csv";
    pub const SAMPLES: &str = "samples.csv";
    pub const HGRM: &str = "latency.hgrm";
    /// The uncorrected (from the actual send time) distribution, beside `latency.hgrm`.
    pub const HGRM_UNCORRECTED: &str = "latency-uncorrected.hgrm";
    pub const SUMMARY: &str = "summary.json";
    pub const PLOT_SVG: &str = "plot.svg";
    pub const PLOT_PNG: &str = "plot.png";
    pub const REPORT: &str = "report.html";
    pub const CONFIG_DIR: &str = "config";
    pub const LOGS_DIR: &str = "logs";
}

/// This process's soft file size limit (`RLIMIT_FSIZE`), from
/// `/proc/self/limits`; `None` when unlimited or unknown.
pub fn file_size_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max file size"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Adds a note (and prints a warning) for every file of the run folder
/// that reached the file size limit: its later content was lost.
pub fn note_size_limit(run_dir: &Path, notes: &mut Vec<String>) {
    let Some(limit) = file_size_limit() else {
        return;
    };
    let mut stack = vec![run_dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) if m.len() >= limit => {
                    let name = p.strip_prefix(run_dir).unwrap_or(&p).display().to_string();
                    let note = format!(
                        "{name}: cut at the file size limit (RLIMIT_FSIZE {limit} bytes); what came later is lost"
                    );
                    eprintln!("harness: warning: {}: {note}", run_dir.display());
                    notes.push(note);
                }
                _ => {}
            }
        }
    }
}

/// Everything that can go wrong while writing or reading artifacts. Every
/// variant names the file or folder it is about.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactsError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("artifacts folder {path} is not writable: {source}")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {what} {value:?}: only 1 to 100 letters, digits, '_', '.', '-' are allowed, and it must not start with '.'")]
    InvalidName { what: &'static str, value: String },
    #[error("no free run folder name for {base} (tried {tries} suffixes)")]
    NoFreeName { base: PathBuf, tries: u32 },
    #[error("csv {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: ::csv::Error,
    },
    #[error("csv {path} line {line}: {detail}")]
    BadRow {
        path: PathBuf,
        line: u64,
        detail: String,
    },
    #[error("{path}: neither it nor {path}.part exists")]
    Missing { path: PathBuf },
    #[error("json {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("histogram: {0}")]
    Histogram(String),
    #[error("plot {path}: {detail}")]
    Plot { path: PathBuf, detail: String },
}

impl ArtifactsError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        ArtifactsError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}
