//! The run's one timeline: every event (kubelet, drain steps, hc states,
//! HAProxy server states, process exits, prober verdicts) with its time, and
//! the attribution of each disruption to the nearest preceding cause.
//!
//! In-memory bookkeeping only; the artifacts module writes it out. It must
//! never block an emitter: emitting is a channel send.

use std::sync::{Arc, Mutex};

use crate::model::{
    Attribution, Event, EventKind, Origin, Outcome, RequestRecord, RunClock, Source,
};

/// A cloneable handle every part of a run emits events through.
#[derive(Clone)]
pub struct Timeline {
    clock: RunClock,
    events: Arc<Mutex<Vec<Event>>>,
    tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
}

impl Timeline {
    /// `tx` receives each event as it happens (to stream it to timeline.csv).
    pub fn new(clock: RunClock, tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>) -> Self {
        Timeline {
            clock,
            events: Arc::new(Mutex::new(Vec::new())),
            tx,
        }
    }

    pub fn clock(&self) -> RunClock {
        self.clock
    }

    /// Records an event now.
    pub fn emit(
        &self,
        source: Source,
        pod: Option<&str>,
        kind: EventKind,
        detail: impl Into<String>,
    ) {
        self.emit_at(self.clock.now_ms(), source, pod, kind, detail);
    }

    /// Records an event at a known time (ms from the run's start).
    pub fn emit_at(
        &self,
        t_ms: f64,
        source: Source,
        pod: Option<&str>,
        kind: EventKind,
        detail: impl Into<String>,
    ) {
        let ev = Event::new(t_ms, source, pod, kind, detail);
        tracing::debug!(t_ms, source = %ev.source, pod = pod.unwrap_or("-"), event = %ev.kind, detail = %ev.detail, "timeline");
        if let Some(tx) = &self.tx {
            let _ = tx.send(ev.clone());
        }
        if let Ok(mut g) = self.events.lock() {
            g.push(ev);
        }
    }

    /// Every event so far, ordered by time.
    pub fn snapshot(&self) -> Vec<Event> {
        let mut v = self.events.lock().map(|g| g.clone()).unwrap_or_default();
        v.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        v
    }

    /// The first event matching `source`/`kind` (and pod when given).
    pub fn first(&self, source: &Source, kind: &EventKind, pod: Option<&str>) -> Option<Event> {
        self.snapshot().into_iter().find(|e| {
            e.source == *source && e.kind == *kind && (pod.is_none() || e.pod.as_deref() == pod)
        })
    }
}

fn latest<'a>(v: &[&'a Event]) -> Option<&'a Event> {
    v.iter().copied().max_by(|a, b| a.t_ms.total_cmp(&b.t_ms))
}

/// How late an observed cause may be recorded after the effect it caused
/// (a log line is read a little after HAProxy wrote it).
const LATE_CAUSE_MS: f64 = 100.0;

/// When the cut came relative to its cause: "1.2 s after"; a cause recorded
/// up to `LATE_CAUSE_MS` after the cut (its log line is read a little late)
/// gives "3.2 ms before", never "-0.0 s after".
fn when_text(delta_ms: f64) -> String {
    if delta_ms < 0.0 {
        format!("{:.1} ms before", -delta_ms)
    } else {
        format!("{:.1} s after", delta_ms / 1000.0)
    }
}

/// Attributes a disruption to the nearest preceding cause on the timeline:
/// the latest cause event at or before the request's end (plus a small
/// observation lag), preferring events of the request's pod.
pub fn attribute(req: &RequestRecord, events: &[Event]) -> Attribution {
    let end = req.end_ms;
    let same_pod = |e: &&Event| req.pod.is_none() || e.pod == req.pod;
    let causes: Vec<&Event> = events
        .iter()
        .filter(|e| e.is_cause())
        .filter(same_pod)
        .collect();
    // Causes up to the end, plus one observed a little late (a log line is
    // read a few ms after HAProxy wrote it, the client may see the cut first).
    let window: Vec<&Event> = causes
        .iter()
        .copied()
        .filter(|e| e.t_ms <= end + LATE_CAUSE_MS)
        .collect();
    // What can have made this outcome, most direct first.
    let recent_lb = |e: &&Event| e.kind.is_lb_release() && end - e.t_ms <= 500.0;
    let preferred: Vec<&Event> = match req.origin {
        // Envoy answered itself: its upstream (the backend) went away.
        Some(Origin::Envoy) => window
            .iter()
            .copied()
            .filter(|e| e.source == Source::Backend && e.t_ms <= end)
            .collect(),
        _ => window.iter().copied().filter(recent_lb).collect(),
    };
    let chosen = latest(&preferred).or_else(|| {
        let direct = |strict: bool| -> Vec<&Event> {
            window
                .iter()
                .copied()
                .filter(|e| e.kind != EventKind::DrainListeners && (!strict || e.t_ms <= end))
                .collect()
        };
        latest(&direct(true))
            .or_else(|| latest(&direct(false)))
            .or_else(|| latest(&window))
    });
    let what = req.outcome_words();
    match chosen {
        Some(e) => {
            let delta = end - e.t_ms;
            let who = e
                .pod
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            Attribution {
                request_id: req.id.clone(),
                outcome: req.outcome,
                pod: req.pod.clone(),
                t_ms: end,
                cause: Some(format!(
                    "{what} {} {}{} {}{}",
                    when_text(delta),
                    e.source,
                    who,
                    e.kind,
                    if e.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", e.detail)
                    }
                )),
                cause_t_ms: Some(e.t_ms),
                delta_ms: Some(delta),
            }
        }
        None => Attribution {
            request_id: req.id.clone(),
            outcome: req.outcome,
            pod: req.pod.clone(),
            t_ms: end,
            cause: Some(format!("{what}: no cause on the timeline before it")),
            cause_t_ms: None,
            delta_ms: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RequestKind;

    fn ev(t: f64, source: &str, pod: &str, event: &str) -> Event {
        let source = Source::parse(source);
        let kind = EventKind::parse(&source, event, "");
        Event::new(t, source, Some(pod), kind, "")
    }

    fn req(end: f64, pod: Option<&str>) -> RequestRecord {
        RequestRecord {
            id: "long-0".into(),
            kind: RequestKind::Long,
            method: "GET".into(),
            path: "/sleep?seconds=60".into(),
            pod: pod.map(str::to_string),
            conn_id: 1,
            reused: false,
            intended_ms: 0.0,
            sent_ms: 0.0,
            ttfb_ms: None,
            end_ms: end,
            status: Some(502),
            bytes: 0,
            chunks: None,
            outcome: Outcome::Http5xx,
            phase: None,
            origin: Some(Origin::Haproxy),
            error: None,
        }
    }

    #[test]
    fn picks_latest_preceding_cause_of_same_pod() {
        let events = vec![
            ev(20_000.0, "kubelet", "pod-a", "sigterm"),
            ev(23_900.0, "haproxy", "pod-a", "server_down"),
            ev(24_000.0, "haproxy", "pod-b", "server_down"),
            ev(30_000.0, "envoy", "pod-a", "exit"),
        ];
        let a = attribute(&req(23_950.0, Some("pod-a")), &events);
        assert_eq!(a.cause_t_ms, Some(23_900.0));
        let c = a.cause.unwrap();
        assert!(c.contains("haproxy pod-a server_down"), "{c}");
        assert!(c.starts_with("http_5xx 502 from haproxy"), "{c}");
    }

    #[test]
    fn an_envoy_503_goes_to_its_upstream_backend() {
        let events = vec![
            ev(21_377.0, "backend", "pod-a", "sigterm"),
            ev(21_378.0, "hc", "pod-a", "sigterm"),
            ev(21_379.0, "envoy", "pod-a", "drain_listeners"),
        ];
        let mut r = req(21_780.0, Some("pod-a"));
        r.status = Some(503);
        r.origin = Some(Origin::Envoy);
        assert_eq!(attribute(&r, &events).cause_t_ms, Some(21_377.0));
    }

    #[test]
    fn tolerates_a_cause_observed_slightly_late() {
        // Measured in s1: HAProxy's DOWN line was read 0.1 ms after the
        // client saw its 502; hc had exited 2.8 s before.
        let events = vec![
            ev(21_679.8, "hc", "pod-a", "exit"),
            ev(24_454.6, "haproxy", "pod-a", "server_down"),
        ];
        let a = attribute(&req(24_454.5, Some("pod-a")), &events);
        assert_eq!(a.cause_t_ms, Some(24_454.6));
        let text = a.cause.unwrap();
        assert!(
            text.contains(" 0.1 ms before haproxy pod-a server_down"),
            "{text}"
        );
        // Too late to be the cause: the preceding event wins.
        let events = vec![
            ev(21_679.8, "hc", "pod-a", "exit"),
            ev(24_800.0, "haproxy", "pod-a", "server_down"),
        ];
        let a = attribute(&req(24_454.5, Some("pod-a")), &events);
        assert_eq!(a.cause_t_ms, Some(21_679.8));
    }

    #[test]
    fn ignores_non_causes_and_says_when_nothing_precedes() {
        let events = vec![ev(1_000.0, "hc", "pod-a", "state")];
        let a = attribute(&req(2_000.0, Some("pod-a")), &events);
        assert_eq!(a.cause_t_ms, None);
        assert!(a.cause.unwrap().contains("no cause"));
    }

    #[test]
    fn falls_back_to_any_pod_when_the_request_has_none() {
        let events = vec![ev(5_000.0, "haproxy", "pod-a", "server_down")];
        let a = attribute(&req(5_010.0, None), &events);
        assert_eq!(a.cause_t_ms, Some(5_000.0));
        let text = a.cause.unwrap();
        assert!(
            text.contains(" 0.0 s after haproxy pod-a server_down"),
            "{text}"
        );
    }
}
