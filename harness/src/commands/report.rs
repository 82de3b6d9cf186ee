//! `harness report <run-dir>`: rebuilds a run's `plot.svg`, `plot.png`,
//! `report.html` and `junit.xml` (and `latency.hgrm` when missing) from its
//! CSVs, also for a run whose harness was killed (`.part` CSVs): then the
//! summary's counts are recomputed from the requests and it is marked
//! interrupted. requests.csv is streamed once into a [`RequestsDigest`]
//! that every file is drawn from, so memory does not grow with its rows.
//!
//! It never changes a CSV and never turns an interrupted run into a verdict.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{load_run, CommandError};
use crate::artifacts::derived::{write_derived, OnFailure};
use crate::artifacts::{names, RequestsDigest};

/// What a rebuild wrote.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The run was cut short (summary marked interrupted).
    pub interrupted: bool,
    pub verdict: String,
}

/// Rebuilds the derived files of the run folder `dir`.
pub fn rebuild(dir: &Path) -> Result<Rebuilt, CommandError> {
    let mut run = load_run(dir)?;
    let mut files = Vec::new();
    if run.summary_missing || run.recounted || run.partial {
        run.summary.write(dir)?;
        files.push(dir.join(names::SUMMARY));
    }
    let requests = match run.requests.take() {
        Some(d) => Some(d),
        None => RequestsDigest::read_if_any(dir)?,
    };
    files.extend(write_derived(
        dir,
        &mut run.summary,
        requests,
        OnFailure::Stop,
    )?);
    Ok(Rebuilt {
        dir: dir.to_path_buf(),
        files,
        interrupted: run.summary.interrupted,
        verdict: run.summary.verdict.as_str().to_string(),
    })
}

/// The flags of `harness report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// The run folder (or its name inside the artifacts folder).
    pub run: PathBuf,
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

impl ReportArgs {
    /// `harness report <run>`: rebuilds and prints what it wrote.
    pub fn run(&self) -> Result<ExitCode, CommandError> {
        crate::runtime::survive_file_size_limit();
        let root = super::artifacts_root(self.artifacts.clone());
        let dir = super::resolve_run(&self.run, &root);
        let r = rebuild(&dir)?;
        for f in &r.files {
            println!("wrote {}", f.display());
        }
        let cut = if r.interrupted {
            " (the run was cut short)"
        } else {
            ""
        };
        println!("{}: verdict {}{cut}", r.dir.display(), r.verdict);
        Ok(ExitCode::SUCCESS)
    }
}
