//! Starts each load spec's requests: the bursts of `long` and `stream`, the
//! open-loop driver of `steady` and `open`, the closed-loop workers of
//! `closed`; then waits for the drivers and hands back their pools.
//!
//! Per request it only builds the [`Job`] and spawns it: it must never add an
//! allocation or a hand-off on the send path, nor wait for an answer before
//! the next open-loop send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use super::client::Connector;
use super::pool::Pool;
use super::request::{perform, Ctx, Job, Via};
use super::schedule::{wake_ms, KeepAliveDice, SteadySchedule, SEND_WINDOW};
use super::{paths, timer, LoadSpec};
use crate::model::RequestKind;

/// The specs started so far: the drivers still running and the pools they use.
pub(super) struct Launch<'a> {
    ctx: &'a Arc<Ctx>,
    connector: &'a Arc<Connector>,
    requests: &'a TaskTracker,
    pools: Vec<Arc<Pool>>,
    schedulers: Vec<JoinHandle<()>>,
}

impl<'a> Launch<'a> {
    pub(super) fn new(
        ctx: &'a Arc<Ctx>,
        connector: &'a Arc<Connector>,
        requests: &'a TaskTracker,
    ) -> Self {
        Launch {
            ctx,
            connector,
            requests,
            pools: Vec::new(),
            schedulers: Vec::new(),
        }
    }

    /// Starts load entry `entry`.
    pub(super) fn spec(&mut self, entry: usize, spec: LoadSpec) {
        let (ctx, requests) = (self.ctx, self.requests);
        match spec {
            LoadSpec::Long {
                count,
                seconds,
                start_ms,
                pin_pod,
            } => {
                let path = paths::sleep(seconds, pin_pod.as_deref());
                let kind = RequestKind::Long;
                burst(ctx, requests, Burst { entry, kind, count }, &path, start_ms);
            }
            LoadSpec::Stream {
                count,
                seconds,
                interval_ms,
                start_ms,
                pin_pod,
            } => {
                let path = paths::stream(seconds, interval_ms, pin_pod.as_deref());
                let kind = RequestKind::Stream;
                burst(ctx, requests, Burst { entry, kind, count }, &path, start_ms);
            }
            LoadSpec::Steady {
                rate,
                duration_ms,
                path,
                start_ms,
                keepalive,
                max_conns,
                seed,
            } => {
                let pool = Pool::new(self.connector.clone(), max_conns);
                let dice = KeepAliveDice::new(seed, keepalive);
                let schedule = SteadySchedule::new(start_ms, rate, duration_ms);
                self.open_loop(entry, schedule, path, dice, pool, SEND_WINDOW);
            }
            LoadSpec::Open {
                rate,
                duration_ms,
                path,
                start_ms,
                connections,
                send_window,
            } => {
                let pool = Pool::fixed(self.connector.clone(), connections);
                let dice = KeepAliveDice::new(0, 1.0);
                let schedule = SteadySchedule::new(start_ms, rate, duration_ms);
                self.open_loop(entry, schedule, path, dice, pool, send_window);
            }
            LoadSpec::Closed {
                connections,
                duration_ms,
                path,
                start_ms,
            } => self.closed_loop(entry, connections, duration_ms, path, start_ms),
        }
    }

    /// `steady` and `open`: one open-loop driver over `pool`, waking at
    /// most once per `window`.
    fn open_loop(
        &mut self,
        entry: usize,
        schedule: SteadySchedule,
        path: String,
        dice: KeepAliveDice,
        pool: Pool,
        window: Duration,
    ) {
        self.ctx.schedule(entry, schedule.len());
        let pool = Arc::new(pool);
        self.pools.push(pool.clone());
        let driver = Driver {
            entry,
            schedule,
            window,
            path,
            dice,
            pool,
        };
        self.schedulers.push(tokio::spawn(steady(
            driver,
            self.ctx.clone(),
            self.requests.clone(),
        )));
    }

    /// `closed`: one worker per connection.
    fn closed_loop(
        &mut self,
        entry: usize,
        connections: usize,
        duration_ms: u64,
        path: String,
        start_ms: u64,
    ) {
        let pool = Arc::new(Pool::new(self.connector.clone(), connections));
        self.pools.push(pool.clone());
        let end_ms = start_ms.saturating_add(duration_ms) as f64;
        for _ in 0..connections {
            self.schedulers.push(tokio::spawn(closed_worker(
                entry,
                path.clone(),
                start_ms as f64,
                end_ms,
                pool.clone(),
                self.ctx.clone(),
            )));
        }
    }

    /// Waits for every driver; returns what ended one early (a panic, one
    /// line each) and the pools, for the caller to close once the requests
    /// are done.
    pub(super) async fn join_schedulers(self) -> (Vec<String>, Vec<Arc<Pool>>) {
        let mut failures = Vec::new();
        for scheduler in futures::future::join_all(self.schedulers).await {
            if let Err(e) = scheduler {
                // Only a panic ends a scheduler early; what it spawned still runs.
                tracing::error!(error = %e, "steady scheduler failed");
                failures.push(format!("a load scheduler ended early: {e}"));
            }
        }
        (failures, self.pools)
    }
}

/// `count` requests of one kind of one load entry.
struct Burst {
    entry: usize,
    kind: RequestKind,
    count: u32,
}

/// `count` requests of `path`, each on its own connection, all at `start_ms`.
fn burst(ctx: &Arc<Ctx>, requests: &TaskTracker, b: Burst, path: &str, start_ms: u64) {
    let Burst { entry, kind, count } = b;
    ctx.schedule(entry, u64::from(count));
    for _ in 0..count {
        let job = Job {
            id: ctx.next_id(kind),
            entry,
            kind,
            path: path.to_string(),
            intended_ms: start_ms as f64,
            via: Via::Fresh,
        };
        let ctx = ctx.clone();
        requests.spawn(async move {
            let at = ctx.clock.at_ms(job.intended_ms);
            tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => {}
                _ = tokio::time::sleep_until(at.into()) => perform(job, ctx.clone()).await,
            }
        });
    }
}

/// What one open-loop driver sends.
struct Driver {
    entry: usize,
    schedule: SteadySchedule,
    window: Duration,
    path: String,
    dice: KeepAliveDice,
    pool: Arc<Pool>,
}

/// The open-loop driver: a task in the runtime that waits for each intended
/// time on a µs-precise timer ([`timer::SendTimer`], a timerfd in the
/// runtime's own epoll: no thread of its own, no hand-off), at most once per
/// window ([`wake_ms`]), and spawns each request as its own task, so a slow
/// answer never delays the next send. On waking it sends every request
/// already due, each keeping its own intended time (a late send counts as
/// late).
async fn steady(mut d: Driver, ctx: Arc<Ctx>, requests: TaskTracker) {
    let timer = timer::SendTimer::new();
    let window_ms = d.window.as_secs_f64() * 1000.0;
    let mut wake: Option<f64> = None;
    for (i, intended_ms) in d.schedule.iter().enumerate() {
        if ctx.horizon.cuts(intended_ms) {
            ctx.unschedule(d.entry, d.schedule.len() - i as u64);
            return;
        }
        let at = ctx.clock.at_ms(intended_ms);
        if Instant::now() < at {
            let target = wake_ms(intended_ms, wake, window_ms);
            wake = Some(target);
            tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => return,
                _ = timer.wait_until(ctx.clock.at_ms(target)) => {}
            }
            // The end may have been set while it waited.
            if ctx.horizon.cuts(intended_ms) {
                ctx.unschedule(d.entry, d.schedule.len() - i as u64);
                return;
            }
        } else if ctx.cancel.is_cancelled() {
            return;
        }
        let job = Job {
            id: ctx.next_id(RequestKind::Steady),
            entry: d.entry,
            kind: RequestKind::Steady,
            path: d.path.clone(),
            intended_ms,
            via: Via::Pool {
                pool: d.pool.clone(),
                reuse: d.dice.reuse(),
            },
        };
        requests.spawn(perform(job, ctx.clone()));
    }
}

/// One closed-loop worker: from `start_ms` until `end_ms`, one request at a
/// time, the next as soon as the previous one is recorded. With one request
/// in flight per worker the pool never opens more than `connections`.
async fn closed_worker(
    entry: usize,
    path: String,
    start_ms: f64,
    end_ms: f64,
    pool: Arc<Pool>,
    ctx: Arc<Ctx>,
) {
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => return,
        _ = tokio::time::sleep_until(ctx.clock.at_ms(start_ms).into()) => {}
    }
    loop {
        let now_ms = ctx.clock.now_ms();
        if now_ms >= end_ms || ctx.cancel.is_cancelled() {
            return;
        }
        ctx.schedule(entry, 1);
        let job = Job {
            id: ctx.next_id(RequestKind::Steady),
            entry,
            kind: RequestKind::Steady,
            path: path.clone(),
            intended_ms: now_ms,
            via: Via::Pool {
                pool: pool.clone(),
                reuse: true,
            },
        };
        perform(job, ctx.clone()).await;
    }
}
