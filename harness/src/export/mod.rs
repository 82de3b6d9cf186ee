//! `harness export`: what a scenario's mode proved in the lab, written as
//! Kubernetes manifests (a Deployment of backend + hc + Envoy with the mode's
//! preStop, grace period and probes; ConfigMaps; a Service), the external
//! HAProxy's `backend` lines, and a README saying how to verify them on a
//! cluster with `harness watch`.
//!
//! Every value comes from the mode's resolved settings (`Scenario::for_mode`,
//! the run's own resolution) through the lab's own renderers
//! (`topology::render_envoy_at`, `topology::render_haproxy`,
//! `prestop::command`); manifests are typed structs serialised with
//! serde_yaml. It must never start a process, touch the network, or write
//! outside the folder it is given.

pub mod haproxy;
pub mod k8s;
pub mod pod;
mod readme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::prestop::{self, PreStopCommand};
use crate::scenario::Scenario;
use crate::topology::{TopologyError, TopologySettings};

/// The Deployment's, Service's and ConfigMaps' name prefix.
pub const APP: &str = "web";

/// The files written into the output folder.
pub mod names {
    pub const DEPLOYMENT: &str = "deployment.yaml";
    pub const CONFIGMAPS: &str = "configmaps.yaml";
    pub const SERVICE: &str = "service.yaml";
    pub const HAPROXY_BACKEND: &str = "haproxy-backend.cfg";
    pub const README: &str = "README.md";
    /// The Kubernetes manifests (what `kubectl apply -f` and the validator take).
    pub const MANIFESTS: [&str; 3] = [CONFIGMAPS, DEPLOYMENT, SERVICE];
}

/// How the manifests name images and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Images are `<prefix>/<backend|hc|envoy>:<tag>`.
    pub image_prefix: String,
    pub image_tag: String,
    /// `metadata.namespace` of every object (none: the current namespace).
    pub namespace: Option<String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            image_prefix: "graceful-lab".into(),
            image_tag: env!("CARGO_PKG_VERSION").into(),
            namespace: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("scenario {scenario} has no mode {mode:?} (its modes: {known})")]
    UnknownMode {
        scenario: String,
        mode: String,
        known: String,
    },
    #[error("{setting} = {value}: Kubernetes takes whole seconds (> 0) there")]
    NotWholeSeconds {
        setting: &'static str,
        value: String,
    },
    #[error("mode {mode}: {reason}")]
    NotExportable { mode: String, reason: String },
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serialising {what}: {source}")]
    Yaml {
        what: &'static str,
        source: serde_yaml::Error,
    },
}

/// One mode of one scenario, resolved as a run resolves it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `sc.for_mode(mode)`.
    pub sc: Scenario,
    pub mode: String,
    /// The topology settings the lab renders its templates with.
    pub settings: TopologySettings,
    /// The mode's preStop, as the lab's kubelet runs it.
    pub prestop: PreStopCommand,
    pub opts: ExportOptions,
}

impl Resolved {
    /// Resolves `mode` of `sc`; refuses a mode that injects a lab fault.
    pub fn new(sc: &Scenario, mode: &str, opts: &ExportOptions) -> Result<Self, ExportError> {
        let Some(m) = sc.modes.get(mode) else {
            return Err(ExportError::UnknownMode {
                scenario: sc.id.clone(),
                mode: mode.into(),
                known: sc.ordered_modes().join(", "),
            });
        };
        if m.drain.envoy_admin_unreachable {
            return Err(ExportError::NotExportable {
                mode: mode.into(),
                reason: "drain.envoy_admin_unreachable is a lab fault (ENVOY_ADMIN on a dead port), not a setting to deploy".into(),
            });
        }
        let sc = sc.for_mode(mode);
        let prestop = prestop::command(prestop::kind(m, None), m, &sc.topology.haproxy);
        Ok(Resolved {
            settings: crate::run::topology_settings(&sc),
            sc,
            mode: mode.into(),
            prestop,
            opts: opts.clone(),
        })
    }

    pub fn name(&self) -> String {
        APP.to_string()
    }

    pub fn image(&self, what: &str) -> String {
        format!(
            "{}/{what}:{}",
            self.opts.image_prefix.trim_end_matches('/'),
            self.opts.image_tag
        )
    }

    /// The selector's labels.
    pub fn selector(&self) -> k8s::Labels {
        BTreeMap::from([("app".to_string(), APP.to_string())])
    }

    /// Every object's labels: the selector's plus where it came from.
    pub fn labels(&self) -> k8s::Labels {
        let mut l = self.selector();
        l.insert("app.kubernetes.io/managed-by".into(), "graceful-lab".into());
        l
    }

    /// Which scenario and mode the pod carries out, and what differs.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("graceful-lab/scenario".to_string(), self.sc.id.clone()),
            ("graceful-lab/mode".to_string(), self.mode.clone()),
        ])
    }
}

/// Everything `export` writes, as values.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub deployment: k8s::Deployment,
    pub config_maps: Vec<k8s::ConfigMap>,
    pub service: k8s::Service,
    pub haproxy_backend: String,
    pub readme: String,
}

/// Builds the manifests of `mode` of `sc`.
pub fn export(sc: &Scenario, mode: &str, opts: &ExportOptions) -> Result<Bundle, ExportError> {
    let r = Resolved::new(sc, mode, opts)?;
    Ok(Bundle {
        deployment: pod::deployment(&r)?,
        config_maps: pod::config_maps(&r)?,
        service: pod::service(&r),
        haproxy_backend: haproxy::backend(&r)?,
        readme: readme::text(&r),
    })
}

fn yaml<T: serde::Serialize>(what: &'static str, v: &T) -> Result<String, ExportError> {
    serde_yaml::to_string(v).map_err(|source| ExportError::Yaml { what, source })
}

impl Bundle {
    /// Writes the files into `dir` (created when missing); returns their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ExportError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let cms = self
            .config_maps
            .iter()
            .map(|c| yaml("a ConfigMap", c))
            .collect::<Result<Vec<_>, _>>()?
            .join("---\n");
        let files = [
            (names::CONFIGMAPS, cms),
            (names::DEPLOYMENT, yaml("the Deployment", &self.deployment)?),
            (names::SERVICE, yaml("the Service", &self.service)?),
            (names::HAPROXY_BACKEND, self.haproxy_backend.clone()),
            (names::README, self.readme.clone()),
        ];
        let mut out = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io(&path))?;
            out.push(path);
        }
        Ok(out)
    }
}
