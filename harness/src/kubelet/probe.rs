//! Kubelet's readiness and liveness probers and the EndpointSlice
//! conditions (`serving`, `terminating`, `ready`) that follow from them.
//!
//! It only probes and records on the timeline; it must never signal a
//! process.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::model::{EventKind, Source};
use crate::scenario::Kubelet;
use crate::timeline::Timeline;
use crate::topology::PodAddrs;

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
    pub kind: ProbeKind,
    pub url: String,
    pub period: Duration,
    pub failure_threshold: u32,
    /// Readiness probers drive the pod's endpoint.
    pub endpoint: Option<Endpoint>,
}

/// Which probe: readiness (drives the endpoint's `serving`) or liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Readiness,
    Liveness,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Readiness => "readiness",
            ProbeKind::Liveness => "liveness",
        }
    }

    /// The timeline event of a verdict change.
    fn event(self, ok: bool) -> EventKind {
        match self {
            ProbeKind::Readiness => EventKind::Ready(ok),
            ProbeKind::Liveness => EventKind::Live(ok),
        }
    }
}

impl Prober {
    /// `pod`'s `kind` prober as kubelet's settings say: readiness GETs hc's
    /// `/health`, liveness its `/live`.
    pub fn of(kind: ProbeKind, pod: &PodAddrs, k: &Kubelet, endpoint: Option<Endpoint>) -> Self {
        let (path, period, failure_threshold) = match kind {
            ProbeKind::Readiness => ("/health", k.readiness_period, k.readiness_failure_threshold),
            ProbeKind::Liveness => ("/live", k.liveness_period, k.liveness_failure_threshold),
        };
        Prober {
            pod: pod.name.clone(),
            kind,
            url: format!("{}{path}", pod.hc_url()),
            period: period.0,
            failure_threshold,
            endpoint,
        }
    }
}

/// Probes until `cancel`; records every verdict change on the timeline
/// (`prober` source, event `ready`/`unready` or `live`/`unlive`). Readiness
/// changes are also the pod's EndpointSlice `serving` condition.
pub async fn run_prober(p: Prober, timeline: Timeline, cancel: CancellationToken) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("reqwest client without TLS always builds");
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
                p.kind.event(now),
                format!("{} {detail}", p.kind.as_str()),
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
