//! [`LabRuntime`]: the runtime a run holds, local or docker, so everything
//! above the engine is written once against [`Runtime`]. Each trait method
//! is dispatched once, by [`dispatch!`], not forwarded by hand.
//!
//! Dispatch only; it must never hold behaviour of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::docker::DockerRuntime;
use super::{Exit, LbPlace, LocalRuntime, Proc, ProcSpec, Runtime, RuntimeError, Signal};
use crate::model::RuntimeKind;
use crate::topology::PodAddrs;

/// The runtime a run uses.
#[derive(Clone)]
pub enum LabRuntime {
    Local(LocalRuntime),
    Docker(DockerRuntime),
}

impl LabRuntime {
    /// Which runtime this is (summary.json's `runtime`).
    pub fn kind(&self) -> RuntimeKind {
        match self {
            LabRuntime::Local(_) => RuntimeKind::Local,
            LabRuntime::Docker(_) => RuntimeKind::Docker,
        }
    }
}

/// `$body` with `$r` bound to the inner runtime, whichever it is.
macro_rules! dispatch {
    ($self:ident, $r:ident => $body:expr) => {
        match $self {
            LabRuntime::Local($r) => $body,
            LabRuntime::Docker($r) => $body,
        }
    };
}

impl Runtime for LabRuntime {
    fn run_id(&self) -> &str {
        dispatch!(self, r => r.run_id())
    }
    fn logs_dir(&self) -> &Path {
        dispatch!(self, r => r.logs_dir())
    }
    async fn start(&self, spec: ProcSpec) -> Result<Proc, RuntimeError> {
        dispatch!(self, r => r.start(spec).await)
    }
    fn signal(&self, proc: &Proc, sig: Signal) -> Result<(), RuntimeError> {
        dispatch!(self, r => r.signal(proc, sig))
    }
    async fn exec_in_pod(&self, pod: &PodAddrs, spec: ProcSpec) -> Result<Proc, RuntimeError> {
        dispatch!(self, r => r.exec_in_pod(pod, spec).await)
    }
    async fn stop(&self, proc: &Proc, grace: Duration) -> Result<Exit, RuntimeError> {
        dispatch!(self, r => r.stop(proc, grace).await)
    }
    async fn teardown(&self) {
        dispatch!(self, r => r.teardown().await)
    }
    fn pod_addrs(&self, n: usize) -> Vec<PodAddrs> {
        dispatch!(self, r => r.pod_addrs(n))
    }
    fn haproxy_place(&self, i: usize) -> Result<LbPlace, RuntimeError> {
        dispatch!(self, r => r.haproxy_place(i))
    }
    fn stats_socket_dir(&self, run_dir: &Path) -> PathBuf {
        dispatch!(self, r => r.stats_socket_dir(run_dir))
    }
    async fn netns_pid(&self, proc: &Proc) -> Option<u32> {
        dispatch!(self, r => r.netns_pid(proc).await)
    }
    async fn pod_sandbox(&self, pod: &PodAddrs, envoy_cfg: &Path) -> Result<PathBuf, RuntimeError> {
        dispatch!(self, r => r.pod_sandbox(pod, envoy_cfg).await)
    }
    async fn start_lb(
        &self,
        spec: ProcSpec,
        place: &LbPlace,
        sock_dir: &Path,
    ) -> Result<Proc, RuntimeError> {
        dispatch!(self, r => r.start_lb(spec, place, sock_dir).await)
    }
}
