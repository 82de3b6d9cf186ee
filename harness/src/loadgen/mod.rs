//! The load generator (DESIGN §3.4): `long`, `stream` and open-loop `steady`
//! load against one address, every request recorded as it finishes; and the
//! closed-loop `closed` load of `harness load` (benchmarks only).
//!
//! Never holds the records (each is sent on `out` as it completes), never
//! lets a slow request delay the open-loop schedule (no coordinated
//! omission: intended times are computed, each request runs in its own
//! task), and never leaves a connection open after [`run`] returns.
//!
//! Conventions of the records: `id` = `x-request-id` = `<kind>-<n>`;
//! `conn_id` numbers connection attempts from 1 (a refused connect has one
//! too); `sent_ms` of a request never written is when its attempt started;
//! `chunks` is set for streams only; `pod` comes from `x-served-by`.
//! Outcomes and phases follow [`classify`] (a 5xx is `http_5xx`, any other
//! non-2xx `http_status`, both with their origin; an RST is `reset`, a clean
//! FIN before the end `closed`, each with the phase it came in). A request
//! found unsendable on an idle pooled connection (closed before it was
//! written) is sent once more on a new connection; one that reached the
//! wire is never retried.

mod classify;
mod client;
mod horizon;
mod launch;
mod paths;
mod pool;
mod probe;
mod request;
mod schedule;
mod stream;
mod target;
mod timer;
mod tls;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use classify::{classify, outcome_of_break, Break, Expect, Seen, Stop, Verdict};
pub use horizon::Horizon;
pub use pool::hard_cap;
pub use probe::probe;
pub use schedule::{is_late, wake_ms, KeepAliveDice, SteadySchedule, LATE_MS, SEND_WINDOW};
pub use target::{parse_target, HttpTarget, TargetError};
pub use tls::{TlsClient, TlsError};

use crate::model::{RequestRecord, RunClock};
use client::Connector;
use launch::Launch;
use request::Ctx;

/// One load generator of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadSpec {
    /// K concurrent GET /sleep?seconds=S started at start_ms, each on its own new connection.
    Long {
        count: u32,
        seconds: u32,
        start_ms: u64,
        pin_pod: Option<String>,
    },
    /// K concurrent GET /stream?seconds=S&interval_ms=M started at start_ms,
    /// each on its own new connection.
    Stream {
        count: u32,
        seconds: u32,
        interval_ms: u32,
        start_ms: u64,
        pin_pod: Option<String>,
    },
    /// Open loop: `rate` req/s of `path` for `duration_ms` from start_ms, intended send time
    /// t0 + i/rate (computed, never the wake-up time); `keepalive`: fraction (0..=1) of
    /// requests that may reuse an idle pooled connection (rest open a new one); `max_conns`
    /// bounds the pool (see [`hard_cap`] for bursts).
    Steady {
        rate: f64,
        duration_ms: u64,
        path: String,
        start_ms: u64,
        keepalive: f64,
        max_conns: usize,
        seed: u64,
    },
    /// Open loop over exactly `connections` keep-alive connections (`harness
    /// load --rate`, like oha's `-q` and wrk2): intended send time t0 + i/rate
    /// as for `Steady`; a request that finds every connection busy waits for
    /// one, and that wait counts in its latency (from the intended time).
    /// The driver wakes at most once per `send_window` (`Steady`: always
    /// [`SEND_WINDOW`]; zero: a wake-up per request).
    Open {
        rate: f64,
        duration_ms: u64,
        path: String,
        start_ms: u64,
        connections: usize,
        send_window: Duration,
    },
    /// Closed loop (`harness load` without a rate): `connections` workers,
    /// each sending its next GET `path` on its own keep-alive connection as
    /// soon as the previous one finished, from start_ms for `duration_ms`.
    /// No schedule: a request's intended time is when its worker started it.
    Closed {
        connections: usize,
        duration_ms: u64,
        path: String,
        start_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    pub target: SocketAddr,
    /// The `Host` header (`None`: the target address), e.g. the name of a
    /// URL that resolved to `target`.
    pub host: Option<String>,
    /// TLS over every connection (an `https://` URL); `None`: plain HTTP.
    pub tls: Option<TlsClient>,
    /// Ends the open-loop schedules early once set (`None`: they run to
    /// their own end).
    pub horizon: Option<Horizon>,
    pub specs: Vec<LoadSpec>,
    /// Added to a request's expected duration to make its deadline (counted
    /// from its intended send time).
    pub request_timeout_margin: Duration,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadStats {
    /// [`run`] ran to its end (the default value, e.g. of a load thread that
    /// never ran, says `false`).
    pub ran: bool,
    /// Requests the specs ask for.
    pub scheduled: u64,
    /// Requests handed to a connection.
    pub sent: u64,
    /// Records sent on `out`.
    pub completed: u64,
    /// Sent more than [`LATE_MS`] after their intended time.
    pub late_sends: u64,
    /// The most any request started after its intended time (the load
    /// generator's own lag behind its schedule, before any connect).
    pub max_start_lag_ms: f64,
    /// Per spec, in the order of the specs.
    pub entries: Vec<EntryStats>,
    /// What ended a scheduler early (a panic), one line each.
    pub failures: Vec<String>,
}

/// One spec's (load entry's) accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryStats {
    pub scheduled: u64,
    /// Started: a connection was asked for (a refused connect counts).
    pub started: u64,
    /// Handed to `out` as a record.
    pub recorded: u64,
}

/// Runs every spec concurrently; each finished request is sent on `out` as
/// it completes. Returns when every scheduled request has finished or
/// `cancel` fires (then in-flight requests are recorded with the outcome of
/// what they saw and the error `cancelled`; requests not started yet are
/// not recorded). Idle connections are closed before it returns.
pub async fn run(
    cfg: LoadConfig,
    clock: RunClock,
    out: UnboundedSender<RequestRecord>,
    cancel: CancellationToken,
) -> LoadStats {
    let connector = Arc::new(Connector::new(cfg.target, cfg.host, cfg.tls));
    let ctx = Arc::new(Ctx::new(
        clock,
        out,
        cancel,
        cfg.request_timeout_margin,
        connector.clone(),
        cfg.specs.len(),
        cfg.horizon.unwrap_or_default(),
    ));
    let requests = TaskTracker::new();
    let mut launch = Launch::new(&ctx, &connector, &requests);
    for (entry, spec) in cfg.specs.into_iter().enumerate() {
        launch.spec(entry, spec);
    }
    let (failures, pools) = launch.join_schedulers().await;
    requests.close();
    requests.wait().await;
    // Every busy connection ended with its request; these close the idle ones.
    for pool in &pools {
        pool.close();
    }
    let mut stats = ctx.stats.snapshot();
    stats.entries = ctx.entries.iter().map(|e| e.snapshot()).collect();
    stats.failures = failures;
    stats
}
