//! Response building blocks shared by the endpoints: plain-text and JSON
//! answers, the health answers' caching headers (`Cache-Control`, `ETag`) and
//! the `If-None-Match` comparison.
//!
//! Pure functions of their inputs; they must never look at the FSM.

use bytes::Bytes;
use gate::{Naming, State};
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;

pub type Body = Full<Bytes>;

pub const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
pub const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub const HEALTH_CACHE: HeaderValue = HeaderValue::from_static("max-age=1");
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// A plain-text answer.
pub fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, TEXT);
    r
}

/// A JSON answer (never cached).
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    // The gate types serialize infallibly (strings, numbers, maps with string keys).
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    r
}

pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// The strong entity tag of a state, e.g. `"OPEN"` (quotes included).
pub fn etag(state: State, naming: Naming) -> &'static str {
    match (naming, state) {
        (Naming::Gate, State::Open) => "\"OPEN\"",
        (Naming::Gate, State::Draining) => "\"DRAINING\"",
        (Naming::Gate, State::Closing) => "\"CLOSING\"",
        (Naming::Gate, State::Closed) => "\"CLOSED\"",
        (Naming::Gate, State::Fault) => "\"FAULT\"",
        (Naming::Legacy, State::Open) => "\"READY\"",
        (Naming::Legacy, State::Draining) => "\"DRAINING\"",
        (Naming::Legacy, State::Closing) => "\"DRAINED_WAIT_LB\"",
        (Naming::Legacy, State::Closed) => "\"TERMINATING\"",
        (Naming::Legacy, State::Fault) => "\"FAILED\"",
    }
}

/// `If-None-Match` (RFC 9110 §13.1.2, weak comparison) against `tag`.
pub fn none_match_hits(headers: &HeaderMap, tag: &str) -> bool {
    headers.get_all(IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
        })
    })
}

/// A health answer: `status` with `body`, or a 304 when the answer is a 200
/// and the client already holds the current tag. Never a 304 for anything else.
pub fn health(
    status: StatusCode,
    body: &'static str,
    state: State,
    naming: Naming,
    req_headers: &HeaderMap,
) -> Response<Body> {
    let tag = etag(state, naming);
    let mut r = if status == StatusCode::OK && none_match_hits(req_headers, tag) {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        text(status, body)
    };
    r.headers_mut().insert(CACHE_CONTROL, HEALTH_CACHE);
    r.headers_mut().insert(ETAG, HeaderValue::from_static(tag));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("\"OPEN\"", true)]
    #[case("W/\"OPEN\"", true)]
    #[case("\"CLOSED\", \"OPEN\"", true)]
    #[case("*", true)]
    #[case("\"CLOSED\"", false)]
    #[case("OPEN", false)]
    #[case("", false)]
    fn if_none_match(#[case] header: &str, #[case] hit: bool) {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_str(header).unwrap());
        assert_eq!(none_match_hits(&h, "\"OPEN\""), hit);
    }

    #[test]
    fn etags_differ_per_state() {
        for n in [Naming::Gate, Naming::Legacy] {
            let mut tags: Vec<_> = State::ALL.iter().map(|s| etag(*s, n)).collect();
            tags.dedup();
            assert_eq!(tags.len(), 5);
            for s in State::ALL {
                assert_eq!(etag(s, n), format!("\"{}\"", s.name(n)));
            }
        }
    }

    #[test]
    fn never_304_unless_200() {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        let r = health(
            StatusCode::SERVICE_UNAVAILABLE,
            "DRAIN",
            State::Closed,
            Naming::Gate,
            &h,
        );
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let r = health(StatusCode::OK, "OK", State::Open, Naming::Gate, &h);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[ETAG], "\"OPEN\"");
    }
}
