//! One run of one scenario mode, as a straight pipeline:
//! [`stage`] (run folder, streams, runtime) → [`drive`] (the lab started,
//! loaded, terminated, torn down; what it produced collected) → [`judge`]
//! (counts, causes, expectations, validity, verdict) → [`record`] (derived
//! artifacts, then summary.json once). Each hands the next a typed value:
//! `Staged`, `Driven`, `Judged`.
//!
//! This is the only place that wires the stages together; drive tears down
//! everything the run started on every path out (success, error,
//! interrupt).

mod accounting;
pub mod catalogue;
pub mod control;
mod coverage;
mod drive;
pub mod during;
mod faults;
mod hooks;
mod judge;
mod lines;
mod load_end;
mod moments;
mod order;
mod record;
mod records;
mod setup;
mod stage;
pub mod up;
mod validity;
pub mod verdict;
pub mod watch;
mod watch_judge;

use std::path::PathBuf;

use anyhow::Context;

use crate::apps::Apps;
use crate::artifacts::Summary;
use crate::runtime::images::LabImages;
use crate::runtime::Interrupts;
use crate::scenario::{PreStop, Scenario};
use crate::tools::Tools;

pub use crate::observe::proxy_logs::ProxyLogs;
pub use crate::runtime::local::pod_net;
pub use drive::{DriveFacts, Interrupted};
pub use setup::topology_settings;

/// What every run of an invocation shares.
pub struct RunEnv {
    pub tools: Tools,
    pub apps: Apps,
    pub artifacts_root: PathBuf,
    pub naming: gate::Naming,
    pub prestop_override: Option<PreStop>,
    pub runtime: crate::model::RuntimeKind,
    pub runtime_reason: String,
    /// The engine and the lab's images when the runtime is docker.
    pub docker: Option<DockerEnv>,
    pub interrupts: Interrupts,
}

/// What a docker run needs: the engine (answered in the preflight) and the
/// images built (or found) there.
#[derive(Clone)]
pub struct DockerEnv {
    pub docker: bollard::Docker,
    pub images: LabImages,
}

/// A finished (or interrupted) run.
pub struct RunResult {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// Runs `mode_name` of `sc` and writes its run folder. An interrupted run
/// is an error carrying [`Interrupted`] (its folder is complete and marked
/// so); a run that could not be driven is an error naming its folder.
pub async fn run_mode(env: &RunEnv, sc: &Scenario, mode_name: &str) -> anyhow::Result<RunResult> {
    // The mode's own topology, faults and load, where it has them.
    let effective = sc.for_mode(mode_name);
    let sc = &effective;
    let (staged, senders, writers) = stage::stage(env, sc, mode_name).await?;
    let mode = &sc.modes[mode_name];
    let driven = drive::drive(env, sc, &staged, senders, writers).await;
    // Torn down: a stats socket moved to the temp folder goes with the run.
    crate::lab::remove_socket_fallback(&staged.dir.run_id());
    let judged = judge::judge(sc, mode, staged.summary.clone(), &driven);
    let summary = record::record(&staged.dir, judged)?;
    staged.progress.finish();
    let dir = staged.dir.path().to_path_buf();
    match (driven.outcome, driven.interrupted) {
        (Ok(_), None) => Ok(RunResult { dir, summary }),
        (Ok(_), Some(i)) => Err(anyhow::Error::new(i))
            .with_context(|| format!("run folder {} (marked interrupted)", dir.display())),
        (Err(e), Some(_)) => {
            Err(e.context(format!("run folder {} (marked interrupted)", dir.display())))
        }
        (Err(e), None) => Err(e.context(format!("run folder {}", dir.display()))),
    }
}
