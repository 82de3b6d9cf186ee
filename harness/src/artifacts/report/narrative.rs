//! The report's plain words: the scenario as a sentence list (from the run's
//! `scenario.toml`), what happened (every disruption, grouped, with its
//! cause) and the key moments of the timeline. Returns HTML fragments with
//! every value escaped.
//!
//! It reads nothing but what it is given and never judges the run.

use std::collections::BTreeMap;

use super::esc;
use crate::artifacts::summary::Summary;
use crate::model::{Event, RequestKind, RequestRecord};

fn s_of<'a>(v: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    v.get(key)
}

fn text(v: Option<&toml::Value>) -> Option<String> {
    v.map(|v| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn or(v: Option<String>, d: &str) -> String {
    v.unwrap_or_else(|| d.to_string())
}

/// The scenario in plain words, one sentence per item (escaped HTML).
pub fn scenario_in_words(scenario_toml: &str, mode: &str) -> Vec<String> {
    let Ok(v) = scenario_toml.parse::<toml::Value>() else {
        return vec!["scenario.toml could not be read as TOML.".into()];
    };
    let mut out = Vec::new();
    if let Some(p) = text(s_of(&v, "purpose")) {
        out.push(format!("<b>Purpose:</b> {}", esc(&p)));
    }
    if let Some(m) = v.get("modes").and_then(|m| m.get(mode)) {
        out.push(format!(
            "<b>Mode {}:</b> {}.",
            esc(mode),
            esc(&mode_words(m))
        ));
    }
    if let Some(t) = v.get("topology") {
        out.push(esc(&topology_words(t)));
    }
    if let Some(g) = v.get("kubelet").and_then(|k| text(k.get("grace_period"))) {
        out.push(esc(&format!("Kubelet: termination grace period {g}.")));
    }
    let all = |key: &str, words: fn(&toml::Value) -> String| -> Vec<String> {
        v.get(key)
            .and_then(|l| l.as_array())
            .map(|a| a.iter().map(words).collect())
            .unwrap_or_default()
    };
    let loads = all("load", load_words);
    if !loads.is_empty() {
        out.push(esc(&format!("Load through HAProxy: {}.", loads.join("; "))));
    }
    let faults = all("faults", fault_words);
    if !faults.is_empty() {
        out.push(esc(&format!(
            "Faults (times from the load's start): {}.",
            faults.join("; ")
        )));
    }
    out
}

/// A mode: what it is about and what its preStop does.
fn mode_words(m: &toml::Value) -> String {
    let about = text(m.get("about")).filter(|a| !a.is_empty());
    let how = match text(m.get("prestop")).as_deref() {
        Some("sleep") => format!(
            "preStop sleeps {}, then every container gets SIGTERM",
            or(text(m.get("sleep")), "?")
        ),
        Some("drain") | Some("script") => {
            let d = m.get("drain");
            format!(
                "preStop runs the {} drain (timeout {}, poll every {}, LB buffer {}), then every container gets SIGTERM",
                if text(m.get("prestop")).as_deref() == Some("script") { "script" } else { "Rust" },
                or(d.and_then(|d| text(d.get("timeout"))), "?"),
                or(d.and_then(|d| text(d.get("poll_interval"))), "?"),
                or(d.and_then(|d| text(d.get("lb_buffer"))), "?"),
            )
        }
        Some(other) => format!("preStop: {other}"),
        None => "no preStop".into(),
    };
    match about {
        Some(a) => format!("{a} ({how})"),
        None => how,
    }
}

/// The pods, their sidecar and the HAProxy in front of them.
fn topology_words(t: &toml::Value) -> String {
    let h = t.get("haproxy");
    let e = t.get("envoy");
    let hv = |k: &str| or(h.and_then(|h| text(h.get(k))), "?");
    let sessions = match h
        .and_then(|h| h.get("shutdown_sessions"))
        .and_then(|x| x.as_bool())
    {
        Some(true) => "kills the sessions of a DOWN server",
        Some(false) => "lets the sessions of a DOWN server finish",
        None => "shutdown-sessions unknown",
    };
    format!(
        "Topology: {} pods (backend + hc + Envoy sidecar \"{}\", which drains {} on SIGTERM) behind one HAProxy that checks every {} and marks a server DOWN after {} failed checks; it {sessions}; retries {}, redispatch {}.",
        or(text(t.get("pods")), "?"),
        or(e.and_then(|e| text(e.get("sidecar"))), "?"),
        or(e.and_then(|e| text(e.get("termination_drain"))), "?"),
        hv("inter"),
        hv("fall"),
        hv("retries"),
        hv("redispatch"),
    )
}

fn load_words(l: &toml::Value) -> String {
    let g = |k: &str| text(l.get(k));
    let start = or(g("start"), "0s");
    match g("kind").as_deref() {
        Some("long") => format!(
            "{} long request(s) GET /sleep?seconds={}{} from +{start}",
            or(g("count"), "1"),
            or(g("seconds"), "?"),
            g("pin")
                .map(|p| format!(" held on {p}"))
                .unwrap_or_default()
        ),
        Some("stream") => format!(
            "{} stream(s) of {} s{} from +{start}",
            or(g("count"), "1"),
            or(g("seconds"), "?"),
            g("pin").map(|p| format!(" on {p}")).unwrap_or_default()
        ),
        Some("steady") => format!(
            "steady {} req/s of GET {} for {} from +{start}",
            or(g("rate"), "?"),
            or(g("path"), "/"),
            or(g("duration"), "?")
        ),
        _ => l.to_string(),
    }
}

fn fault_words(f: &toml::Value) -> String {
    let at = or(text(f.get("at")), "?");
    let rest: Vec<String> = f
        .as_table()
        .map(|t| {
            t.iter()
                .filter(|(k, _)| k.as_str() != "at")
                .map(|(k, v)| format!("{k} {}", text(Some(v)).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!("at +{at}: {}", rest.join(", "))
}

fn cause_of(s: Option<&Summary>, id: &str) -> String {
    s.and_then(|s| s.attributions.iter().find(|a| a.request_id == id))
        .map(|a| {
            a.cause
                .clone()
                .unwrap_or_else(|| "no cause found on the timeline".into())
        })
        .unwrap_or_else(|| "not attributed (the run did not get that far)".into())
}

/// What happened to the requests, as list items (escaped HTML), from the
/// disrupted requests and how many requests requests.csv held (`None`
/// when it is gone: the summary's count is used).
pub fn what_happened(
    s: Option<&Summary>,
    disrupted: &[RequestRecord],
    total: Option<u64>,
) -> Vec<String> {
    let bad: Vec<&RequestRecord> = disrupted
        .iter()
        .filter(|r| r.outcome.is_disruption())
        .collect();
    let total = match total {
        Some(n) if n > 0 => n,
        _ => s.map_or(0, |s| s.requests),
    };
    let mut out = Vec::new();
    if bad.is_empty() {
        let n = s.map_or(0, |s| s.disruptions);
        if n == 0 {
            out.push(format!(
                "<b>No request was disrupted</b>: all {total} requests completed ok."
            ));
        } else {
            out.push(format!("<b>{n} of {total} requests were disrupted</b> (requests.csv is gone; see the table below)."));
        }
        return out;
    }
    out.push(format!(
        "<b>{} of {total} requests were disrupted:</b>",
        bad.len()
    ));
    // Long requests and streams one by one; steady ones grouped.
    let mut groups: BTreeMap<(String, Option<String>), Vec<&RequestRecord>> = BTreeMap::new();
    for r in &bad {
        if r.kind == RequestKind::Steady {
            groups
                .entry((r.outcome_words(), r.pod.clone()))
                .or_default()
                .push(r);
        } else {
            out.push(format!(
                "<span class=\"lost\">{} request <b>{}</b></span> (GET {} on {}, sent at {:.2} s) ended at <b>{:.2} s</b> with <b>{}</b>{}. <b>Why:</b> {}",
                r.kind.as_str(),
                esc(&r.id),
                esc(&r.path),
                esc(r.pod.as_deref().unwrap_or("an unknown pod")),
                r.sent_ms / 1000.0,
                r.end_ms / 1000.0,
                esc(&r.outcome_words()),
                r.error.as_deref().map(|e| format!(" ({})", esc(e))).unwrap_or_default(),
                esc(&cause_of(s, &r.id)),
            ));
        }
    }
    for ((what, pod), rs) in groups {
        let first = rs[0];
        let last = rs[rs.len() - 1];
        out.push(format!(
            "{} steady request(s) on {} ended with <b>{}</b> between {:.2} s and {:.2} s (first: {}). <b>Why:</b> {}",
            rs.len(),
            esc(pod.as_deref().unwrap_or("an unknown pod")),
            esc(&what),
            first.end_ms / 1000.0,
            last.end_ms / 1000.0,
            esc(&first.id),
            esc(&cause_of(s, &first.id)),
        ));
    }
    out
}

/// The key moments of the timeline (first of each event per pod), escaped.
pub fn key_moments(timeline: &[Event]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    timeline
        .iter()
        .filter(|e| e.is_key_moment())
        .filter(|e| seen.insert((e.pod.clone(), e.kind.clone())))
        .map(|e| {
            format!(
                "{:.2} s: {} {} {}{}",
                e.t_ms / 1000.0,
                esc(&e.source.as_str()),
                esc(e.pod.as_deref().unwrap_or("")),
                esc(e.kind.as_str()),
                if e.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", esc(&truncate(&e.detail, 90)))
                }
            )
        })
        .collect()
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
