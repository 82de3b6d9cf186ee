//! Where a docker run's pods and HAProxies live on the run's subnet, and
//! the pod sandbox a pod's containers join (its pause container, plus the
//! Envoy config with the admin bound to every address of the pod).
//!
//! It must never publish a port: every address the host talks to is a
//! container of the run's own network.

use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use super::DockerRuntime;
use crate::runtime::{LbPlace, RuntimeError};
use crate::topology::{pod_name, PodAddrs, ENVOY_ADMIN_PORT};

/// HAProxy's frontend port inside its container.
pub const FRONTEND_PORT: u16 = 8080;
/// Pod i lives at `.POD_HOST_BASE + i` of the run's subnet; HAProxy i at
/// `.HAPROXY_HOST + i`.
pub const POD_HOST_BASE: u8 = 11;
pub const HAPROXY_HOST: u8 = 2;

impl DockerRuntime {
    /// The addresses of `n` pods on the run's subnet.
    pub(crate) fn docker_pod_addrs(&self, n: usize) -> Vec<PodAddrs> {
        (0..n)
            .map(|i| PodAddrs::new(pod_name(i), self.ip(POD_HOST_BASE + i as u8)))
            .collect()
    }

    /// HAProxy `i` in its own container; the host reaches its frontend
    /// directly (no published port), and each checks from its own address.
    pub(crate) fn docker_haproxy_place(&self, i: usize) -> LbPlace {
        let ip = self.ip(HAPROXY_HOST + i as u8);
        LbPlace {
            frontend: SocketAddr::V4(SocketAddrV4::new(ip, FRONTEND_PORT)),
            check_source: None,
            ip,
        }
    }

    /// The pod's pause container, and its Envoy config rewritten for docker.
    pub(crate) async fn docker_pod_sandbox(
        &self,
        pod: &PodAddrs,
        envoy_cfg: &Path,
    ) -> Result<PathBuf, RuntimeError> {
        self.create_pod_sandbox(pod).await?;
        docker_envoy_cfg(envoy_cfg, pod).map_err(|source| RuntimeError::Log {
            path: envoy_cfg.to_path_buf(),
            source,
        })
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
