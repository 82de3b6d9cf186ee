//! What the proxies' own log codes say happened to a request: HAProxy's
//! termination state and Envoy's response flags read as a mechanism in
//! words, and whose timeline events (which kinds) can start it.
//!
//! Pure: reads two log lines, never the timeline itself.

use crate::model::{EventKind, ServerState};

use super::envoy_log::EnvoyLog;
use super::haproxy_log::RequestLog;

/// Whose events start a mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Anchor {
    /// The HAProxy that logged the request.
    Haproxy,
    Envoy,
    Backend,
}

/// A mechanism and the timeline events (whose, which kinds) that start it.
pub(super) struct Mechanism {
    pub(super) text: &'static str,
    pub(super) anchor_source: Option<Anchor>,
    pub(super) anchors: fn(&EventKind) -> bool,
}

fn none(_: &EventKind) -> bool {
    false
}

fn lb_down(k: &EventKind) -> bool {
    *k == EventKind::Server(ServerState::Down)
}

fn envoy_gone(k: &EventKind) -> bool {
    matches!(
        k,
        EventKind::Exit
            | EventKind::Sigterm
            | EventKind::Sigkill
            | EventKind::Kill
            | EventKind::EnvoyStop
            | EventKind::DrainListeners
            | EventKind::ListenerClosed
    )
}

fn backend_gone(k: &EventKind) -> bool {
    matches!(
        k,
        EventKind::Exit | EventKind::Sigterm | EventKind::Sigkill | EventKind::Kill
    )
}

/// What HAProxy's termination state and Envoy's flags say happened: a
/// decisive HAProxy state first, then Envoy's upstream flags, then the rest
/// of HAProxy's state and what Envoy saw downstream.
pub(super) fn mechanism(h: Option<&RequestLog>, e: Option<&EnvoyLog>) -> Mechanism {
    let tsc: Vec<char> = h
        .map(|h| h.termination.chars().collect())
        .unwrap_or_default();
    let state = (tsc.first().copied(), tsc.get(1).copied());
    let flags = e.map(|e| e.flags.as_str()).unwrap_or_default();
    let has = |f: &str| flags.split(',').any(|x| x == f);
    let app_5xx = e.is_some_and(|e| e.status.is_some_and(|s| s >= 500));
    haproxy_decisive(state, &has)
        .or_else(|| envoy_upstream(&has))
        .unwrap_or_else(|| by_haproxy_state(state, &has, app_5xx))
}

fn m(
    text: &'static str,
    anchor_source: Option<Anchor>,
    anchors: fn(&EventKind) -> bool,
) -> Mechanism {
    Mechanism {
        text,
        anchor_source,
        anchors,
    }
}

/// HAProxy's states that say what happened whatever Envoy logged.
fn haproxy_decisive(
    state: (Option<char>, Option<char>),
    has: &impl Fn(&str) -> bool,
) -> Option<Mechanism> {
    match state {
        (Some('D'), _) => Some(m(
            "HAProxy marked the server DOWN and on-marked-down shutdown-sessions killed the request",
            Some(Anchor::Haproxy),
            lb_down,
        )),
        (Some('K'), _) => Some(m("HAProxy's admin killed the session", None, none)),
        (Some('S'), Some('C')) if !has("UF") => Some(m(
            "HAProxy could not connect to the pod's Envoy (refused or reset at connect)",
            Some(Anchor::Envoy),
            envoy_gone,
        )),
        _ => None,
    }
}

/// Envoy's flags about its upstream (the backend) or its own answer.
fn envoy_upstream(has: &impl Fn(&str) -> bool) -> Option<Mechanism> {
    if has("UC") || has("UR") {
        return Some(m(
            "the backend closed Envoy's upstream connection",
            Some(Anchor::Backend),
            backend_gone,
        ));
    }
    if has("UF") {
        return Some(m(
            "Envoy could not connect to the backend",
            Some(Anchor::Backend),
            backend_gone,
        ));
    }
    if has("UH") || has("URX") || has("UO") || has("UT") || has("LR") {
        return Some(m("Envoy answered itself", Some(Anchor::Envoy), envoy_gone));
    }
    None
}

/// The rest of HAProxy's states, then what Envoy saw downstream.
fn by_haproxy_state(
    state: (Option<char>, Option<char>),
    has: &impl Fn(&str) -> bool,
    app_5xx: bool,
) -> Mechanism {
    match state {
        (Some('S'), Some('H')) => m(
            "the pod's Envoy closed or reset the connection before the response head",
            Some(Anchor::Envoy),
            envoy_gone,
        ),
        (Some('S'), _) => m(
            "the pod's Envoy closed or reset the connection mid-response",
            Some(Anchor::Envoy),
            envoy_gone,
        ),
        (Some('C'), _) => m("the client closed the connection first", None, none),
        (Some('s'), _) => m("HAProxy's server timeout expired", None, none),
        (Some('c'), _) => m("HAProxy's client timeout expired", None, none),
        (Some('P' | 'I' | 'R' | 'L' | 'U'), _) => {
            m("HAProxy ended it itself (proxy-side)", None, none)
        }
        // HAProxy closed Envoy's connection, or lost the request after
        // Envoy's answer, without a line of its own: a session killed by
        // shutdown-sessions at the server's DOWN is such a case (observed
        // with HAProxy 2.6), so the DOWN of that pod is looked for.
        _ if has("DC") => m(
            "Envoy saw HAProxy close the connection (downstream close)",
            Some(Anchor::Haproxy),
            lb_down,
        ),
        _ if app_5xx => m("the app answered 5xx", None, none),
        _ => m(
            "the proxies logged a normal end: the loss happened between HAProxy and the client",
            Some(Anchor::Haproxy),
            lb_down,
        ),
    }
}
