//! The records every part of a run produces and the artifacts consume:
//! requests, timeline events, observer samples, and the run clock that dates
//! them all (milliseconds since the run's start).
//!
//! Plain data; nothing here does I/O.

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

/// What happened to one request. Everything but `Ok` is a disruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// RST or EOF before or during the response.
    Reset,
    /// A stream or body shorter than promised.
    Truncated,
    /// The connection was refused.
    Refused,
    /// No answer within the request's deadline.
    Timeout,
    /// A 5xx answer (see `Origin`).
    #[serde(rename = "http_5xx")]
    Http5xx,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Reset,
        Outcome::Truncated,
        Outcome::Refused,
        Outcome::Timeout,
        Outcome::Http5xx,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Reset => "reset",
            Outcome::Truncated => "truncated",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Http5xx => "http_5xx",
        }
    }
    pub fn is_disruption(self) -> bool {
        self != Outcome::Ok
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who produced a 5xx answer.
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
    /// Who made a 5xx (5xx only).
    pub origin: Option<Origin>,
    pub error: Option<String>,
}

impl RequestRecord {
    /// Latency from the intended send time (coordinated-omission corrected).
    pub fn latency_ms(&self) -> f64 {
        (self.end_ms - self.intended_ms).max(0.0)
    }
    /// Latency from the actual send time (uncorrected).
    pub fn service_ms(&self) -> f64 {
        (self.end_ms - self.sent_ms).max(0.0)
    }
}

/// One row of `timeline.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub t_ms: f64,
    /// `kubelet`, `drain`, `haproxy`, `hc`, `envoy`, `prober`, `harness`, `loadgen`.
    pub source: String,
    pub pod: Option<String>,
    /// A short machine-readable name, e.g. `terminating`, `prestop_start`,
    /// `sigterm`, `exit`, `server_down`, `state`, `close-lb`.
    pub event: String,
    pub detail: String,
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
