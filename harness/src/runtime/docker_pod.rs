//! The docker runtime's topology start, mirroring `pod.rs`: where pods and
//! HAProxy live on the run's subnet (`DockerPlan`), a pod = a pause container
//! at the pod's IP plus backend/hc/Envoy joining its namespace (then the
//! generic `start_pod` readiness waits, from the host to the container IPs),
//! and HAProxy in its own container with its stats socket bind-mounted so the
//! host reads the runtime API as on the local runtime.
//!
//! It must never publish a port nor wait without a deadline: every address
//! the host talks to is a container of the run's own network.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::docker::{Bind, DockerRuntime, Placement};
use super::pod::{start_pod, wait_haproxy_ready, Haproxy, Pod, PodLaunch};
use super::{LineSink, ProcSpec, RuntimeError};
use crate::topology::{pod_name, PodAddrs, Rendered, ENVOY_ADMIN_PORT};

/// HAProxy's frontend port inside its container.
pub const FRONTEND_PORT: u16 = 8080;
/// Pod i lives at `.POD_HOST_BASE + i` of the run's subnet; HAProxy at `.2`.
pub const POD_HOST_BASE: u8 = 11;
pub const HAPROXY_HOST: u8 = 2;

/// Where everything of a docker run lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerPlan {
    pub pods: Vec<PodAddrs>,
    pub haproxy_ip: Ipv4Addr,
    /// HAProxy's frontend (`<haproxy ip>:8080`): give it to
    /// `HaproxyPlacement::frontend_addr`; the load and observers reach it
    /// directly from the host (no published port).
    pub frontend: SocketAddr,
}

/// The addresses of `n` pods and HAProxy on `rt`'s subnet.
pub fn plan(rt: &DockerRuntime, n: usize) -> DockerPlan {
    let haproxy_ip = rt.ip(HAPROXY_HOST);
    DockerPlan {
        pods: (0..n)
            .map(|i| PodAddrs::new(pod_name(i), rt.ip(POD_HOST_BASE + i as u8)))
            .collect(),
        haproxy_ip,
        frontend: SocketAddr::V4(SocketAddrV4::new(haproxy_ip, FRONTEND_PORT)),
    }
}

/// Writes `<cfg>.docker.yaml` beside `cfg` with Envoy's admin bound to
/// `0.0.0.0:15000`: inside the pod it answers on 127.0.0.1 (as a sidecar's
/// admin does for the preStop hook) and the host's observers reach it at
/// the pod's IP.
pub fn docker_envoy_cfg(cfg: &Path, pod: &PodAddrs) -> std::io::Result<PathBuf> {
    let text = std::fs::read_to_string(cfg)?;
    let from = format!(
        "socket_address: {{ address: {}, port_value: {ENVOY_ADMIN_PORT} }}",
        pod.ip
    );
    let to = format!("socket_address: {{ address: 0.0.0.0, port_value: {ENVOY_ADMIN_PORT} }}");
    if !text.contains(&from) {
        return Err(std::io::Error::other(format!(
            "{}: no admin address line {from:?} to rewrite",
            cfg.display()
        )));
    }
    let out = cfg.with_extension("docker.yaml");
    std::fs::write(&out, text.replacen(&from, &to, 1))?;
    Ok(out)
}

/// Starts `pod`'s pause container, then its backend, hc and Envoy in its
/// namespace, and waits until each serves (as `pod::start_pod`).
pub async fn start_docker_pod(
    rt: &DockerRuntime,
    pod: &PodAddrs,
    launch: &PodLaunch<'_>,
) -> Result<Pod, RuntimeError> {
    rt.create_pod_sandbox(pod).await?;
    let cfg = docker_envoy_cfg(launch.envoy_cfg, pod).map_err(|source| RuntimeError::Log {
        path: launch.envoy_cfg.to_path_buf(),
        source,
    })?;
    let launch = PodLaunch {
        envoy_cfg: &cfg,
        ..launch.clone()
    };
    start_pod(rt, pod, &launch).await
}

/// Starts HAProxy in its own container at `ip` (`haproxy -db -f <cfg>`, the
/// config's folder mounted read-only and the stats socket's folder
/// read-write at the same paths) and waits until the socket answers.
pub async fn start_docker_haproxy(
    rt: &DockerRuntime,
    rendered: &Rendered,
    ip: Ipv4Addr,
    tee: Option<LineSink>,
    ready_timeout: Duration,
) -> Result<Haproxy, RuntimeError> {
    let _ = std::fs::remove_file(&rendered.stats_socket);
    let sock_dir = rendered
        .stats_socket
        .parent()
        .unwrap_or(Path::new("/tmp"))
        .to_path_buf();
    let spec = ProcSpec::new("haproxy", "haproxy")
        .args(["-db", "-f"])
        .arg(&rendered.haproxy_cfg)
        .tee(tee);
    let image = rt.images().haproxy.clone();
    let binds = [Bind {
        path: sock_dir,
        read_only: false,
    }];
    let proc = rt
        .start_container(spec, Placement::Own(Some(ip)), &binds, &image)
        .await?;
    wait_haproxy_ready(&proc, &rendered.stats_socket, ready_timeout).await?;
    Ok(Haproxy {
        proc,
        stats_socket: rendered.stats_socket.clone(),
    })
}

/// The runtime a run uses, so the run's code can stay one: every `Runtime`
/// call is forwarded, and `start_any_pod`/`start_any_haproxy` pick the
/// matching topology start.
#[derive(Clone)]
pub enum LabRuntime {
    Local(super::LocalRuntime),
    Docker(DockerRuntime),
}

impl LabRuntime {
    /// `local` or `docker` (summary.json's `runtime`).
    pub fn name(&self) -> &'static str {
        match self {
            LabRuntime::Local(_) => "local",
            LabRuntime::Docker(_) => "docker",
        }
    }
}

impl super::Runtime for LabRuntime {
    fn run_id(&self) -> &str {
        match self {
            LabRuntime::Local(r) => r.run_id(),
            LabRuntime::Docker(r) => r.run_id(),
        }
    }
    fn logs_dir(&self) -> &Path {
        match self {
            LabRuntime::Local(r) => r.logs_dir(),
            LabRuntime::Docker(r) => r.logs_dir(),
        }
    }
    async fn start(&self, spec: ProcSpec) -> Result<super::Proc, RuntimeError> {
        match self {
            LabRuntime::Local(r) => r.start(spec).await,
            LabRuntime::Docker(r) => r.start(spec).await,
        }
    }
    fn signal(&self, proc: &super::Proc, sig: super::Signal) -> Result<(), RuntimeError> {
        match self {
            LabRuntime::Local(r) => r.signal(proc, sig),
            LabRuntime::Docker(r) => r.signal(proc, sig),
        }
    }
    async fn exec_in_pod(
        &self,
        pod: &PodAddrs,
        spec: ProcSpec,
    ) -> Result<super::Proc, RuntimeError> {
        match self {
            LabRuntime::Local(r) => r.exec_in_pod(pod, spec).await,
            LabRuntime::Docker(r) => r.exec_in_pod(pod, spec).await,
        }
    }
    async fn stop(&self, proc: &super::Proc, grace: Duration) -> Result<super::Exit, RuntimeError> {
        match self {
            LabRuntime::Local(r) => r.stop(proc, grace).await,
            LabRuntime::Docker(r) => r.stop(proc, grace).await,
        }
    }
    async fn teardown(&self) {
        match self {
            LabRuntime::Local(r) => r.teardown().await,
            LabRuntime::Docker(r) => r.teardown().await,
        }
    }
}

/// `pod::start_pod` on the local runtime, `start_docker_pod` on docker.
pub async fn start_any_pod(
    rt: &LabRuntime,
    pod: &PodAddrs,
    launch: &PodLaunch<'_>,
) -> Result<Pod, RuntimeError> {
    match rt {
        LabRuntime::Local(r) => start_pod(r, pod, launch).await,
        LabRuntime::Docker(r) => start_docker_pod(r, pod, launch).await,
    }
}

/// `pod::start_haproxy` on the local runtime; on docker, HAProxy's own
/// container at `docker_ip` (`DockerPlan::haproxy_ip`; a second LB: `rt.ip(3)`).
pub async fn start_any_haproxy(
    rt: &LabRuntime,
    tools: &crate::tools::Tools,
    rendered: &Rendered,
    docker_ip: Ipv4Addr,
    tee: Option<LineSink>,
    ready_timeout: Duration,
) -> Result<Haproxy, RuntimeError> {
    match rt {
        LabRuntime::Local(r) => super::start_haproxy(r, tools, rendered, tee, ready_timeout).await,
        LabRuntime::Docker(r) => {
            start_docker_haproxy(r, rendered, docker_ip, tee, ready_timeout).await
        }
    }
}
