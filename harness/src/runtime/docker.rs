//! The docker runtime: every process of a run is a container (or an engine
//! `exec`) on the run's own bridge network, driven through bollard. A pod is
//! a pause container owning one network namespace (fixed IP on the run's
//! subnet) that its containers join with `network_mode: container:<id>`;
//! signals go through the engine's kill, exits come from the engine's wait
//! (137 for a SIGKILL), logs are streamed to `<logs_dir>/<pod>-<name>.log`.
//!
//! It must never leave a container or network behind: `teardown`, a panic
//! hook and a watcher of the harness's interrupts remove everything labelled
//! with the run id; `gc` sweeps what a SIGKILLed harness left. It never
//! touches a container without the `graceful-lab` label, never publishes a
//! port, and never shells out to the docker CLI.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;

use super::cleanup::lock;
use super::images::{paths, LabImages, LAB_LABEL};
use super::{pod_env, Exit, LbPlace, LineSink, Proc, ProcSpec, Runtime, RuntimeError, Signal};
use crate::topology::PodAddrs;

pub use sweep::{gc, install_docker_hooks, remove_run_blocking, DockerSwept};

/// Label keys (besides `graceful-lab=1`).
pub const RUN_LABEL: &str = "graceful-lab.run";
pub const SCENARIO_LABEL: &str = "graceful-lab.scenario";
pub const OWNER_LABEL: &str = "graceful-lab.owner";

/// Connects to the local engine (DOCKER_HOST or the unix socket) and pings it.
pub async fn connect() -> Result<Docker, bollard::errors::Error> {
    let d = Docker::connect_with_local_defaults()?;
    let d = d.negotiate_version().await?;
    d.ping().await?;
    Ok(d)
}

/// For `--runtime auto`: the engine when one answers within `within`, else
/// why not (one line, to print as the reason for choosing local).
pub async fn probe_engine(within: Duration) -> Result<Docker, String> {
    match tokio::time::timeout(within, connect()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(format!("no Docker Engine answered: {e}")),
        Err(_) => Err(format!("no Docker Engine answered within {within:?}")),
    }
}

/// How a container joins the network.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Joins the pause container of this pod.
    Pod(String),
    /// Its own namespace on the run's network, at this address (None: any).
    Own(Option<Ipv4Addr>),
}

/// A bind mount at the same path inside the container.
#[derive(Debug, Clone)]
pub struct Bind {
    pub path: PathBuf,
    pub read_only: bool,
}

#[derive(Debug, Clone)]
enum Handle {
    Container(String),
    /// An engine exec in `container` (no kill in the API: signalled by pid).
    Exec {
        exec_id: String,
    },
}

struct Inner {
    docker: Docker,
    run_id: String,
    scenario: String,
    logs_dir: PathBuf,
    images: LabImages,
    network: String,
    subnet: Ipv4Addr,
    next_id: AtomicU64,
    procs: Mutex<Vec<(Proc, Handle)>>,
    /// pod name -> pause container id.
    pods: Mutex<HashMap<String, String>>,
    /// pod name -> hc (exec target) container id.
    exec_targets: Mutex<HashMap<String, String>>,
    /// Every container created, in order.
    containers: Mutex<Vec<String>>,
    /// The containers with an endpoint of their own on the run's network
    /// (pause, HAProxy): removed one at a time (see `sweep::teardown`).
    endpoints: Mutex<Vec<String>>,
}

impl Drop for Inner {
    /// Last resort when `teardown` was not awaited: remove by label.
    fn drop(&mut self) {
        if sweep::is_live(&self.run_id) {
            remove_run_blocking(&self.run_id);
        }
    }
}

/// The docker runtime of one run. Cheap to clone.
#[derive(Clone)]
pub struct DockerRuntime {
    inner: Arc<Inner>,
}

impl DockerRuntime {
    /// Creates the run's network (a free `10.213.N.0/24`) and registers the run
    /// with the panic/interrupt hooks.
    pub async fn new(
        docker: Docker,
        run_id: impl Into<String>,
        scenario: impl Into<String>,
        logs_dir: impl Into<PathBuf>,
        images: LabImages,
    ) -> Result<Self, RuntimeError> {
        let (run_id, scenario, logs_dir) = (run_id.into(), scenario.into(), logs_dir.into());
        std::fs::create_dir_all(&logs_dir).map_err(|source| RuntimeError::Log {
            path: logs_dir.clone(),
            source,
        })?;
        sweep::register(&run_id);
        let created = network::create(&docker, &run_id, &scenario).await;
        let (network, subnet) = match created {
            Ok(n) => n,
            Err(e) => {
                sweep::unregister(&run_id);
                return Err(e);
            }
        };
        Ok(DockerRuntime {
            inner: Arc::new(Inner {
                docker,
                run_id,
                scenario,
                logs_dir,
                images,
                network,
                subnet,
                next_id: AtomicU64::new(1),
                procs: Mutex::new(Vec::new()),
                pods: Mutex::new(HashMap::new()),
                exec_targets: Mutex::new(HashMap::new()),
                containers: Mutex::new(Vec::new()),
                endpoints: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.inner.docker
    }
    pub fn network(&self) -> &str {
        &self.inner.network
    }
    /// The run's `/24` (its `.0`).
    pub fn subnet(&self) -> Ipv4Addr {
        self.inner.subnet
    }
    /// `.N` of the run's subnet.
    pub fn ip(&self, n: u8) -> Ipv4Addr {
        host_in(self.inner.subnet, n)
    }
    pub fn images(&self) -> &LabImages {
        &self.inner.images
    }
    /// The host pid of `proc`'s container (its main process), from the
    /// engine; None for an exec, a stopped container or an engine in
    /// another pid namespace.
    pub async fn host_pid(&self, proc: &Proc) -> Option<u32> {
        let id = self.container_of(proc)?;
        let c = self
            .inner
            .docker
            .inspect_container(
                &id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok()?;
        let pid = c.state.and_then(|s| s.pid).filter(|p| *p > 0)? as u32;
        std::path::Path::new(&format!("/proc/{pid}/ns/net"))
            .exists()
            .then_some(pid)
    }

    /// Every container id created so far.
    pub fn containers(&self) -> Vec<String> {
        lock(&self.inner.containers).clone()
    }

    /// Starts the pause container owning `pod`'s network namespace at `pod.ip`.
    /// A running sandbox of the same pod (a restarted pod) is reused.
    pub async fn create_pod_sandbox(&self, pod: &PodAddrs) -> Result<String, RuntimeError> {
        let existing = lock(&self.inner.pods).get(&pod.name).cloned();
        if let Some(id) = existing {
            let running = lock(&self.inner.procs).iter().any(|(p, h)| {
                p.name == "pause" && p.is_running() && matches!(h, Handle::Container(c) if *c == id)
            });
            if running {
                return Ok(id);
            }
        }
        let spec = ProcSpec::new("pause", "sleep")
            .pod(&pod.name)
            .args(["2147483647"]);
        let p = self
            .start_container(
                spec,
                Placement::Own(Some(pod.ip)),
                &[],
                &self.inner.images.pause,
            )
            .await?;
        let id = self.container_of(&p).unwrap_or_default();
        lock(&self.inner.pods).insert(pod.name.clone(), id.clone());
        Ok(id)
    }

    /// The image and in-image program for a host program (by file name);
    /// anything else (`sleep`, `/bin/sh`) runs as named in the hc image.
    pub fn image_for(&self, program: &Path) -> (String, String) {
        let i = &self.inner.images;
        let file = program.file_name().and_then(|f| f.to_str()).unwrap_or("");
        let official = |image: &String| i.official.contains(image);
        match file {
            "envoy" if official(&i.envoy) => (i.envoy.clone(), "envoy".into()),
            "haproxy" if official(&i.haproxy) => (i.haproxy.clone(), "haproxy".into()),
            "backend" => (i.backend.clone(), paths::BACKEND.into()),
            "hc" => (i.hc.clone(), paths::HC.into()),
            "drain" => (i.hc.clone(), paths::DRAIN.into()),
            "graceful-drain.sh" => (i.hc.clone(), paths::DRAIN_SCRIPT.into()),
            "envoy" => (i.envoy.clone(), paths::ENVOY.into()),
            "haproxy" => (i.haproxy.clone(), paths::HAPROXY.into()),
            _ => (i.hc.clone(), program.display().to_string()),
        }
    }

    fn container_of(&self, p: &Proc) -> Option<String> {
        lock(&self.inner.procs)
            .iter()
            .find(|(q, _)| q.id == p.id)
            .and_then(|(_, h)| match h {
                Handle::Container(c) => Some(c.clone()),
                Handle::Exec { .. } => None,
            })
    }
}

fn engine(what: &str, reason: String) -> RuntimeError {
    RuntimeError::Spawn {
        what: what.into(),
        program: PathBuf::from("docker"),
        source: std::io::Error::other(reason),
    }
}

fn host_in(net: Ipv4Addr, n: u8) -> Ipv4Addr {
    let o = net.octets();
    Ipv4Addr::new(o[0], o[1], o[2], n)
}

mod container;
mod exec;
mod network;
mod output;
mod place;
mod signal;

pub use place::{docker_envoy_cfg, FRONTEND_PORT, HAPROXY_HOST, POD_HOST_BASE};

impl Runtime for DockerRuntime {
    fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    fn logs_dir(&self) -> &Path {
        &self.inner.logs_dir
    }

    async fn start(&self, spec: ProcSpec) -> Result<Proc, RuntimeError> {
        let (image, _) = self.image_for(&spec.program);
        let place = match &spec.pod {
            Some(p) => Placement::Pod(p.clone()),
            None => Placement::Own(None),
        };
        self.start_container(spec, place, &[], &image).await
    }

    fn signal(&self, proc: &Proc, sig: Signal) -> Result<(), RuntimeError> {
        self.send_signal(proc, sig)
    }

    async fn exec_in_pod(&self, pod: &PodAddrs, spec: ProcSpec) -> Result<Proc, RuntimeError> {
        let target = lock(&self.inner.exec_targets)
            .get(&pod.name)
            .cloned()
            .ok_or_else(|| RuntimeError::UnknownProc(format!("{}/hc (exec target)", pod.name)))?;
        let mut env = pod_env(pod);
        env.extend(spec.env.iter().cloned());
        let spec = ProcSpec {
            pod: Some(pod.name.clone()),
            env,
            ..spec
        };
        exec::exec(self, &self.inner, &target, spec).await
    }

    async fn stop(&self, proc: &Proc, grace: Duration) -> Result<Exit, RuntimeError> {
        super::stop_with_grace(self, proc, grace).await
    }

    async fn teardown(&self) {
        sweep::teardown(&self.inner).await;
    }

    fn pod_addrs(&self, n: usize) -> Vec<PodAddrs> {
        self.docker_pod_addrs(n)
    }

    fn haproxy_place(&self, i: usize) -> Result<LbPlace, RuntimeError> {
        Ok(self.docker_haproxy_place(i))
    }

    fn stats_socket_dir(&self, run_dir: &Path) -> PathBuf {
        run_dir.join("sock")
    }

    async fn netns_pid(&self, proc: &Proc) -> Option<u32> {
        self.host_pid(proc).await
    }

    async fn pod_sandbox(&self, pod: &PodAddrs, envoy_cfg: &Path) -> Result<PathBuf, RuntimeError> {
        self.docker_pod_sandbox(pod, envoy_cfg).await
    }

    /// HAProxy in its own container at `place.ip`, the stats socket's folder
    /// bind-mounted read-write at the same path.
    async fn start_lb(
        &self,
        spec: ProcSpec,
        place: &LbPlace,
        sock_dir: &Path,
    ) -> Result<Proc, RuntimeError> {
        let image = self.images().haproxy.clone();
        let binds = [Bind {
            path: sock_dir.to_path_buf(),
            read_only: false,
        }];
        self.start_container(spec, Placement::Own(Some(place.ip)), &binds, &image)
            .await
    }
}

/// Exec, teardown, the registry of live runs and the label sweeps.
mod sweep;
