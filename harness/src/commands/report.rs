//! `harness report <run-dir>`: rebuilds a run's `plot.svg`, `plot.png`,
//! `report.html` and `junit.xml` (and `latency.hgrm` when missing) from its
//! CSVs, also for a run whose harness was killed (`.part` CSVs): then the
//! summary's counts are recomputed from the requests and it is marked
//! interrupted.
//!
//! It never changes a CSV and never turns an interrupted run into a verdict.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{load_run, CommandError};
use crate::artifacts::{
    junit, names, plot_png, plot_svg, read_requests, write_report, LatencyStats,
};

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
    let run = load_run(dir)?;
    let mut files = Vec::new();
    if run.summary_missing || run.recounted || run.partial {
        run.summary.write(dir)?;
        files.push(dir.join(names::SUMMARY));
    }
    if !dir.join(names::HGRM).is_file() {
        if let Ok(reqs) = read_requests(dir) {
            let mut lat = LatencyStats::new();
            reqs.iter().for_each(|r| {
                lat.record(r);
            });
            lat.write_hgrm(&dir.join(names::HGRM))?;
            lat.write_hgrm_uncorrected(&dir.join(names::HGRM_UNCORRECTED))?;
            files.push(dir.join(names::HGRM));
            files.push(dir.join(names::HGRM_UNCORRECTED));
        }
    }
    files.push(plot_svg(dir)?);
    files.push(plot_png(dir)?);
    files.push(write_report(dir)?);
    files.push(junit::write_run(dir, &run.summary)?);
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
