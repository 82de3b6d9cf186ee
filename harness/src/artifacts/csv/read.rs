//! Streaming readers of `requests.csv`, `timeline.csv` and `samples.csv`:
//! one row at a time from a buffered file, so reading a run of millions of
//! requests holds one row, never the file.
//!
//! They accept the final file or the `.part` of a killed run (cut to its
//! last complete line; a last row cut inside a quoted field is dropped),
//! and an older `requests.csv` that lacks a column added since
//! ([`REQUESTS_ADDED`]). They never write and never interpret the rows.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Take};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{part_path, REQUESTS_ADDED, REQUESTS_HEADER, SAMPLES_HEADER, TIMELINE_HEADER};
use crate::artifacts::{names, ArtifactsError};
use crate::model::{Event, Origin, Outcome, Phase, RequestKind, RequestRecord, Sample};

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

impl RequestRow {
    fn into_record(self, path: &Path, line: u64) -> Result<RequestRecord, ArtifactsError> {
        let outcome = parse_outcome(&self.outcome).ok_or_else(|| ArtifactsError::BadRow {
            path: path.to_path_buf(),
            line,
            detail: format!("unknown outcome {:?}", self.outcome),
        })?;
        Ok(RequestRecord {
            id: self.id,
            kind: self.kind,
            method: self.method,
            path: self.path,
            pod: self.pod,
            conn_id: self.conn_id,
            reused: self.reused,
            intended_ms: self.intended_ms,
            sent_ms: self.sent_ms,
            ttfb_ms: self.ttfb_ms,
            end_ms: self.end_ms,
            status: self.status,
            bytes: self.bytes,
            chunks: self.chunks,
            outcome,
            phase: self.phase,
            origin: self.origin,
            haproxy_term: self.haproxy_term,
            envoy_flags: self.envoy_flags,
            error: self.error,
        })
    }
}

/// An outcome by the name `requests.csv` and summary.json use
/// (`Outcome::as_str`), also accepting `http5xx`.
pub fn parse_outcome(s: &str) -> Option<Outcome> {
    Outcome::parse(s)
}

/// The requests of `requests.csv` (or `requests.csv.part` from a killed
/// run), one at a time; an `Err` item ends the stream.
pub fn requests(
    run_dir: &Path,
) -> Result<impl Iterator<Item = Result<RequestRecord, ArtifactsError>>, ArtifactsError> {
    let rows =
        CsvRows::<RequestRow>::open(run_dir, names::REQUESTS, &REQUESTS_HEADER, &REQUESTS_ADDED)?;
    let path = rows.path.clone();
    Ok(rows.map(move |row| row.and_then(|(line, r)| r.into_record(&path, line))))
}

/// Reads all of `requests.csv` (or its `.part`) into memory: for small
/// files and tests; a run's artifacts stream it with [`requests`].
pub fn read_requests(run_dir: &Path) -> Result<Vec<RequestRecord>, ArtifactsError> {
    requests(run_dir)?.collect()
}

/// Reads `timeline.csv` (or its `.part`).
pub fn read_timeline(run_dir: &Path) -> Result<Vec<Event>, ArtifactsError> {
    CsvRows::open(run_dir, names::TIMELINE, &TIMELINE_HEADER, &[])?
        .map(|r| r.map(|(_, row)| row))
        .collect()
}

/// Reads `samples.csv` (or its `.part`).
pub fn read_samples(run_dir: &Path) -> Result<Vec<Sample>, ArtifactsError> {
    CsvRows::open(run_dir, names::SAMPLES, &SAMPLES_HEADER, &[])?
        .map(|r| r.map(|(_, row)| row))
        .collect()
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

/// Whether `got` is `header`, or `header` without some of the `added`
/// columns (an older file).
fn header_fits(got: &::csv::StringRecord, header: &[&str], added: &[&str]) -> bool {
    got.iter().eq(header
        .iter()
        .copied()
        .filter(|c| !added.contains(c) || got.iter().any(|g| g == *c)))
}

/// The length of `file` up to and including its last `\n` (0 when none):
/// what a killed writer left complete. Reads backwards, a block at a time.
fn complete_len(file: &mut File, path: &Path) -> Result<u64, ArtifactsError> {
    const BLOCK: u64 = 64 * 1024;
    let io = |e| ArtifactsError::io("reading", path, e);
    let mut end = file.seek(SeekFrom::End(0)).map_err(io)?;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(&mut buf[..n]).map_err(io)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

type Source = Take<BufReader<File>>;

/// The rows of one CSV file as `(line, row)`, read one at a time. The
/// header is checked on open; an `Err` item ends the stream.
pub struct CsvRows<T> {
    rdr: ::csv::Reader<Source>,
    headers: ::csv::StringRecord,
    record: ::csv::StringRecord,
    path: PathBuf,
    is_part: bool,
    done: bool,
    _row: PhantomData<T>,
}

impl<T: DeserializeOwned> CsvRows<T> {
    /// Opens `<run_dir>/<name>` (or its `.part`) whose header is `header`,
    /// or `header` without some of the `added` columns (their fields must
    /// have `#[serde(default)]`).
    pub fn open(
        run_dir: &Path,
        name: &str,
        header: &[&str],
        added: &[&str],
    ) -> Result<Self, ArtifactsError> {
        let (path, is_part) =
            existing_csv(run_dir, name).ok_or_else(|| ArtifactsError::Missing {
                path: run_dir.join(name),
            })?;
        let mut file = File::open(&path).map_err(|e| ArtifactsError::io("reading", &path, e))?;
        let len = if is_part {
            complete_len(&mut file, &path)?
        } else {
            u64::MAX
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ArtifactsError::io("reading", &path, e))?;
        let source = BufReader::with_capacity(256 * 1024, file).take(len);
        let mut rdr = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(source);
        let headers = rdr
            .headers()
            .map_err(|source| ArtifactsError::Csv {
                path: path.clone(),
                source,
            })?
            .clone();
        // A `.part` killed before even its header line was complete: no rows.
        let empty = is_part && len == 0;
        if !empty && !header_fits(&headers, header, added) {
            return Err(ArtifactsError::BadRow {
                path,
                line: 1,
                detail: format!(
                    "header is {:?}, expected {:?}",
                    headers.iter().collect::<Vec<_>>(),
                    header
                ),
            });
        }
        Ok(CsvRows {
            rdr,
            headers,
            record: ::csv::StringRecord::new(),
            path,
            is_part,
            done: empty,
            _row: PhantomData,
        })
    }

    fn bad_row(&self, e: ::csv::Error) -> ArtifactsError {
        ArtifactsError::BadRow {
            path: self.path.clone(),
            line: e
                .position()
                .or(self.record.position())
                .map_or(0, |p| p.line()),
            detail: e.to_string(),
        }
    }

    /// Whether nothing follows the record just read.
    fn at_end(&mut self) -> bool {
        let mut next = ::csv::StringRecord::new();
        matches!(self.rdr.read_record(&mut next), Ok(false))
    }
}

impl<T: DeserializeOwned> Iterator for CsvRows<T> {
    type Item = Result<(u64, T), ArtifactsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let row = match self.rdr.read_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                return None;
            }
            Ok(true) => self
                .record
                .deserialize::<T>(Some(&self.headers))
                .map(|r| (self.record.position().map_or(0, |p| p.line()), r)),
            Err(e) => Err(e),
        };
        match row {
            Ok(r) => Some(Ok(r)),
            Err(e) => {
                self.done = true;
                // The last row of a `.part` may be cut inside a quoted field.
                if self.is_part && self.at_end() {
                    return None;
                }
                Some(Err(self.bad_row(e)))
            }
        }
    }
}
