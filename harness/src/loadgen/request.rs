//! One request from its scheduled start to its record: gets a connection,
//! runs the exchange under its deadline and the run's cancel, classifies
//! what it saw and sends the record out at once.
//!
//! Never drops the record of a request it started, never retries a request
//! that reached the wire (only one found dead on an idle pooled connection
//! before it was written, as every HTTP client does).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::classify::{classify, Break, Seen, Stop};
use super::client::{Connector, NeverWritten, Progress};
use super::horizon::Horizon;
use super::paths;
use super::pool::Pool;
use super::schedule::is_late;
use super::{EntryStats, LoadStats};
use crate::model::{Phase, RequestKind, RequestRecord, RunClock};

/// What every request of a run shares.
#[derive(Debug)]
pub struct Ctx {
    pub clock: RunClock,
    pub out: UnboundedSender<RequestRecord>,
    pub cancel: CancellationToken,
    pub margin: Duration,
    pub connector: Arc<Connector>,
    /// Where the open-loop schedules end when that is decided late.
    pub horizon: Horizon,
    pub stats: Counters,
    /// Per load entry (spec), in the order of the specs.
    pub entries: Vec<EntryCounters>,
    /// The next `<kind>-<n>` number, per kind.
    next_n: [AtomicU64; 3],
}

#[derive(Debug, Default)]
pub struct Counters {
    pub scheduled: AtomicU64,
    pub sent: AtomicU64,
    pub completed: AtomicU64,
    pub late_sends: AtomicU64,
    /// The most a request started after its intended time, µs (the
    /// scheduler's own lag, before any connect).
    pub max_start_lag_us: AtomicU64,
}

/// One spec's accounting: every scheduled request must be started and
/// handed to `out` as one record.
#[derive(Debug, Default)]
pub struct EntryCounters {
    pub scheduled: AtomicU64,
    pub started: AtomicU64,
    pub recorded: AtomicU64,
}

impl EntryCounters {
    pub fn snapshot(&self) -> EntryStats {
        EntryStats {
            scheduled: self.scheduled.load(Ordering::Relaxed),
            started: self.started.load(Ordering::Relaxed),
            recorded: self.recorded.load(Ordering::Relaxed),
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> LoadStats {
        LoadStats {
            ran: true,
            scheduled: self.scheduled.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            late_sends: self.late_sends.load(Ordering::Relaxed),
            max_start_lag_ms: self.max_start_lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
            entries: Vec::new(),
            failures: Vec::new(),
        }
    }
}

impl Ctx {
    pub fn new(
        clock: RunClock,
        out: UnboundedSender<RequestRecord>,
        cancel: CancellationToken,
        margin: Duration,
        connector: Arc<Connector>,
        entries: usize,
        horizon: Horizon,
    ) -> Self {
        Ctx {
            clock,
            out,
            cancel,
            margin,
            connector,
            horizon,
            stats: Counters::default(),
            entries: (0..entries).map(|_| EntryCounters::default()).collect(),
            next_n: Default::default(),
        }
    }

    /// A new request id, `<kind>-<n>`, unique in the run.
    /// Counts `n` more scheduled requests of entry `entry` (and in total).
    pub fn schedule(&self, entry: usize, n: u64) {
        self.stats.scheduled.fetch_add(n, Ordering::Relaxed);
        if let Some(e) = self.entries.get(entry) {
            e.scheduled.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Takes back `n` scheduled requests of entry `entry` that the
    /// [`Horizon`] cut before they were started.
    pub fn unschedule(&self, entry: usize, n: u64) {
        self.stats.scheduled.fetch_sub(n, Ordering::Relaxed);
        if let Some(e) = self.entries.get(entry) {
            e.scheduled.fetch_sub(n, Ordering::Relaxed);
        }
    }

    pub fn next_id(&self, kind: RequestKind) -> String {
        let slot = match kind {
            RequestKind::Long => 0,
            RequestKind::Stream => 1,
            RequestKind::Steady => 2,
        };
        let n = self.next_n[slot].fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", kind.as_str())
    }
}

/// Where a request gets its connection.
#[derive(Debug, Clone)]
pub enum Via {
    /// A new connection of its own, closed afterwards.
    Fresh,
    /// A keep-alive pool; `reuse`: it may take an idle connection.
    Pool { pool: Arc<Pool>, reuse: bool },
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// The spec (load entry) it belongs to.
    pub entry: usize,
    pub kind: RequestKind,
    pub path: String,
    pub intended_ms: f64,
    pub via: Via,
}

/// Runs `job` now and sends its record.
pub async fn perform(job: Job, ctx: Arc<Ctx>) {
    let started_ms = ctx.clock.now_ms();
    let lag_us = ((started_ms - job.intended_ms).max(0.0) * 1000.0) as u64;
    ctx.stats
        .max_start_lag_us
        .fetch_max(lag_us, Ordering::Relaxed);
    let entry = ctx.entries.get(job.entry);
    if let Some(e) = entry {
        e.started.fetch_add(1, Ordering::Relaxed);
    }
    let deadline =
        ctx.clock.at_ms(job.intended_ms) + paths::expected_duration(&job.path) + ctx.margin;
    let mut p = Progress::default();
    let stop = {
        let work = attempt(&job, &ctx, &mut p);
        tokio::select! {
            biased;
            stop = work => stop,
            _ = tokio::time::sleep_until(deadline.into()) => Stop::Deadline,
            _ = ctx.cancel.cancelled() => Stop::Cancelled,
        }
    };
    let end_ms = ctx.clock.now_ms();
    // A connection cut short is dropped (closed): its state is unknown.
    if let (Stop::Done, Some(conn), Via::Pool { pool, .. }) = (stop, p.conn.take(), &job.via) {
        pool.checkin(conn);
    }
    if let Some(sent_ms) = p.sent_ms {
        ctx.stats.sent.fetch_add(1, Ordering::Relaxed);
        if is_late(job.intended_ms, sent_ms) {
            ctx.stats.late_sends.fetch_add(1, Ordering::Relaxed);
        }
    }
    let seen = Seen {
        stop,
        phase: p.phase,
        status: p.status,
        served_by: p.served_by.is_some(),
        server_envoy: p.server_envoy,
        bytes: p.bytes,
        lines: p.lines.lines,
        error: p.error.take(),
    };
    let verdict = classify(paths::expect(&job.path), &seen);
    let record = RequestRecord {
        chunks: (job.kind == RequestKind::Stream).then_some(p.lines.lines),
        id: job.id,
        kind: job.kind,
        method: "GET".to_string(),
        path: job.path,
        pod: p.served_by,
        conn_id: p.conn_id,
        reused: p.reused,
        intended_ms: job.intended_ms,
        sent_ms: p.sent_ms.unwrap_or(started_ms),
        ttfb_ms: p.ttfb_ms,
        end_ms,
        status: p.status,
        bytes: p.bytes,
        outcome: verdict.outcome,
        phase: verdict.phase,
        origin: verdict.origin,
        haproxy_term: None,
        envoy_flags: None,
        error: verdict.error,
    };
    // A record the sink never got is a gap the run's accounting reports
    // (recorded < started): it is not counted as recorded.
    if ctx.out.send(record).is_ok() {
        ctx.stats.completed.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = entry {
            e.recorded.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn attempt(job: &Job, ctx: &Ctx, p: &mut Progress) -> Stop {
    let mut retried = false;
    loop {
        p.phase = Phase::Connect;
        let conn = match &job.via {
            Via::Fresh => ctx.connector.connect(None).await,
            Via::Pool { pool, reuse } => pool.checkout(*reuse && !retried).await,
        };
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                p.conn_id = e.conn_id;
                p.error = Some(e.text);
                return Stop::Broke(e.broke);
            }
        };
        p.conn = Some(conn);
        p.phase = Phase::Head;
        let now = || ctx.clock.now_ms();
        match ctx.connector.exchange(p, &job.path, &job.id, now).await {
            Ok(stop) => return stop,
            Err(NeverWritten) if !retried => {
                p.conn = None;
                retried = true;
            }
            Err(NeverWritten) => {
                p.error = Some("connection closed before the request was written".into());
                return Stop::Broke(Break::Eof);
            }
        }
    }
}
