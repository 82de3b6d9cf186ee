//! `summary.json`: one run's headline facts (versions, runtime, naming,
//! counts by outcome, percentiles, drain durations, attributions,
//! expectations, verdict); the counts come from [`super::tally::Tally`].
//!
//! It records what others decided (attribution, expectation results); it
//! never judges a run itself beyond folding expectations into a verdict.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::hgrm::LatencyMs;
use super::rundir::{read_json, write_json_atomic};
use super::{names, ArtifactsError};
use crate::model::{Attribution, Outcome, RuntimeKind};

/// The run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Interrupted,
    /// The run cannot prove anything: a scheduled request has no row, a
    /// writer failed, the load never ran or did not cover the termination
    /// (the reasons are in `Summary::invalid`).
    Invalid,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Interrupted => "interrupted",
            Verdict::Invalid => "invalid",
        }
    }
}

/// One `[[load]]` entry's accounting: every scheduled request must have been
/// started and recorded as exactly one row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryAccount {
    /// `long`, `stream` or `steady`, and the entry's index in `[[load]]`.
    pub load: String,
    pub scheduled: u64,
    /// Started: a connection was asked for (a refused connect counts).
    pub sent: u64,
    /// Handed to the records sink as a row.
    pub recorded: u64,
}

/// The window a zero-loss claim covers (ms from the run's start): the load
/// must run from before the fault until the terminated pod's last container
/// exited and HAProxy's view of it settled, plus one check interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub load_start_ms: Option<f64>,
    /// When the last steady load stopped scheduling requests.
    pub load_end_ms: Option<f64>,
    /// The first fault (kubelet's `terminating` of the terminated pod).
    pub fault_ms: Option<f64>,
    /// The terminated pod's last container exit.
    pub last_exit_ms: Option<f64>,
    /// HAProxy marked the terminated pod DOWN (or MAINT) for good.
    pub lb_settled_ms: Option<f64>,
    /// max(last exit, LB settled) + one check interval: the load must run until here.
    pub required_end_ms: Option<f64>,
    /// The load ran from before the fault until `required_end_ms`.
    pub covered: bool,
}

/// One drain step as the orchestrator logged it (`drain`, `drain_listeners`,
/// `close-lb`, …), ms from the run's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainStep {
    pub step: String,
    pub t_ms: f64,
}

/// Drain durations of the terminated pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrainSummary {
    /// preStop hook duration (prestop_start → prestop_end).
    pub prestop_ms: Option<f64>,
    /// The hook's exit code (`drain`: 0, 3, 4, 5).
    pub exit_code: Option<i32>,
    pub steps: Vec<DrainStep>,
    /// From `close-lb` to HAProxy marking the server DOWN (or NOLB).
    pub close_lb_to_down_ms: Option<f64>,
}

/// (De)serializes outcome counts keyed by `Outcome::as_str`, in name order,
/// so summary.json's text stays as it was; legacy names (`http5xx`) read too.
mod outcome_counts {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::model::Outcome;

    pub fn serialize<S: Serializer>(m: &BTreeMap<Outcome, u64>, s: S) -> Result<S::Ok, S::Error> {
        let by_name: BTreeMap<&str, u64> = m.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        by_name.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Outcome, u64>, D::Error> {
        let mut out = BTreeMap::new();
        for (name, n) in BTreeMap::<String, u64>::deserialize(d)? {
            let o = crate::artifacts::csv::parse_outcome(&name)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown outcome {name:?}")))?;
            *out.entry(o).or_default() += n;
        }
        Ok(out)
    }
}

/// One scenario expectation and whether the run met it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The content of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub mode: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub wall_s: Option<f64>,
    /// `local` or `docker`; `""` (None) when unknown.
    #[serde(with = "crate::model::runtime_kind::or_empty")]
    pub runtime: Option<RuntimeKind>,
    /// Why that runtime was chosen.
    pub runtime_reason: String,
    pub naming: gate::Naming,
    /// `harness`, `haproxy`, `envoy`, `backend`, `hc`, `drain` → version.
    pub versions: BTreeMap<String, String>,
    pub interrupted: bool,
    pub requests: u64,
    /// Every outcome, 0 included.
    #[serde(with = "outcome_counts")]
    pub outcomes: BTreeMap<Outcome, u64>,
    pub disruptions: u64,
    /// `haproxy`/`envoy`/`app`/`unknown` for HTTP answers (`http_5xx`,
    /// `http_status`), `client` for the rest.
    pub disruptions_by_origin: BTreeMap<String, u64>,
    pub latency_ms: LatencyMs,
    pub drain: DrainSummary,
    pub attributions: Vec<Attribution>,
    pub expectations: Vec<ExpectationResult>,
    pub verdict: Verdict,
    /// Why the run is `invalid` (empty when it is not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<String>,
    /// Per `[[load]]` entry: scheduled, sent, recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounting: Vec<EntryAccount>,
    /// The load's window against the termination's (runs with a terminated pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    pub notes: Vec<String>,
}

/// Every outcome with a 0 count.
pub fn zero_outcomes() -> BTreeMap<Outcome, u64> {
    Outcome::ALL.iter().map(|o| (*o, 0)).collect()
}

impl Summary {
    /// `local`, `docker`, or `""` when the runtime is unknown.
    pub fn runtime_name(&self) -> &'static str {
        self.runtime.map_or("", RuntimeKind::as_str)
    }

    /// A summary with nothing counted yet; `verdict` is `interrupted` until
    /// [`Summary::decide_verdict`] says otherwise, so a run that dies before
    /// the end leaves an honest file.
    pub fn new(scenario: &str, mode: &str, run_id: &str, started_at: DateTime<Utc>) -> Self {
        Summary {
            scenario: scenario.to_string(),
            mode: mode.to_string(),
            run_id: run_id.to_string(),
            started_at,
            ended_at: None,
            wall_s: None,
            runtime: None,
            runtime_reason: String::new(),
            naming: gate::Naming::Gate,
            versions: BTreeMap::new(),
            interrupted: true,
            requests: 0,
            outcomes: zero_outcomes(),
            disruptions: 0,
            disruptions_by_origin: BTreeMap::new(),
            latency_ms: LatencyMs::default(),
            drain: DrainSummary::default(),
            attributions: Vec::new(),
            expectations: Vec::new(),
            verdict: Verdict::Interrupted,
            invalid: Vec::new(),
            accounting: Vec::new(),
            coverage: None,
            notes: Vec::new(),
        }
    }

    /// Sets `ended_at` and `wall_s`.
    pub fn end(&mut self, ended_at: DateTime<Utc>) {
        self.ended_at = Some(ended_at);
        let ms = (ended_at - self.started_at).num_milliseconds();
        self.wall_s = Some(ms as f64 / 1000.0);
    }

    /// The disruptions by outcome, e.g. `reset=1 http_5xx=7` (empty when none).
    pub fn disruptions_text(&self) -> String {
        self.outcomes
            .iter()
            .filter(|(k, v)| k.is_disruption() && **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `interrupted` when the run was, else `invalid` when it cannot prove
    /// anything (`self.invalid`), else `fail` when any expectation failed,
    /// else `pass`. Sets and returns it.
    pub fn decide_verdict(&mut self) -> Verdict {
        self.verdict = if self.interrupted {
            Verdict::Interrupted
        } else if !self.invalid.is_empty() {
            Verdict::Invalid
        } else if self.expectations.iter().any(|e| !e.ok) {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        self.verdict
    }

    /// Writes `<run_dir>/summary.json` atomically (pretty JSON).
    pub fn write(&self, run_dir: &Path) -> Result<(), ArtifactsError> {
        write_json_atomic(&run_dir.join(names::SUMMARY), self)
    }

    /// Reads `<run_dir>/summary.json`.
    pub fn read(run_dir: &Path) -> Result<Self, ArtifactsError> {
        read_json(&run_dir.join(names::SUMMARY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::Tally;
    use crate::model::Origin;
    use crate::model::RequestRecord;
    use chrono::TimeZone;

    fn req(id: &str, outcome: Outcome, origin: Option<Origin>) -> RequestRecord {
        RequestRecord {
            conn_id: 0,
            reused: true,
            intended_ms: 10.0,
            sent_ms: 11.0,
            ttfb_ms: Some(12.0),
            end_ms: 15.0,
            origin,
            ..RequestRecord::for_test(id, outcome)
        }
    }

    #[test]
    fn json_has_every_outcome_and_round_trips() {
        let t0 = Utc.with_ymd_and_hms(2026, 4, 26, 9, 0, 0).unwrap();
        let mut s = Summary::new("s1", "graceful", "20260426T090000Z-s1-graceful", t0);
        let mut t = Tally::new();
        t.record(&req("a", Outcome::Ok, None));
        t.record(&req("b", Outcome::Http5xx, Some(Origin::Haproxy)));
        t.record(&req("c", Outcome::Reset, None));
        t.apply_to(&mut s);
        s.attributions.push(Attribution {
            request_id: "b".into(),
            outcome: Outcome::Http5xx,
            t_ms: 15.0,
            cause: Some("haproxy server_down pod-a".into()),
            cause_t_ms: Some(14.9),
            delta_ms: Some(0.1),
            pod: None,
            evidence: crate::model::EvidenceKind::Inferred,
        });
        s.end(t0 + chrono::Duration::milliseconds(61_500));
        s.interrupted = false;
        s.expectations.push(ExpectationResult {
            name: "disruptions == 0".into(),
            ok: false,
            detail: "2 disruptions".into(),
        });
        assert_eq!(s.decide_verdict(), Verdict::Fail);
        let tmp = tempfile::tempdir().unwrap();
        s.write(tmp.path()).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(tmp.path().join("summary.json")).unwrap())
                .unwrap();
        for o in Outcome::ALL {
            assert!(v["outcomes"][o.as_str()].is_u64(), "{o} missing: {v}");
        }
        assert_eq!(v["outcomes"]["truncated"], 0);
        assert_eq!(v["outcomes"]["http_5xx"], 1);
        assert_eq!(v["disruptions"], 2);
        assert_eq!(v["disruptions_by_origin"]["haproxy"], 1);
        assert_eq!(v["disruptions_by_origin"]["client"], 1);
        assert_eq!(v["started_at"], "2026-04-26T09:00:00Z");
        assert_eq!(v["wall_s"], 61.5);
        assert_eq!(v["verdict"], "fail");
        assert_eq!(v["attributions"][0]["outcome"], "http_5xx");
        assert_eq!(v["naming"], "gate");
        assert_eq!(v["latency_ms"]["corrected"]["count"], 1);
        assert!(v["drain"]["prestop_ms"].is_null());
        assert_eq!(Summary::read(tmp.path()).unwrap(), s);
    }

    #[test]
    fn a_new_summary_is_interrupted_until_decided() {
        let mut s = Summary::new("s1", "current", "x", Utc::now());
        assert_eq!(s.verdict, Verdict::Interrupted);
        assert_eq!(s.outcomes.len(), Outcome::ALL.len());
        s.interrupted = false;
        assert_eq!(s.decide_verdict(), Verdict::Pass);
    }
}
