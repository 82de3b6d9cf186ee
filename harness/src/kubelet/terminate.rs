//! Kubelet's termination of a pod: terminating -> preStop -> SIGTERM ->
//! grace -> SIGKILL, with the one-time 2 s extension when preStop outlives
//! the grace period, and the sidecar's own shutdown (Istio's pilot-agent or
//! plain Envoy).
//!
//! It drives processes only through the `Runtime` trait and records what it
//! does on the timeline; it must never decide a run's verdict.

use std::time::{Duration, Instant};

use super::Endpoint;
use crate::model::{EventKind, RunClock, Source};
use crate::runtime::{Exit, Proc, ProcSpec, Runtime, Signal};
use crate::scenario::Sidecar;
use crate::timeline::Timeline;

/// Kubelet's one-time extension when the grace period runs out during preStop.
pub const PRESTOP_EXTENSION: Duration = Duration::from_secs(2);

/// The containers of one pod, as the runtime started them.
#[derive(Debug, Clone)]
pub struct PodContainers {
    pub name: String,
    pub backend: Proc,
    pub hc: Proc,
    pub envoy: Proc,
    /// e.g. `http://127.0.10.1:15000`.
    pub envoy_admin: String,
}

/// What preStop runs.
#[derive(Debug, Clone)]
pub enum PreStopHook {
    /// A command in the pod (`sleep 15`, `drain`, `graceful-drain.sh`).
    Exec(ProcSpec),
    None,
}

/// How kubelet ends one pod.
#[derive(Debug, Clone)]
pub struct Termination {
    pub grace: Duration,
    pub prestop: PreStopHook,
    pub sidecar: Sidecar,
    pub termination_drain: Duration,
    pub endpoint: Option<Endpoint>,
}

/// What happened during the termination.
#[derive(Debug, Clone, Default)]
pub struct TerminationReport {
    pub terminating_ms: f64,
    pub prestop_ms: Option<f64>,
    pub prestop_exit: Option<i32>,
    pub prestop_cut_by_grace: bool,
    pub sigterm_ms: Option<f64>,
    pub exits: Vec<(String, i32)>,
    pub killed: Vec<String>,
}

/// Runs kubelet's termination of `pod` to the end (every container exited).
pub async fn terminate<R: Runtime + Sync>(
    rt: &R,
    pod: &PodContainers,
    pod_addrs: &crate::topology::PodAddrs,
    plan: &Termination,
    timeline: &Timeline,
) -> TerminationReport {
    let name = pod.name.as_str();
    let t0 = Instant::now();
    let mut rep = TerminationReport {
        terminating_ms: timeline.clock().ms_of(t0),
        ..Default::default()
    };
    timeline.emit(
        Source::Kubelet,
        Some(name),
        EventKind::Terminating,
        format!("grace period {} s", plan.grace.as_secs_f64()),
    );
    if let Some(ep) = &plan.endpoint {
        ep.set_terminating(name, timeline);
    }
    let grace_end = t0 + plan.grace;
    let mut kill_at = grace_end;
    let mut hook_proc = None;
    if let PreStopHook::Exec(spec) = &plan.prestop {
        let ctx = PodCtx {
            rt,
            pod_addrs,
            name,
            timeline,
        };
        hook_proc = run_prestop(&ctx, spec, grace_end, &mut rep).await;
        if hook_proc.is_some() {
            kill_at = grace_end + PRESTOP_EXTENSION;
        }
    }
    stop_containers(rt, pod, plan, timeline, kill_at, &mut rep).await;
    if let Some(p) = hook_proc {
        end_cut_prestop(rt, &p, name, timeline, &mut rep).await;
    }
    timeline.emit(
        Source::Kubelet,
        Some(name),
        EventKind::Terminated,
        "every container exited",
    );
    rep
}

/// What a preStop hook runs against.
struct PodCtx<'a, R> {
    rt: &'a R,
    pod_addrs: &'a crate::topology::PodAddrs,
    name: &'a str,
    timeline: &'a Timeline,
}

/// Runs preStop until it exits or the grace period ends. Returns the hook
/// still running when the grace period cut it (kubelet then grants its
/// one-time extension), None when it exited or never started.
async fn run_prestop<R: Runtime>(
    ctx: &PodCtx<'_, R>,
    spec: &ProcSpec,
    grace_end: Instant,
    rep: &mut TerminationReport,
) -> Option<Proc> {
    let (name, timeline) = (ctx.name, ctx.timeline);
    let clock = timeline.clock();
    let what = spec
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    timeline.emit(
        Source::Kubelet,
        Some(name),
        EventKind::PrestopStart,
        format!("{} {what}", spec.program.display()),
    );
    let p = match ctx.rt.exec_in_pod(ctx.pod_addrs, spec.clone()).await {
        Ok(p) => p,
        Err(e) => {
            timeline.emit(
                Source::Kubelet,
                Some(name),
                EventKind::PrestopFailed,
                e.to_string(),
            );
            return None;
        }
    };
    let deadline = tokio::time::Instant::from_std(grace_end);
    match tokio::time::timeout_at(deadline, p.wait()).await {
        Ok(exit) => {
            rep.prestop_ms = Some(clock.ms_of(exit.at) - rep.terminating_ms);
            rep.prestop_exit = Some(exit.code);
            timeline.emit_at(
                clock.ms_of(exit.at),
                Source::Kubelet,
                Some(name),
                EventKind::PrestopEnd,
                format!("exit code {}", exit.code),
            );
            None
        }
        Err(_) => {
            rep.prestop_cut_by_grace = true;
            timeline.emit(
                Source::Kubelet,
                Some(name),
                EventKind::PrestopTimeout,
                "grace period ran out during preStop; 2 s extension granted",
            );
            Some(p)
        }
    }
}

/// SIGTERM to every container (the sidecar as configured), then waits for
/// each until `kill_at` and SIGKILLs the rest at that moment. The sidecar's
/// own schedule (Istio's terminationDrainDuration) is cut off by the same
/// deadline.
async fn stop_containers<R: Runtime + Sync>(
    rt: &R,
    pod: &PodContainers,
    plan: &Termination,
    timeline: &Timeline,
    kill_at: Instant,
    rep: &mut TerminationReport,
) {
    rep.sigterm_ms = Some(timeline.clock().now_ms());
    for c in [&pod.backend, &pod.hc] {
        send(rt, c, Signal::Term, timeline);
    }
    let sidecar = sidecar_shutdown(rt, pod, plan, timeline);
    let all = [&pod.backend, &pod.hc, &pod.envoy];
    let deadline = tokio::time::Instant::from_std(kill_at);
    let waits = futures::future::join_all(all.iter().map(|c| async move {
        match tokio::time::timeout_at(deadline, c.wait()).await {
            Ok(e) => (c, e, false),
            Err(_) => {
                send(rt, c, Signal::Kill, timeline);
                (c, c.wait().await, true)
            }
        }
    }));
    let sidecar = tokio::time::timeout_at(deadline, sidecar);
    let (results, _) = tokio::join!(waits, sidecar);
    for (c, exit, killed) in results {
        if killed {
            rep.killed.push(c.name.clone());
        }
        record_exit(timeline, c, &exit, timeline.clock());
        rep.exits.push((c.name.clone(), exit.code));
    }
}

/// A preStop hook the grace period cut dies with the pod.
async fn end_cut_prestop<R: Runtime>(
    rt: &R,
    p: &Proc,
    name: &str,
    timeline: &Timeline,
    rep: &mut TerminationReport,
) {
    if p.is_running() {
        if let Err(e) = rt.signal(p, Signal::Kill) {
            // Its exit below is what counts; the failure goes on the timeline.
            timeline.emit(
                Source::Kubelet,
                Some(name),
                EventKind::SignalFailed,
                e.to_string(),
            );
        }
    }
    let e = p.wait().await;
    rep.prestop_exit = Some(e.code);
    timeline.emit_at(
        timeline.clock().ms_of(e.at),
        Source::Kubelet,
        Some(name),
        EventKind::PrestopEnd,
        format!("killed with the pod, exit code {}", e.code),
    );
}

fn send<R: Runtime>(rt: &R, c: &Proc, sig: Signal, timeline: &Timeline) {
    if !c.is_running() {
        return;
    }
    let ev = if sig == Signal::Kill {
        EventKind::Sigkill
    } else {
        EventKind::Sigterm
    };
    timeline.emit(Source::parse(&c.name), c.pod.as_deref(), ev, sig.name());
    if let Err(e) = rt.signal(c, sig) {
        timeline.emit(
            Source::Kubelet,
            c.pod.as_deref(),
            EventKind::SignalFailed,
            e.to_string(),
        );
    }
}

fn record_exit(timeline: &Timeline, c: &Proc, exit: &Exit, clock: RunClock) {
    timeline.emit_at(
        clock.ms_of(exit.at),
        Source::parse(&c.name),
        c.pod.as_deref(),
        EventKind::Exit,
        match exit.signal {
            Some(s) => format!("code {} (signal {s})", exit.code),
            None => format!("code {}", exit.code),
        },
    );
}

/// The sidecar's shutdown on SIGTERM: Istio's pilot-agent drains Envoy's
/// listeners at once and stops Envoy after `termination_drain`; a plain Envoy
/// gets SIGTERM.
async fn sidecar_shutdown<R: Runtime>(
    rt: &R,
    pod: &PodContainers,
    plan: &Termination,
    timeline: &Timeline,
) {
    match plan.sidecar {
        Sidecar::Plain => send(rt, &pod.envoy, Signal::Term, timeline),
        Sidecar::Istio => {
            let url = format!("{}/drain_listeners?graceful&inboundonly", pod.envoy_admin);
            let http = reqwest::Client::new();
            let r = http.post(&url).timeout(Duration::from_secs(2)).send().await;
            timeline.emit(
                Source::Envoy,
                Some(&pod.name),
                EventKind::DrainListeners,
                match r {
                    Ok(r) => format!(
                        "pilot-agent: POST drain_listeners -> {}",
                        r.status().as_u16()
                    ),
                    Err(e) => format!("pilot-agent: POST drain_listeners failed: {e}"),
                },
            );
            tokio::time::sleep(plan.termination_drain).await;
            if pod.envoy.is_running() {
                timeline.emit(
                    Source::Envoy,
                    Some(&pod.name),
                    EventKind::EnvoyStop,
                    format!(
                        "pilot-agent stops Envoy after terminationDrainDuration {} s",
                        plan.termination_drain.as_secs_f64()
                    ),
                );
                send(rt, &pod.envoy, Signal::Term, timeline);
            }
        }
    }
}
