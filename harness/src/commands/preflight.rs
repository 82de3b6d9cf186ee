//! The preflight every run of a `scenario` invocation shares: the runtime
//! chosen (`--runtime`), the artifacts folder, tools and apps found (or
//! fetched), the lab's images (docker), cleanup hooks and the gc of earlier
//! runs' leftovers, all before any process of the run starts.
//!
//! It prints what it found; it never starts a run.

use std::path::PathBuf;

use anyhow::Context;

use crate::model::RuntimeKind;
use crate::run::RunEnv;
use crate::scenario::PreStop;

/// Where the runs of an invocation happen (`--runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeChoice {
    Local,
    Docker,
    Auto,
}

/// The flags the preflight reads, shared by `scenario` and `up`
/// (`#[command(flatten)]`); `up` rewords two help lines with `mut_arg`.
#[derive(Debug, Clone, clap::Args)]
pub struct LabArgs {
    #[arg(long, value_enum, default_value = "auto", env = "LAB_RUNTIME")]
    pub runtime: RuntimeChoice,
    /// Which state names every hc of the run speaks (default: HC_NAMING, else gate).
    #[arg(long, env = "HC_NAMING", default_value = "gate")]
    pub naming: gate::Naming,
    /// preStop of drain-based modes: the Rust `drain` or the seed's script.
    #[arg(long, value_enum)]
    pub prestop: Option<crate::scenario::DrainHook>,
    /// Where run folders go.
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

/// The preflight every run of an invocation shares: runtime choice,
/// artifacts folder, tools and apps found (or fetched), images (docker),
/// cleanup hooks, gc.
pub(crate) fn prepare(args: &LabArgs, rt: &tokio::runtime::Runtime) -> anyhow::Result<RunEnv> {
    let (engine, reason) = rt.block_on(choose_runtime(args.runtime))?;
    let runtime = if engine.is_some() {
        RuntimeKind::Docker
    } else {
        RuntimeKind::Local
    };
    println!("runtime: {runtime} ({reason})");
    let prestop_override = args.prestop.map(PreStop::from);
    let artifacts_root = super::artifacts_root(args.artifacts.clone());
    std::fs::create_dir_all(&artifacts_root)
        .with_context(|| format!("artifacts folder {}", artifacts_root.display()))?;

    // Preflight: everything found (or fetched) before anything starts.
    let purpose = match engine {
        Some(_) => crate::tools::Purpose::Images,
        None => crate::tools::Purpose::Local,
    };
    let tools = crate::tools::find_or_fetch(purpose)?;
    for t in &tools.all {
        println!(
            "{:<8} {} ({})",
            format!("{}:", t.name),
            t.run.display(),
            t.version
        );
    }
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
        runtime,
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
