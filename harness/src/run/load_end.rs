//! The load's end when a scenario says `load_end = "covered"`: a task reads
//! the timeline as it is written and, once the terminated pod's coverage
//! window closed ([`coverage::measure`]: its last container exited and
//! HAProxy let it go, plus one check interval), sets the load generator's
//! [`Horizon`] one more check interval later. The steady entries' own
//! `duration` is then only the longest they may run, so a mode whose
//! termination takes a varying time (a drain that may end early or run to
//! its deadline) does not keep loading a lab whose story is over.
//! [`CoveredEnd::cut`] gives the specs as they really ran, so the accounting
//! (scheduled == sent == recorded) and the coverage judged afterwards see the
//! real end.
//!
//! Never sends, never cancels: the horizon only stops scheduling new
//! requests, and every request already scheduled keeps its row.

use tokio::task::JoinHandle;

use crate::loadgen::{Horizon, LoadSpec};
use crate::model::{EventKind, Source};
use crate::scenario::{LoadEnd, Scenario};
use crate::timeline::Timeline;

use super::coverage::{self, WindowFacts};

/// The moving end of a run's load and the task that sets it.
pub struct CoveredEnd {
    horizon: Horizon,
    task: JoinHandle<()>,
}

impl CoveredEnd {
    /// Starts watching the timeline when the scenario asks for it and
    /// terminates a pod; `None` otherwise (the load runs its durations).
    pub fn start(sc: &Scenario, timeline: &Timeline) -> Option<CoveredEnd> {
        if sc.load_end != LoadEnd::Covered {
            return None;
        }
        let pod = sc
            .faults
            .iter()
            .find_map(|f| f.terminated_pods().first().map(|p| p.to_string()))?;
        let horizon = Horizon::new();
        let inter_ms = sc.topology.haproxy.inter.0.as_secs_f64() * 1000.0;
        let task = tokio::spawn(watch(timeline.clone(), pod, inter_ms, horizon.clone()));
        Some(CoveredEnd { horizon, task })
    }

    /// The horizon to hand to the load generator.
    pub fn horizon(&self) -> Horizon {
        self.horizon.clone()
    }

    /// Stops watching; `specs` as their schedules really ran.
    pub fn cut(self, specs: Vec<LoadSpec>) -> Vec<LoadSpec> {
        self.task.abort();
        let end = self.horizon.get();
        specs.into_iter().map(|s| s.cut_at(end)).collect()
    }
}

/// Sets `horizon` one check interval after `pod`'s coverage window closed
/// (or now, when that is past), and says so on the timeline.
async fn watch(timeline: Timeline, pod: String, inter_ms: f64, horizon: Horizon) {
    let mut rx = timeline.subscribe();
    let mut all_exited = false;
    while let Some(ev) = rx.recv().await {
        if ev.pod.as_deref() != Some(pod.as_str()) {
            continue;
        }
        // A container's exit may be said late (docker) and the pod's other
        // containers still run: only kubelet's "every container exited"
        // makes the last exit known.
        all_exited |= ev.source == Source::Kubelet && ev.kind == EventKind::Terminated;
        if !all_exited {
            continue;
        }
        let events = timeline.snapshot();
        let window = coverage::measure(&WindowFacts {
            timeline: &events,
            pod: &pod,
            load: None,
            inter_ms,
        });
        let Some(required) = window.required_end_ms else {
            continue;
        };
        // Never in the past: a request already sent keeps its row, and the
        // cut must count it (the driver cuts by intended time).
        let end = (required + inter_ms).max(timeline.clock().now_ms()).ceil();
        horizon.set(end as u64);
        timeline.emit_at(
            end,
            Source::Loadgen,
            None,
            EventKind::LoadEnd,
            format!(
                "{pod} is covered until {:.1} s (last exit or HAProxy's settled view, plus one check interval): the steady load ends one interval later",
                required / 1000.0
            ),
        );
        return;
    }
}
