//! `harness export`: writes a scenario mode's proven settings as Kubernetes
//! manifests, the external HAProxy's backend lines and a README into a
//! folder (the work is in [`crate::export`]).
//!
//! It reads a scenario file and writes only into `--out`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::export::{self, ExportOptions};
use crate::scenario;

/// Write what a scenario's mode proved as Kubernetes manifests: a Deployment
/// (backend, hc and Envoy; the mode's preStop `drain` with its exact
/// settings; the scenario's grace period and probes), ConfigMaps (Envoy's
/// config, hc's and drain's env), a Service, the external HAProxy's
/// `backend` lines, and a README on verifying a rollout with `harness watch`.
/// Validate offline with `kubernetes-validate --strict DIR/*.yaml`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// A scenario id from scenarios/ (s1) or a path to a .toml file.
    pub scenario: String,
    /// The mode to export (e.g. graceful, lb-first-404).
    #[arg(long)]
    pub mode: String,
    /// The folder to write into (created when missing; files are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Images are <prefix>/backend, <prefix>/hc and <prefix>/envoy.
    #[arg(long, default_value = "graceful-lab")]
    pub image_prefix: String,
    /// The images' tag.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    pub image_tag: String,
    /// metadata.namespace of every object (default: none, kubectl's current).
    #[arg(long)]
    pub namespace: Option<String>,
}

impl ExportArgs {
    /// `harness export <scenario> --mode M --out DIR`
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let path = scenario::resolve(&self.scenario, &super::scenarios_dir())?;
        let sc = scenario::load(&path)?;
        let opts = ExportOptions {
            image_prefix: self.image_prefix.clone(),
            image_tag: self.image_tag.clone(),
            namespace: self.namespace.clone(),
        };
        let bundle = export::export(&sc, &self.mode, &opts)
            .with_context(|| format!("exporting {} mode {}", sc.id, self.mode))?;
        for p in bundle.write(&self.out)? {
            println!("{}", p.display());
        }
        Ok(ExitCode::SUCCESS)
    }
}
