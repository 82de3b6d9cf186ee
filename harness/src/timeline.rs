//! The run's one timeline: every event (kubelet, drain steps, hc states,
//! HAProxy server states, process exits, prober verdicts) with its time.
//! Disruptions are attributed from the proxies' evidence in
//! `observe::evidence`.
//!
//! In-memory bookkeeping only; the artifacts module writes it out. It must
//! never block an emitter: emitting is a channel send.

use std::sync::{Arc, Mutex};

use crate::model::{Event, EventKind, RunClock, Source};

/// A cloneable handle every part of a run emits events through.
#[derive(Clone)]
pub struct Timeline {
    clock: RunClock,
    events: Arc<Mutex<Vec<Event>>>,
    tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
    /// Live readers ([`Timeline::subscribe`]); a closed one is dropped.
    taps: Arc<Mutex<Vec<tokio::sync::mpsc::UnboundedSender<Event>>>>,
}

impl Timeline {
    /// `tx` receives each event as it happens (to stream it to timeline.csv).
    pub fn new(clock: RunClock, tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>) -> Self {
        Timeline {
            clock,
            events: Arc::new(Mutex::new(Vec::new())),
            tx,
            taps: Arc::default(),
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
        if let Ok(mut taps) = self.taps.lock() {
            taps.retain(|t| t.send(ev.clone()).is_ok());
        }
        if let Ok(mut g) = self.events.lock() {
            g.push(ev);
        }
    }

    /// Every event from now on, as it is emitted (`harness terminate`
    /// streams a termination's steps this way); dropping the receiver
    /// ends the subscription.
    pub fn subscribe(&self) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut taps) = self.taps.lock() {
            taps.push(tx);
        }
        rx
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
