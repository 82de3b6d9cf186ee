//! Causes from evidence: a disrupted request joined by `x-request-id` to
//! HAProxy's and Envoy's own log lines, and the cause that cites them first
//! ("haproxy 502 DH-- on pod-a, 0.3 ms before haproxy pod-a server_down:
//! ..."), then names the mechanism. Only where no proxy logged the request
//! does proximity on the timeline stand in, labelled `inferred`, limited to
//! the request's own pod and [`INFER_WINDOW_MS`]; a request no proxy logged
//! says so (a silent keep-alive close is itself the finding).
//!
//! Pure: no I/O, no clock (times are ms of the run, the proxies' own log
//! times already mapped by [`super::proxy_logs`]). Never guesses a pod.

use crate::model::{Attribution, Event, EventKind, EvidenceKind, Outcome, RequestRecord, Source};

use super::envoy_log::EnvoyLog;
use super::haproxy_log::RequestLog;
use super::mechanism::{mechanism, Anchor};

/// How far before the disruption an event may be to be `inferred` its cause.
pub const INFER_WINDOW_MS: f64 = 3_000.0;
/// How late an event may be recorded after the disruption and still be its
/// cause (HAProxy logs the killed request just before its DOWN line).
pub const LATE_CAUSE_MS: f64 = 100.0;
/// How far from a proxy's line the event it names may be.
pub const ANCHOR_WINDOW_MS: f64 = 5_000.0;

/// HAProxy's line of a request (`source` names the HAProxy).
#[derive(Debug, Clone, PartialEq)]
pub struct HaproxyLine {
    pub source: String,
    pub log: RequestLog,
    /// When HAProxy ended it, in ms of the run (its own log time).
    pub end_ms: Option<f64>,
}

/// A pod's Envoy access log line of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvoyLine {
    pub pod: String,
    pub log: EnvoyLog,
    /// When Envoy ended it, in ms of the run (its own start + duration).
    pub end_ms: Option<f64>,
}

/// What the proxies logged of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub haproxy: Option<HaproxyLine>,
    pub envoy: Option<EnvoyLine>,
}

impl Evidence {
    /// The `haproxy_term` column: HAProxy's termination state, if it logged one.
    pub fn haproxy_term(&self) -> Option<String> {
        self.haproxy.as_ref().map(|h| h.log.termination.clone())
    }

    /// The `envoy_flags` column: Envoy's response flags (`-` for none).
    pub fn envoy_flags(&self) -> Option<String> {
        self.envoy
            .as_ref()
            .map(|e| e.log.flags_column().to_string())
    }

    pub fn kind(&self) -> EvidenceKind {
        match (&self.haproxy, &self.envoy) {
            (Some(_), Some(_)) => EvidenceKind::Both,
            (Some(_), None) => EvidenceKind::HaproxyLog,
            (None, Some(_)) => EvidenceKind::EnvoyLog,
            (None, None) => EvidenceKind::None,
        }
    }

    /// Writes the evidence columns of `rec`.
    pub fn fill(&self, rec: &mut RequestRecord) {
        rec.haproxy_term = self.haproxy_term();
        rec.envoy_flags = self.envoy_flags();
    }
}

fn when_text(delta_ms: f64) -> String {
    if delta_ms < 0.0 {
        format!("{:.1} ms before", -delta_ms)
    } else if delta_ms < 1_000.0 {
        format!("{delta_ms:.1} ms after")
    } else {
        format!("{:.1} s after", delta_ms / 1000.0)
    }
}

fn event_text(e: &Event) -> String {
    let pod = e
        .pod
        .as_deref()
        .map(|p| format!(" {p}"))
        .unwrap_or_default();
    let detail = if e.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.detail.chars().take(80).collect::<String>())
    };
    format!("{}{pod} {}{detail}", e.source, e.kind)
}

/// The event of `pod` of a kind `started` from `source` that started it:
/// the latest up to [`LATE_CAUSE_MS`] after the line at `at` (ms), within
/// the window.
fn anchor<'a>(
    events: &'a [Event],
    pod: &str,
    source: &Source,
    started: fn(&EventKind) -> bool,
    at: f64,
) -> Option<&'a Event> {
    events
        .iter()
        .filter(|e| e.pod.as_deref() == Some(pod) && started(&e.kind))
        .filter(|e| e.source == *source)
        .filter(|e| e.t_ms <= at + LATE_CAUSE_MS && at - e.t_ms <= ANCHOR_WINDOW_MS)
        .max_by(|a, b| a.t_ms.total_cmp(&b.t_ms))
}

fn haproxy_text(h: &HaproxyLine) -> String {
    let status = h.log.status.map_or("-".to_string(), |s| s.to_string());
    let on = h.log.pod().map(|p| format!(" on {p}")).unwrap_or_default();
    format!("{} {status} {}{on}", h.source, h.log.termination)
}

fn envoy_text(e: &EnvoyLine) -> String {
    let status = e.log.status.map_or("-".to_string(), |s| s.to_string());
    let details = if e.log.details.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.log.details)
    };
    format!(
        "envoy {status} {} on {}{details}",
        e.log.flags_column(),
        e.pod
    )
}

/// The cause of one disruption: from its proxy lines when any, else
/// inferred from its own pod's events just before it, else none.
pub fn attribute(req: &RequestRecord, ev: &Evidence, events: &[Event]) -> Attribution {
    let base = Attribution {
        request_id: req.id.clone(),
        outcome: req.outcome,
        pod: req.pod.clone(),
        t_ms: req.end_ms,
        cause: None,
        cause_t_ms: None,
        delta_ms: None,
        evidence: ev.kind(),
    };
    if ev.kind() == EvidenceKind::None {
        return unlogged(req, base, events);
    }
    let cited: Vec<String> = [
        ev.haproxy.as_ref().map(haproxy_text),
        ev.envoy.as_ref().map(envoy_text),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mech = mechanism(
        ev.haproxy.as_ref().map(|h| &h.log),
        ev.envoy.as_ref().map(|e| &e.log),
    );
    // The proxy line the mechanism is read from: HAProxy's first.
    let (pod, at) = match (&ev.haproxy, &ev.envoy) {
        (Some(h), _) if h.log.pod().is_some() => (h.log.pod().map(str::to_string), h.end_ms),
        (_, Some(e)) => (Some(e.pod.clone()), e.end_ms),
        (Some(h), None) => (None, h.end_ms),
        (None, None) => (None, None),
    };
    let pod = pod.or_else(|| req.pod.clone());
    let source = mech.anchor_source.map(|a| match (a, &ev.haproxy) {
        (Anchor::Haproxy, Some(h)) => Source::parse(&h.source),
        (Anchor::Haproxy, None) => Source::HAPROXY,
        (Anchor::Envoy, _) => Source::Envoy,
        (Anchor::Backend, _) => Source::Backend,
    });
    let found = match (pod.as_deref(), &source, at) {
        (Some(p), Some(s), Some(t)) => anchor(events, p, s, mech.anchors, t),
        _ => None,
    };
    let mut cause = cited.join(", ");
    let cause_t = match (found, at) {
        (Some(e), Some(t)) => {
            cause.push_str(&format!(" {} {}", when_text(t - e.t_ms), event_text(e)));
            Some(e.t_ms)
        }
        (None, t) => t,
        (Some(e), None) => Some(e.t_ms),
    };
    cause.push_str(&format!(": {}", mech.text));
    Attribution {
        cause: Some(cause),
        cause_t_ms: cause_t,
        delta_ms: cause_t.map(|t| req.end_ms - t),
        pod: req.pod.clone().or(pod),
        ..base
    }
}

/// No proxy logged the request: say so, then infer from its own pod's
/// events just before it (never another pod's).
fn unlogged(req: &RequestRecord, base: Attribution, events: &[Event]) -> Attribution {
    let silent = if req.reused && req.outcome != Outcome::Http5xx {
        format!(
            "no proxy logged it: silent keep-alive close (reused connection {})",
            req.conn_id
        )
    } else {
        "no proxy logged it: the connection ended before HAProxy logged a request".to_string()
    };
    let end = req.end_ms;
    let inferred = req.pod.as_deref().and_then(|pod| {
        let near = |e: &&Event| {
            e.pod.as_deref() == Some(pod)
                && e.is_cause()
                && e.t_ms >= end - INFER_WINDOW_MS
                && e.t_ms <= end + LATE_CAUSE_MS
        };
        let before = events.iter().filter(near).filter(|e| e.t_ms <= end);
        before.max_by(|a, b| a.t_ms.total_cmp(&b.t_ms)).or_else(|| {
            events
                .iter()
                .filter(near)
                .min_by(|a, b| a.t_ms.total_cmp(&b.t_ms))
        })
    });
    match inferred {
        Some(e) => Attribution {
            cause: Some(format!(
                "{silent}; inferred: {} {}",
                when_text(end - e.t_ms),
                event_text(e)
            )),
            cause_t_ms: Some(e.t_ms),
            delta_ms: Some(end - e.t_ms),
            evidence: EvidenceKind::Inferred,
            ..base
        },
        None => Attribution {
            cause: Some(format!(
                "{silent}; no event of {} within {:.0} s before it",
                req.pod.as_deref().unwrap_or("its (unknown) pod"),
                INFER_WINDOW_MS / 1000.0
            )),
            evidence: EvidenceKind::None,
            ..base
        },
    }
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
