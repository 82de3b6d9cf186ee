//! The harness's verbs, one file each: a `#[derive(Args)]` struct with its
//! flags and a `run` method. [`Command`] lists them for `main.rs`, which only
//! parses and calls [`Command::run`]; adding a verb is one file here and one
//! variant (and its match arm) below.
//!
//! `scenario` runs scenarios (through `run`); `list`, `check` and `gc`
//! read the catalogue or end leftovers; the read-only verbs over finished
//! (or killed) run folders (`report`, `compare`, `runs`) write only derived
//! files (plots, pages, XML, the counts of a killed run's summary) and never
//! change a CSV; `load` is the load generator on its own for benchmarks,
//! and the hidden `synth-requests` writes a made-up run folder for the
//! artifacts benchmark.
//! Printing and sequencing only: the work is in the library modules, and
//! nothing here is imported by them.

pub mod check;
pub mod ci_gate;
pub mod compare;
pub mod doctor;
pub mod export;
pub mod gc;
pub mod list;
pub mod load;
mod preflight;
pub mod report;
pub mod runs;
pub mod scenario;
pub mod synth;
pub mod terminate;
pub mod tools;
pub mod up;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use preflight::{LabArgs, RuntimeChoice};

use chrono::Utc;
use clap::Subcommand;

use crate::artifacts::csv::existing_csv;
use crate::artifacts::rundir::parse_run_name;
use crate::artifacts::{names, read_samples, ArtifactsError, RequestsDigest, Summary, Verdict};

/// The verbs of `harness`.
#[derive(Subcommand)]
pub enum Command {
    /// Run a scenario (an id from scenarios/, a path to a .toml file, or
    /// `all` for the whole catalogue with one summary table).
    Scenario(scenario::ScenarioArgs),
    /// List the scenarios, one per line: id, then its purpose.
    List(list::ListArgs),
    /// Parse and validate a scenario file; print warnings.
    Check(check::CheckArgs),
    /// Kill processes left behind by earlier runs (found by their run id).
    Gc(gc::GcArgs),
    /// Rebuild plot.svg, plot.png, report.html and junit.xml (and latency.hgrm
    /// when missing) of a run folder from its CSVs, also of a killed run.
    Report(report::ReportArgs),
    /// Compare two or more runs side by side (legacy and gate naming alike).
    /// With --fail-on-regression, exits 1 when a later run regresses on the
    /// first: more disruptions, or p99 above first's p99 × (1 + pct/100) + ms.
    Compare(compare::CompareArgs),
    /// The load generator alone against a loopback URL (benchmarks): closed
    /// loop, or open loop with --rate; prints req/s, percentiles, errors.
    Load(load::LoadArgs),
    /// List the runs of the artifacts folder, newest first.
    Runs(runs::RunsArgs),
    /// Each prerequisite of a run and what the harness will do about it.
    Doctor(doctor::DoctorArgs),
    /// The HAProxy, Envoy, busybox and curl the lab uses (--fetch: fetch the missing ones).
    Tools(tools::ToolsArgs),
    /// Write a scenario mode as Kubernetes manifests, the external HAProxy's
    /// backend lines and a README on verifying a rollout with `harness watch`.
    Export(export::ExportArgs),
    /// The CI gate over an invocation's runs of a scenario (summary.json
    /// files): graceful must lose nothing, current must lose, no run may be
    /// invalid or interrupted; other modes are reported. Exits 1 when it fails.
    Gate(ci_gate::GateArgs),
    // Their help (about, long about, examples) is on their Args structs.
    Up(up::UpArgs),
    Terminate(terminate::TerminateArgs),
    Watch(watch::WatchArgs),
    /// Write a made-up run folder with N requests (the artifacts benchmark).
    #[command(hide = true)]
    SynthRequests(synth::SynthArgs),
}

impl Command {
    /// Runs the verb: its exit code, or the error as one line and exit 2.
    pub fn run(self) -> ExitCode {
        let res: anyhow::Result<ExitCode> = match self {
            Command::Scenario(a) => a.run(),
            Command::List(a) => a.run(),
            Command::Check(a) => a.run(),
            Command::Gc(a) => a.run(),
            Command::Report(a) => a.run().map_err(Into::into),
            Command::Compare(a) => a.run().map_err(Into::into),
            Command::Load(a) => a.run().map_err(Into::into),
            Command::Runs(a) => a.run().map_err(Into::into),
            Command::Doctor(a) => doctor::cli(&a),
            Command::Tools(a) => tools::cli(&a),
            Command::Export(a) => a.run(),
            Command::Gate(a) => a.run().map_err(Into::into),
            Command::Up(a) => a.run(),
            Command::Terminate(a) => a.run(),
            Command::Watch(a) => a.run(),
            Command::SynthRequests(a) => a.run().map_err(Into::into),
        };
        res.unwrap_or_else(|e| {
            eprintln!("harness: error: {}", one_line(&e));
            ExitCode::from(2)
        })
    }
}

/// A judged run's reasons for `invalid`, its expectations (ok or FAIL)
/// and its first eight attributed disruptions, one indented line each.
pub fn print_judgement(s: &Summary) {
    for reason in &s.invalid {
        println!("  [INVALID] {reason}");
    }
    for e in &s.expectations {
        println!(
            "  [{}] {}: {}",
            if e.ok { "ok" } else { "FAIL" },
            e.name,
            e.detail
        );
    }
    for a in s.attributions.iter().take(8) {
        println!("  {}", a.one_line(2));
    }
}

/// The error and its causes on one line, each cause once: our error types
/// put their source in their own message too, so a cause the line already
/// holds is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// Where scenario files live: `<workspace>/scenarios`, else `./scenarios`.
pub fn scenarios_dir() -> PathBuf {
    crate::apps::workspace_root()
        .map(|w| w.join("scenarios"))
        .unwrap_or_else(|| PathBuf::from("scenarios"))
}

/// The artifacts folder: the `--artifacts`/`LAB_ARTIFACTS` value, else
/// `<workspace>/artifacts`, else `./artifacts`. The one place that default
/// is computed.
pub fn artifacts_root(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        crate::apps::workspace_root()
            .map(|w| w.join("artifacts"))
            .unwrap_or_else(|| PathBuf::from("artifacts"))
    })
}
/// Everything that can go wrong in these verbs; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Artifacts(#[from] ArtifactsError),
    #[error("{path}: not a run folder (no summary.json and no requests/timeline/samples CSV)")]
    NotARun { path: PathBuf },
    #[error("{0}")]
    Usage(String),
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
    /// requests.csv's aggregates, when loading had to read it (to recount).
    pub requests: Option<RequestsDigest>,
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
/// gets its counts and percentiles recomputed from its requests (streamed)
/// and is marked interrupted; nothing is written here.
pub fn load_run(dir: &Path) -> Result<LoadedRun, CommandError> {
    let meta = std::fs::metadata(dir).map_err(|e| ArtifactsError::io("run folder", dir, e))?;
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
    let mut requests = None;
    if partial || summary_missing || (summary.interrupted && summary.requests == 0) {
        // An unreadable requests.csv leaves the counts as they are; the
        // verbs that draw from it report its error themselves.
        if let Ok(d) = RequestsDigest::read(dir) {
            if d.requests() > 0 || summary_missing {
                d.tally.apply_to(&mut summary);
                recounted = true;
            }
            requests = Some(d);
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
        requests,
    })
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
