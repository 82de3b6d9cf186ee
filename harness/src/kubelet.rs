//! Kubelet's part of a pod's life, emulated: the termination sequence
//! (terminating -> preStop -> SIGTERM -> grace -> SIGKILL, with the one-time
//! 2 s extension), the sidecar's own shutdown (Istio's pilot-agent or plain
//! Envoy), the readiness and liveness probers, and the EndpointSlice
//! conditions that follow from them.
//!
//! It drives processes only through the `Runtime` trait and records what it
//! does on the timeline; it must never decide a run's verdict.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

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
    let clock = timeline.clock();
    let name = pod.name.as_str();
    let t0 = Instant::now();
    let mut rep = TerminationReport {
        terminating_ms: clock.ms_of(t0),
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

    // preStop.
    let mut hook_proc = None;
    if let PreStopHook::Exec(spec) = &plan.prestop {
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
        match rt.exec_in_pod(pod_addrs, spec.clone()).await {
            Ok(p) => {
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
                    }
                    Err(_) => {
                        rep.prestop_cut_by_grace = true;
                        kill_at = grace_end + PRESTOP_EXTENSION;
                        timeline.emit(
                            Source::Kubelet,
                            Some(name),
                            EventKind::PrestopTimeout,
                            "grace period ran out during preStop; 2 s extension granted",
                        );
                        hook_proc = Some(p);
                    }
                }
            }
            Err(e) => {
                timeline.emit(
                    Source::Kubelet,
                    Some(name),
                    EventKind::PrestopFailed,
                    e.to_string(),
                );
            }
        }
    }

    // SIGTERM to every container (the sidecar as configured).
    rep.sigterm_ms = Some(clock.now_ms());
    for c in [&pod.backend, &pod.hc] {
        send(rt, c, Signal::Term, timeline);
    }
    let sidecar = sidecar_shutdown(rt, pod, plan, timeline);

    // Wait for every container until the grace period (plus extension) ends;
    // SIGKILL the rest at that moment. The sidecar's own schedule (Istio's
    // terminationDrainDuration) is cut off by the same deadline.
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
        record_exit(timeline, c, &exit, clock);
        rep.exits.push((c.name.clone(), exit.code));
    }
    if let Some(p) = hook_proc {
        if p.is_running() {
            let _ = rt.signal(&p, Signal::Kill);
        }
        let e = p.wait().await;
        rep.prestop_exit = Some(e.code);
        timeline.emit_at(
            clock.ms_of(e.at),
            Source::Kubelet,
            Some(name),
            EventKind::PrestopEnd,
            format!("killed with the pod, exit code {}", e.code),
        );
    }
    timeline.emit(
        Source::Kubelet,
        Some(name),
        EventKind::Terminated,
        "every container exited",
    );
    rep
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

/// A pod's EndpointSlice conditions: at deletion `ready` turns false and
/// `terminating` true at once, while `serving` keeps following readiness.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    inner: std::sync::Arc<std::sync::Mutex<EndpointState>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointState {
    pub serving: bool,
    pub terminating: bool,
}

impl EndpointState {
    /// kube-proxy's `ready`: serving and not terminating.
    pub fn ready(self) -> bool {
        self.serving && !self.terminating
    }
}

impl Endpoint {
    pub fn state(&self) -> EndpointState {
        self.inner.lock().map(|g| *g).unwrap_or_default()
    }

    fn update(&self, pod: &str, timeline: &Timeline, f: impl FnOnce(&mut EndpointState)) {
        let (before, after) = {
            let Ok(mut g) = self.inner.lock() else { return };
            let before = *g;
            f(&mut g);
            (before, *g)
        };
        if before != after {
            timeline.emit(
                Source::Endpoint,
                Some(pod),
                EventKind::Endpoint,
                format!(
                    "ready={} serving={} terminating={}",
                    after.ready(),
                    after.serving,
                    after.terminating
                ),
            );
        }
    }

    /// The pod was deleted.
    pub fn set_terminating(&self, pod: &str, timeline: &Timeline) {
        self.update(pod, timeline, |s| s.terminating = true);
    }

    /// The pod came back (a restart): no longer terminating.
    pub fn reset(&self, pod: &str, timeline: &Timeline) {
        self.update(pod, timeline, |s| s.terminating = false);
    }

    /// The readiness prober's verdict.
    pub fn set_serving(&self, pod: &str, serving: bool, timeline: &Timeline) {
        self.update(pod, timeline, |s| s.serving = serving);
    }
}

/// One prober's settings.
#[derive(Debug, Clone)]
pub struct Prober {
    pub pod: String,
    /// `readiness` or `liveness`.
    pub kind: &'static str,
    pub url: String,
    pub period: Duration,
    pub failure_threshold: u32,
    /// Readiness probers drive the pod's endpoint.
    pub endpoint: Option<Endpoint>,
}

/// Probes until `cancel`; records every verdict change on the timeline
/// (`prober` source, event `ready`/`unready` or `live`/`unlive`). Readiness
/// changes are also the pod's EndpointSlice `serving` condition.
pub async fn run_prober(p: Prober, timeline: Timeline, cancel: CancellationToken) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("reqwest client without TLS always builds");
    let kind = |ok: bool| match p.kind {
        "readiness" => EventKind::Ready(ok),
        _ => EventKind::Live(ok),
    };
    let mut fails = 0u32;
    let mut verdict: Option<bool> = None;
    let mut tick = tokio::time::interval(p.period);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (ok, detail) = match http.get(&p.url).send().await {
            Ok(r) => (
                r.status().is_success(),
                format!("HTTP {}", r.status().as_u16()),
            ),
            Err(e) => (false, short_err(&e)),
        };
        fails = if ok { 0 } else { fails + 1 };
        let now = if ok {
            true
        } else if fails >= p.failure_threshold {
            false
        } else {
            verdict.unwrap_or(true)
        };
        if let Some(ep) = &p.endpoint {
            ep.set_serving(&p.pod, now, &timeline);
        }
        if verdict != Some(now) {
            verdict = Some(now);
            timeline.emit(
                Source::Prober,
                Some(&p.pod),
                kind(now),
                format!("{} {detail}", p.kind),
            );
        }
    }
}

fn short_err(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused".into()
    } else if e.is_timeout() {
        "timeout".into()
    } else {
        "error".into()
    }
}
