//! Turns what one request saw into its outcome and phase (DESIGN §3.4, §7).
//!
//! Pure: no I/O, no clock. The client only gathers the facts ([`Seen`]:
//! where the exchange stopped, the io error kind in its error chain, the
//! status, bytes and lines); every rule lives here. Never reports `ok` for
//! an answer that is not a complete 2xx with the promised body.
//!
//! The rules, first match wins:
//! - a response head with a non-2xx status: `http_5xx` (5xx) or
//!   `http_status` (any other), with its origin, whatever came after;
//! - the exchange broke: by the io error in the chain, `ConnectionReset`,
//!   `ConnectionAborted` or `BrokenPipe` is `reset` (a TCP RST);
//!   `UnexpectedEof`, or the client's "closed before message completed" with no
//!   io error, is `closed` (a clean FIN); `ConnectionRefused` is `refused`;
//!   `TimedOut` is `timeout`. Anything else (a malformed answer, an unusual
//!   socket error) is `refused` while connecting and `reset` after: the
//!   connection broke without a clean close; its text is in `error`;
//! - the deadline or the run's end came first: `timeout`;
//! - the body ended cleanly with fewer bytes or lines than promised:
//!   `truncated`; else `ok`.
//!
//! Every socket-level outcome carries the phase it happened in; `ok` and
//! HTTP answers carry none.

use std::io;

use crate::model::{Origin, Outcome, Phase};

/// What a complete answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A plain body of at least `min_bytes` bytes (`slept Ns`, `ok`; 0 = any).
    Body { min_bytes: u64 },
    /// A `/stream`: at least `lines` `chunk <i> @` lines, then the end of the
    /// chunked body.
    Stream { lines: u32 },
}

/// What the client found in the error chain when the exchange broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// An `std::io::Error` of this kind.
    Io(io::ErrorKind),
    /// The peer closed before the message completed and no io error was
    /// raised (the client read EOF mid-response): a clean FIN.
    Eof,
    /// Any other error, with no io error in the chain (a malformed answer,
    /// an invalid request).
    Other,
}

/// How the exchange stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The whole body was read (the body ended cleanly).
    Done,
    /// The connect, the request or the response broke.
    Broke(Break),
    /// The request's deadline passed first.
    Deadline,
    /// The run was cancelled first.
    Cancelled,
}

/// The facts of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub stop: Stop,
    /// Where the exchange was when it stopped.
    pub phase: Phase,
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
    pub phase: Option<Phase>,
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

/// The outcome of a broken exchange, by what the socket said.
pub fn outcome_of_break(b: Break, phase: Phase) -> Outcome {
    match b {
        Break::Io(
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe,
        ) => Outcome::Reset,
        Break::Io(io::ErrorKind::UnexpectedEof) | Break::Eof => Outcome::Closed,
        Break::Io(io::ErrorKind::ConnectionRefused) => Outcome::Refused,
        Break::Io(io::ErrorKind::TimedOut) => Outcome::Timeout,
        Break::Io(_) | Break::Other if phase == Phase::Connect => Outcome::Refused,
        Break::Io(_) | Break::Other => Outcome::Reset,
    }
}

pub fn classify(expect: Expect, seen: &Seen) -> Verdict {
    let error = if seen.stop == Stop::Cancelled {
        Some(CANCELLED.to_string())
    } else {
        seen.error.clone()
    };
    if let Some(status) = seen.status.filter(|s| !(200..300).contains(s)) {
        let outcome = if status >= 500 {
            Outcome::Http5xx
        } else {
            Outcome::HttpStatus
        };
        let text = match error {
            Some(e) => format!("status {status}; {e}"),
            None => format!("status {status}"),
        };
        return Verdict {
            outcome,
            phase: None,
            origin: Some(origin_of(seen)),
            error: Some(text),
        };
    }
    let socket = |outcome: Outcome, fallback: String| Verdict {
        outcome,
        phase: Some(seen.phase),
        origin: None,
        error: Some(error.clone().unwrap_or(fallback)),
    };
    let phase = seen.phase;
    match (seen.stop, expect) {
        (Stop::Broke(b), _) => socket(
            outcome_of_break(b, phase),
            format!("connection broke in phase {phase}"),
        ),
        (Stop::Deadline | Stop::Cancelled, _) => socket(
            Outcome::Timeout,
            format!("not complete by the deadline (phase {phase})"),
        ),
        (Stop::Done, Expect::Stream { lines }) if seen.lines < lines => socket(
            Outcome::Truncated,
            format!("stream ended after {} of {lines} lines", seen.lines),
        ),
        (Stop::Done, Expect::Body { min_bytes }) if seen.bytes < min_bytes => socket(
            Outcome::Truncated,
            format!(
                "body of {} bytes, expected at least {min_bytes}",
                seen.bytes
            ),
        ),
        (Stop::Done, _) => Verdict {
            outcome: Outcome::Ok,
            phase: None,
            origin: None,
            error: None,
        },
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
