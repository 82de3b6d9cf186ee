//! The timeline's one event type: who said it ([`Source`]), what happened
//! ([`EventKind`]), to which pod, when and with what detail. Every reader of
//! the timeline (CSV, plot, narrative, attribution, verdict) asks the kind
//! itself whether it is a cause, a key moment or a plot mark: the lists live
//! here, once.
//!
//! `timeline.csv` keeps its columns `t_ms, source, pod, event, detail` and
//! the same strings as before, so old run folders read back into these types
//! (an unknown name becomes `Other`, never an error).
//!
//! Plain data; nothing here does I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ServerState, Source};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    // kubelet
    Terminating,
    PrestopStart,
    PrestopEnd,
    PrestopTimeout,
    PrestopFailed,
    Terminated,
    SignalFailed,
    // a container (source: the container)
    Sigterm,
    Sigkill,
    Exit,
    // the sidecar (Istio's pilot-agent)
    DrainListeners,
    EnvoyStop,
    ListenerClosed,
    /// HAProxy's log: a server changed state (`server_up`, `server_down`,
    /// `server_nolb`, `server_state`).
    Server(ServerState),
    /// HAProxy's runtime API poll: a server's status changed to this one
    /// (`status`, detail `UP -> DOWN (runtime API poll)`).
    Status(ServerState),
    /// hc's observed state changed (`state`, detail `A -> B`).
    State,
    /// The EndpointSlice conditions changed.
    Endpoint,
    /// A probe verdict changed: readiness (`ready`/`unready`) or liveness
    /// (`live`/`unlive`).
    Ready(bool),
    Live(bool),
    // harness
    RunStart,
    Teardown,
    PodReady,
    HaproxyReady,
    LbReady,
    ObserverGap,
    ObserverResumed,
    PodRestarted,
    LbReadmitted,
    // loadgen
    LoadStart,
    LoadNetns,
    // faults
    Kill,
    HcFault,
    HcReopen,
    // `harness watch --during CMD` (source `during`)
    /// CMD started (detail: the command line).
    CommandStart,
    /// One line CMD wrote (stdout or stderr), as the detail.
    CommandOutput,
    /// CMD exited (detail: `exit code N` or the signal).
    CommandExit,
    /// CMD was still running at `--duration` and was stopped.
    CommandStopped,
    /// The load stopped scheduling requests (CMD's end plus the settle
    /// time, or `--duration`).
    LoadEnd,
    /// One of drain's (or the script's) steps, by the name it logged
    /// (`hc_close_lb`, `close-lb`, `done`, ...).
    Step(String),
    /// A name this build does not know (read from an older run folder).
    Other(String),
}

/// Every kind with a fixed name, for parsing.
const NAMED: &[EventKind] = &[
    EventKind::Terminating,
    EventKind::PrestopStart,
    EventKind::PrestopEnd,
    EventKind::PrestopTimeout,
    EventKind::PrestopFailed,
    EventKind::Terminated,
    EventKind::SignalFailed,
    EventKind::Sigterm,
    EventKind::Sigkill,
    EventKind::Exit,
    EventKind::DrainListeners,
    EventKind::EnvoyStop,
    EventKind::ListenerClosed,
    EventKind::Server(ServerState::Up),
    EventKind::Server(ServerState::Down),
    EventKind::Server(ServerState::Nolb),
    EventKind::Server(ServerState::Other),
    EventKind::State,
    EventKind::Endpoint,
    EventKind::Ready(true),
    EventKind::Ready(false),
    EventKind::Live(true),
    EventKind::Live(false),
    EventKind::RunStart,
    EventKind::Teardown,
    EventKind::PodReady,
    EventKind::HaproxyReady,
    EventKind::LbReady,
    EventKind::ObserverGap,
    EventKind::ObserverResumed,
    EventKind::PodRestarted,
    EventKind::LbReadmitted,
    EventKind::LoadStart,
    EventKind::LoadNetns,
    EventKind::Kill,
    EventKind::HcFault,
    EventKind::HcReopen,
    EventKind::CommandStart,
    EventKind::CommandOutput,
    EventKind::CommandExit,
    EventKind::CommandStopped,
    EventKind::LoadEnd,
];

impl EventKind {
    /// The name in `timeline.csv`'s `event` column.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Terminating => "terminating",
            EventKind::PrestopStart => "prestop_start",
            EventKind::PrestopEnd => "prestop_end",
            EventKind::PrestopTimeout => "prestop_timeout",
            EventKind::PrestopFailed => "prestop_failed",
            EventKind::Terminated => "terminated",
            EventKind::SignalFailed => "signal_failed",
            EventKind::Sigterm => "sigterm",
            EventKind::Sigkill => "sigkill",
            EventKind::Exit => "exit",
            EventKind::DrainListeners => "drain_listeners",
            EventKind::EnvoyStop => "envoy_stop",
            EventKind::ListenerClosed => "listener_closed",
            EventKind::Server(ServerState::Up) => "server_up",
            EventKind::Server(ServerState::Down) => "server_down",
            EventKind::Server(ServerState::Nolb | ServerState::Drain) => "server_nolb",
            EventKind::Server(ServerState::Maint | ServerState::Other) => "server_state",
            EventKind::Status(_) => "status",
            EventKind::State => "state",
            EventKind::Endpoint => "endpoint",
            EventKind::Ready(true) => "ready",
            EventKind::Ready(false) => "unready",
            EventKind::Live(true) => "live",
            EventKind::Live(false) => "unlive",
            EventKind::RunStart => "run_start",
            EventKind::Teardown => "teardown",
            EventKind::PodReady => "pod_ready",
            EventKind::HaproxyReady => "haproxy_ready",
            EventKind::LbReady => "lb_ready",
            EventKind::ObserverGap => "observer_gap",
            EventKind::ObserverResumed => "observer_resumed",
            EventKind::PodRestarted => "pod_restarted",
            EventKind::LbReadmitted => "lb_readmitted",
            EventKind::LoadStart => "load_start",
            EventKind::LoadNetns => "load_netns",
            EventKind::Kill => "kill",
            EventKind::HcFault => "hc_fault",
            EventKind::HcReopen => "hc_reopen",
            EventKind::CommandStart => "command_start",
            EventKind::CommandOutput => "command_output",
            EventKind::CommandExit => "command_exit",
            EventKind::CommandStopped => "command_stopped",
            EventKind::LoadEnd => "load_end",
            EventKind::Step(s) | EventKind::Other(s) => s,
        }
    }

    /// The kind a CSV row names: `source` tells drain steps apart, and a
    /// `status` row's new state is read from its detail (`UP -> DOWN ...`).
    pub fn parse(source: &Source, event: &str, detail: &str) -> EventKind {
        if *source == Source::Drain {
            return EventKind::Step(event.to_string());
        }
        if event == "status" {
            let to = detail.split_once("->").map_or("", |(_, to)| to);
            return EventKind::Status(ServerState::parse(to));
        }
        NAMED
            .iter()
            .find(|k| k.as_str() == event)
            .cloned()
            .unwrap_or_else(|| EventKind::Other(event.to_string()))
    }

    /// HAProxy no longer sends this server new requests (its log, or the
    /// runtime API's status).
    pub fn is_lb_release(&self) -> bool {
        match self {
            EventKind::Server(s) | EventKind::Status(s) => s.is_released(),
            _ => false,
        }
    }

    /// Can end a request (attribution looks for these).
    pub fn is_cause(&self) -> bool {
        matches!(
            self,
            EventKind::Server(ServerState::Down | ServerState::Nolb | ServerState::Drain)
                | EventKind::Exit
                | EventKind::Sigkill
                | EventKind::Sigterm
                | EventKind::EnvoyStop
                | EventKind::DrainListeners
                | EventKind::ListenerClosed
                | EventKind::Kill
                | EventKind::HcFault
        )
    }

    /// Worth a line in the report's key moments.
    pub fn is_key_moment(&self) -> bool {
        matches!(
            self,
            EventKind::Terminating
                | EventKind::PrestopStart
                | EventKind::PrestopEnd
                | EventKind::Server(ServerState::Down | ServerState::Nolb | ServerState::Drain)
                | EventKind::Sigterm
                | EventKind::Sigkill
                | EventKind::Terminated
                | EventKind::CommandStart
                | EventKind::CommandExit
                | EventKind::CommandStopped
        ) || matches!(self, EventKind::Step(s) if s == "close-lb")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `timeline.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EventRow", into = "EventRow")]
pub struct Event {
    pub t_ms: f64,
    pub source: Source,
    pub pod: Option<String>,
    pub kind: EventKind,
    pub detail: String,
}

impl Event {
    pub fn new(
        t_ms: f64,
        source: Source,
        pod: Option<&str>,
        kind: EventKind,
        detail: impl Into<String>,
    ) -> Event {
        Event {
            t_ms,
            source,
            pod: pod.map(str::to_string),
            kind,
            detail: detail.into(),
        }
    }

    /// Drawn as a vertical mark on the plot (every drain step, and the
    /// moments of the termination).
    pub fn is_marked(&self) -> bool {
        self.source == Source::Drain
            || matches!(
                self.kind,
                EventKind::Terminating
                    | EventKind::PrestopStart
                    | EventKind::PrestopEnd
                    | EventKind::Sigterm
                    | EventKind::Sigkill
                    | EventKind::Exit
                    | EventKind::Server(
                        ServerState::Up
                            | ServerState::Down
                            | ServerState::Nolb
                            | ServerState::Drain
                    )
            )
    }

    pub fn is_cause(&self) -> bool {
        self.kind.is_cause()
    }

    pub fn is_key_moment(&self) -> bool {
        self.kind.is_key_moment()
    }
}

/// The CSV form of an [`Event`]: the columns readers know.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventRow {
    t_ms: f64,
    source: String,
    pod: Option<String>,
    event: String,
    detail: String,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        let source = Source::parse(&r.source);
        let kind = EventKind::parse(&source, &r.event, &r.detail);
        Event {
            t_ms: r.t_ms,
            source,
            pod: r.pod,
            kind,
            detail: r.detail,
        }
    }
}

impl From<Event> for EventRow {
    fn from(e: Event) -> EventRow {
        EventRow {
            t_ms: e.t_ms,
            source: e.source.as_str().into_owned(),
            pod: e.pod,
            event: e.kind.as_str().to_string(),
            detail: e.detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_kind_reads_back_from_its_name() {
        for k in NAMED {
            assert_eq!(&EventKind::parse(&Source::Hc, k.as_str(), ""), k);
        }
        assert_eq!(
            EventKind::parse(&Source::Kubelet, "no_such_event", ""),
            EventKind::Other("no_such_event".into())
        );
        assert_eq!(
            EventKind::parse(&Source::Drain, "exit", ""),
            EventKind::Step("exit".into())
        );
    }

    #[test]
    fn a_status_row_carries_its_new_state() {
        let k = EventKind::parse(&Source::HAPROXY, "status", "UP -> DOWN (runtime API poll)");
        assert_eq!(k, EventKind::Status(ServerState::Down));
        assert!(k.is_lb_release());
        let k = EventKind::parse(&Source::HAPROXY, "status", "DOWN -> UP (runtime API poll)");
        assert!(!k.is_lb_release());
        let k = EventKind::parse(&Source::HAPROXY, "status", "UP -> DOWN 1/2");
        assert_eq!(k, EventKind::Status(ServerState::Down));
        assert!(EventKind::parse(&Source::HAPROXY, "status", "? -> MAINT").is_lb_release());
    }

    #[test]
    fn causes_key_moments_and_marks() {
        assert!(EventKind::Server(ServerState::Down).is_cause());
        assert!(!EventKind::Server(ServerState::Up).is_cause());
        assert!(!EventKind::State.is_cause());
        assert!(!EventKind::Status(ServerState::Down).is_cause());
        assert!(EventKind::Step("close-lb".into()).is_key_moment());
        assert!(!EventKind::Exit.is_key_moment());
        let step = Event::new(1.0, Source::Drain, None, EventKind::Step("x".into()), "");
        assert!(step.is_marked());
        let up = Event::new(
            1.0,
            Source::HAPROXY,
            None,
            EventKind::Server(ServerState::Up),
            "",
        );
        assert!(up.is_marked());
        let st = Event::new(1.0, Source::Hc, None, EventKind::State, "");
        assert!(!st.is_marked());
    }
}
