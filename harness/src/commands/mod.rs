//! The read-only verbs over finished (or killed) run folders: `report`
//! rebuilds a run's plot and page, `compare` puts runs side by side,
//! `runs` lists them, and `junit` turns verdicts into JUnit XML; plus
//! `load`, the load generator on its own for benchmarks.
//!
//! They read run folders and write only derived files (plots, pages, XML,
//! the counts of a killed run's summary); they never start processes and
//! never change a CSV (`load` reads and writes no run folder at all).

pub mod compare;
pub mod junit;
pub mod load;
pub mod report;
pub mod runs;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::artifacts::csv::existing_csv;
use crate::artifacts::{
    names, read_requests, read_samples, ArtifactsError, Summary, Tally, Verdict,
};

/// Everything that can go wrong in these verbs; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Artifacts(#[from] ArtifactsError),
    #[error("{path}: not a run folder (no summary.json and no requests/timeline/samples CSV)")]
    NotARun { path: PathBuf },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

impl CommandError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        CommandError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The CSVs of a run folder.
pub const CSVS: [&str; 3] = [names::REQUESTS, names::TIMELINE, names::SAMPLES];

/// A run folder as the verbs see it: its summary (read, or rebuilt from the
/// CSVs of a killed run) and whether it was cut short.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub dir: PathBuf,
    pub summary: Summary,
    /// Some CSV exists only as `<name>.part`: the harness was killed.
    pub partial: bool,
    /// The summary's counts were recomputed from `requests.csv(.part)`.
    pub recounted: bool,
    /// summary.json was missing and was made up from the folder and CSVs.
    pub summary_missing: bool,
}

/// The folder name's parts: `YYYYMMDDTHHMMSSZ-<scenario>-<mode>[-N]`.
pub fn parse_run_name(name: &str) -> Option<(DateTime<Utc>, String, String)> {
    let (ts, rest) = (name.get(..16)?, name.get(17..)?);
    if name.as_bytes().get(16) != Some(&b'-') {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ").ok()?;
    // Drop a collision suffix (`-2`) when what precedes it still has a mode.
    let rest = match rest.rsplit_once('-') {
        Some((head, n)) if n.bytes().all(|b| b.is_ascii_digit()) && head.contains('-') => head,
        _ => rest,
    };
    let (scenario, mode) = rest.rsplit_once('-')?;
    (!scenario.is_empty() && !mode.is_empty())
        .then(|| (t.and_utc(), scenario.to_string(), mode.to_string()))
}

/// Whether any hc state in the samples is a legacy-only name.
pub fn samples_speak_legacy(dir: &Path) -> bool {
    let legacy_only: Vec<&str> = gate::State::ALL
        .iter()
        .map(|s| s.legacy_name())
        .filter(|n| gate::State::ALL.iter().all(|s| s.gate_name() != *n))
        .collect();
    read_samples(dir).is_ok_and(|ss| {
        ss.iter()
            .filter_map(|s| s.hc_state.as_deref())
            .any(|st| legacy_only.contains(&st))
    })
}

/// Loads a run folder. A killed run (`.part` CSVs, or no summary.json)
/// gets its counts and percentiles recomputed from its requests and is
/// marked interrupted; nothing is written here.
pub fn load_run(dir: &Path) -> Result<LoadedRun, CommandError> {
    let meta = std::fs::metadata(dir).map_err(|e| CommandError::io("run folder", dir, e))?;
    if !meta.is_dir() {
        return Err(CommandError::NotARun {
            path: dir.to_path_buf(),
        });
    }
    let any_csv = CSVS.iter().any(|n| existing_csv(dir, n).is_some());
    let partial = CSVS
        .iter()
        .any(|n| existing_csv(dir, n).is_some_and(|(_, part)| part));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut summary, summary_missing) = match Summary::read(dir) {
        Ok(s) => (s, false),
        Err(ArtifactsError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && any_csv =>
        {
            let (t, scenario, mode) = parse_run_name(&name)
                .unwrap_or_else(|| (Utc::now(), "unknown".into(), "unknown".into()));
            let mut s = Summary::new(&scenario, &mode, &name, t);
            if samples_speak_legacy(dir) {
                s.naming = gate::Naming::Legacy;
            }
            s.notes
                .push("summary.json was missing: rebuilt by `harness report` from the CSVs".into());
            (s, true)
        }
        Err(ArtifactsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(CommandError::NotARun {
                path: dir.to_path_buf(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let mut recounted = false;
    if partial || summary_missing || (summary.interrupted && summary.requests == 0) {
        if let Ok(reqs) = read_requests(dir) {
            let mut t = Tally::new();
            reqs.iter().for_each(|r| t.record(r));
            if t.requests > 0 || summary_missing {
                t.apply_to(&mut summary);
                recounted = true;
            }
        }
    }
    if partial && !summary.interrupted {
        summary.interrupted = true;
        summary.notes.push(
            "some CSVs exist only as .part: the harness was killed before the run ended".into(),
        );
    }
    if summary.interrupted {
        summary.verdict = Verdict::Interrupted;
    }
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        summary,
        partial,
        recounted,
        summary_missing,
    })
}

/// Where run folders are by default: `LAB_ARTIFACTS` is handled by the CLI;
/// this is `<workspace>/artifacts`, else `./artifacts`.
pub fn default_artifacts_dir() -> PathBuf {
    crate::apps::workspace_root()
        .map(|w| w.join("artifacts"))
        .unwrap_or_else(|| PathBuf::from("artifacts"))
}

/// The artifacts folder: the `--artifacts`/`LAB_ARTIFACTS` value, else the default.
pub fn artifacts_root(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(default_artifacts_dir)
}

/// A run given on the command line: a folder path, else a folder name
/// inside the artifacts folder.
pub fn resolve_run(arg: &Path, artifacts_root: &Path) -> PathBuf {
    if arg.is_dir() {
        return arg.to_path_buf();
    }
    let inside = artifacts_root.join(arg);
    if inside.is_dir() {
        inside
    } else {
        arg.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_run_folder_names() {
        let (t, s, m) = parse_run_name("20261125T122930Z-s1-current").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T12:29:30+00:00");
        assert_eq!((s.as_str(), m.as_str()), ("s1", "current"));
        let (_, s, m) = parse_run_name("20261125T122930Z-s15_lb-first-graceful-2").unwrap();
        assert_eq!((s.as_str(), m.as_str()), ("s15_lb-first", "graceful"));
        for bad in [
            "",
            "x",
            "20261125T122930Z",
            "20261125T122930Z-s1",
            "2026112XT122930Z-s1-c",
        ] {
            assert!(parse_run_name(bad).is_none(), "{bad}");
        }
    }
}
