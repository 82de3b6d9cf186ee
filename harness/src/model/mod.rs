//! The records every part of a run produces and the artifacts consume:
//! requests, timeline events, observer samples, and the run clock that dates
//! them all (milliseconds since the run's start).
//!
//! Plain data; nothing here does I/O, and nothing here imports another
//! harness module: every layer may import this one.

mod attribution;
mod event;
pub mod runtime_kind;
mod server_state;
mod source;

pub use attribution::Attribution;
pub use event::{Event, EventKind};
pub use runtime_kind::RuntimeKind;
pub use server_state::ServerState;
pub use source::Source;

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

/// The clock of one run: every `*_ms` field is milliseconds since `start`.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    pub start: Instant,
    pub start_wall: SystemTime,
}

impl RunClock {
    pub fn new() -> Self {
        RunClock {
            start: Instant::now(),
            start_wall: SystemTime::now(),
        }
    }
    /// Milliseconds since the run's start.
    pub fn now_ms(&self) -> f64 {
        self.ms_of(Instant::now())
    }
    pub fn ms_of(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.start).as_secs_f64() * 1000.0
    }
    /// A wall-clock time (Unix epoch ms, e.g. a proxy's own log time) in ms
    /// since the run's start.
    pub fn ms_of_epoch(&self, epoch_ms: f64) -> f64 {
        let start = self
            .start_wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        epoch_ms - start
    }
    /// The instant `ms` after the start.
    pub fn at_ms(&self, ms: f64) -> Instant {
        self.start + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

impl Default for RunClock {
    fn default() -> Self {
        Self::new()
    }
}

/// What happened to one request, told apart by what the client's socket
/// saw (DESIGN §3.4). Everything but `Ok` is a disruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// A TCP RST (connection reset), at any phase.
    Reset,
    /// A clean FIN before the response was complete.
    Closed,
    /// The connection was refused.
    Refused,
    /// No complete answer within the request's deadline (or the run's end).
    Timeout,
    /// A 5xx answer (see `Origin`).
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// Any other non-2xx answer (a 404, a 400, a 3xx).
    HttpStatus,
    /// The HTTP framing completed, but with fewer bytes or stream lines than
    /// promised.
    Truncated,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Reset,
        Outcome::Closed,
        Outcome::Refused,
        Outcome::Timeout,
        Outcome::Http5xx,
        Outcome::HttpStatus,
        Outcome::Truncated,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Reset => "reset",
            Outcome::Closed => "closed",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Http5xx => "http_5xx",
            Outcome::HttpStatus => "http_status",
            Outcome::Truncated => "truncated",
        }
    }
    /// The outcome a name stands for (`http_5xx`, or `http5xx` as early
    /// run folders spelled it).
    pub fn parse(s: &str) -> Option<Outcome> {
        if s == "http5xx" {
            return Some(Outcome::Http5xx);
        }
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
    pub fn is_disruption(self) -> bool {
        self != Outcome::Ok
    }
    /// An HTTP answer (it has a status and an origin), not a socket event.
    pub fn is_http(self) -> bool {
        matches!(self, Outcome::Http5xx | Outcome::HttpStatus)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the exchange a socket-level disruption happened.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opening the TCP connection (or waiting for a pooled one); an exchange
    /// starts here.
    #[default]
    Connect,
    /// Connected (or on a reused connection), before the response head.
    Head,
    /// After the response head: mid-body or mid-stream.
    Body,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Connect, Phase::Head, Phase::Body];
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Head => "head",
            Phase::Body => "body",
        }
    }
    /// The phase in words: `while connecting`, `before the response head`,
    /// `mid-body`.
    pub fn words(self) -> &'static str {
        match self {
            Phase::Connect => "while connecting",
            Phase::Head => "before the response head",
            Phase::Body => "mid-body",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who produced a non-2xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Haproxy,
    Envoy,
    App,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Haproxy => "haproxy",
            Origin::Envoy => "envoy",
            Origin::App => "app",
        }
    }
}

/// Which load generator made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Long,
    Stream,
    Steady,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Long => "long",
            RequestKind::Stream => "stream",
            RequestKind::Steady => "steady",
        }
    }
}

/// One request, as a row of `requests.csv` (times in ms from the run's start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The `x-request-id` sent with it.
    pub id: String,
    pub kind: RequestKind,
    pub method: String,
    pub path: String,
    /// From `x-served-by`, else from HAProxy's log by request id.
    pub pod: Option<String>,
    pub conn_id: u64,
    /// Sent on a connection that had already carried a request.
    pub reused: bool,
    /// When the schedule meant to send it (open loop: t0 + i/R).
    pub intended_ms: f64,
    pub sent_ms: f64,
    pub ttfb_ms: Option<f64>,
    pub end_ms: f64,
    pub status: Option<u16>,
    pub bytes: u64,
    /// Stream lines received (streams only).
    pub chunks: Option<u32>,
    pub outcome: Outcome,
    /// Where a socket-level disruption happened (`reset`, `closed`,
    /// `refused`, `timeout`, `truncated`); empty for `ok` and HTTP answers.
    /// Runs recorded before the column existed read as empty.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// Who made a non-2xx answer (`http_5xx` and `http_status` only).
    pub origin: Option<Origin>,
    /// HAProxy's termination state in its log line of this request (`----`,
    /// `DH--`, `SH--`, ...); `None` when HAProxy logged no line for it.
    /// Joined for disruptions (observe::evidence).
    #[serde(default)]
    pub haproxy_term: Option<String>,
    /// Envoy's `%RESPONSE_FLAGS%` in its access log line of this request
    /// (`-` for none, `UC`, `DC`, ...); `None` when no Envoy logged it.
    #[serde(default)]
    pub envoy_flags: Option<String>,
    pub error: Option<String>,
}

impl RequestRecord {
    /// A `GET /` steady request `id` that ended with `outcome` at 0 ms on
    /// connection 1, everything else empty: the unit tests' one request,
    /// each test setting what it is about.
    #[cfg(test)]
    pub fn for_test(id: &str, outcome: Outcome) -> RequestRecord {
        RequestRecord {
            id: id.into(),
            kind: RequestKind::Steady,
            method: "GET".into(),
            path: "/".into(),
            pod: None,
            conn_id: 1,
            reused: false,
            intended_ms: 0.0,
            sent_ms: 0.0,
            ttfb_ms: None,
            end_ms: 0.0,
            status: None,
            bytes: 0,
            chunks: None,
            outcome,
            phase: None,
            origin: None,
            haproxy_term: None,
            envoy_flags: None,
            error: None,
        }
    }

    /// What happened, in a few words: `http_5xx 502 from haproxy`,
    /// `reset mid-body`, `closed before the response head`, `ok`.
    pub fn outcome_words(&self) -> String {
        let mut w = self.outcome.as_str().to_string();
        if self.outcome.is_http() {
            if let Some(st) = self.status {
                w.push_str(&format!(" {st}"));
            }
            if let Some(o) = self.origin {
                w.push_str(&format!(" from {}", o.as_str()));
            }
        } else if let Some(p) = self.phase {
            w.push(' ');
            w.push_str(p.words());
        }
        w
    }
    /// Latency from the intended send time (coordinated-omission corrected).
    pub fn latency_ms(&self) -> f64 {
        (self.end_ms - self.intended_ms).max(0.0)
    }
    /// Latency from the actual send time (uncorrected).
    pub fn service_ms(&self) -> f64 {
        (self.end_ms - self.sent_ms).max(0.0)
    }
}

/// One row of `samples.csv`: what the observers saw of one pod at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_ms: f64,
    pub pod: String,
    /// As hc said it (gate or legacy naming).
    pub hc_state: Option<String>,
    pub envoy_rq_active: Option<i64>,
    pub envoy_cx_active: Option<i64>,
    /// HAProxy's view of the pod's server (UP, DOWN, NOLB, MAINT, ...).
    pub haproxy_status: Option<String>,
}

/// What an attribution's cause rests on: the proxies' own log lines of the
/// request, or (none logged it) proximity on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// HAProxy's log line of the request.
    HaproxyLog,
    /// The pod's Envoy access log line of the request.
    EnvoyLog,
    /// Both lines.
    Both,
    /// No proxy logged it; the cause is the same pod's event just before it.
    /// Runs recorded before evidence existed read as this (their causes
    /// were timeline proximity).
    #[default]
    Inferred,
    /// No proxy logged it and no event of its pod came just before it.
    None,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::HaproxyLog => "haproxy_log",
            EvidenceKind::EnvoyLog => "envoy_log",
            EvidenceKind::Both => "both",
            EvidenceKind::Inferred => "inferred",
            EvidenceKind::None => "none",
        }
    }
}
