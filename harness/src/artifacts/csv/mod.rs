//! Streaming writers of `requests.csv`, `timeline.csv` and `samples.csv`
//! (and, in [`read`], their streaming readers).
//!
//! A writer holds nothing in memory: each row goes to `<name>.part` and is
//! flushed at once, so a killed run keeps every row it recorded; `finish()`
//! renames the file to its final name. Nothing here interprets the rows.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::rundir::persist_rename;
use super::{names, ArtifactsError};
use crate::model::{Event, RequestRecord, Sample};

mod read;
pub use read::{
    existing_csv, parse_outcome, read_requests, read_samples, read_timeline, requests, CsvRows,
};

/// The columns of `requests.csv`, in order.
pub const REQUESTS_HEADER: [&str; 20] = [
    "id",
    "kind",
    "method",
    "path",
    "pod",
    "conn_id",
    "reused",
    "intended_ms",
    "sent_ms",
    "ttfb_ms",
    "end_ms",
    "status",
    "bytes",
    "chunks",
    "outcome",
    "phase",
    "origin",
    "haproxy_term",
    "envoy_flags",
    "error",
];
/// Columns of `requests.csv` that runs recorded before they existed lack;
/// such a file still reads (the column reads as empty).
pub const REQUESTS_ADDED: [&str; 3] = ["phase", "haproxy_term", "envoy_flags"];
/// The columns of `timeline.csv`, in order.
pub const TIMELINE_HEADER: [&str; 5] = ["t_ms", "source", "pod", "event", "detail"];
/// The columns of `samples.csv`, in order.
pub const SAMPLES_HEADER: [&str; 6] = [
    "t_ms",
    "pod",
    "hc_state",
    "envoy_rq_active",
    "envoy_cx_active",
    "haproxy_status",
];

/// A time in ms with 3 decimals (microsecond resolution).
fn ms(v: f64) -> String {
    format!("{v:.3}")
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The path of the unfinished file: `<final>.part`.
pub fn part_path(final_path: &Path) -> PathBuf {
    let mut s = final_path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// One CSV file being written: `.part`, a row at a time, flushed per row
/// unless its owner flushes ([`PartWriter::flush`]).
#[derive(Debug)]
struct PartWriter {
    w: ::csv::Writer<File>,
    part: PathBuf,
    final_path: PathBuf,
    flush_each_row: bool,
}

impl PartWriter {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self, ArtifactsError> {
        let final_path = dir.join(name);
        let part = part_path(&final_path);
        let file = File::create(&part).map_err(|e| ArtifactsError::io("creating", &part, e))?;
        let w = ::csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(file);
        let mut pw = PartWriter {
            w,
            part,
            final_path,
            flush_each_row: true,
        };
        pw.row(header)?;
        Ok(pw)
    }

    fn row<I, T>(&mut self, fields: I) -> Result<(), ArtifactsError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let csv_err = |source| ArtifactsError::Csv {
            path: self.part.clone(),
            source,
        };
        self.w.write_record(fields).map_err(csv_err)?;
        if self.flush_each_row {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ArtifactsError> {
        self.w
            .flush()
            .map_err(|e| ArtifactsError::io("writing", &self.part, e))
    }

    fn finish(mut self) -> Result<PathBuf, ArtifactsError> {
        self.flush()?;
        persist_rename(&self.part, &self.final_path)?;
        Ok(self.final_path)
    }
}

/// Writes `requests.csv` (see [`REQUESTS_HEADER`]): its rows reach the
/// file when the writer's buffer fills or its owner calls
/// [`RequestsWriter::flush`] (the records sink does, every 20 ms).
#[derive(Debug)]
pub struct RequestsWriter(PartWriter);

impl RequestsWriter {
    pub fn create(run_dir: &Path) -> Result<Self, ArtifactsError> {
        let mut w = PartWriter::create(run_dir, names::REQUESTS, &REQUESTS_HEADER)?;
        w.flush_each_row = false;
        Ok(Self(w))
    }

    /// Writes the rows written so far to the file.
    pub fn flush(&mut self) -> Result<(), ArtifactsError> {
        self.0.flush()
    }

    pub fn write(&mut self, r: &RequestRecord) -> Result<(), ArtifactsError> {
        self.0.row([
            r.id.clone(),
            r.kind.as_str().to_string(),
            r.method.clone(),
            r.path.clone(),
            opt(&r.pod),
            r.conn_id.to_string(),
            r.reused.to_string(),
            ms(r.intended_ms),
            ms(r.sent_ms),
            r.ttfb_ms.map(ms).unwrap_or_default(),
            ms(r.end_ms),
            opt(&r.status),
            r.bytes.to_string(),
            opt(&r.chunks),
            r.outcome.as_str().to_string(),
            r.phase.map(|p| p.as_str().to_string()).unwrap_or_default(),
            r.origin.map(|o| o.as_str().to_string()).unwrap_or_default(),
            opt(&r.haproxy_term),
            opt(&r.envoy_flags),
            opt(&r.error),
        ])
    }

    /// Renames `requests.csv.part` to `requests.csv`; returns the final path.
    pub fn finish(self) -> Result<PathBuf, ArtifactsError> {
        self.0.finish()
    }
}

/// Writes `timeline.csv` (see [`TIMELINE_HEADER`]).
#[derive(Debug)]
pub struct TimelineWriter(PartWriter);

impl TimelineWriter {
    pub fn create(run_dir: &Path) -> Result<Self, ArtifactsError> {
        PartWriter::create(run_dir, names::TIMELINE, &TIMELINE_HEADER).map(Self)
    }

    pub fn write(&mut self, e: &Event) -> Result<(), ArtifactsError> {
        self.0.row([
            ms(e.t_ms),
            e.source.to_string(),
            opt(&e.pod),
            e.kind.to_string(),
            e.detail.clone(),
        ])
    }

    pub fn finish(self) -> Result<PathBuf, ArtifactsError> {
        self.0.finish()
    }
}

/// Writes `samples.csv` (see [`SAMPLES_HEADER`]).
#[derive(Debug)]
pub struct SamplesWriter(PartWriter);

impl SamplesWriter {
    pub fn create(run_dir: &Path) -> Result<Self, ArtifactsError> {
        PartWriter::create(run_dir, names::SAMPLES, &SAMPLES_HEADER).map(Self)
    }

    pub fn write(&mut self, s: &Sample) -> Result<(), ArtifactsError> {
        self.0.row([
            ms(s.t_ms),
            s.pod.clone(),
            opt(&s.hc_state),
            opt(&s.envoy_rq_active),
            opt(&s.envoy_cx_active),
            opt(&s.haproxy_status),
        ])
    }

    pub fn finish(self) -> Result<PathBuf, ArtifactsError> {
        self.0.finish()
    }
}
