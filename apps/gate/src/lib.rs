//! The vocabulary shared by `hc`, `drain` and the harness: the five gate
//! states, their gate <-> legacy names, the `/drain/status` JSON types and
//! the drain settings all three speak ([`settings`]).
//!
//! This crate holds data and names only; it must never do I/O or hold state.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub mod duration;
pub mod log;
pub mod settings;

pub use settings::{ActiveStat, DrainOrder, LbBuffer, LbSignal};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The hc FSM's states, in the order a drain walks them (FAULT last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Serving: every health answer is 200.
    Open,
    /// Drain started: both health answers still 200 (legacy `DRAINING`).
    Draining,
    /// The LB is told to let go (legacy `DRAINED_WAIT_LB`).
    Closing,
    /// Readiness off too; unrecoverable (legacy `TERMINATING`).
    Closed,
    /// Fault injected (legacy `FAILED`).
    Fault,
}

/// Which names hc speaks: the gate names (since 2026-04-26) or the legacy ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Naming {
    #[default]
    Gate,
    Legacy,
}

/// A state name that is neither a gate nor a legacy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hc state {0:?} (expected one of OPEN DRAINING CLOSING CLOSED FAULT or READY DRAINING DRAINED_WAIT_LB TERMINATING FAILED)")]
pub struct UnknownState(pub String);

/// A naming that is neither `gate` nor `legacy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown naming {0:?} (expected gate or legacy)")]
pub struct UnknownNaming(pub String);

impl State {
    pub const ALL: [State; 5] = [
        State::Open,
        State::Draining,
        State::Closing,
        State::Closed,
        State::Fault,
    ];

    /// The gate name (`OPEN` ...).
    pub fn gate_name(self) -> &'static str {
        match self {
            State::Open => "OPEN",
            State::Draining => "DRAINING",
            State::Closing => "CLOSING",
            State::Closed => "CLOSED",
            State::Fault => "FAULT",
        }
    }

    /// The legacy name (`READY` ...), as runs before 2026-04-26 spoke.
    pub fn legacy_name(self) -> &'static str {
        match self {
            State::Open => "READY",
            State::Draining => "DRAINING",
            State::Closing => "DRAINED_WAIT_LB",
            State::Closed => "TERMINATING",
            State::Fault => "FAILED",
        }
    }

    pub fn name(self, naming: Naming) -> &'static str {
        match naming {
            Naming::Gate => self.gate_name(),
            Naming::Legacy => self.legacy_name(),
        }
    }

    /// Parses either naming (`DRAINING` is the same in both).
    pub fn parse_any(s: &str) -> Result<State, UnknownState> {
        let s = s.trim();
        State::ALL
            .into_iter()
            .find(|st| st.gate_name() == s || st.legacy_name() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }

    /// What HAProxy's `/health_check.html` answers is a pass (200) in this state.
    pub fn lb_ready(self) -> bool {
        matches!(self, State::Open | State::Draining)
    }

    /// What K8s readiness `/health` answers is 200 in this state.
    pub fn readiness_ok(self) -> bool {
        matches!(self, State::Open | State::Draining | State::Closing)
    }

    /// What liveness `/live` answers is 200 in this state.
    pub fn live_ok(self) -> bool {
        self != State::Fault
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.gate_name())
    }
}

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::parse_any(s)
    }
}

impl FromStr for Naming {
    type Err = UnknownNaming;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gate" => Ok(Naming::Gate),
            "legacy" => Ok(Naming::Legacy),
            _ => Err(UnknownNaming(s.to_string())),
        }
    }
}

impl fmt::Display for Naming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Naming::Gate => "gate",
            Naming::Legacy => "legacy",
        })
    }
}

/// Maps a state name of either naming to its gate name; unknown names pass through.
pub fn to_gate_name(s: &str) -> String {
    State::parse_any(s)
        .map(|st| st.gate_name().to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// One FSM transition as `/drain/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Transition {
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// The `progress` object of `/drain/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// Entry into the current state (RFC 3339, UTC).
    pub since: String,
    /// Milliseconds spent in the current state.
    pub elapsed_ms: u64,
    /// The last transitions (at most 100), oldest first.
    pub transitions: Vec<Transition>,
    /// Per health-check client address: consecutive refusals served on
    /// `/health_check.html` from CLOSING on (0 for a checker seen but not yet refused).
    pub lb_refusals: BTreeMap<String, u32>,
    /// How hc tells the LB to let go: 503 (failed check) or 404 (soft stop).
    #[schema(value_type = u16)]
    pub lb_signal: LbSignal,
}

/// The body of `GET /drain/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DrainStatus {
    /// What `/health_check.html` answers: true = 200.
    pub ready: bool,
    pub state: String,
    pub progress: Progress,
}

/// The body of a transition answer (2xx) and of a 409 refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransitionReply {
    /// The state after the call (on 409: the unchanged current state).
    pub state: String,
    /// The state before the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// On 409: why the transition was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("OPEN", State::Open)]
    #[case("READY", State::Open)]
    #[case("DRAINING", State::Draining)]
    #[case("DRAINED_WAIT_LB", State::Closing)]
    #[case("CLOSING", State::Closing)]
    #[case("TERMINATING", State::Closed)]
    #[case("CLOSED", State::Closed)]
    #[case("FAILED", State::Fault)]
    #[case("FAULT", State::Fault)]
    fn parses_both_namings(#[case] name: &str, #[case] want: State) {
        assert_eq!(State::parse_any(name).unwrap(), want);
    }

    #[test]
    fn rejects_unknown() {
        assert!(State::parse_any("open").is_err());
        assert!("xyz".parse::<Naming>().is_err());
    }

    #[test]
    fn names_round_trip() {
        for st in State::ALL {
            for n in [Naming::Gate, Naming::Legacy] {
                assert_eq!(State::parse_any(st.name(n)).unwrap(), st);
            }
            assert_eq!(to_gate_name(st.legacy_name()), st.gate_name());
        }
    }
}
