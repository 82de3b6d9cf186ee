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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::watch;

use super::cleanup::lock;
use super::images::{paths, LabImages, LAB_LABEL};
use super::{
    pod_env, Exit, LbPlace, LineSink, Proc, ProcSpec, Runtime, RuntimeError, Signal, OWNER_ENV,
    RUN_ID_ENV,
};
use crate::topology::PodAddrs;

pub use sweep::{gc, remove_run_blocking, DockerSwept};

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
        let name = format!("graceful-lab-{run_id}");
        let mut labels = base_labels(&run_id, &scenario);
        labels.insert("graceful-lab.kind".into(), "network".into());
        let mut last = String::new();
        for net in sweep::free_subnets(&docker).await {
            let req = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(format!("{net}/24")),
                        gateway: Some(host_in(net, 1).to_string()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            match docker.create_network(req).await {
                Ok(_) => {
                    return Ok(DockerRuntime {
                        inner: Arc::new(Inner {
                            docker,
                            run_id,
                            scenario,
                            logs_dir,
                            images,
                            network: name,
                            subnet: net,
                            next_id: AtomicU64::new(1),
                            procs: Mutex::new(Vec::new()),
                            pods: Mutex::new(HashMap::new()),
                            exec_targets: Mutex::new(HashMap::new()),
                            containers: Mutex::new(Vec::new()),
                            endpoints: Mutex::new(Vec::new()),
                        }),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
        sweep::unregister(&run_id);
        Err(engine(
            "network",
            format!("could not create {name}: {last}"),
        ))
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

    /// Creates and starts one container for `spec` (image chosen by the
    /// caller), streams its logs and watches its exit.
    pub async fn start_container(
        &self,
        spec: ProcSpec,
        place: Placement,
        binds: &[Bind],
        image: &str,
    ) -> Result<Proc, RuntimeError> {
        let inner = &self.inner;
        let log_path = inner.logs_dir.join(spec.log_file_name());
        let file = super::logfile::LogFile::open(&log_path)?;
        let (cmd, env) = command_and_env(self, inner, &spec);
        let mut labels = base_labels(&inner.run_id, &inner.scenario);
        labels.insert("graceful-lab.name".into(), spec.name.clone());
        if let Some(p) = &spec.pod {
            labels.insert("graceful-lab.pod".into(), p.clone());
        }
        let mut binds: Vec<Bind> = binds.to_vec();
        // A host path named in the args (a config) is mounted read-only at
        // the same path, so the args stay valid inside.
        for a in &spec.args {
            let p = Path::new(a);
            if p.is_absolute() && p.is_file() {
                if let Some(dir) = p.parent() {
                    if !binds.iter().any(|b| b.path == dir) {
                        binds.push(Bind {
                            path: dir.to_path_buf(),
                            read_only: true,
                        });
                    }
                }
            }
        }
        let (network_mode, networking) = match &place {
            Placement::Pod(pod) => {
                let pause = lock(&inner.pods)
                    .get(pod)
                    .cloned()
                    .ok_or_else(|| RuntimeError::UnknownProc(format!("pod {pod} (no sandbox)")))?;
                (format!("container:{pause}"), None)
            }
            Placement::Own(ip) => {
                let ep = EndpointSettings {
                    ipam_config: ip.map(|ip| EndpointIpamConfig {
                        ipv4_address: Some(ip.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                (
                    inner.network.clone(),
                    Some(NetworkingConfig {
                        endpoints_config: Some([(inner.network.clone(), ep)].into()),
                    }),
                )
            }
        };
        let name = container_name(&inner.run_id, &spec);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd),
            env: Some(env),
            labels: Some(labels),
            hostname: match (&place, &spec.pod) {
                (Placement::Own(_), Some(p)) => Some(p.clone()),
                _ => None,
            },
            networking_config: networking,
            host_config: Some(HostConfig {
                network_mode: Some(network_mode),
                binds: Some(
                    binds
                        .iter()
                        .map(|b| {
                            let p = b.path.display();
                            format!("{p}:{p}:{}", if b.read_only { "ro" } else { "rw" })
                        })
                        .collect(),
                ),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                init: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = inner
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| spawn_err(&spec, format!("create {name} from {image}: {e}")))?;
        let id = created.id;
        lock(&inner.containers).push(id.clone());
        if matches!(place, Placement::Own(_)) {
            lock(&inner.endpoints).push(id.clone());
        }
        inner
            .docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| spawn_err(&spec, format!("start {name}: {e}")))?;
        let (tx, rx) = watch::channel(None);
        let logs = inner.docker.logs(
            &id,
            Some(
                LogsOptionsBuilder::new()
                    .follow(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        tokio::spawn(pump(logs, file, spec.tee.clone()));
        let docker = inner.docker.clone();
        let wid = id.clone();
        tokio::spawn(async move {
            let exit = wait_exit(&docker, &wid).await;
            tx.send_replace(Some(exit));
        });
        let pid_id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let proc = Proc::new(pid_id, &spec, None, log_path, rx);
        if spec.name == "hc" {
            if let Some(pod) = &spec.pod {
                lock(&inner.exec_targets).insert(pod.clone(), id.clone());
            }
        }
        lock(&inner.procs).push((proc.clone(), Handle::Container(id)));
        Ok(proc)
    }

    fn kill_container(
        &self,
        id: &str,
        sig: Signal,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let docker = self.inner.docker.clone();
        let id = id.to_string();
        async move {
            match docker
                .kill_container(
                    &id,
                    Some(
                        KillContainerOptionsBuilder::new()
                            .signal(sig.name())
                            .build(),
                    ),
                )
                .await
            {
                Ok(()) => Ok(()),
                // Not running any more (409) or gone (404): nothing to signal.
                Err(bollard::errors::Error::DockerResponseServerError { status_code, .. })
                    if status_code == 409 || status_code == 404 =>
                {
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

fn engine(what: &str, reason: String) -> RuntimeError {
    RuntimeError::Spawn {
        what: what.into(),
        program: PathBuf::from("docker"),
        source: std::io::Error::other(reason),
    }
}

fn spawn_err(spec: &ProcSpec, reason: String) -> RuntimeError {
    RuntimeError::Spawn {
        what: spec.label(),
        program: spec.program.clone(),
        source: std::io::Error::other(reason),
    }
}

fn host_in(net: Ipv4Addr, n: u8) -> Ipv4Addr {
    let o = net.octets();
    Ipv4Addr::new(o[0], o[1], o[2], n)
}

fn base_labels(run_id: &str, scenario: &str) -> HashMap<String, String> {
    [
        (LAB_LABEL.to_string(), "1".to_string()),
        (RUN_LABEL.to_string(), run_id.to_string()),
        (SCENARIO_LABEL.to_string(), scenario.to_string()),
        (OWNER_LABEL.to_string(), super::procscan::own_token()),
    ]
    .into()
}

/// `graceful-lab-<run>-<pod>-<name>` (unique per run: a second `start` of
/// the same name gets `-2`, ...).
fn container_name(run_id: &str, spec: &ProcSpec) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let base = match &spec.pod {
        Some(p) => format!("graceful-lab-{run_id}-{p}-{}", spec.name),
        None => format!("graceful-lab-{run_id}-{}", spec.name),
    };
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

mod output;
mod place;
use output::{exit_of, pump, wait_exit};
pub use place::{docker_envoy_cfg, FRONTEND_PORT, HAPROXY_HOST, POD_HOST_BASE};

static HOOKS: OnceLock<()> = OnceLock::new();

/// Once per process: a panic hook removing every live docker run, and a
/// thread that does the same when the harness is interrupted (Ctrl-C/SIGTERM,
/// via `install_cleanup_hooks`'s `Interrupts`).
pub fn install_docker_hooks() {
    HOOKS.get_or_init(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            sweep::remove_live_runs();
            prev(info);
        }));
        let interrupts = super::install_cleanup_hooks();
        let _ = std::thread::Builder::new()
            .name("lab-docker-interrupts".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(interrupts.recv());
                sweep::remove_live_runs();
            });
    });
}

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
        let handle = lock(&self.inner.procs)
            .iter()
            .find(|(p, _)| p.id == proc.id)
            .map(|(_, h)| h.clone())
            .ok_or_else(|| RuntimeError::UnknownProc(proc.label()))?;
        match handle {
            Handle::Container(id) => {
                // Signal delivery is asynchronous; the trait is sync.
                let fut = self.kill_container(&id, sig);
                let what = proc.label();
                tokio::spawn(async move {
                    if let Err(e) = fut.await {
                        eprintln!("harness: docker kill {what} with {}: {e}", sig.name());
                    }
                });
                Ok(())
            }
            Handle::Exec { exec_id } => {
                let docker = self.inner.docker.clone();
                tokio::spawn(async move {
                    if let Ok(i) = docker.inspect_exec(&exec_id).await {
                        if let Some(pid) = i.pid.filter(|p| *p > 1) {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid as i32),
                                sig.to_nix(),
                            );
                        }
                    }
                });
                Ok(())
            }
        }
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
        sweep::exec(self, &self.inner, &target, spec).await
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

/// The command line and environment of a container or exec: the image's
/// program and the spec's args; the spec's env plus the run id and the owner
/// (the host's process scan — the local runtime's `gc`, which sees container
/// processes in /proc — must leave them alone while this harness lives).
fn command_and_env(
    rt: &DockerRuntime,
    inner: &Inner,
    spec: &ProcSpec,
) -> (Vec<String>, Vec<String>) {
    let (_, program) = rt.image_for(&spec.program);
    let mut cmd = vec![program];
    cmd.extend(spec.args.iter().map(|a| a.to_string_lossy().into_owned()));
    let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.push(format!("{RUN_ID_ENV}={}", inner.run_id));
    env.push(format!(
        "{OWNER_ENV}={}",
        crate::runtime::procscan::own_token()
    ));
    (cmd, env)
}

/// Exec, teardown, the registry of live runs and the label sweeps.
mod sweep;
