//! The measured side of coverage (DESIGN §3.4): from the timeline, when the
//! terminated pod's termination began, when its last container exited and
//! when HAProxy's view of it settled (DOWN or MAINT for good); the load must
//! have run from before the fault until the later of the two plus one check
//! interval. A zero-loss claim outside that window proves nothing: the run
//! is `invalid`.
//!
//! Pure: reads the timeline, never does I/O.

use crate::artifacts::Coverage;
use crate::model::{Event, EventKind, ServerState, Source};

/// What the window is measured from.
pub struct WindowFacts<'a> {
    pub timeline: &'a [Event],
    /// The (first) terminated pod.
    pub pod: &'a str,
    /// When the steady load started and stopped scheduling (ms from the
    /// run's start); `None` without steady load.
    pub load: Option<(f64, f64)>,
    /// HAProxy's check interval, ms.
    pub inter_ms: f64,
}

/// The window of a run with a terminated pod.
pub fn measure(f: &WindowFacts<'_>) -> Coverage {
    let pod_events = || {
        f.timeline
            .iter()
            .filter(move |e| e.pod.as_deref() == Some(f.pod))
    };
    let fault_ms = pod_events()
        .find(|e| e.source == Source::Kubelet && e.kind == EventKind::Terminating)
        .map(|e| e.t_ms);
    let last_exit_ms = pod_events()
        .filter(|e| e.kind == EventKind::Exit)
        .map(|e| e.t_ms)
        .reduce(f64::max);
    let lb_settled_ms = settled(f.timeline, f.pod);
    let required_end_ms = match (last_exit_ms, lb_settled_ms) {
        (Some(x), Some(l)) => Some(x.max(l) + f.inter_ms),
        _ => None,
    };
    let covered = match (f.load, fault_ms, required_end_ms) {
        (Some((start, end)), Some(fault), Some(need)) => start <= fault && end >= need,
        _ => false,
    };
    Coverage {
        load_start_ms: f.load.map(|l| l.0),
        load_end_ms: f.load.map(|l| l.1),
        fault_ms,
        last_exit_ms,
        lb_settled_ms,
        required_end_ms,
        covered,
    }
}

/// When HAProxy (the first, which carries the load) marked `pod` DOWN or
/// MAINT for good: the first such event after the last one that put it
/// anywhere else. `None` when its last known state is not DOWN/MAINT.
fn settled(timeline: &[Event], pod: &str) -> Option<f64> {
    let mut at = None;
    for e in timeline
        .iter()
        .filter(|e| e.source == Source::HAPROXY && e.pod.as_deref() == Some(pod))
    {
        let Some(out) = lb_state_is_out(e) else {
            continue;
        };
        match (out, at) {
            (true, None) => at = Some(e.t_ms),
            (false, _) => at = None,
            _ => {}
        }
    }
    at
}

/// `Some(true)`: the event puts the server DOWN/MAINT; `Some(false)`: in
/// another state (UP, NOLB, DRAIN); `None`: not a state event.
fn lb_state_is_out(e: &Event) -> Option<bool> {
    match e.kind {
        EventKind::Server(ServerState::Down) => Some(true),
        EventKind::Server(ServerState::Up | ServerState::Nolb | ServerState::Drain) => Some(false),
        EventKind::Status(st) => Some(matches!(st, ServerState::Down | ServerState::Maint)),
        _ => None,
    }
}

/// The reason a zero-loss run is invalid for its window, if any.
pub fn gap(c: &Coverage, pod: &str) -> Option<String> {
    if c.covered {
        return None;
    }
    let s = |x: Option<f64>| match x {
        Some(ms) => format!("{:.2} s", ms / 1000.0),
        None => "never".into(),
    };
    Some(format!(
        "the load (from {} to {}) does not cover {pod}'s termination: fault at {}, last container exit at {}, HAProxy settled at {}, so load was needed until {}",
        s(c.load_start_ms),
        s(c.load_end_ms),
        s(c.fault_ms),
        s(c.last_exit_ms),
        s(c.lb_settled_ms),
        s(c.required_end_ms)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: f64, source: &str, event: &str, detail: &str) -> Event {
        let source = Source::parse(source);
        let kind = EventKind::parse(&source, event, detail);
        Event::new(t, source, Some("pod-a"), kind, detail)
    }

    fn timeline() -> Vec<Event> {
        vec![
            ev(5_000.0, "kubelet", "terminating", ""),
            ev(
                7_000.0,
                "haproxy",
                "status",
                "UP -> NOLB (runtime API poll)",
            ),
            ev(62_000.0, "hc", "exit", "code 0"),
            ev(62_010.0, "backend", "exit", "code 0"),
            ev(65_900.0, "haproxy", "server_down", "pod-a is DOWN"),
            ev(
                66_000.0,
                "haproxy",
                "status",
                "NOLB -> DOWN 1/2 (runtime API poll)",
            ),
            ev(67_000.0, "envoy", "exit", "code 0"),
        ]
    }

    #[test]
    fn the_window_ends_one_interval_after_the_later_of_exit_and_down() {
        let tl = timeline();
        let f = |end: f64| WindowFacts {
            timeline: &tl,
            pod: "pod-a",
            load: Some((200.0, end)),
            inter_ms: 2_000.0,
        };
        let c = measure(&f(70_000.0));
        assert_eq!(c.fault_ms, Some(5_000.0));
        assert_eq!(c.last_exit_ms, Some(67_000.0));
        assert_eq!(c.lb_settled_ms, Some(65_900.0));
        assert_eq!(c.required_end_ms, Some(69_000.0));
        assert!(c.covered);
        assert_eq!(gap(&c, "pod-a"), None);
        let short = measure(&f(68_000.0));
        assert!(!short.covered);
        let g = gap(&short, "pod-a").unwrap();
        assert!(g.contains("needed until 69.00 s"), "{g}");
    }

    #[test]
    fn an_lb_that_never_settled_or_came_back_is_not_covered() {
        let mut tl = timeline();
        tl.retain(|e| e.source != Source::HAPROXY || e.detail.contains("NOLB ("));
        let f = WindowFacts {
            timeline: &tl,
            pod: "pod-a",
            load: Some((0.0, 1e9)),
            inter_ms: 2_000.0,
        };
        assert_eq!(measure(&f).lb_settled_ms, None);
        assert!(!measure(&f).covered);
        let mut back = timeline();
        back.push(ev(68_000.0, "haproxy", "server_up", "pod-a is UP"));
        let f = WindowFacts {
            timeline: &back,
            ..f
        };
        assert_eq!(measure(&f).lb_settled_ms, None);
    }

    #[test]
    fn load_starting_after_the_fault_or_absent_is_not_covered() {
        let tl = timeline();
        let f = WindowFacts {
            timeline: &tl,
            pod: "pod-a",
            load: Some((6_000.0, 90_000.0)),
            inter_ms: 2_000.0,
        };
        assert!(!measure(&f).covered);
        assert!(!measure(&WindowFacts { load: None, ..f }).covered);
    }
}
