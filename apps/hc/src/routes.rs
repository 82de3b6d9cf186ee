//! The endpoint table: which path answers what in which state, for which
//! method, on which listener. Each handler carries its `#[utoipa::path]`
//! documentation, from which `api/openapi.yaml` is generated.
//!
//! Handlers are synchronous and instant; they must never block, await or
//! read a request body.

use std::net::IpAddr;

use gate::{DrainStatus, Progress, State, Transition, TransitionReply};
use http::header::{HeaderValue, WARNING};
use http::{HeaderMap, Method, Request, Response, StatusCode};

use crate::fsm::{rfc3339_ms, Action, Fsm};
use crate::reply::{self, Body};
use crate::{Config, LbSignal};

/// The FSM plus the settings every handler needs.
pub struct App {
    pub fsm: Fsm,
    pub config: Config,
}

impl App {
    pub fn new(config: Config) -> Self {
        App {
            fsm: Fsm::new(config.naming),
            config,
        }
    }
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Serves every endpoint (the only listener, or the admin listener).
    All,
    /// The public listener while an admin listener exists: transitions are unknown here.
    PublicReadOnly,
}

/// One row of the endpoint table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    HealthCheck,
    Health,
    Live,
    Status,
    Transition(Action),
}

/// Every path hc knows.
pub const TABLE: [(&str, Endpoint); 9] = [
    ("/health_check.html", Endpoint::HealthCheck),
    ("/health", Endpoint::Health),
    ("/live", Endpoint::Live),
    ("/drain/status", Endpoint::Status),
    ("/drain", Endpoint::Transition(Action::Drain)),
    ("/close-lb", Endpoint::Transition(Action::CloseLb)),
    ("/close", Endpoint::Transition(Action::Close)),
    ("/reopen", Endpoint::Transition(Action::Reopen)),
    ("/fault", Endpoint::Transition(Action::Fault)),
];

pub const ALLOW_GET: &str = "GET, HEAD";
pub const ALLOW_POST: &str = "POST";

pub fn lookup(path: &str) -> Option<Endpoint> {
    TABLE.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// Answers one request. The body is never read.
pub fn handle<B>(app: &App, req: &Request<B>, peer: IpAddr, listener: Listener) -> Response<Body> {
    let ep = match lookup(req.uri().path()) {
        Some(Endpoint::Transition(_)) if listener == Listener::PublicReadOnly => None,
        other => other,
    };
    let Some(ep) = ep else {
        return reply::not_found();
    };
    let m = req.method();
    let headers = req.headers();
    match ep {
        Endpoint::Transition(_) if m != Method::POST => reply::method_not_allowed(ALLOW_POST),
        Endpoint::Transition(a) => {
            let q = req.uri().query().unwrap_or("");
            match a {
                Action::Drain => drain(app, q),
                Action::CloseLb => close_lb(app, q),
                Action::Close => close(app, q),
                Action::Reopen => reopen(app, q),
                Action::Fault => fault(app, q),
            }
        }
        _ if m != Method::GET && m != Method::HEAD => reply::method_not_allowed(ALLOW_GET),
        Endpoint::HealthCheck => health_check(app, headers, peer),
        Endpoint::Health => health(app, headers),
        Endpoint::Live => live(app, headers),
        Endpoint::Status => drain_status(app),
    }
}

/// The status `/health_check.html` answers in `state`.
pub fn lb_status(state: State, signal: LbSignal) -> StatusCode {
    match state {
        State::Open | State::Draining => StatusCode::OK,
        State::Closing => match signal {
            LbSignal::Status503 => StatusCode::SERVICE_UNAVAILABLE,
            LbSignal::Status404 => StatusCode::NOT_FOUND,
        },
        State::Closed | State::Fault => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// HAProxy's health check.
///
/// OPEN, DRAINING: 200 `OK`. CLOSING: 503 `DRAIN` (404 with `HC_LB_SIGNAL=404`,
/// for `http-check disable-on-404`). CLOSED, FAULT: 503 `DRAIN`. Each answer
/// is counted per client address for `lb_refusals` in `/drain/status`.
#[utoipa::path(
    method(get, head),
    path = "/health_check.html",
    tag = "health",
    params(("If-None-Match" = Option<String>, Header, description = "An entity tag from an earlier answer; the current tag gets 304 where the answer would be 200")),
    responses(
        (status = 200, description = "OPEN or DRAINING: the LB keeps the server", body = String, content_type = "text/plain", 
            headers(("ETag" = String, description = "The state, e.g. \"OPEN\""), ("Cache-Control" = String, description = "max-age=1")), example = json!("OK")),
        (status = 304, description = "Not modified: the client's tag is current and the answer would be 200",
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1"))),
        (status = 404, description = "CLOSING with HC_LB_SIGNAL=404 (soft stop), or a POST path on the public listener", body = String, content_type = "text/plain"),
        (status = 405, description = "Any method but GET or HEAD", body = String, content_type = "text/plain",
            headers(("Allow" = String, description = "GET, HEAD"))),
        (status = 503, description = "CLOSING (HC_LB_SIGNAL=503), CLOSED or FAULT: a failed check", body = String, content_type = "text/plain", 
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1")), example = json!("DRAIN")),
    )
)]
pub fn health_check(app: &App, headers: &HeaderMap, peer: IpAddr) -> Response<Body> {
    let state = app.fsm.lb_check(peer);
    let status = lb_status(state, app.config.lb_signal);
    let body = if status == StatusCode::OK {
        "OK"
    } else {
        "DRAIN"
    };
    reply::health(status, body, state, app.config.naming, headers)
}

/// Kubernetes readiness: 200 in OPEN, DRAINING and CLOSING; 503 in CLOSED and FAULT.
/// The body is the state's name.
#[utoipa::path(
    method(get, head),
    path = "/health",
    tag = "health",
    params(("If-None-Match" = Option<String>, Header, description = "An entity tag from an earlier answer; the current tag gets 304 where the answer would be 200")),
    responses(
        (status = 200, description = "OPEN, DRAINING or CLOSING", body = String, content_type = "text/plain", 
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1")), example = json!("OPEN")),
        (status = 304, description = "Not modified (only where the answer would be 200)",
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1"))),
        (status = 405, description = "Any method but GET or HEAD", body = String, content_type = "text/plain",
            headers(("Allow" = String, description = "GET, HEAD"))),
        (status = 503, description = "CLOSED or FAULT", body = String, content_type = "text/plain", 
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1")), example = json!("CLOSED")),
    )
)]
pub fn health(app: &App, headers: &HeaderMap) -> Response<Body> {
    let state = app.fsm.current();
    let status = if state.readiness_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let naming = app.config.naming;
    reply::health(status, state.name(naming), state, naming, headers)
}

/// Kubernetes liveness: 500 in FAULT, 200 otherwise (no restart while draining).
/// The body is the state's name.
#[utoipa::path(
    method(get, head),
    path = "/live",
    tag = "health",
    params(("If-None-Match" = Option<String>, Header, description = "An entity tag from an earlier answer; the current tag gets 304 where the answer would be 200")),
    responses(
        (status = 200, description = "Any state but FAULT", body = String, content_type = "text/plain", 
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1")), example = json!("DRAINING")),
        (status = 304, description = "Not modified (only where the answer would be 200)",
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1"))),
        (status = 405, description = "Any method but GET or HEAD", body = String, content_type = "text/plain",
            headers(("Allow" = String, description = "GET, HEAD"))),
        (status = 500, description = "FAULT", body = String, content_type = "text/plain", 
            headers(("ETag" = String, description = "The state"), ("Cache-Control" = String, description = "max-age=1")), example = json!("FAULT")),
    )
)]
pub fn live(app: &App, headers: &HeaderMap) -> Response<Body> {
    let state = app.fsm.current();
    let status = if state.live_ok() {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let naming = app.config.naming;
    reply::health(status, state.name(naming), state, naming, headers)
}

/// The drain's progress: `ready` (what `/health_check.html` answers: true = 200),
/// the state, and `progress` (entry into the state, time in it, the last 100
/// transitions oldest first, per-checker refusals, the LB signal).
#[utoipa::path(
    method(get, head),
    path = "/drain/status",
    tag = "drain",
    responses(
        (status = 200, description = "The current state and progress", body = DrainStatus),
        (status = 405, description = "Any method but GET or HEAD", body = String, content_type = "text/plain",
            headers(("Allow" = String, description = "GET, HEAD"))),
    )
)]
pub fn drain_status(app: &App) -> Response<Body> {
    let snap = app.fsm.snapshot();
    let n = app.config.naming;
    let status = DrainStatus {
        ready: lb_status(snap.state, app.config.lb_signal) == StatusCode::OK,
        state: snap.state.name(n).to_string(),
        progress: Progress {
            since: rfc3339_ms(snap.since),
            elapsed_ms: snap.elapsed_ms,
            transitions: snap
                .history
                .into_iter()
                .map(|r| Transition {
                    at: rfc3339_ms(r.at),
                    from: r.from.name(n).to_string(),
                    to: r.to.name(n).to_string(),
                    reason: r.reason,
                })
                .collect(),
            lb_refusals: snap.lb_refusals,
            lb_signal: app.config.lb_signal,
        },
    };
    reply::json(StatusCode::OK, &status)
}

/// The `reason` of a transition: a non-blank `?reason=`, else `POST <path>`.
fn reason(query: &str, action: Action) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k == "reason" && !v.trim().is_empty())
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| format!("POST {}", action.path()))
}

fn transition(app: &App, action: Action, query: &str) -> Response<Body> {
    let n = app.config.naming;
    match app.fsm.apply(action, &reason(query, action)) {
        Ok(from) => {
            let body = TransitionReply {
                state: action.target().name(n).to_string(),
                from: Some(from.name(n).to_string()),
                error: None,
            };
            let mut r = reply::json(StatusCode::OK, &body);
            if action == Action::Reopen && from == State::Closing {
                r.headers_mut()
                    .insert(WARNING, HeaderValue::from_static(REOPEN_WARNING));
            }
            r
        }
        Err(refused) => {
            let body = TransitionReply {
                state: refused.current.name(n).to_string(),
                from: None,
                error: Some(refused.message(n)),
            };
            reply::json(StatusCode::CONFLICT, &body)
        }
    }
}

/// The `Warning` of a reopen from CLOSING.
pub const REOPEN_WARNING: &str = "199 - \"reopened from CLOSING: the LB re-admits this server only after rise (2 passing checks, about +4 s)\"";

/// Drain step 1: OPEN -> DRAINING (both health answers stay 200). Clears `lb_refusals`.
#[utoipa::path(post, path = "/drain", tag = "drain",
    params(("reason" = Option<String>, Query, description = "Kept in the transition history (blank or absent: `POST /drain`; cut at 256 characters)")),
    responses(
        (status = 200, description = "Moved to DRAINING", body = TransitionReply),
        (status = 404, description = "Served on the public listener while HC_ADMIN_ADDR is set", body = String, content_type = "text/plain"),
        (status = 405, description = "Any method but POST", body = String, content_type = "text/plain", headers(("Allow" = String, description = "POST"))),
        (status = 409, description = "hc is not OPEN; `state` names the current state", body = TransitionReply),
    )
)]
pub fn drain(app: &App, query: &str) -> Response<Body> {
    transition(app, Action::Drain, query)
}

/// Drain step 4: DRAINING -> CLOSING (`/health_check.html` refuses from now on).
#[utoipa::path(post, path = "/close-lb", tag = "drain",
    params(("reason" = Option<String>, Query, description = "Kept in the transition history (blank or absent: `POST /close-lb`; cut at 256 characters)")),
    responses(
        (status = 200, description = "Moved to CLOSING", body = TransitionReply),
        (status = 404, description = "Served on the public listener while HC_ADMIN_ADDR is set", body = String, content_type = "text/plain"),
        (status = 405, description = "Any method but POST", body = String, content_type = "text/plain", headers(("Allow" = String, description = "POST"))),
        (status = 409, description = "hc is not DRAINING; `state` names the current state", body = TransitionReply),
    )
)]
pub fn close_lb(app: &App, query: &str) -> Response<Body> {
    transition(app, Action::CloseLb, query)
}

/// Drain step 6: CLOSING -> CLOSED (`/health` answers 503 from now on). Unrecoverable.
#[utoipa::path(post, path = "/close", tag = "drain",
    params(("reason" = Option<String>, Query, description = "Kept in the transition history (blank or absent: `POST /close`; cut at 256 characters)")),
    responses(
        (status = 200, description = "Moved to CLOSED", body = TransitionReply),
        (status = 404, description = "Served on the public listener while HC_ADMIN_ADDR is set", body = String, content_type = "text/plain"),
        (status = 405, description = "Any method but POST", body = String, content_type = "text/plain", headers(("Allow" = String, description = "POST"))),
        (status = 409, description = "hc is not CLOSING; `state` names the current state", body = TransitionReply),
    )
)]
pub fn close(app: &App, query: &str) -> Response<Body> {
    transition(app, Action::Close, query)
}

/// Operator abort: DRAINING or CLOSING -> OPEN. From CLOSING the answer warns
/// that the LB re-admits the server only after `rise` passing checks.
#[utoipa::path(post, path = "/reopen", tag = "drain",
    params(("reason" = Option<String>, Query, description = "Kept in the transition history (blank or absent: `POST /reopen`; cut at 256 characters)")),
    responses(
        (status = 200, description = "Moved to OPEN", body = TransitionReply,
            headers(("Warning" = String, description = "Only when reopened from CLOSING: 199 - \"... the LB re-admits this server only after rise ...\""))),
        (status = 404, description = "Served on the public listener while HC_ADMIN_ADDR is set", body = String, content_type = "text/plain"),
        (status = 405, description = "Any method but POST", body = String, content_type = "text/plain", headers(("Allow" = String, description = "POST"))),
        (status = 409, description = "hc is OPEN, FAULT, or CLOSED (unrecoverable); `state` names the current state", body = TransitionReply),
    )
)]
pub fn reopen(app: &App, query: &str) -> Response<Body> {
    transition(app, Action::Reopen, query)
}

/// Fault injection: any state -> FAULT (`/live` answers 500 from now on).
#[utoipa::path(post, path = "/fault", tag = "drain",
    params(("reason" = Option<String>, Query, description = "Kept in the transition history (blank or absent: `POST /fault`; cut at 256 characters)")),
    responses(
        (status = 200, description = "Moved to FAULT", body = TransitionReply),
        (status = 404, description = "Served on the public listener while HC_ADMIN_ADDR is set", body = String, content_type = "text/plain"),
        (status = 405, description = "Any method but POST", body = String, content_type = "text/plain", headers(("Allow" = String, description = "POST"))),
    )
)]
pub fn fault(app: &App, query: &str) -> Response<Body> {
    transition(app, Action::Fault, query)
}
