//! The harness's verbs (`scenario`, `list`, `check`, `gc`) as library
//! functions: the preflight that finds or fetches everything before any
//! process starts, the runs, and the side-by-side verdict.
//!
//! Printing and sequencing only; the work is in `run`, `scenario` and
//! `runtime`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::artifacts::Verdict;
use crate::run::{RunEnv, RunResult};
use crate::scenario::{self, PreStop};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeChoice {
    Local,
    Docker,
    Auto,
}

pub struct ScenarioArgs {
    pub scenario: String,
    pub mode: String,
    pub runtime: RuntimeChoice,
    pub naming: gate::Naming,
    pub prestop: Option<String>,
    pub artifacts: Option<PathBuf>,
    /// `scenario all`: only these ids (empty: every one).
    pub only: Vec<String>,
    /// `scenario all`: leave these ids out.
    pub skip: Vec<String>,
}

/// Where scenario files live: `<workspace>/scenarios`, else `./scenarios`.
pub fn scenarios_dir() -> PathBuf {
    crate::apps::workspace_root()
        .map(|w| w.join("scenarios"))
        .unwrap_or_else(|| PathBuf::from("scenarios"))
}

fn artifacts_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        crate::apps::workspace_root()
            .map(|w| w.join("artifacts"))
            .unwrap_or_else(|| PathBuf::from("artifacts"))
    })
}

/// The preflight every run of an invocation shares: runtime choice,
/// artifacts folder, tools and apps found (or fetched), images (docker),
/// cleanup hooks, gc.
fn prepare(args: &ScenarioArgs, rt: &tokio::runtime::Runtime) -> anyhow::Result<RunEnv> {
    let (engine, reason) = rt.block_on(choose_runtime(args.runtime))?;
    let runtime_name = if engine.is_some() { "docker" } else { "local" };
    println!("runtime: {runtime_name} ({reason})");
    let prestop_override = match args.prestop.as_deref() {
        Some("script") => Some(PreStop::Script),
        Some("drain") => Some(PreStop::Drain),
        _ => None,
    };
    let artifacts_root = artifacts_dir(args.artifacts.clone());
    std::fs::create_dir_all(&artifacts_root)
        .with_context(|| format!("artifacts folder {}", artifacts_root.display()))?;

    // Preflight: everything found (or fetched) before anything starts.
    let tools = crate::tools::find_or_fetch()?;
    println!(
        "haproxy: {} ({})",
        tools.haproxy.display(),
        tools.haproxy_version
    );
    println!(
        "envoy:   {} ({})",
        tools.envoy.display(),
        tools.envoy_version
    );
    let apps = crate::apps::find_apps()?;
    let docker = match engine {
        None => None,
        Some(docker) => Some(rt.block_on(docker_images(docker, &apps, &tools))?),
    };

    let interrupts = crate::runtime::install_cleanup_hooks();
    let swept = crate::runtime::gc();
    if !swept.is_empty() {
        println!("gc: ended {} processes left by earlier runs", swept.len());
    }
    if docker.is_some() {
        crate::runtime::docker::install_docker_hooks();
        let d = crate::runtime::docker::gc();
        if d.removed > 0 {
            println!(
                "gc: removed {} containers/networks/volumes left by earlier runs",
                d.removed
            );
        }
    }
    Ok(RunEnv {
        tools,
        apps,
        artifacts_root,
        naming: args.naming,
        prestop_override,
        runtime_name: runtime_name.to_string(),
        runtime_reason: reason,
        docker,
        interrupts,
    })
}

/// The engine to run on (None: local) and why, as `--runtime` asks:
/// `auto` takes docker when an engine answers within 3 s.
async fn choose_runtime(
    choice: RuntimeChoice,
) -> anyhow::Result<(Option<bollard::Docker>, String)> {
    use crate::runtime::docker::probe_engine;
    let within = std::time::Duration::from_secs(3);
    Ok(match choice {
        RuntimeChoice::Local => (None, "asked for with --runtime local".into()),
        RuntimeChoice::Docker => match probe_engine(within).await {
            Ok(d) => {
                let v = engine_version(&d).await;
                (Some(d), format!("asked for with --runtime docker; Docker Engine {v}"))
            }
            Err(why) => anyhow::bail!(
                "--runtime docker: {why}; start the Docker Engine (or set DOCKER_HOST), or use --runtime local"
            ),
        },
        RuntimeChoice::Auto => match probe_engine(within).await {
            Ok(d) => {
                let v = engine_version(&d).await;
                (Some(d), format!("auto: Docker Engine {v} answered"))
            }
            Err(why) => (None, format!("auto: {why}, so local")),
        },
    })
}

async fn engine_version(d: &bollard::Docker) -> String {
    d.version()
        .await
        .ok()
        .and_then(|v| v.version)
        .unwrap_or_else(|| "(version unknown)".into())
}

/// Builds (or finds, by content tag) the lab's images and says so.
async fn docker_images(
    docker: bollard::Docker,
    apps: &crate::apps::Apps,
    tools: &crate::tools::Tools,
) -> anyhow::Result<crate::run::DockerEnv> {
    let t0 = std::time::Instant::now();
    let (images, reports) = crate::runtime::images::ensure_lab_images(&docker, apps, tools)
        .await
        .context("building the lab's images")?;
    let parts: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "{} {:.1} MB{}",
                r.name,
                r.size_bytes as f64 / 1e6,
                if r.built {
                    format!(" (built in {:.1} s)", r.took.as_secs_f64())
                } else {
                    String::new()
                }
            )
        })
        .collect();
    let built = reports.iter().filter(|r| r.built).count();
    println!(
        "images:  {} ({built} built, {} cached, {:.1} s)",
        parts.join(", "),
        reports.len() - built,
        t0.elapsed().as_secs_f64()
    );
    Ok(crate::run::DockerEnv { docker, images })
}

/// `harness scenario <id|path|all> ...`
pub fn scenario(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    if args.scenario == "all" {
        return scenario_all(args);
    }
    let path = scenario::resolve(&args.scenario, &scenarios_dir())?;
    let sc = scenario::load(&path)?;
    let modes: Vec<String> = match args.mode.as_str() {
        "both" | "all" => sc.ordered_modes(),
        m if sc.modes.contains_key(m) => vec![m.to_string()],
        m => anyhow::bail!(
            "--mode {m:?}: scenario {} has modes {} (or both)",
            sc.id,
            sc.ordered_modes().join(", ")
        ),
    };
    for w in scenario::warnings(&sc) {
        println!("warning: {w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let env = prepare(&args, &rt)?;
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
        let _ = crate::commands::junit::write_scenario(&env.artifacts_root, &sc.id, &results)
            .map_err(|e| eprintln!("harness: junit: {e}"));
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
                let what = if format!("{e:#}").contains("interrupted") {
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
        for e in &s.expectations {
            println!(
                "  [{}] {}: {}",
                if e.ok { "ok" } else { "FAIL" },
                e.name,
                e.detail
            );
        }
        for a in s.attributions.iter().take(8) {
            println!(
                "  disruption {} ({}, pod {}) at {:.2} s: {}",
                a.request_id,
                a.outcome,
                a.pod.as_deref().unwrap_or("?"),
                a.t_ms / 1000.0,
                a.cause.as_deref().unwrap_or("no cause found")
            );
        }
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
    let env = prepare(&args, &rt)?;
    let rows = crate::run::catalogue::run_all(&env, &rt, &picked, &args.mode, |id, results| {
        let _ = crate::commands::junit::write_scenario(&env.artifacts_root, id, results)
            .map_err(|e| eprintln!("harness: junit: {e}"));
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

/// `harness list`
pub fn list() -> anyhow::Result<ExitCode> {
    let mut bad = false;
    for (id, sc) in scenario::catalogue(&scenarios_dir()) {
        match sc {
            Ok(sc) => println!("{id:<5} {}", sc.purpose),
            Err(e) => {
                bad = true;
                println!("{id:<5} INVALID: {e}");
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `harness check <file>`
pub fn check(file: &Path) -> anyhow::Result<ExitCode> {
    let sc = scenario::load(file)?;
    for w in scenario::warnings(&sc) {
        println!("warning: {}: {w}", file.display());
    }
    println!(
        "ok: {} ({}): modes {}",
        file.display(),
        sc.id,
        sc.ordered_modes().join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `harness gc`
pub fn gc() -> anyhow::Result<ExitCode> {
    let swept = crate::runtime::gc();
    for s in &swept {
        println!("ended pid {} (group {}) of run {}", s.pid, s.pgid, s.run_id);
    }
    println!("gc: {} leftover processes ended", swept.len());
    let d = crate::runtime::docker::gc();
    if d.engine {
        println!(
            "gc: {} docker containers/networks/volumes removed",
            d.removed
        );
    }
    Ok(ExitCode::SUCCESS)
}
