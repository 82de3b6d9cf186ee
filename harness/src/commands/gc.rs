//! `harness gc`: ends the processes (and docker containers, networks and
//! volumes) that earlier runs left behind, found by their run id.
//!
//! It touches only what carries a lab run id.

use std::process::ExitCode;

/// The flags of `harness gc` (none).
#[derive(Debug, Clone, clap::Args)]
pub struct GcArgs {}

impl GcArgs {
    /// `harness gc`
    pub fn run(&self) -> anyhow::Result<ExitCode> {
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
}
