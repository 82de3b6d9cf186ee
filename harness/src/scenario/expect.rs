//! What must hold for a mode's run to pass: disruption counts (total and per
//! outcome), latency, preStop and LB-release timings, exit codes, and what
//! the timeline and the attributions must (not) say.
//!
//! Types only; `run::verdict` judges them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Outcome;

use super::dur::Dur;
use super::values::Container;

/// A mode's expectations; every key is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    pub disruptions_min: Option<u64>,
    pub disruptions_max: Option<u64>,
    /// Per outcome (any `Outcome` name: `reset`, `closed`, `http_5xx`, ...): at least.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes_min: BTreeMap<Outcome, u64>,
    /// Per outcome: at most.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes_max: BTreeMap<Outcome, u64>,
    /// `true`: every long request is among the disruptions; `false`: there
    /// are long requests and every one ended `ok`.
    pub long_lost: Option<bool>,
    /// close-lb happened after the last long request ended.
    pub close_lb_after_long_end: Option<bool>,
    /// close-lb happened before kubelet's first SIGTERM to the terminated pod
    /// (the LB was told to let go before anything was stopped).
    pub close_lb_before_sigterm: Option<bool>,
    /// The last reading of the terminated pod's Envoy active requests before
    /// its first SIGTERM (the harness's samples and drain's polls) was 0.
    pub sigterm_after_envoy_idle: Option<bool>,
    /// Upper bound of the corrected p99 latency of steady requests.
    pub steady_p99_max: Option<Dur>,
    /// Bounds of the preStop hook's duration (a hook cut by the grace period has none).
    pub prestop_min: Option<Dur>,
    pub prestop_max: Option<Dur>,
    /// The preStop hook's exit code (drain: 0 drained, 3 deadline, 4 hc call failed, 5 reopened).
    pub drain_exit_code: Option<i32>,
    /// The grace period ran out while preStop still ran.
    pub prestop_cut_by_grace: Option<bool>,
    /// `[a, b]`: HAProxy let the terminated pod go (DOWN, NOLB or DRAIN)
    /// between a and b after close-lb.
    pub lb_down_after_close_lb: Option<[Dur; 2]>,
    /// Exit codes of the (first) terminated pod's containers, e.g. `{ backend = 137 }`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exit_codes: BTreeMap<Container, i32>,
    /// Each string appears in at least one disruption's attributed cause.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attribution_contains: Vec<String>,
    /// Each `"<source> <event>[ <detail substring>]"` is on the timeline.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline_has: Vec<String>,
    /// None of these is on the timeline.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline_lacks: Vec<String>,
    /// Time between two timeline events must lie in `[min, max]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

/// From the first `from` event to the first `to` event at or after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// `"<source> <event>[ <detail substring>]"`, e.g. `"fault hc_reopen"`.
    pub from: String,
    /// e.g. `"haproxy server_up"`.
    pub to: String,
    /// Only events of this pod (events without a pod always match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Dur>,
}

/// A parsed `"<source> <event>[ <detail substring>]"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPattern {
    pub source: String,
    pub event: String,
    pub detail: Option<String>,
}

impl EventPattern {
    pub fn parse(s: &str) -> Option<EventPattern> {
        let mut it = s.trim().splitn(3, ' ');
        let source = it.next().filter(|x| !x.is_empty())?.to_string();
        let event = it.next().filter(|x| !x.is_empty())?.to_string();
        let detail = it
            .next()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        Some(EventPattern {
            source,
            event,
            detail,
        })
    }

    pub fn matches(&self, source: &str, event: &str, detail: &str) -> bool {
        self.source == source
            && self.event == event
            && self.detail.as_deref().is_none_or(|d| detail.contains(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_patterns() {
        let p = EventPattern::parse("haproxy status -> DRAIN").unwrap();
        assert_eq!(p.source, "haproxy");
        assert_eq!(p.event, "status");
        assert!(p.matches("haproxy", "status", "UP -> DRAIN (runtime API poll)"));
        assert!(!p.matches("haproxy", "status", "UP -> DOWN"));
        assert!(EventPattern::parse("haproxy").is_none());
        assert!(EventPattern::parse("kubelet prestop_timeout")
            .unwrap()
            .matches("kubelet", "prestop_timeout", "x"));
    }

    #[test]
    fn lb_window_is_two_durations() {
        let e: Expect = toml::from_str("lb_down_after_close_lb = [\"1.9s\", \"4.2s\"]").unwrap();
        assert_eq!(
            e.lb_down_after_close_lb,
            Some([Dur::millis(1900), Dur::millis(4200)])
        );
        assert!(toml::from_str::<Expect>("lb_down_after_close_lb = [\"1s\"]").is_err());
    }
}
