//! Carries out a scenario's fault schedule: kubelet terminations, signals to
//! one process of a pod, hc's `/fault` and `/reopen`, and rolling restarts
//! (terminate, bring the pod back at the same address, wait until HAProxy
//! has it UP, go on with the next).
//!
//! Every action is recorded on the timeline (source `fault`, or kubelet's
//! own events); it must never judge a run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::kubelet::{self, PodContainers, Termination, TerminationReport};
use crate::lab::{self, LabEnv, Pod};
use crate::model::{EventKind, Source};
use crate::runtime::{LabRuntime, Runtime, Signal};
use crate::scenario::{Container, FaultAction, FaultSignal};
use crate::timeline::Timeline;
use crate::topology::TopologySettings;

/// What bringing a pod back needs.
pub struct Relaunch {
    pub lab: LabEnv,
    pub settings: TopologySettings,
    pub envoy_cfgs: HashMap<String, PathBuf>,
    pub haproxy_socket: PathBuf,
    /// HAProxy's check interval × (rise + 2) + margin: how long a restarted
    /// pod may take to be UP again.
    pub readmit_timeout: Duration,
}

/// Shared by every fault task of a run.
pub struct FaultRunner {
    pub rt: LabRuntime,
    pub timeline: Timeline,
    /// The pods as they run now (a restarted pod replaces its entry).
    pub pods: Arc<Mutex<HashMap<String, Pod>>>,
    /// Kubelet's termination plan of each pod.
    pub plans: HashMap<String, Termination>,
    pub relaunch: Relaunch,
}

impl FaultRunner {
    fn pod(&self, name: &str) -> anyhow::Result<Pod> {
        self.pods
            .lock()
            .ok()
            .and_then(|m| m.get(name).cloned())
            .with_context(|| format!("no pod {name}"))
    }

    /// Runs one action at `at`; returns the terminations it caused.
    pub async fn run(
        self: Arc<Self>,
        action: FaultAction,
        at: Instant,
    ) -> anyhow::Result<Vec<(String, TerminationReport)>> {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        match action {
            FaultAction::Terminate(p) => Ok(vec![(p.clone(), self.terminate(&p).await?)]),
            FaultAction::Kill {
                pod,
                process,
                signal,
            } => {
                let p = self.pod(&pod)?;
                let proc = match process {
                    Container::Backend => &p.backend,
                    Container::Hc => &p.hc,
                    Container::Envoy => &p.envoy,
                };
                let sig = signal_of(signal);
                let r = self.rt.signal(proc, sig);
                self.timeline.emit(
                    Source::Fault,
                    Some(&pod),
                    EventKind::Kill,
                    match r {
                        Ok(()) => format!("{signal} to {process}"),
                        Err(e) => format!("{signal} to {process} failed: {e}"),
                    },
                );
                Ok(Vec::new())
            }
            FaultAction::HcFault(p) => {
                self.hc_post(&p, "/fault", EventKind::HcFault).await?;
                Ok(Vec::new())
            }
            FaultAction::HcReopen(p) => {
                self.hc_post(&p, "/reopen", EventKind::HcReopen).await?;
                Ok(Vec::new())
            }
            FaultAction::Rolling { pods, pause } => {
                let mut out = Vec::new();
                for (i, p) in pods.iter().enumerate() {
                    out.push((p.clone(), self.terminate(p).await?));
                    self.restart(p).await?;
                    if i + 1 < pods.len() {
                        tokio::time::sleep(pause.0).await;
                    }
                }
                Ok(out)
            }
        }
    }

    async fn terminate(&self, name: &str) -> anyhow::Result<TerminationReport> {
        let pod = self.pod(name)?;
        let plan = self
            .plans
            .get(name)
            .with_context(|| format!("no termination plan for {name}"))?;
        let containers = PodContainers {
            name: pod.addrs.name.clone(),
            backend: pod.backend.clone(),
            hc: pod.hc.clone(),
            envoy: pod.envoy.clone(),
            envoy_admin: pod.addrs.envoy_admin_url(),
        };
        Ok(kubelet::terminate(&self.rt, &containers, &pod.addrs, plan, &self.timeline).await)
    }

    async fn hc_post(&self, name: &str, path: &str, event: EventKind) -> anyhow::Result<()> {
        let pod = self.pod(name)?;
        let url = format!("{}{path}", pod.addrs.hc_admin_url());
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let detail = match http.post(&url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let warning = r
                    .headers()
                    .get("warning")
                    .and_then(|v| v.to_str().ok())
                    .map(|w| format!(" warning: {w}"))
                    .unwrap_or_default();
                let body: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(120)
                    .collect();
                format!("POST {path} -> {status} {}{warning}", body.trim())
            }
            Err(e) => format!("POST {path} failed: {e}"),
        };
        self.timeline.emit(Source::Fault, Some(name), event, detail);
        Ok(())
    }

    /// Brings `name` back at its address and waits until HAProxy has it UP.
    async fn restart(&self, name: &str) -> anyhow::Result<()> {
        let old = self.pod(name)?;
        let rl = &self.relaunch;
        let cfg = rl
            .envoy_cfgs
            .get(name)
            .with_context(|| format!("no Envoy config for {name}"))?;
        let launch = rl.lab.pod_launch(&rl.settings, cfg);
        let pod = lab::start_pod(&self.rt, &old.addrs, &launch)
            .await
            .with_context(|| format!("restarting {name}"))?;
        self.timeline.emit(
            Source::Harness,
            Some(name),
            EventKind::PodRestarted,
            "ready again at the same address",
        );
        if let Some(ep) = self.plans.get(name).and_then(|p| p.endpoint.as_ref()) {
            ep.reset(name, &self.timeline);
        }
        if let Ok(mut m) = self.pods.lock() {
            m.insert(name.to_string(), pod);
        }
        let deadline = Instant::now() + rl.readmit_timeout;
        while Instant::now() < deadline {
            if let Ok(m) = crate::observe::show_stat(&rl.haproxy_socket, "be_app").await {
                if m.get(name).map(String::as_str) == Some("UP") {
                    self.timeline.emit(
                        Source::Harness,
                        Some(name),
                        EventKind::LbReadmitted,
                        "HAProxy has the restarted pod UP",
                    );
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!(
            "restarted {name} was not UP at HAProxy within {:?}",
            rl.readmit_timeout
        )
    }
}

fn signal_of(s: FaultSignal) -> Signal {
    match s {
        FaultSignal::Kill => Signal::Kill,
        FaultSignal::Term => Signal::Term,
        FaultSignal::Stop => Signal::Stop,
        FaultSignal::Cont => Signal::Cont,
        FaultSignal::Int => Signal::Int,
    }
}
