//! Streaming writers and readers of `requests.csv`, `timeline.csv` and
//! `samples.csv`.
//!
//! A writer holds nothing in memory: each row goes to `<name>.part` and is
//! flushed at once, so a killed run keeps every row it recorded; `finish()`
//! renames the file to its final name. Readers accept either the final file
//! or the `.part` of a killed run. Nothing here interprets the rows.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::rundir::persist_rename;
use super::{names, ArtifactsError};
use crate::model::{Event, Origin, Outcome, Phase, RequestKind, RequestRecord, Sample};

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
/// such a file still reads (the columns read as empty).
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

/// One CSV file being written: `.part`, a row at a time, flushed per row.
#[derive(Debug)]
struct PartWriter {
    w: ::csv::Writer<File>,
    part: PathBuf,
    final_path: PathBuf,
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
        self.w
            .flush()
            .map_err(|e| ArtifactsError::io("writing", &self.part, e))
    }

    fn finish(mut self) -> Result<PathBuf, ArtifactsError> {
        self.w
            .flush()
            .map_err(|e| ArtifactsError::io("writing", &self.part, e))?;
        persist_rename(&self.part, &self.final_path)?;
        Ok(self.final_path)
    }
}

/// Writes `requests.csv` (see [`REQUESTS_HEADER`]).
#[derive(Debug)]
pub struct RequestsWriter(PartWriter);

impl RequestsWriter {
    pub fn create(run_dir: &Path) -> Result<Self, ArtifactsError> {
        PartWriter::create(run_dir, names::REQUESTS, &REQUESTS_HEADER).map(Self)
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

/// A `requests.csv` row as read; `outcome` is parsed by name (see
/// [`parse_outcome`]) rather than by `Outcome`'s serde form.
#[derive(Debug, serde::Deserialize)]
struct RequestRow {
    id: String,
    kind: RequestKind,
    method: String,
    path: String,
    pod: Option<String>,
    conn_id: u64,
    reused: bool,
    intended_ms: f64,
    sent_ms: f64,
    ttfb_ms: Option<f64>,
    end_ms: f64,
    status: Option<u16>,
    bytes: u64,
    chunks: Option<u32>,
    outcome: String,
    #[serde(default)]
    phase: Option<Phase>,
    origin: Option<Origin>,
    #[serde(default)]
    haproxy_term: Option<String>,
    #[serde(default)]
    envoy_flags: Option<String>,
    error: Option<String>,
}

/// An outcome by the name `requests.csv` and summary.json use
/// (`Outcome::as_str`), also accepting `http5xx`.
pub fn parse_outcome(s: &str) -> Option<Outcome> {
    Outcome::parse(s)
}

/// Reads `requests.csv` (or `requests.csv.part` from a killed run).
pub fn read_requests(run_dir: &Path) -> Result<Vec<RequestRecord>, ArtifactsError> {
    let rows: Vec<RequestRow> =
        read_rows_allowing(run_dir, names::REQUESTS, &REQUESTS_HEADER, &REQUESTS_ADDED)?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let outcome = parse_outcome(&r.outcome).ok_or_else(|| ArtifactsError::BadRow {
                path: run_dir.join(names::REQUESTS),
                line: i as u64 + 2,
                detail: format!("unknown outcome {:?}", r.outcome),
            })?;
            Ok(RequestRecord {
                id: r.id,
                kind: r.kind,
                method: r.method,
                path: r.path,
                pod: r.pod,
                conn_id: r.conn_id,
                reused: r.reused,
                intended_ms: r.intended_ms,
                sent_ms: r.sent_ms,
                ttfb_ms: r.ttfb_ms,
                end_ms: r.end_ms,
                status: r.status,
                bytes: r.bytes,
                chunks: r.chunks,
                outcome,
                phase: r.phase,
                origin: r.origin,
                haproxy_term: r.haproxy_term,
                envoy_flags: r.envoy_flags,
                error: r.error,
            })
        })
        .collect()
}

/// Reads `timeline.csv` (or its `.part`).
pub fn read_timeline(run_dir: &Path) -> Result<Vec<Event>, ArtifactsError> {
    read_rows(run_dir, names::TIMELINE, &TIMELINE_HEADER)
}

/// Reads `samples.csv` (or its `.part`).
pub fn read_samples(run_dir: &Path) -> Result<Vec<Sample>, ArtifactsError> {
    read_rows(run_dir, names::SAMPLES, &SAMPLES_HEADER)
}

/// The file to read: the final one, else the `.part` (then `true`).
pub fn existing_csv(run_dir: &Path, name: &str) -> Option<(PathBuf, bool)> {
    let final_path = run_dir.join(name);
    if final_path.is_file() {
        return Some((final_path, false));
    }
    let part = part_path(&final_path);
    part.is_file().then_some((part, true))
}

/// Reads rows whose header is exactly `header`.
fn read_rows<T: DeserializeOwned>(
    run_dir: &Path,
    name: &str,
    header: &[&str],
) -> Result<Vec<T>, ArtifactsError> {
    read_rows_allowing(run_dir, name, header, &[])
}

/// Whether `got` is `header`, or `header` without some of the `added`
/// columns (an older file).
fn header_fits(got: &::csv::StringRecord, header: &[&str], added: &[&str]) -> bool {
    got.iter().eq(header
        .iter()
        .copied()
        .filter(|c| !added.contains(c) || got.iter().any(|g| g == *c)))
}

/// Reads rows whose header is `header`, or `header` without some of the
/// `added` columns (their fields must have `#[serde(default)]`).
fn read_rows_allowing<T: DeserializeOwned>(
    run_dir: &Path,
    name: &str,
    header: &[&str],
    added: &[&str],
) -> Result<Vec<T>, ArtifactsError> {
    let (path, is_part) = existing_csv(run_dir, name).ok_or_else(|| ArtifactsError::Missing {
        path: run_dir.join(name),
    })?;
    let mut bytes = std::fs::read(&path).map_err(|e| ArtifactsError::io("reading", &path, e))?;
    if is_part {
        // A killed writer may have left half a row: keep complete lines only.
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(keep);
        // Killed before even the header line was complete: no rows yet.
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
    }
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let got = rdr.headers().map_err(|source| ArtifactsError::Csv {
        path: path.clone(),
        source,
    })?;
    if !header_fits(got, header, added) {
        return Err(ArtifactsError::BadRow {
            path,
            line: 1,
            detail: format!(
                "header is {:?}, expected {:?}",
                got.iter().collect::<Vec<_>>(),
                header
            ),
        });
    }
    let mut rows = Vec::new();
    let mut records = rdr.deserialize::<T>().peekable();
    while let Some(row) = records.next() {
        match row {
            Ok(r) => rows.push(r),
            // The last row of a `.part` may be cut inside a quoted field.
            Err(_) if is_part && records.peek().is_none() => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(ArtifactsError::BadRow {
                    path,
                    line,
                    detail: e.to_string(),
                });
            }
        }
    }
    Ok(rows)
}
