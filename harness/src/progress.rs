//! What the harness tells the person at the terminal while a run goes on.
//! On a terminal: one live line (indicatif), redrawn four times a second,
//! with the phase, elapsed and remaining load time, requests done, ok and
//! disrupted so far, and each pod's hc state; phase changes are kept above
//! it. Otherwise (a CI log): one plain line per phase, nothing more.
//!
//! The run only updates a [`ProgressState`] (a phase, the load window, each
//! request's outcome, pod states); rendering is done here, on its own thread.
//! Output only: it must never decide anything or fail a run.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::model::{Event, EventKind, Outcome, RequestRecord, Source};

/// How often the live line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// What the live line shows; the run updates it, the renderer reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub phase: String,
    /// When the load started and how long it is planned to last.
    pub load: Option<(Instant, Duration)>,
    pub done: u64,
    pub ok: u64,
    pub disrupted: u64,
    /// Pod name -> its hc state as last observed.
    pub pods: BTreeMap<String, String>,
}

impl Snapshot {
    /// The live line, e.g. `load 12s/75s (63s left) | 41 done: 41 ok, 0 disrupted | pod-a OPEN pod-b CLOSING`.
    pub fn line(&self, now: Instant) -> String {
        let mut parts = vec![self.phase.clone()];
        if let Some((start, planned)) = self.load {
            let el = now.saturating_duration_since(start);
            parts.push(format!(
                "load {}s/{}s ({}s left)",
                el.as_secs(),
                planned.as_secs(),
                planned.saturating_sub(el).as_secs()
            ));
        }
        parts.push(format!(
            "{} done: {} ok, {} disrupted",
            self.done, self.ok, self.disrupted
        ));
        if !self.pods.is_empty() {
            let pods: Vec<String> = self.pods.iter().map(|(p, s)| format!("{p} {s}")).collect();
            parts.push(pods.join(" "));
        }
        parts.join(" | ")
    }
}

/// The handle the run updates (cheap to clone, shared with tasks).
#[derive(Debug, Clone, Default)]
pub struct ProgressState(Arc<Mutex<Snapshot>>);

impl ProgressState {
    fn with(&self, f: impl FnOnce(&mut Snapshot)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The load starts now and is planned to last `planned`.
    pub fn load_started(&self, planned: Duration) {
        self.with(|s| s.load = Some((Instant::now(), planned)));
    }

    /// One finished request.
    pub fn request(&self, outcome: Outcome) {
        self.with(|s| {
            s.done += 1;
            if outcome.is_disruption() {
                s.disrupted += 1;
            } else if outcome == Outcome::Ok {
                s.ok += 1;
            }
        });
    }

    /// Each pod's latest hc state from the run's timeline (`hc` `state`
    /// events, detail `FROM -> TO`).
    pub fn pods_from(&self, events: &[Event]) {
        let mut pods = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e.source == Source::Hc && e.kind == EventKind::State)
        {
            if let (Some(p), Some((_, to))) = (&e.pod, e.detail.rsplit_once("-> ")) {
                pods.insert(p.clone(), to.trim().to_string());
            }
        }
        self.with(|s| s.pods = pods);
    }

    /// Passes every request record on to the run's sink, counting it here.
    pub fn tap(
        &self,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<RequestRecord>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<RequestRecord> {
        let (tx, out) = tokio::sync::mpsc::unbounded_channel();
        let state = self.clone();
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                state.request(r.outcome);
                if tx.send(r).is_err() {
                    break;
                }
            }
        });
        out
    }
}

/// How long the scenario's load is planned to last, from its start: the
/// latest end of its generators.
pub fn planned_load(sc: &crate::scenario::Scenario) -> Duration {
    use crate::scenario::Load;
    let end_ms = sc
        .load
        .iter()
        .map(|l| match l {
            Load::Long { seconds, start, .. } | Load::Stream { seconds, start, .. } => {
                start.as_f64_ms() + *seconds as f64 * 1000.0
            }
            Load::Steady {
                duration, start, ..
            } => start.as_f64_ms() + duration.as_f64_ms(),
        })
        .fold(0.0, f64::max);
    Duration::from_secs_f64(end_ms / 1000.0)
}

/// One run's progress display.
pub struct Progress {
    prefix: String,
    state: ProgressState,
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
}

impl Progress {
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let state = ProgressState::default();
        let stop = Arc::new(AtomicBool::new(false));
        let live = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} [{prefix}] {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(prefix.clone());
            b.enable_steady_tick(Duration::from_millis(120));
            let (b2, st, stop) = (b.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    b2.set_message(st.snapshot().line(Instant::now()));
                    std::thread::sleep(REDRAW);
                }
            });
            b
        });
        Progress {
            prefix,
            state,
            bar,
            stop,
        }
    }

    /// The state the run updates.
    pub fn state(&self) -> ProgressState {
        self.state.clone()
    }

    /// A new phase: kept above the live line on a terminal, a line otherwise.
    pub fn phase(&self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        self.state.with(|s| s.phase = short_phase(msg));
        match &self.bar {
            Some(b) => b.println(format!("[{}] {msg}", self.prefix)),
            None => eprintln!("[{}] {msg}", self.prefix),
        }
    }

    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The phase as the live line shows it: its first clause.
fn short_phase(msg: &str) -> String {
    msg.split([';', ':', '('])
        .next()
        .unwrap_or(msg)
        .trim()
        .to_string()
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(pod: &str, detail: &str) -> Event {
        Event::new(0.0, Source::Hc, Some(pod), EventKind::State, detail)
    }

    #[test]
    fn the_line_counts_outcomes_and_shows_the_latest_pod_states() {
        let st = ProgressState::default();
        st.request(Outcome::Ok);
        st.request(Outcome::Reset);
        st.request(Outcome::Ok);
        st.pods_from(&[
            ev("pod-a", "? -> OPEN"),
            ev("pod-a", "OPEN -> CLOSING"),
            ev("pod-b", "? -> OPEN"),
        ]);
        let start = Instant::now();
        st.with(|s| {
            s.phase = "load running".into();
            s.load = Some((start, Duration::from_secs(75)));
        });
        assert_eq!(
            st.snapshot().line(start + Duration::from_secs(12)),
            "load running | load 12s/75s (63s left) | 3 done: 2 ok, 1 disrupted | pod-a CLOSING pod-b OPEN"
        );
    }

    #[test]
    fn the_phase_shown_live_is_its_first_clause() {
        assert_eq!(
            short_phase("load running; sigterm pod-a at +10s"),
            "load running"
        );
        assert_eq!(short_phase("teardown"), "teardown");
    }
}
