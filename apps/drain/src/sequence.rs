//! The conductor: walks the seven steps in the seed's order or `lb-first`,
//! one log line per step, and returns the [`Outcome`].
//!
//! Best effort: a failed call is a warning and the sequence goes on. It must
//! never fight the operator (a 409 from `/close-lb` or `/close` stops it) and
//! never wait past `DRAIN_TIMEOUT` + the LB wait + a few call timeouts.

use std::time::{Duration, Instant};

use gate::State;
use tracing::{info, warn};

use crate::call::Caller;
use crate::config::{Config, DrainOrder, LbBuffer};
use crate::envoy_admin::{self, Active};
use crate::hc_api::{self, Transition};
use crate::lb_wait::{self, AutoEnd};
use crate::outcome::Outcome;

/// Most bytes read from any answer (Envoy's filtered stats are a few hundred).
pub const BODY_CAP: usize = 1 << 20;

/// The shortest time a stats poll is given, even at the deadline.
pub const LAST_LOOK: Duration = Duration::from_secs(1);

/// The drain stopped early: the operator reopened hc.
struct Aborted;

struct Run<'a> {
    cfg: &'a Config,
    caller: Caller,
    start: Instant,
    hc_failed: bool,
    drained: Option<bool>,
}

/// Runs one drain with `cfg` and returns how it ended (and its exit code).
pub async fn run(cfg: &Config) -> Outcome {
    let start = Instant::now();
    let mut r = Run {
        cfg,
        caller: Caller::new(cfg.call_timeout, BODY_CAP),
        start,
        hc_failed: false,
        drained: None,
    };
    info!(
        step = 0,
        elapsed_ms = 0u64,
        order = %cfg.order,
        hc_url = cfg.hc_url.as_str(),
        envoy_admin = cfg.envoy_admin.as_str(),
        drain_timeout_ms = cfg.drain_timeout.as_millis() as u64,
        poll_interval_ms = cfg.poll_interval.as_millis() as u64,
        lb_buffer = %cfg.effective_lb_buffer(),
        lb_buffer_max_ms = cfg.lb_buffer_max.as_millis() as u64,
        active_stat = %cfg.active_stat,
        zero_on_stats_error = cfg.zero_on_stats_error,
        min_drain_ms = cfg.min_drain.as_millis() as u64,
        "drain_start"
    );
    let aborted = match cfg.order {
        DrainOrder::Seed => r.seed_order().await,
        DrainOrder::LbFirst => r.lb_first_order().await,
    }
    .is_err();
    let out = Outcome {
        drained: r.drained.unwrap_or(false),
        hc_failed: r.hc_failed,
        aborted,
        elapsed: start.elapsed(),
    };
    info!(
        step = 7,
        elapsed_ms = out.elapsed.as_millis() as u64,
        exit_code = out.exit_code(),
        drained = out.drained,
        hc_failed = out.hc_failed,
        aborted = out.aborted,
        "{}",
        out.done_line()
    );
    out
}

impl Run<'_> {
    fn ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    async fn seed_order(&mut self) -> Result<(), Aborted> {
        self.hc_drain().await;
        self.envoy_drain_listeners().await;
        self.poll_until_drained().await;
        self.hc_step(4, "/close-lb", State::Closing, "hc_close_lb")
            .await?;
        self.lb_wait().await?;
        self.hc_step(6, "/close", State::Closed, "hc_close").await
    }

    async fn lb_first_order(&mut self) -> Result<(), Aborted> {
        self.hc_drain().await;
        self.hc_step(4, "/close-lb", State::Closing, "hc_close_lb")
            .await?;
        self.lb_wait().await?;
        self.envoy_drain_listeners().await;
        self.poll_until_drained().await;
        self.hc_step(6, "/close", State::Closed, "hc_close").await
    }

    /// Step 1. A 409 here (hc not OPEN) never aborts: a drain already under
    /// way is fine; anything else is a failed hc call.
    async fn hc_drain(&mut self) {
        let t = hc_api::transition(&self.caller, &self.cfg.hc_url, "/drain").await;
        match &t {
            Transition::Done { status, state } => {
                info!(
                    step = 1,
                    elapsed_ms = self.ms(),
                    status,
                    state = state.as_str(),
                    "hc_drain"
                )
            }
            Transition::Refused { state } if t.already_past(State::Draining) => info!(
                step = 1,
                elapsed_ms = self.ms(),
                status = 409u16,
                already = state.as_deref().unwrap_or(""),
                "hc_drain"
            ),
            other => self.hc_call_failed(1, "hc_drain", other),
        }
    }

    /// Steps 4 and 6: a 409 that is not "already there" aborts the drain.
    async fn hc_step(
        &mut self,
        step: u32,
        path: &str,
        target: State,
        msg: &str,
    ) -> Result<(), Aborted> {
        let t = hc_api::transition(&self.caller, &self.cfg.hc_url, path).await;
        match &t {
            Transition::Done { status, state } => {
                info!(
                    step,
                    elapsed_ms = self.ms(),
                    status,
                    state = state.as_str(),
                    "{msg}"
                );
                Ok(())
            }
            Transition::Refused { state } if t.already_past(target) => {
                info!(
                    step,
                    elapsed_ms = self.ms(),
                    status = 409u16,
                    already = state.as_deref().unwrap_or(""),
                    "{msg}"
                );
                Ok(())
            }
            Transition::Refused { state } => {
                warn!(
                    step,
                    elapsed_ms = self.ms(),
                    call = path,
                    status = 409u16,
                    state = state.as_deref().unwrap_or("unknown"),
                    "aborted_reopened"
                );
                Err(Aborted)
            }
            Transition::Failed(_) => {
                self.hc_call_failed(step, msg, &t);
                Ok(())
            }
        }
    }

    fn hc_call_failed(&mut self, step: u32, msg: &str, t: &Transition) {
        self.hc_failed = true;
        let error = match t {
            Transition::Failed(e) => e.clone(),
            Transition::Refused { state } => {
                format!("HTTP 409 (state {})", state.as_deref().unwrap_or("unknown"))
            }
            Transition::Done { .. } => String::new(),
        };
        warn!(step, elapsed_ms = self.ms(), error, "{msg}");
    }

    /// Step 2. Envoy's answer changes nothing but the log.
    async fn envoy_drain_listeners(&mut self) {
        match envoy_admin::drain_listeners(&self.caller, &self.cfg.envoy_admin).await {
            Ok(status) => info!(
                step = 2,
                elapsed_ms = self.ms(),
                status,
                "envoy_drain_listeners"
            ),
            Err(error) => warn!(
                step = 2,
                elapsed_ms = self.ms(),
                error,
                "envoy_drain_listeners"
            ),
        }
    }

    /// Step 3: poll until active is 0 (and `min_drain` passed) or the deadline.
    async fn poll_until_drained(&mut self) {
        let deadline = self.start + self.cfg.drain_timeout;
        let floor = self.start + self.cfg.min_drain;
        let mut polls = 0u64;
        loop {
            polls += 1;
            // A poll may not run far past the deadline: it gets what is left
            // of it, but at least LAST_LOOK for a final reading.
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .max(LAST_LOOK);
            let read = envoy_admin::read_active(
                &self.caller,
                &self.cfg.envoy_admin,
                self.cfg.active_stat,
                budget,
            )
            .await;
            let zero = match &read {
                Active::Known(n) => {
                    info!(
                        step = 3,
                        elapsed_ms = self.ms(),
                        active = n,
                        poll = polls,
                        "poll"
                    );
                    *n == 0
                }
                Active::Unknown(error) => {
                    warn!(
                        step = 3,
                        elapsed_ms = self.ms(),
                        active = "unknown",
                        poll = polls,
                        error = error.as_str(),
                        counted_as_zero = self.cfg.zero_on_stats_error,
                        "poll"
                    );
                    self.cfg.zero_on_stats_error
                }
            };
            let now = Instant::now();
            if zero && (now >= floor || now >= deadline) {
                let reason = if matches!(read, Active::Unknown(_)) {
                    "stats_error_counted_as_zero"
                } else {
                    "active_zero"
                };
                info!(step = 3, elapsed_ms = self.ms(), polls, reason, "drained");
                self.drained = Some(true);
                return;
            }
            if now >= deadline {
                let last = match &read {
                    Active::Known(n) => n.to_string(),
                    Active::Unknown(_) => "unknown".into(),
                };
                warn!(
                    step = 3,
                    elapsed_ms = self.ms(),
                    polls,
                    active = last,
                    "drain_timeout"
                );
                self.drained = Some(false);
                return;
            }
            let mut pause = self.cfg.poll_interval.min(deadline - now);
            if zero {
                pause = pause.min(floor.saturating_duration_since(now));
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Step 5.
    async fn lb_wait(&mut self) -> Result<(), Aborted> {
        match self.cfg.effective_lb_buffer() {
            LbBuffer::Fixed(d) => {
                info!(
                    step = 5,
                    elapsed_ms = self.ms(),
                    mode = "fixed",
                    buffer_ms = d.as_millis() as u64,
                    "lb_wait"
                );
                tokio::time::sleep(d).await;
                Ok(())
            }
            LbBuffer::Auto => {
                info!(
                    step = 5,
                    elapsed_ms = self.ms(),
                    mode = "auto",
                    max_ms = self.cfg.lb_buffer_max.as_millis() as u64,
                    lb_fall = self
                        .cfg
                        .lb_fall
                        .map(|f| f.to_string())
                        .unwrap_or_else(|| "signal".into()),
                    "lb_wait"
                );
                let wait = lb_wait::AutoWait {
                    lb_fall: self.cfg.lb_fall,
                    max: self.cfg.lb_buffer_max,
                    poll: self.cfg.lb_poll_interval,
                    margin: self.cfg.lb_margin,
                };
                let end = lb_wait::wait_auto(
                    &self.caller,
                    &self.cfg.hc_url,
                    wait,
                    self.start,
                    &mut self.hc_failed,
                )
                .await;
                match end {
                    AutoEnd::Released | AutoEnd::TimedOut => Ok(()),
                    AutoEnd::Reopened(state) => {
                        warn!(
                            step = 5,
                            elapsed_ms = self.ms(),
                            call = "/drain/status",
                            state,
                            "aborted_reopened"
                        );
                        Err(Aborted)
                    }
                }
            }
        }
    }
}

/// The longest a run can take with `cfg`: the deadline (it outranks
/// `min_drain`), the last stats look, the LB wait, and one call timeout for
/// each of the four other calls that can hang (hc /drain, drain_listeners,
/// /close-lb, /close).
pub fn worst_case(cfg: &Config) -> Duration {
    cfg.drain_timeout + LAST_LOOK + cfg.lb_wait_bound() + cfg.call_timeout * 4
}
