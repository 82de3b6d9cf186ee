//! `harness up <scenario> [--mode M]`: keeps a scenario mode's topology
//! running until Ctrl-C (or SIGTERM), printing where everything is. No
//! load and no fault: a person (or `harness watch`) sends the load, and
//! `harness terminate <pod>` runs the mode's termination on it.
//!
//! Printing only; the work is in `run::up`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::preflight::{prepare, LabArgs};
use super::scenarios_dir;
use crate::run::control::UpState;
use crate::scenario;

/// The flags of `harness up`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Keep a scenario mode's topology (pods, Envoy sidecars, HAProxy) running until Ctrl-C",
    long_about = "Keep a scenario mode's topology (pods with backend, hc and an Envoy sidecar; HAProxy in front) running until Ctrl-C or SIGTERM, and print where everything is: the frontend URL, each pod's addresses, hc's admin address, Envoy's admin, HAProxy's stats socket.\n\nIt runs no load and no fault. Send your own (curl, `harness watch --url <frontend> --during ...`), kill a process, read `show servers state` on the stats socket, and run the mode's termination of a pod with `harness terminate <pod>` (kubelet's emulation: preStop, SIGTERM, grace period, SIGKILL).\n\nIts folder, artifacts/<UTC>-up-<scenario>-<mode>/, holds up.json (what is up and where), the control socket `harness terminate` uses, the logs, config/, timeline.csv and samples.csv. On exit everything is torn down as after a run, also on failure or panic.",
    after_help = "Example:\n  harness up s1 --mode current --runtime local\n  harness watch --url http://127.0.0.1:PORT/ --during \"harness terminate pod-a\" --max-disruptions 0",
    mut_arg("naming", |a| a.help("Which state names every hc speaks (default: HC_NAMING, else gate)")),
    mut_arg("artifacts", |a| a.help("Where the up's folder goes"))
)]
pub struct UpArgs {
    /// A scenario id from scenarios/ or a path to a .toml file.
    pub scenario: String,
    /// The mode whose topology (and default termination) is kept up.
    #[arg(long)]
    pub mode: Option<String>,
    // --runtime, --naming, --prestop, --artifacts (shared with `scenario`;
    // two help lines say "up" instead, see `mut_arg` above).
    #[command(flatten)]
    pub lab: LabArgs,
}

impl UpArgs {
    /// `harness up`: exits when interrupted (the harness's cleanup exits
    /// 128 + signal once the topology is down), 2 when it could not start.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let path = scenario::resolve(&self.scenario, &scenarios_dir())?;
        let sc = scenario::load(&path)?;
        let mode = match &self.mode {
            Some(m) if sc.modes.contains_key(m) => m.clone(),
            Some(m) => anyhow::bail!(
                "--mode {m:?}: scenario {} has modes {}",
                sc.id,
                sc.ordered_modes().join(", ")
            ),
            None => sc
                .ordered_modes()
                .first()
                .cloned()
                .with_context(|| format!("scenario {} has no mode", sc.id))?,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let env = prepare(&self.lab, &rt)?;
        let end = rt.block_on(crate::run::up::up(&env, &sc, &mode, print_ready))?;
        rt.shutdown_timeout(std::time::Duration::from_secs(2));
        println!(
            "up ended: {} termination(s); everything it started is gone; folder {}",
            end.terminations.len(),
            end.dir.display()
        );
        end.outcome
            .with_context(|| format!("up folder {}", end.dir.display()))?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints where everything is, once the topology is ready.
fn print_ready(dir: &Path, st: &UpState) {
    println!("up: {} / {} ({} runtime)", st.scenario, st.mode, st.runtime);
    println!("frontend:       {}", st.frontend_url);
    println!(
        "haproxy stats:  {} (e.g. echo 'show servers state' | socat - UNIX:{})",
        st.haproxy_stats_socket.display(),
        st.haproxy_stats_socket.display()
    );
    for p in &st.pods {
        println!(
            "{}: ip {}  envoy {}  envoy admin {}  backend {}  hc {}  hc admin {}",
            p.name, p.ip, p.envoy_inbound, p.envoy_admin, p.backend, p.hc, p.hc_admin
        );
    }
    println!("folder:         {}", dir.display());
    println!(
        "terminate:      harness terminate <pod> --up {}",
        dir.display()
    );
    println!("ready; Ctrl-C tears everything down");
}
