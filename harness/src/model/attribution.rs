//! One disruption's attribution: its cause from the proxies' own log lines,
//! or the nearest event of its pod as a labelled `inferred` fallback (see
//! `observe::evidence`), as summary.json carries it.
//!
//! Plain data.

use serde::{Deserialize, Serialize};

use super::{EvidenceKind, Outcome};

/// One disruption and the nearest preceding cause on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub request_id: String,
    /// Written as `requests.csv` writes it (`http_5xx`, not serde's `http5xx`).
    #[serde(with = "outcome_name")]
    pub outcome: Outcome,
    /// When the disruption was seen (the request's end).
    pub t_ms: f64,
    /// e.g. `haproxy server_down pod-a`; `None` when nothing preceded it.
    pub cause: Option<String>,
    pub cause_t_ms: Option<f64>,
    /// `t_ms - cause_t_ms`.
    pub delta_ms: Option<f64>,
    pub pod: Option<String>,
    /// What the cause rests on (older summaries: `inferred`).
    #[serde(default)]
    pub evidence: EvidenceKind,
}

impl Attribution {
    /// `disruption <id> (<outcome>, pod <pod>) at <t> s: <cause>`, the time
    /// with `decimals` decimals (the JUnit output and the console alike).
    pub fn one_line(&self, decimals: usize) -> String {
        format!(
            "disruption {} ({}, pod {}) at {:.decimals$} s: {}",
            self.request_id,
            self.outcome,
            self.pod.as_deref().unwrap_or("?"),
            self.t_ms / 1000.0,
            self.cause.as_deref().unwrap_or("no cause found")
        )
    }
}

/// (De)serializes an `Outcome` by `Outcome::as_str`, so summary.json and
/// requests.csv spell outcomes alike.
mod outcome_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::Outcome;

    pub fn serialize<S: Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(o.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        let name = String::deserialize(d)?;
        Outcome::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown outcome {name:?}")))
    }
}
