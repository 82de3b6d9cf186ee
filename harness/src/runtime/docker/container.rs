//! One container of a run: its labels, name, command line and environment,
//! mounts and network; created, started, its logs streamed to its log file
//! and its exit watched.
//!
//! It must never publish a port, never create a container without the lab's
//! labels, and never mount a host folder the spec does not name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig,
};
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use tokio::sync::watch;

use super::output::{pump, wait_exit};
use super::{
    Bind, DockerRuntime, Handle, Inner, Placement, OWNER_LABEL, RUN_LABEL, SCENARIO_LABEL,
};
use crate::runtime::cleanup::lock;
use crate::runtime::images::LAB_LABEL;
use crate::runtime::logfile::{LogFile, SharedLog};
use crate::runtime::{Proc, ProcSpec, RuntimeError, OWNER_ENV, RUN_ID_ENV};

impl DockerRuntime {
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
        let file = LogFile::open(&log_path)?;
        let (network_mode, networking) = self.network_of(&place)?;
        let (cmd, env) = command_and_env(self, inner, &spec);
        let binds = with_arg_dirs(binds, &spec);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd),
            env: Some(env),
            labels: Some(labels_of(inner, &spec)),
            hostname: match (&place, &spec.pod) {
                (Placement::Own(_), Some(p)) => Some(p.clone()),
                _ => None,
            },
            networking_config: networking,
            host_config: Some(host_config(network_mode, &binds)),
            ..Default::default()
        };
        let own_endpoint = matches!(place, Placement::Own(_));
        let id = self
            .create_and_start(&spec, image, body, own_endpoint)
            .await?;
        Ok(self.follow(id, &spec, file, log_path))
    }

    /// The container's network mode, and its endpoint on the run's network
    /// when it has one of its own.
    fn network_of(
        &self,
        place: &Placement,
    ) -> Result<(String, Option<NetworkingConfig>), RuntimeError> {
        let inner = &self.inner;
        match place {
            Placement::Pod(pod) => {
                let pause = lock(&inner.pods)
                    .get(pod)
                    .cloned()
                    .ok_or_else(|| RuntimeError::UnknownProc(format!("pod {pod} (no sandbox)")))?;
                Ok((format!("container:{pause}"), None))
            }
            Placement::Own(ip) => {
                let ep = EndpointSettings {
                    ipam_config: ip.map(|ip| EndpointIpamConfig {
                        ipv4_address: Some(ip.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                Ok((
                    inner.network.clone(),
                    Some(NetworkingConfig {
                        endpoints_config: Some([(inner.network.clone(), ep)].into()),
                    }),
                ))
            }
        }
    }

    /// Creates and starts the container; registers it (and its endpoint)
    /// for teardown; returns its id.
    async fn create_and_start(
        &self,
        spec: &ProcSpec,
        image: &str,
        body: ContainerCreateBody,
        own_endpoint: bool,
    ) -> Result<String, RuntimeError> {
        let inner = &self.inner;
        let name = container_name(&inner.run_id, spec);
        let created = inner
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| spawn_err(spec, format!("create {name} from {image}: {e}")))?;
        let id = created.id;
        lock(&inner.containers).push(id.clone());
        if own_endpoint {
            lock(&inner.endpoints).push(id.clone());
        }
        inner
            .docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| spawn_err(spec, format!("start {name}: {e}")))?;
        Ok(id)
    }

    /// Streams the started container's logs into `file`, watches its exit,
    /// and registers it as a [`Proc`] (an hc as its pod's exec target).
    fn follow(&self, id: String, spec: &ProcSpec, file: SharedLog, log_path: PathBuf) -> Proc {
        let inner = &self.inner;
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
        let proc = Proc::new(pid_id, spec, None, log_path, rx);
        if spec.name == "hc" {
            if let Some(pod) = &spec.pod {
                lock(&inner.exec_targets).insert(pod.clone(), id.clone());
            }
        }
        lock(&inner.procs).push((proc.clone(), Handle::Container(id)));
        proc
    }
}

/// `binds` plus, read-only at the same path, the folder of every host file
/// named in the args (a config), so the args stay valid inside.
fn with_arg_dirs(binds: &[Bind], spec: &ProcSpec) -> Vec<Bind> {
    let mut binds: Vec<Bind> = binds.to_vec();
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
    binds
}

/// No capabilities, no new privileges, no init; the binds at their own paths.
fn host_config(network_mode: String, binds: &[Bind]) -> HostConfig {
    HostConfig {
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
    }
}

/// The run's labels plus the container's name and pod.
fn labels_of(inner: &Inner, spec: &ProcSpec) -> HashMap<String, String> {
    let mut labels = base_labels(&inner.run_id, &inner.scenario);
    labels.insert("graceful-lab.name".into(), spec.name.clone());
    if let Some(p) = &spec.pod {
        labels.insert("graceful-lab.pod".into(), p.clone());
    }
    labels
}

pub(super) fn base_labels(run_id: &str, scenario: &str) -> HashMap<String, String> {
    [
        (LAB_LABEL.to_string(), "1".to_string()),
        (RUN_LABEL.to_string(), run_id.to_string()),
        (SCENARIO_LABEL.to_string(), scenario.to_string()),
        (
            OWNER_LABEL.to_string(),
            crate::runtime::procscan::own_token(),
        ),
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

pub(super) fn spawn_err(spec: &ProcSpec, reason: String) -> RuntimeError {
    RuntimeError::Spawn {
        what: spec.label(),
        program: spec.program.clone(),
        source: std::io::Error::other(reason),
    }
}

/// The command line and environment of a container or exec: the image's
/// program and the spec's args; the spec's env plus the run id and the owner
/// (the host's process scan — the local runtime's `gc`, which sees container
/// processes in /proc — must leave them alone while this harness lives).
pub(super) fn command_and_env(
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
