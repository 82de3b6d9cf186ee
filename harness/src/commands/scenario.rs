//! `harness scenario <id|path|all>`: runs a scenario's modes (or the whole
//! catalogue), each in its own run folder, then prints the verdicts side by
//! side and writes the invocation's JUnit file.
//!
//! Printing and sequencing only; the work is in `run`, `scenario` and
//! `runtime`, and the preflight in [`super::preflight`].

use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use super::preflight::{prepare, LabArgs};
use super::{print_judgement, scenarios_dir};
use crate::artifacts::junit::{self, ModeResult};
use crate::artifacts::Verdict;
use crate::run::RunResult;
use crate::scenario;

/// The flags of `harness scenario`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    pub scenario: String,
    /// With `all`: only these ids (comma-separated, e.g. s2,s5).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// With `all`: leave these ids out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<String>,
    /// A mode of the scenario (current, graceful, ...) or `all` (`both`) for every mode.
    #[arg(long, default_value = "all")]
    pub mode: scenario::ModeSelect,
    // --runtime, --naming, --prestop, --artifacts (shared with `up`).
    #[command(flatten)]
    pub lab: LabArgs,
}

impl ScenarioArgs {
    /// `harness scenario <id|path|all> ...`
    pub fn run(self) -> anyhow::Result<ExitCode> {
        if self.scenario == "all" {
            scenario_all(self)
        } else {
            scenario(self)
        }
    }
}

/// Writes the invocation's `junit-<scenario>-<UTC>.xml` into the artifacts
/// folder and says where; a failure is printed, never fatal (every run
/// folder has its own junit.xml).
fn write_junit(root: &std::path::Path, id: &str, results: &[(String, anyhow::Result<RunResult>)]) {
    let modes: Vec<(String, ModeResult<'_>)> = results
        .iter()
        .map(|(m, r)| {
            let r = match r {
                Ok(r) => ModeResult::Ran(&r.summary, r.dir.as_path()),
                Err(e) => ModeResult::Failed(format!("{e:#}")),
            };
            (m.clone(), r)
        })
        .collect();
    match junit::write_scenario_at(root, id, &modes, Utc::now()) {
        Ok(path) => println!("junit: {}", path.display()),
        Err(e) => eprintln!("harness: junit: {e}"),
    }
}

/// One scenario, its modes (or `--mode`).
fn scenario(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    let path = scenario::resolve(&args.scenario, &scenarios_dir())?;
    let sc = scenario::load(&path)?;
    let Some(modes) = sc.select_modes(&args.mode) else {
        anyhow::bail!(
            "--mode {:?}: scenario {} has modes {} (or all)",
            args.mode.to_string(),
            sc.id,
            sc.ordered_modes().join(", ")
        );
    };
    for w in scenario::warnings(&sc) {
        println!("warning: {w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    println!(
        "{}: modes {}; {} pods; load {} s per mode; then the runtime, tools, apps and images",
        sc.id,
        modes.join(", "),
        sc.topology.pods,
        crate::progress::planned_load(&sc).as_secs()
    );
    let env = prepare(&args.lab, &rt)?;
    let mut results: Vec<(String, anyhow::Result<RunResult>)> = Vec::new();
    for m in &modes {
        println!("== {} / {m}: {}", sc.id, sc.modes[m].about);
        let r = rt.block_on(crate::run::run_mode(&env, &sc, m));
        if let Err(e) = &r {
            eprintln!("harness: {} / {m}: {e:#}", sc.id);
        }
        let stop = env.interrupts.interrupted().is_some();
        results.push((m.clone(), r));
        if stop {
            break;
        }
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    if modes.len() > 1 {
        write_junit(&env.artifacts_root, &sc.id, &results);
    }
    print_verdicts(&sc.id, &results);
    let all_pass = results.len() == modes.len()
        && results
            .iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|r| r.summary.verdict == Verdict::Pass));
    Ok(if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_verdicts(id: &str, results: &[(String, anyhow::Result<RunResult>)]) {
    println!();
    println!(
        "{:<10} {:<11} {:>8} {:>11}  {:<40} {:>9} {:>9}",
        "mode", "verdict", "requests", "disruptions", "by outcome", "p99 ms", "preStop s"
    );
    for (mode, r) in results {
        match r {
            Ok(r) => {
                let s = &r.summary;
                let by = s.disruptions_text();
                println!(
                    "{:<10} {:<11} {:>8} {:>11}  {:<40} {:>9} {:>9}",
                    mode,
                    s.verdict.as_str().to_uppercase(),
                    s.requests,
                    s.disruptions,
                    if by.is_empty() { "-".to_string() } else { by },
                    s.latency_ms
                        .corrected
                        .as_ref()
                        .map(|p| format!("{:.1}", p.p99))
                        .unwrap_or_else(|| "-".into()),
                    s.drain
                        .prestop_ms
                        .map(|p| format!("{:.1}", p / 1000.0))
                        .unwrap_or_else(|| "-".into()),
                );
            }
            Err(e) => {
                let what = if e.downcast_ref::<crate::run::Interrupted>().is_some() {
                    "INTERRUPTED"
                } else {
                    "ERROR"
                };
                println!("{mode:<10} {what:<11} {e:#}");
            }
        }
    }
    for (mode, r) in results {
        let Ok(r) = r else { continue };
        let s = &r.summary;
        println!(
            "\n{id} / {mode}: {} -> {}",
            s.verdict.as_str(),
            r.dir.display()
        );
        print_judgement(s);
        if s.attributions.len() > 8 {
            println!("  ... and {} more (summary.json)", s.attributions.len() - 8);
        }
    }
}

/// `harness scenario all [--only a,b] [--skip c]`: every scenario of the
/// catalogue (filtered), each mode (or `--mode`), then one table. Non-zero
/// when any run fails its expectations, errs, or a scenario file is invalid.
fn scenario_all(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    let picked = crate::run::catalogue::pick(&scenarios_dir(), &args.only, &args.skip)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let env = prepare(&args.lab, &rt)?;
    let rows = crate::run::catalogue::run_all(&env, &rt, &picked, &args.mode, |id, results| {
        write_junit(&env.artifacts_root, id, results);
        print_verdicts(id, results)
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    println!();
    print!("{}", crate::run::catalogue::table(&rows));
    Ok(if rows.iter().all(|r| r.pass) && !rows.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
