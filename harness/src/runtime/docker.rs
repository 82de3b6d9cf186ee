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
    pod_env, Exit, LineSink, Proc, ProcSpec, Runtime, RuntimeError, Signal, OWNER_ENV, RUN_ID_ENV,
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
        match file {
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
        let file = open_log(&log_path)?;
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

fn open_log(path: &Path) -> Result<Arc<Mutex<std::fs::File>>, RuntimeError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|f| Arc::new(Mutex::new(f)))
        .map_err(|source| RuntimeError::Log {
            path: path.to_path_buf(),
            source,
        })
}

/// Copies an engine output stream line by line to `file` and `tee`
/// (stdout and stderr keep separate partial lines).
async fn pump<S>(mut stream: S, file: Arc<Mutex<std::fs::File>>, tee: Option<LineSink>)
where
    S: futures::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>>
        + Unpin,
{
    use bollard::container::LogOutput;
    use std::io::Write;
    let mut partial: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let emit = |buf: &[u8]| {
        let at = Instant::now();
        let mut b = buf;
        while let Some((b'\r', rest)) = b.split_last() {
            b = rest;
        }
        let line = String::from_utf8_lossy(b).into_owned();
        let _ = lock(&file).write_all(format!("{line}\n").as_bytes());
        if let Some(t) = &tee {
            let _ = t.send((at, line));
        }
    };
    while let Some(Ok(out)) = stream.next().await {
        let (i, msg) = match out {
            LogOutput::StdErr { message } => (1, message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => (0, message),
            LogOutput::StdIn { .. } => continue,
        };
        partial[i].extend_from_slice(&msg);
        while let Some(pos) = partial[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial[i].drain(..=pos).collect();
            emit(&line[..line.len() - 1]);
        }
    }
    for p in partial.iter().filter(|p| !p.is_empty()) {
        emit(p);
    }
}

/// The container's exit from the engine's wait (137 for a SIGKILL).
async fn wait_exit(docker: &Docker, id: &str) -> Exit {
    let mut s = docker.wait_container(
        id,
        Some(
            WaitContainerOptionsBuilder::new()
                .condition("not-running")
                .build(),
        ),
    );
    let code = match s.next().await {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        _ => match docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => c.state.and_then(|s| s.exit_code).unwrap_or(-1),
            Err(_) => -1,
        },
    };
    exit_of(code)
}

fn exit_of(code: i64) -> Exit {
    let code = code as i32;
    Exit {
        code,
        signal: (129..=192).contains(&code).then(|| code - 128),
        at: Instant::now(),
    }
}

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
mod sweep {
    use super::*;
    use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};

    static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub(super) fn register(run_id: &str) {
        install_docker_hooks();
        lock(&LIVE).push(run_id.to_string());
    }
    pub(super) fn unregister(run_id: &str) {
        lock(&LIVE).retain(|r| r != run_id);
    }
    pub(super) fn is_live(run_id: &str) -> bool {
        lock(&LIVE).iter().any(|r| r == run_id)
    }

    /// Candidate `10.213.N.0` subnets no docker network nor host route uses.
    pub(super) async fn free_subnets(docker: &Docker) -> Vec<Ipv4Addr> {
        let mut used: Vec<String> = Vec::new();
        if let Ok(nets) = docker
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
        {
            for n in nets {
                for c in n.ipam.and_then(|i| i.config).unwrap_or_default() {
                    used.extend(c.subnet);
                }
            }
        }
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let mut start = (std::process::id() % 200) as u8;
        let mut out = Vec::new();
        for _ in 0..250 {
            start = start % 250 + 1;
            let net = Ipv4Addr::new(10, 213, start, 0);
            let le = format!("{:02X}{:02X}D50A", 0, start);
            if used
                .iter()
                .any(|u| u.starts_with(&format!("10.213.{start}.")))
                || routes.contains(&le)
            {
                continue;
            }
            out.push(net);
            if out.len() >= 8 {
                break;
            }
        }
        out
    }

    /// Runs `spec` by the engine's exec in container `target`.
    pub(super) async fn exec(
        rt: &DockerRuntime,
        inner: &Inner,
        target: &str,
        spec: ProcSpec,
    ) -> Result<Proc, RuntimeError> {
        let log_path = inner.logs_dir.join(spec.log_file_name());
        let file = open_log(&log_path)?;
        let (cmd, env) = super::command_and_env(rt, inner, &spec);
        let created = inner
            .docker
            .create_exec(
                target,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    env: Some(env),
                    cmd: Some(cmd),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| spawn_err(&spec, format!("exec create: {e}")))?;
        let exec_id = created.id;
        let started = inner
            .docker
            .start_exec(&exec_id, None::<StartExecOptions>)
            .await
            .map_err(|e| spawn_err(&spec, format!("exec start: {e}")))?;
        let StartExecResults::Attached { output, .. } = started else {
            return Err(spawn_err(&spec, "exec started detached".into()));
        };
        let (tx, rx) = watch::channel(None);
        let docker = inner.docker.clone();
        let tee = spec.tee.clone();
        let eid = exec_id.clone();
        tokio::spawn(async move {
            pump(output, file, tee).await;
            // The output ends when the process does; the code may lag a little.
            let mut code = -1;
            for _ in 0..100 {
                match docker.inspect_exec(&eid).await {
                    Ok(i) if i.running == Some(false) => {
                        code = i.exit_code.unwrap_or(-1);
                        break;
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    Err(_) => break,
                }
            }
            tx.send_replace(Some(exit_of(code)));
        });
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let proc = Proc::new(id, &spec, None, log_path, rx);
        lock(&inner.procs).push((proc.clone(), Handle::Exec { exec_id }));
        Ok(proc)
    }

    /// SIGTERM every running container (pause last), 2 s, SIGKILL, then
    /// remove every container and the network.
    pub(super) async fn teardown(inner: &Inner) {
        let procs: Vec<(Proc, Handle)> = lock(&inner.procs).clone();
        let rt_kill = |id: String, sig: Signal| {
            let docker = inner.docker.clone();
            async move {
                let _ = docker
                    .kill_container(
                        &id,
                        Some(
                            KillContainerOptionsBuilder::new()
                                .signal(sig.name())
                                .build(),
                        ),
                    )
                    .await;
            }
        };
        let running: Vec<(Proc, String)> = procs
            .iter()
            .filter(|(p, _)| p.is_running() && p.name != "pause")
            .filter_map(|(p, h)| match h {
                Handle::Container(id) => Some((p.clone(), id.clone())),
                Handle::Exec { .. } => None,
            })
            .collect();
        futures::future::join_all(
            running
                .iter()
                .map(|(_, id)| rt_kill(id.clone(), Signal::Term)),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && running.iter().any(|(p, _)| p.is_running()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all: Vec<String> = lock(&inner.containers).clone();
        futures::future::join_all(all.iter().map(|id| rt_kill(id.clone(), Signal::Kill))).await;
        remove_run(&inner.docker, &inner.run_id).await;
        unregister(&inner.run_id);
    }

    fn filters(key: &str, value: &str) -> HashMap<String, Vec<String>> {
        [("label".to_string(), vec![format!("{key}={value}")])].into()
    }

    /// Removes every container, network and volume labelled with `run_id`.
    pub(super) async fn remove_run(docker: &Docker, run_id: &str) -> usize {
        remove_matching(docker, &filters(RUN_LABEL, run_id), |_| true).await
    }

    /// Removes the containers, networks and volumes matching `f` whose
    /// labels pass `keep_if`... (true: remove). Returns how many went.
    async fn remove_matching(
        docker: &Docker,
        f: &HashMap<String, Vec<String>>,
        select: impl Fn(&HashMap<String, String>) -> bool,
    ) -> usize {
        let mut n = 0;
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(f)
            .build();
        if let Ok(cs) = docker.list_containers(Some(opts)).await {
            let rm = cs
                .into_iter()
                .filter(|c| select(&c.labels.clone().unwrap_or_default()))
                .filter_map(|c| c.id)
                .map(|id| async move {
                    let o = RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(true)
                        .build();
                    docker.remove_container(&id, Some(o)).await.is_ok()
                });
            n += futures::future::join_all(rm)
                .await
                .into_iter()
                .filter(|ok| *ok)
                .count();
        }
        let nopts = ListNetworksOptionsBuilder::new().filters(f).build();
        if let Ok(nets) = docker.list_networks(Some(nopts)).await {
            for net in nets {
                if !select(&net.labels.clone().unwrap_or_default()) {
                    continue;
                }
                if let Some(id) = net.id {
                    n += usize::from(docker.remove_network(&id).await.is_ok());
                }
            }
        }
        let vopts = bollard::query_parameters::ListVolumesOptionsBuilder::new()
            .filters(f)
            .build();
        if let Ok(v) = docker.list_volumes(Some(vopts)).await {
            for vol in v.volumes.unwrap_or_default() {
                if select(&vol.labels) {
                    n += usize::from(
                        docker
                            .remove_volume(
                                &vol.name,
                                None::<bollard::query_parameters::RemoveVolumeOptions>,
                            )
                            .await
                            .is_ok(),
                    );
                }
            }
        }
        n
    }

    /// Runs `f` on a fresh thread with its own engine connection (usable from
    /// a panic hook or a sync context), bounded by 15 s.
    fn blocking<T: Send + 'static>(
        f: impl FnOnce(Docker) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>
            + Send
            + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("lab-docker-sweep".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let out = rt.block_on(async move {
                    let d = connect().await.ok()?;
                    Some(f(d).await)
                });
                let _ = tx.send(out);
            });
        rx.recv_timeout(Duration::from_secs(15)).ok().flatten()
    }

    /// Removes everything of `run_id` from a sync context (Drop, hooks).
    pub fn remove_run_blocking(run_id: &str) {
        let id = run_id.to_string();
        let _ = blocking(move |d| Box::pin(async move { remove_run(&d, &id).await }));
        unregister(run_id);
    }

    pub(super) fn remove_live_runs() {
        let runs = LIVE.try_lock().map(|l| l.clone()).unwrap_or_default();
        for r in runs {
            remove_run_blocking(&r);
        }
    }

    /// What `gc` removed.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct DockerSwept {
        /// Containers, networks and volumes removed.
        pub removed: usize,
        /// Whether an engine answered at all.
        pub engine: bool,
    }

    /// Removes every lab container/network/volume whose harness is gone
    /// (its owner label names a dead process) and whose run is not live here.
    /// Without an engine it does nothing.
    pub fn gc() -> DockerSwept {
        let live = lock(&LIVE).clone();
        let out = blocking(move |d| {
            Box::pin(async move {
                let f = filters(LAB_LABEL, "1");
                remove_matching(&d, &f, |labels| {
                    let run = labels.get(RUN_LABEL).cloned().unwrap_or_default();
                    let owner_alive = labels
                        .get(OWNER_LABEL)
                        .is_some_and(|o| super::super::procscan::owner_alive(o));
                    !live.contains(&run) && !owner_alive
                })
                .await
            })
        });
        DockerSwept {
            removed: out.unwrap_or(0),
            engine: out.is_some(),
        }
    }
}
