//! `harness runs`: the run folders of an artifacts folder, newest first,
//! one line each (time, scenario, mode, runtime, naming, verdict).
//!
//! It only reads `summary.json` and folder names; a folder that is not a
//! run is skipped, an unreadable summary is shown as such, never fatal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::{CommandError, CSVS};
use crate::artifacts::csv::existing_csv;
use crate::artifacts::rundir::parse_run_name;
use crate::artifacts::{ArtifactsError, Summary};
use crate::model::RuntimeKind;

/// One listed run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub name: String,
    pub dir: PathBuf,
    pub started: DateTime<Utc>,
    pub scenario: String,
    pub mode: String,
    pub runtime: String,
    pub naming: String,
    /// `pass`, `fail`, `interrupted`, or `no summary` / `bad summary`.
    pub verdict: String,
    pub disruptions: Option<u64>,
}

/// The runs under `root`, newest first (by start time, then name).
pub fn list_runs(root: &Path) -> Result<Vec<RunRow>, CommandError> {
    let rd =
        std::fs::read_dir(root).map_err(|e| ArtifactsError::io("artifacts folder", root, e))?;
    let mut rows = Vec::new();
    for e in rd.flatten() {
        let dir = e.path();
        if !dir.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let parsed = parse_run_name(&name);
        let row = match Summary::read(&dir) {
            Ok(s) => RunRow {
                name,
                started: s.started_at,
                scenario: s.scenario,
                mode: s.mode,
                runtime: s.runtime.map_or("?", RuntimeKind::as_str).to_string(),
                naming: s.naming.to_string(),
                verdict: s.verdict.as_str().to_string(),
                disruptions: Some(s.disruptions),
                dir,
            },
            Err(err) => {
                let has_csv = CSVS.iter().any(|n| existing_csv(&dir, n).is_some());
                let Some((t, scenario, mode)) = parsed else {
                    continue;
                };
                let missing = dir.join(crate::artifacts::names::SUMMARY).is_file();
                if !has_csv && !missing {
                    continue;
                }
                RunRow {
                    name,
                    dir,
                    started: t,
                    scenario,
                    mode,
                    runtime: "?".into(),
                    naming: "?".into(),
                    verdict: if missing {
                        tracing::debug!("{err}");
                        "bad summary".into()
                    } else {
                        "no summary".into()
                    },
                    disruptions: None,
                }
            }
        };
        rows.push(row);
    }
    rows.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.name.cmp(&a.name)));
    Ok(rows)
}

/// The listing as text, with a header line.
pub fn format_runs(rows: &[RunRow]) -> String {
    let mut o = String::new();
    let sw = rows
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let mw = rows.iter().map(|r| r.mode.len()).max().unwrap_or(0).max(4);
    let _ = writeln!(
        o,
        "{:<20}  {:<sw$}  {:<mw$}  {:<7}  {:<6}  {:<11}  {:>11}  folder",
        "time (UTC)", "scenario", "mode", "runtime", "naming", "verdict", "disruptions"
    );
    for r in rows {
        let _ = writeln!(
            o,
            "{:<20}  {:<sw$}  {:<mw$}  {:<7}  {:<6}  {:<11}  {:>11}  {}",
            r.started.format("%Y-%m-%d %H:%M:%S"),
            r.scenario,
            r.mode,
            r.runtime,
            r.naming,
            r.verdict.to_uppercase(),
            r.disruptions.map_or("-".into(), |d| d.to_string()),
            r.name
        );
    }
    o
}

/// The flags of `harness runs`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunsArgs {
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

impl RunsArgs {
    /// `harness runs`: prints the listing.
    pub fn run(&self) -> Result<ExitCode, CommandError> {
        let rows = list_runs(&super::artifacts_root(self.artifacts.clone()))?;
        print!("{}", format_runs(&rows));
        Ok(ExitCode::SUCCESS)
    }
}
