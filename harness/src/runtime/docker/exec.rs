//! Runs a process by the engine's exec in a running container of a pod
//! (a preStop hook in the hc container): its output streamed to its log
//! file, its exit code read once the output ends.
//!
//! It must never create a container: an exec lives and dies in its target.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use tokio::sync::watch;

use super::container::{command_and_env, spawn_err};
use super::output::{exit_of, pump};
use super::{DockerRuntime, Handle, Inner};
use crate::runtime::cleanup::lock;
use crate::runtime::{Proc, ProcSpec, RuntimeError};

/// Runs `spec` by the engine's exec in container `target`.
pub(super) async fn exec(
    rt: &DockerRuntime,
    inner: &Inner,
    target: &str,
    spec: ProcSpec,
) -> Result<Proc, RuntimeError> {
    let log_path = inner.logs_dir.join(spec.log_file_name());
    let file = crate::runtime::logfile::LogFile::open(&log_path)?;
    let (cmd, env) = command_and_env(rt, inner, &spec);
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
