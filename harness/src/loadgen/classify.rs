//! Turns what one request saw into its outcome (DESIGN §3.4, §7).
//!
//! Pure: no I/O, no clock. Never reports `ok` for an answer that is not a
//! complete 2xx with the promised body.
//!
//! Non-2xx answers below 500 (3xx/4xx: our paths never produce them, so one
//! means a misrouted or rejected request) are recorded as `http_5xx` with
//! their real `status`, their origin and the error `unexpected status N`:
//! a disruption, never `ok`, so a wrong path cannot pass a scenario.

use std::io;

use crate::model::{Origin, Outcome};

/// What a complete answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A plain body of at least `min_bytes` bytes (`slept Ns`, `ok`; 0 = any).
    Body { min_bytes: u64 },
    /// A `/stream`: at least `lines` `chunk <i> @` lines, then the end of the
    /// chunked body.
    Stream { lines: u32 },
}

/// How the exchange stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The whole body was read (the body ended cleanly).
    Done,
    /// The TCP connect failed with this error kind.
    ConnectFailed(io::ErrorKind),
    /// An I/O or protocol error before or during the response (RST, EOF,
    /// "connection closed before message completed", incomplete body).
    Failed,
    /// The request's deadline passed first.
    Deadline,
    /// The run was cancelled first.
    Cancelled,
}

/// The facts of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub stop: Stop,
    /// The status of the response head, when one arrived.
    pub status: Option<u16>,
    /// The response carried `x-served-by` (the app made it).
    pub served_by: bool,
    /// The response carried `server: envoy` (Envoy's own local reply).
    pub server_envoy: bool,
    pub bytes: u64,
    /// Complete `chunk <i> @` lines received.
    pub lines: u32,
    /// The error text seen (connect, I/O or protocol error).
    pub error: Option<String>,
}

/// The outcome of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub origin: Option<Origin>,
    pub error: Option<String>,
}

/// The error text of a cancelled request.
pub const CANCELLED: &str = "cancelled";

/// Who made an answer: the app when it carries `x-served-by`, else Envoy
/// when it says `server: envoy`, else HAProxy.
pub fn origin_of(seen: &Seen) -> Origin {
    if seen.served_by {
        Origin::App
    } else if seen.server_envoy {
        Origin::Envoy
    } else {
        Origin::Haproxy
    }
}

pub fn classify(expect: Expect, seen: &Seen) -> Verdict {
    // Every disruption carries an error text; `ok` never does.
    let verdict = |outcome: Outcome, origin, error: Option<String>| Verdict {
        outcome,
        origin,
        error: if seen.stop == Stop::Cancelled {
            Some(CANCELLED.to_string())
        } else if outcome == Outcome::Ok {
            None
        } else {
            error.or_else(|| Some(outcome.as_str().to_string()))
        },
    };
    let error = seen.error.clone();
    if let Stop::ConnectFailed(kind) = seen.stop {
        let outcome = match kind {
            io::ErrorKind::ConnectionRefused => Outcome::Refused,
            io::ErrorKind::TimedOut => Outcome::Timeout,
            _ => Outcome::Reset,
        };
        return verdict(outcome, None, error);
    }
    let Some(status) = seen.status else {
        // Nothing answered: the deadline (or the run's end) came first, or the
        // connection was reset / closed before the response head.
        return match seen.stop {
            Stop::Deadline | Stop::Cancelled => verdict(
                Outcome::Timeout,
                None,
                error.or_else(|| Some("no response before the deadline".into())),
            ),
            _ => verdict(
                Outcome::Reset,
                None,
                error.or_else(|| Some("no response".into())),
            ),
        };
    };
    if !(200..300).contains(&status) {
        let error = if status >= 500 {
            error.or_else(|| Some(format!("status {status}")))
        } else {
            Some(match error {
                Some(e) => format!("unexpected status {status}; {e}"),
                None => format!("unexpected status {status}"),
            })
        };
        return verdict(Outcome::Http5xx, Some(origin_of(seen)), error);
    }
    match (seen.stop, expect) {
        (Stop::Done, Expect::Stream { lines }) if seen.lines < lines => verdict(
            Outcome::Truncated,
            None,
            Some(format!(
                "stream ended after {} of {lines} lines",
                seen.lines
            )),
        ),
        (Stop::Done, Expect::Body { min_bytes }) if seen.bytes < min_bytes => verdict(
            Outcome::Truncated,
            None,
            Some(format!(
                "body of {} bytes, expected at least {min_bytes}",
                seen.bytes
            )),
        ),
        (Stop::Done, _) => verdict(Outcome::Ok, None, None),
        (Stop::Failed, Expect::Stream { .. }) => verdict(Outcome::Truncated, None, error),
        (Stop::Failed, Expect::Body { .. }) | (Stop::ConnectFailed(_), _) => {
            verdict(Outcome::Reset, None, error)
        }
        (Stop::Deadline, _) => verdict(
            Outcome::Timeout,
            None,
            error.or_else(|| Some("response not complete by the deadline".into())),
        ),
        (Stop::Cancelled, _) => verdict(Outcome::Truncated, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const BODY: Expect = Expect::Body { min_bytes: 8 };
    const STREAM: Expect = Expect::Stream { lines: 3 };

    fn seen(stop: Stop, status: Option<u16>) -> Seen {
        Seen {
            stop,
            status,
            served_by: false,
            server_envoy: false,
            bytes: 8,
            lines: 3,
            error: None,
        }
    }
    fn app(mut s: Seen) -> Seen {
        s.served_by = true;
        s
    }
    fn envoy(mut s: Seen) -> Seen {
        s.server_envoy = true;
        s
    }
    fn lines(mut s: Seen, n: u32) -> Seen {
        s.lines = n;
        s
    }
    fn bytes(mut s: Seen, n: u64) -> Seen {
        s.bytes = n;
        s
    }

    #[rstest]
    #[case::ok_body(BODY, app(seen(Stop::Done, Some(200))), Outcome::Ok, None)]
    #[case::ok_stream(STREAM, app(seen(Stop::Done, Some(200))), Outcome::Ok, None)]
    #[case::refused(
        BODY,
        seen(Stop::ConnectFailed(io::ErrorKind::ConnectionRefused), None),
        Outcome::Refused,
        None
    )]
    #[case::connect_timeout(
        BODY,
        seen(Stop::ConnectFailed(io::ErrorKind::TimedOut), None),
        Outcome::Timeout,
        None
    )]
    #[case::connect_reset(
        BODY,
        seen(Stop::ConnectFailed(io::ErrorKind::ConnectionReset), None),
        Outcome::Reset,
        None
    )]
    #[case::rst_before_head(BODY, seen(Stop::Failed, None), Outcome::Reset, None)]
    #[case::eof_before_head_stream(STREAM, seen(Stop::Failed, None), Outcome::Reset, None)]
    #[case::body_cut(BODY, app(seen(Stop::Failed, Some(200))), Outcome::Reset, None)]
    #[case::stream_cut(STREAM, app(seen(Stop::Failed, Some(200))), Outcome::Truncated, None)]
    #[case::stream_few_lines(
        STREAM,
        lines(app(seen(Stop::Done, Some(200))), 2),
        Outcome::Truncated,
        None
    )]
    #[case::short_body(
        BODY,
        bytes(app(seen(Stop::Done, Some(200))), 5),
        Outcome::Truncated,
        None
    )]
    #[case::no_head_by_deadline(BODY, seen(Stop::Deadline, None), Outcome::Timeout, None)]
    #[case::stream_stalled(STREAM, app(seen(Stop::Deadline, Some(200))), Outcome::Timeout, None)]
    #[case::haproxy_502(
        BODY,
        seen(Stop::Done, Some(502)),
        Outcome::Http5xx,
        Some(Origin::Haproxy)
    )]
    #[case::envoy_503(
        BODY,
        envoy(seen(Stop::Done, Some(503))),
        Outcome::Http5xx,
        Some(Origin::Envoy)
    )]
    #[case::app_500(
        BODY,
        envoy(app(seen(Stop::Done, Some(500)))),
        Outcome::Http5xx,
        Some(Origin::App)
    )]
    #[case::haproxy_504_cut(
        STREAM,
        seen(Stop::Failed, Some(504)),
        Outcome::Http5xx,
        Some(Origin::Haproxy)
    )]
    #[case::unexpected_404(
        BODY,
        app(seen(Stop::Done, Some(404))),
        Outcome::Http5xx,
        Some(Origin::App)
    )]
    #[case::cancelled_waiting(BODY, seen(Stop::Cancelled, None), Outcome::Timeout, None)]
    #[case::cancelled_mid_stream(
        STREAM,
        app(seen(Stop::Cancelled, Some(200))),
        Outcome::Truncated,
        None
    )]
    fn classifies(
        #[case] expect: Expect,
        #[case] seen: Seen,
        #[case] outcome: Outcome,
        #[case] origin: Option<Origin>,
    ) {
        let v = classify(expect, &seen);
        assert_eq!((v.outcome, v.origin), (outcome, origin), "{seen:?}");
        assert_eq!(v.outcome == Outcome::Ok, v.error.is_none(), "{v:?}");
        if seen.stop == Stop::Cancelled {
            assert_eq!(v.error.as_deref(), Some(CANCELLED));
        }
    }

    #[test]
    fn keeps_the_error_text_seen() {
        let mut s = seen(Stop::Failed, None);
        s.error = Some("connection closed before message completed".into());
        let v = classify(BODY, &s);
        assert_eq!(v.error, s.error);
        let v = classify(BODY, &app(seen(Stop::Done, Some(404))));
        assert_eq!(v.error.as_deref(), Some("unexpected status 404"));
    }
}
