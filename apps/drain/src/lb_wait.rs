//! Step 5: waiting for the load balancer to let go, either a fixed sleep or,
//! with `LB_BUFFER=auto`, until hc's `lb_refusals` shows every checker refused
//! `LB_FALL` times in a row (plus a small margin), bounded by `LB_BUFFER_MAX`.
//!
//! It must never wait past its bound, and never release on an empty checker
//! list (no checker seen is "cannot tell", not "let go").

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gate::{LbSignal, State};
use tracing::{info, warn};

use crate::call::Caller;
use crate::hc_api;

/// The default refusals per checker for hc's LB signal: a 503 needs HAProxy's
/// `fall` (2) failed checks, a 404 (soft stop) one.
pub fn default_fall(lb_signal: LbSignal) -> u32 {
    match lb_signal {
        LbSignal::Status404 => 1,
        LbSignal::Status503 => 2,
    }
}

/// Every checker seen has been refused at least `fall` times in a row.
pub fn all_let_go(refusals: &BTreeMap<String, u32>, fall: u32) -> bool {
    !refusals.is_empty() && refusals.values().all(|&n| n >= fall)
}

fn show(refusals: &BTreeMap<String, u32>) -> String {
    refusals
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// How the automatic wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoEnd {
    /// Every checker let go.
    Released,
    /// The bound passed first.
    TimedOut,
    /// hc is serving the LB again (`/reopen`): stop the drain.
    Reopened(String),
}

/// The automatic wait's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoWait {
    /// Refusals that make a checker let go (`None`: from the LB signal).
    pub lb_fall: Option<u32>,
    /// The bound of the whole wait.
    pub max: Duration,
    /// How often hc's status is read.
    pub poll: Duration,
    /// Waited once every checker let go.
    pub margin: Duration,
}

/// The automatic wait. `hc_failed` is set when a status call failed.
pub async fn wait_auto(
    caller: &Caller,
    hc_url: &str,
    w: AutoWait,
    run_start: Instant,
    hc_failed: &mut bool,
) -> AutoEnd {
    let AutoWait {
        lb_fall,
        max,
        poll,
        margin,
    } = w;
    let t0 = Instant::now();
    let bound = t0 + max;
    let mut last = BTreeMap::new();
    let mut failures = 0u32;
    loop {
        let left = bound.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout(
            left.max(Duration::from_millis(50)),
            hc_api::status(caller, hc_url),
        )
        .await
        .unwrap_or_else(|_| Err("timed out at the LB wait's bound".into()));
        match read {
            Ok(st) => {
                let state = State::parse_any(&st.state).ok();
                if matches!(state, Some(State::Open | State::Draining)) {
                    return AutoEnd::Reopened(st.state);
                }
                let fall = lb_fall.unwrap_or_else(|| default_fall(st.progress.lb_signal));
                if all_let_go(&st.progress.lb_refusals, fall) {
                    info!(
                        step = 5,
                        elapsed_ms = run_start.elapsed().as_millis() as u64,
                        waited_ms = t0.elapsed().as_millis() as u64,
                        lb_fall = fall,
                        lb_signal = st.progress.lb_signal.code(),
                        refusals = show(&st.progress.lb_refusals),
                        "lb_released"
                    );
                    let left = bound.saturating_duration_since(Instant::now());
                    tokio::time::sleep(margin.min(left)).await;
                    return AutoEnd::Released;
                }
                last = st.progress.lb_refusals;
            }
            Err(e) => {
                failures += 1;
                *hc_failed = true;
                // One line per failure streak start, not one per 50 ms.
                if failures == 1 || failures.is_multiple_of(20) {
                    warn!(
                        step = 5,
                        elapsed_ms = run_start.elapsed().as_millis() as u64,
                        failures,
                        error = e,
                        "lb_status_failed"
                    );
                }
            }
        }
        let now = Instant::now();
        if now >= bound {
            warn!(
                step = 5,
                elapsed_ms = run_start.elapsed().as_millis() as u64,
                waited_ms = t0.elapsed().as_millis() as u64,
                refusals = show(&last),
                "lb_wait_timeout"
            );
            return AutoEnd::TimedOut;
        }
        tokio::time::sleep(poll.min(bound - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(v: &[u32]) -> BTreeMap<String, u32> {
        v.iter()
            .enumerate()
            .map(|(i, n)| (format!("127.0.0.{i}"), *n))
            .collect()
    }

    #[test]
    fn empty_is_not_let_go() {
        assert!(!all_let_go(&map(&[]), 1));
        assert!(!all_let_go(&map(&[]), 0));
    }

    #[test]
    fn fall_follows_signal() {
        assert_eq!(default_fall(LbSignal::Status503), 2);
        assert_eq!(default_fall(LbSignal::Status404), 1);
    }

    proptest! {
        /// Released exactly when the slowest checker reached `fall`.
        #[test]
        fn let_go_iff_min_reaches_fall(counts in prop::collection::vec(0u32..5, 1..5), fall in 1u32..4) {
            let min = *counts.iter().min().unwrap();
            prop_assert_eq!(all_let_go(&map(&counts), fall), min >= fall);
        }
    }
}
