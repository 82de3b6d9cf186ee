//! Signals to a run's processes: the engine's kill for a container, a host
//! `kill(2)` of the pid the engine reports for an exec.
//!
//! It must never block its caller (the trait's `signal` is sync: delivery
//! runs on a task) and never signal a pid the engine did not name.

use bollard::query_parameters::KillContainerOptionsBuilder;
use bollard::Docker;

use super::{DockerRuntime, Handle};
use crate::runtime::cleanup::lock;
use crate::runtime::{Proc, RuntimeError, Signal};

/// The engine's kill of container `id`; one no longer running (409) or gone
/// (404) is no error: there is nothing to signal.
pub(super) async fn kill(docker: &Docker, id: &str, sig: Signal) -> Result<(), String> {
    let opts = KillContainerOptionsBuilder::new()
        .signal(sig.name())
        .build();
    match docker.kill_container(id, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code, .. })
            if status_code == 409 || status_code == 404 =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

impl DockerRuntime {
    /// `Runtime::signal`: sends `sig` to `proc` on a task of its own.
    pub(super) fn send_signal(&self, proc: &Proc, sig: Signal) -> Result<(), RuntimeError> {
        let handle = lock(&self.inner.procs)
            .iter()
            .find(|(p, _)| p.id == proc.id)
            .map(|(_, h)| h.clone())
            .ok_or_else(|| RuntimeError::UnknownProc(proc.label()))?;
        let docker = self.inner.docker.clone();
        match handle {
            Handle::Container(id) => {
                let what = proc.label();
                tokio::spawn(async move {
                    if let Err(e) = kill(&docker, &id, sig).await {
                        eprintln!("harness: docker kill {what} with {}: {e}", sig.name());
                    }
                });
            }
            Handle::Exec { exec_id } => {
                tokio::spawn(async move {
                    if let Ok(i) = docker.inspect_exec(&exec_id).await {
                        if let Some(pid) = i.pid.filter(|p| *p > 1) {
                            // The exec may have ended: nothing left to signal.
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid as i32),
                                sig.to_nix(),
                            );
                        }
                    }
                });
            }
        }
        Ok(())
    }
}
