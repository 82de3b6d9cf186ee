//! `harness up`: a scenario mode's topology staged as a run stages it
//! (run folder `<UTC>-up-<scenario>-<mode>`, streams, runtime, pods,
//! HAProxy, observers, probers) and kept up until the harness is
//! interrupted, then torn down the way every run is ([`super::drive::finish`]).
//! Meanwhile it serves `harness terminate` on a Unix socket in the folder:
//! each request runs kubelet's termination of one pod with the mode's plan
//! (the same fault runner a scenario's `terminate` fault uses) and streams
//! the pod's timeline events back.
//!
//! It runs no load and no fault of its own, never judges, and never
//! listens on a network address.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::kubelet::TerminationReport;
use crate::lab::Topo;
use crate::scenario::{FaultAction, Scenario};

use super::control::{self, Reply, Request, UpPod, UpState};
use super::faults::FaultRunner;
use super::stage::{Senders, Staged};
use super::{drive, hooks, setup, RunEnv};

/// How an up ended.
pub struct UpEnd {
    pub dir: PathBuf,
    /// Every termination it ran, in order.
    pub terminations: Vec<(String, TerminationReport)>,
    /// Why it ended: an interrupt (the normal end) or a failure.
    pub outcome: anyhow::Result<()>,
}

/// The terminations an up ran, shared with its control connections.
type Reports = Arc<Mutex<Vec<(String, TerminationReport)>>>;

/// Each mode's fault runner on the up's topology, and the pods already
/// terminated.
struct Control {
    up_mode: String,
    runners: HashMap<String, (Arc<FaultRunner>, Option<String>)>,
    pods: Vec<String>,
    terminated: Mutex<HashSet<String>>,
    reports: Reports,
    timeline: crate::timeline::Timeline,
}

/// Brings `mode_name` of `sc` up, calls `ready` with its state once every
/// pod and HAProxy are ready, and serves terminations until interrupted.
pub async fn up(
    env: &RunEnv,
    sc: &Scenario,
    mode_name: &str,
    ready: impl FnOnce(&Path, &UpState),
) -> anyhow::Result<UpEnd> {
    let effective = sc.for_mode(mode_name);
    let folder = format!("up-{}", sc.id);
    let (staged, senders, writers) =
        super::stage::stage_as(env, &effective, mode_name, &folder).await?;
    let cancel = CancellationToken::new();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let body = serve(
        env,
        (sc, &effective),
        &staged,
        senders,
        (&cancel, reports.clone()),
        ready,
    );
    let driven = drive::finish(env, &staged, writers, &cancel, body).await;
    let dir = staged.dir.path().to_path_buf();
    crate::lab::remove_socket_fallback(&staged.dir.run_id());
    let terminations = reports.lock().map(|r| r.clone()).unwrap_or_default();
    mark_ended(&dir);
    let mut summary = staged.summary.clone();
    summary.notes.push(format!(
        "harness up: the topology was kept up without load; {} termination(s): {}",
        terminations.len(),
        terminations
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    summary.notes.extend(driven.write_errors.iter().cloned());
    summary.end(chrono::Utc::now());
    summary.write(&dir)?;
    staged.progress.finish();
    let outcome = match (driven.outcome, driven.interrupted) {
        (_, Some(_)) => Ok(()),
        (Err(e), None) => Err(e),
        (Ok(_), None) => Ok(()),
    };
    Ok(UpEnd {
        dir,
        terminations,
        outcome,
    })
}

/// Rewrites up.json with its end, so `terminate` no longer picks it; the
/// socket is removed with it.
fn mark_ended(dir: &Path) {
    let Ok(mut st) = UpState::read(dir) else {
        return;
    };
    if let Err(e) = std::fs::remove_file(&st.control_socket) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!(
                "harness: could not remove {}: {e}",
                st.control_socket.display()
            );
        }
    }
    st.ended_at = Some(chrono::Utc::now());
    if let Err(e) = st.write(dir) {
        eprintln!("harness: {e}");
    }
}

/// Starts the topology and its watchers, writes up.json, binds the control
/// socket and serves it until `cancel` (the body [`drive::finish`] runs).
async fn serve(
    env: &RunEnv,
    (sc, effective): (&Scenario, &Scenario),
    staged: &Staged,
    senders: Senders,
    (cancel, reports): (&CancellationToken, Reports),
    ready: impl FnOnce(&Path, &UpState),
) -> anyhow::Result<drive::DriveFacts> {
    let topo = drive::start_topology(env, effective, staged).await?;
    let observers = drive::start_watchers(&topo, &staged.timeline, senders.samples, cancel);
    // No load: the records sink ends with an empty requests.csv.
    drop(senders.requests);
    let dir = staged.dir.path();
    let socket = control::socket_path(dir, &staged.dir.run_id());
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let listener =
        UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
    let state = up_state(staged, &topo, &socket);
    state.write(dir)?;
    let ctl = Arc::new(Control {
        up_mode: staged.mode_name.clone(),
        runners: runners(env, sc, &topo, staged),
        pods: topo.pods.iter().map(|p| p.addrs.name.clone()).collect(),
        terminated: Mutex::default(),
        reports,
        timeline: staged.timeline.clone(),
    });
    staged.progress.phase(format!(
        "up: {} on {}; `harness terminate <pod>` talks to {}",
        effective.id,
        state.frontend_url,
        socket.display()
    ));
    ready(dir, &state);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            conn = listener.accept() => match conn {
                Ok((stream, _)) => { tokio::spawn(handle(ctl.clone(), stream)); }
                Err(e) => tracing::warn!("control socket: {e}"),
            },
        }
    }
    observers.await.context("the observers' task")?;
    Ok(drive::DriveFacts::default())
}

/// What up.json says of this up.
fn up_state(staged: &Staged, topo: &Topo, socket: &Path) -> UpState {
    UpState {
        pid: std::process::id(),
        scenario: staged.summary.scenario.clone(),
        mode: staged.mode_name.clone(),
        runtime: staged.rt.kind().to_string(),
        started_at: staged.summary.started_at,
        frontend_url: format!("http://{}/", topo.frontend),
        pods: topo
            .pods
            .iter()
            .map(|p| UpPod {
                name: p.addrs.name.clone(),
                ip: p.addrs.ip.to_string(),
                envoy_inbound: p.addrs.envoy_inbound().to_string(),
                backend: p.addrs.backend().to_string(),
                hc: p.addrs.hc().to_string(),
                hc_admin: p.addrs.hc_admin().to_string(),
                envoy_admin: p.addrs.envoy_admin_url(),
            })
            .collect(),
        haproxy_stats_socket: topo.haproxy_socket.clone(),
        control_socket: socket.to_path_buf(),
        ended_at: None,
    }
}

/// Every mode's fault runner on this topology, with a warning when the
/// mode's own topology differs from the up's.
fn runners(
    env: &RunEnv,
    sc: &Scenario,
    topo: &Topo,
    staged: &Staged,
) -> HashMap<String, (Arc<FaultRunner>, Option<String>)> {
    sc.modes
        .keys()
        .map(|m| {
            let msc = sc.for_mode(m);
            let warning = (setup::topology_settings(&msc) != topo.settings).then(|| {
                format!(
                    "mode {m}'s topology differs from the up's ({}): its preStop runs against the up's HAProxy and Envoy settings",
                    staged.mode_name
                )
            });
            let runner =
                hooks::fault_runner(env, &msc, &msc.modes[m], topo, &staged.rt, &staged.timeline);
            (m.clone(), (runner, warning))
        })
        .collect()
}

/// One control connection: reads the request, runs it, streams the replies.
async fn handle(ctl: Arc<Control>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let reply = match lines.next_line().await {
        Ok(Some(l)) => match serde_json::from_str::<Request>(&l) {
            Ok(Request::Terminate { pod, mode }) => terminate(&ctl, &pod, mode, &mut write).await,
            Err(e) => Reply::Error {
                message: format!("unreadable request: {e}"),
            },
        },
        Ok(None) | Err(_) => return,
    };
    if !control::send(&mut write, &reply).await {
        tracing::debug!("the terminate client left before the last reply");
    }
}

/// Checks the request, then runs kubelet's termination of `pod` while
/// streaming its events.
async fn terminate(
    ctl: &Control,
    pod: &str,
    mode: Option<String>,
    out: &mut tokio::net::unix::OwnedWriteHalf,
) -> Reply {
    let mode = mode.unwrap_or_else(|| ctl.up_mode.clone());
    let err = |message: String| Reply::Error { message };
    let Some((runner, warning)) = ctl.runners.get(&mode) else {
        let known: Vec<&str> = ctl.runners.keys().map(String::as_str).collect();
        return err(format!("no mode {mode:?} (modes: {})", known.join(", ")));
    };
    if !ctl.pods.iter().any(|p| p == pod) {
        return err(format!("no pod {pod:?} (pods: {})", ctl.pods.join(", ")));
    }
    let fresh = ctl
        .terminated
        .lock()
        .map(|mut t| t.insert(pod.to_string()))
        .unwrap_or(false);
    if !fresh {
        return err(format!("{pod} was already terminated by this up"));
    }
    let mut events = ctl.timeline.subscribe();
    let started = Reply::Started {
        pod: pod.to_string(),
        mode: mode.clone(),
        warning: warning.clone(),
    };
    let mut listening = control::send(out, &started).await;
    // Its own task: the steps stream out while kubelet waits on processes.
    let mut run = tokio::spawn(
        runner
            .clone()
            .run(FaultAction::Terminate(pod.to_string()), Instant::now()),
    );
    let result = loop {
        tokio::select! {
            r = &mut run => break r.unwrap_or_else(|e| Err(anyhow::anyhow!("the termination's task failed: {e}"))),
            Some(ev) = events.recv() => {
                if listening && ev.pod.as_deref() == Some(pod) {
                    listening = control::send(out, &Reply::Step { event: ev }).await;
                }
            }
        }
    };
    // What was emitted up to the end (kubelet's `terminated` included).
    while let Ok(ev) = events.try_recv() {
        if listening && ev.pod.as_deref() == Some(pod) {
            listening = control::send(out, &Reply::Step { event: ev }).await;
        }
    }
    match result {
        Ok(reports) => done(ctl, pod, reports),
        Err(e) => err(format!("terminating {pod}: {e:#}")),
    }
}

/// The `done` reply, the report kept for the up's summary.
fn done(ctl: &Control, pod: &str, reports: Vec<(String, TerminationReport)>) -> Reply {
    let rep = reports
        .iter()
        .find(|(p, _)| p == pod)
        .map(|(_, r)| r.clone())
        .unwrap_or_default();
    if let Ok(mut all) = ctl.reports.lock() {
        all.extend(reports);
    }
    let exits: BTreeMap<String, i32> = rep.exits.iter().cloned().collect();
    Reply::Done {
        pod: pod.to_string(),
        prestop_exit: rep.prestop_exit,
        exits: exits.into_iter().collect(),
        killed: rep.killed,
    }
}
