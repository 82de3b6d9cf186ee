//! `harness gate`: the CI gate's judgement (DESIGN §3.8) over the s1 runs
//! an invocation left in an artifacts folder. `graceful` must show no
//! disruption, `current` must show one (a harness that sees no reset where
//! there must be one is broken), every run must be `pass` (an `invalid` or
//! `interrupted` run fails the gate by name), every run must have used the
//! gate's runtime; other modes (`seed-graceful`) are reported, not gated at
//! zero.
//!
//! It reads `summary.json` files only (never a folder's name: `-2`
//! collision suffixes and mode names with dashes are the summary's to say);
//! it never starts a run and never writes a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use super::CommandError;
use crate::artifacts::{ArtifactsError, Summary, Verdict};
use crate::model::RuntimeKind;

/// The modes the gate judges; any other mode of the scenario is reported.
pub const MUST_LOSE: &str = "current";
pub const MUST_NOT_LOSE: &str = "graceful";

/// `harness gate`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The scenario whose runs are judged.
    #[arg(long, default_value = "s1")]
    pub scenario: String,
    /// The runtime every run must have used (local or docker).
    #[arg(long, value_enum, env = "GATE_RUNTIME", default_value = "local")]
    pub runtime: RuntimeKind,
    /// Only runs whose summary.json is not older than this file (the gate
    /// script touches it before it runs the scenario).
    #[arg(long)]
    pub since: Option<PathBuf>,
    /// Where run folders are.
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

/// One run the gate read.
#[derive(Debug, Clone)]
pub struct GateRun {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// What the gate concluded: one line per run, and every reason it fails.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateReport {
    pub lines: Vec<String>,
    pub failures: Vec<String>,
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl GateArgs {
    /// `harness gate`: prints the report; exit 0 when the gate passes, 1 when not.
    pub fn run(&self) -> Result<ExitCode, CommandError> {
        cli(self)
    }
}

fn cli(args: &GateArgs) -> Result<ExitCode, CommandError> {
    let root = super::artifacts_root(args.artifacts.clone());
    let since = match &args.since {
        Some(p) => Some(
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .map_err(|e| ArtifactsError::io("gate marker", p, e))?,
        ),
        None => None,
    };
    let runs = collect(&root, &args.scenario, since)?;
    let report = judge(&runs, args.runtime);
    for l in &report.lines {
        println!("gate ({}): {l}", args.runtime);
    }
    for f in &report.failures {
        println!("gate: FAIL: {f}");
    }
    Ok(if report.passed() {
        println!("gate: PASS");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every run folder directly under `root` whose summary.json names
/// `scenario` and (with `since`) was written at or after it. A summary that
/// cannot be read is an error naming it: the gate never skips a run it
/// cannot judge.
pub fn collect(
    root: &Path,
    scenario: &str,
    since: Option<SystemTime>,
) -> Result<Vec<GateRun>, CommandError> {
    let rd =
        std::fs::read_dir(root).map_err(|e| ArtifactsError::io("artifacts folder", root, e))?;
    let mut runs = Vec::new();
    for e in rd.flatten() {
        let dir = e.path();
        let file = dir.join(crate::artifacts::names::SUMMARY);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if since.is_some_and(|s| meta.modified().is_ok_and(|m| m < s)) {
            continue;
        }
        let summary = Summary::read(&dir)?;
        if summary.scenario == scenario {
            runs.push(GateRun { dir, summary });
        }
    }
    runs.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(runs)
}

/// The gate's rules over the runs of one invocation.
pub fn judge(runs: &[GateRun], runtime: RuntimeKind) -> GateReport {
    let mut r = GateReport::default();
    for m in [MUST_LOSE, MUST_NOT_LOSE] {
        if !runs.iter().any(|g| g.summary.mode == m) {
            r.failures.push(format!("no {m} run found"));
        }
    }
    for g in runs {
        let s = &g.summary;
        let name = g
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let role = match s.mode.as_str() {
            MUST_LOSE => "gated: must lose",
            MUST_NOT_LOSE => "gated: must lose nothing",
            _ => "reported",
        };
        r.lines.push(format!(
            "{} ({role}): {} of {} requests disrupted, verdict {} [{name}]",
            s.mode,
            s.disruptions,
            s.requests,
            s.verdict.as_str()
        ));
        if role == "reported" {
            for a in s.attributions.iter().take(5) {
                r.lines.push(format!(
                    "  {} {} at {:.2} s: {}",
                    a.request_id,
                    a.outcome,
                    a.t_ms / 1000.0,
                    a.cause.as_deref().unwrap_or("no cause found")
                ));
            }
        }
        judge_one(g, &name, runtime, &mut r.failures);
    }
    r
}

fn judge_one(g: &GateRun, name: &str, runtime: RuntimeKind, failures: &mut Vec<String>) {
    let s = &g.summary;
    let mode = s.mode.as_str();
    match s.verdict {
        Verdict::Pass => {}
        Verdict::Invalid => failures.push(format!(
            "{mode} run {name} is invalid: {}",
            s.invalid.join("; ")
        )),
        Verdict::Interrupted => failures.push(format!("{mode} run {name} was interrupted")),
        Verdict::Fail => failures.push(format!(
            "{mode} run {name} failed: {}",
            s.expectations
                .iter()
                .filter(|e| !e.ok)
                .map(|e| format!("{} ({})", e.name, e.detail))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
    if s.runtime != Some(runtime) {
        failures.push(format!(
            "{mode} run {name} ran on runtime {:?}, not {:?}",
            s.runtime_name(),
            runtime.as_str()
        ));
    }
    if mode == MUST_NOT_LOSE && s.disruptions != 0 {
        let causes: Vec<String> = s
            .attributions
            .iter()
            .take(5)
            .map(|a| {
                format!(
                    "{} {} ({})",
                    a.request_id,
                    a.outcome,
                    a.cause.as_deref().unwrap_or("no cause found")
                )
            })
            .collect();
        failures.push(format!(
            "graceful lost {} request(s) in {name}{}",
            s.disruptions,
            if causes.is_empty() {
                String::new()
            } else {
                format!(": {}", causes.join(", "))
            }
        ));
    }
    if mode == MUST_NOT_LOSE && s.requests == 0 {
        failures.push(format!("graceful run {name} has no requests"));
    }
    if mode == MUST_LOSE && s.disruptions == 0 {
        failures.push(format!(
            "current shows no disruption in {name}: the harness sees no reset where there must be one"
        ));
    }
}
