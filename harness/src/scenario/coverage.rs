//! The static side of coverage (DESIGN §3.4): a mode that claims zero loss
//! (`disruptions_max = 0`) proves it only while its steady load runs, from
//! before the fault until the terminated pod's last container exited and
//! its LB state settled, plus one check interval. From the settings alone
//! this module computes a lower bound of that end; a mode whose steady load
//! ends earlier can never be covered and is refused before anything runs.
//!
//! Pure; never starts anything. The bound is a lower bound on purpose: it
//! must never refuse a mode that could be covered (the measured window,
//! judged after the run, is the real test).

use std::time::Duration;

use super::schema::{DrainOrder, LbBuffer, Load, Mode, PreStop, Scenario};
use super::values::Sidecar;

/// The mode claims that nothing is lost.
pub fn claims_zero_loss(m: &Mode) -> bool {
    m.expect.disruptions_max == Some(0)
}

/// From the load's start: when the steady load starts and stops scheduling
/// (`None` without steady load).
pub fn steady_window(sc: &Scenario) -> Option<(Duration, Duration)> {
    let spans = sc.load.iter().filter_map(|l| match l {
        Load::Steady {
            start, duration, ..
        } => Some((start.0, start.0 + duration.0)),
        _ => None,
    });
    spans.fold(None, |acc, (s, e)| match acc {
        None => Some((s, e)),
        Some((a, b)) => Some((a.min(s), b.max(e))),
    })
}

/// A lower bound of when the coverage window of `mode` (as `sc.for_mode`
/// gives it) can end, from the load's start, with the pod it is about; `None`
/// when no fault terminates a pod.
pub fn required_end_lower_bound(sc: &Scenario, mode: &Mode) -> Option<(String, Duration)> {
    let (at, pod) = sc
        .faults
        .iter()
        .find_map(|f| f.terminated_pods().first().map(|p| (f.at.0, p.to_string())))?;
    let inter = sc.topology.haproxy.inter.0;
    let end = match mode.prestop {
        // SIGTERM comes after the sleep at the earliest.
        PreStop::Sleep => at + mode.sleep.0,
        // A drain waits for the requests in flight on the pod: every long or
        // stream request that is pinned to it or may be balanced to it ends
        // before its containers exit; a fixed LB buffer comes on top.
        PreStop::Drain | PreStop::Script => {
            let held = sc
                .load
                .iter()
                .filter_map(|l| match l {
                    Load::Long {
                        seconds,
                        start,
                        pin,
                        ..
                    }
                    | Load::Stream {
                        seconds,
                        start,
                        pin,
                        ..
                    } if pin.as_deref().is_none_or(|p| p == pod) => {
                        Some(start.0 + Duration::from_secs(*seconds))
                    }
                    _ => None,
                })
                .max()
                .unwrap_or_default()
                // The drain stops waiting at its deadline.
                .min(at + mode.drain.timeout.0);
            // `auto` waits for the LB's checkers: no fixed time to count on.
            let buffer = match mode.drain.lb_buffer {
                LbBuffer::Fixed(d) => d,
                LbBuffer::Auto => Duration::ZERO,
            };
            if mode.drain.order == DrainOrder::LbFirst {
                // close-lb and the buffer first, then the wait.
                held.max(at + buffer)
            } else {
                at.max(held) + buffer
            }
        }
    };
    // `end` is SIGTERM at the earliest; Istio's pilot-agent stops Envoy, the
    // pod's last container, `termination_drain` after it.
    let sidecar = match sc.topology.envoy.sidecar {
        Sidecar::Istio => sc.topology.envoy.termination_drain.0,
        Sidecar::Plain => Duration::ZERO,
    };
    Some((pod, end + sidecar + inter))
}

/// `Err` (one line naming the mode) when a zero-loss mode's steady load
/// ends before the coverage window can end, or starts after the fault.
pub fn check(sc: &Scenario, name: &str) -> Result<(), String> {
    let own = sc.for_mode(name);
    let Some(mode) = own.modes.get(name) else {
        return Ok(());
    };
    if !claims_zero_loss(mode) {
        return Ok(());
    }
    let Some((pod, need)) = required_end_lower_bound(&own, mode) else {
        return Ok(());
    };
    let fault = own
        .faults
        .iter()
        .find(|f| !f.terminated_pods().is_empty())
        .map(|f| f.at.0)
        .unwrap_or_default();
    let Some((start, end)) = steady_window(&own) else {
        return Err(format!(
            "mode {name}: claims zero loss (disruptions_max = 0) across {pod}'s termination but has no steady load to show it"
        ));
    };
    if start > fault {
        return Err(format!(
            "mode {name}: claims zero loss but its steady load starts at {:.1}s, after the fault at {:.1}s",
            start.as_secs_f64(),
            fault.as_secs_f64()
        ));
    }
    if end < need {
        return Err(format!(
            "mode {name}: claims zero loss but its steady load ends at {:.1}s, before {pod}'s termination can have settled (at least {:.1}s: the fault, what the preStop waits for, plus one check interval)",
            end.as_secs_f64(),
            need.as_secs_f64()
        ));
    }
    Ok(())
}
