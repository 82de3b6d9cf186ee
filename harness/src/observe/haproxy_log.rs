//! Reads HAProxy's log lines (stdout, `log stdout format iso`: each line
//! starts with HAProxy's own ISO 8601 time, microseconds, when it wrote it):
//! server state changes (`Server be_app/pod-a is DOWN, reason: ...`) and the
//! request lines of the harness's keyed `log-format` (haproxy/haproxy.cfg.tmpl)
//! with the captured `x-request-id`, status, termination state, server,
//! timers and accept time.
//!
//! Parsing only; never blocks and never panics on a line it does not know
//! (proptest below feeds it garbage).

use chrono::DateTime;

/// What one HAProxy log line says.
#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    /// `Server <backend>/<server> is <state>...`.
    ServerState {
        /// HAProxy's own time of the line (Unix epoch ms), from the ISO prefix.
        logged_epoch_ms: Option<f64>,
        server: String,
        state: String,
        detail: String,
    },
    /// A request line of the harness's keyed `log-format`.
    Request(RequestLog),
    Other,
}

/// HAProxy's timers of one request (ms); `None` where HAProxy wrote `-1`
/// (that phase never completed, e.g. `Tr` when no response head came).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timers {
    /// `%TR`: time to receive the full request head.
    pub tr_req: Option<u64>,
    /// `%Tw`: time waiting in queues.
    pub tw: Option<u64>,
    /// `%Tc`: time to connect to the server.
    pub tc: Option<u64>,
    /// `%Tr`: the server's response time (to the response head).
    pub tr: Option<u64>,
    /// `%Ta`: the request's whole active time.
    pub ta: Option<u64>,
    /// `%Tt`: the session's total time.
    pub tt: Option<u64>,
}

/// One request line of HAProxy's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestLog {
    pub request_id: Option<String>,
    pub backend: String,
    /// `pod-a`, or `<NOSRV>` when no server was chosen.
    pub server: String,
    pub status: Option<u16>,
    /// The 4-char termination state, e.g. `----`, `SH--`, `DH--`, `SC--`.
    pub termination: String,
    pub timers: Timers,
    pub retries: Option<u32>,
    /// `%Ts.%ms`: when HAProxy accepted the request (Unix epoch ms).
    pub accept_epoch_ms: Option<f64>,
    /// The ISO prefix: when HAProxy wrote the line (the request's end).
    pub logged_epoch_ms: Option<f64>,
}

impl RequestLog {
    /// When HAProxy ended the request (Unix epoch ms): its log time, else
    /// accept + `Ta`.
    pub fn end_epoch_ms(&self) -> Option<f64> {
        self.logged_epoch_ms.or_else(|| {
            self.accept_epoch_ms
                .zip(self.timers.ta)
                .map(|(a, ta)| a + ta as f64)
        })
    }

    /// The server the request went to, if one was chosen (`<NOSRV>` is none).
    pub fn pod(&self) -> Option<&str> {
        Some(self.server.as_str()).filter(|s| !s.is_empty() && !s.starts_with('<'))
    }
}

/// Splits HAProxy's ISO 8601 prefix off a line: (its time in epoch ms, rest).
pub fn split_stamp(line: &str) -> (Option<f64>, &str) {
    let line = line.trim();
    let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
    match DateTime::parse_from_rfc3339(first) {
        Ok(t) => (
            Some(t.timestamp_micros() as f64 / 1000.0),
            rest.trim_start(),
        ),
        Err(_) => (None, line),
    }
}

pub fn parse(line: &str) -> LogLine {
    let (logged_epoch_ms, line) = split_stamp(line);
    if let Some(pos) = line.find("Server ") {
        let rest = &line[pos + 7..];
        if let Some((name, after)) = rest.split_once(" is ") {
            if let Some((_, server)) = name.split_once('/') {
                let (state, detail) = match after.split_once(", ") {
                    Some((s, d)) => (s, d),
                    None => (after.trim_end_matches('.'), ""),
                };
                return LogLine::ServerState {
                    logged_epoch_ms,
                    server: server.to_string(),
                    state: state.trim_end_matches('.').to_string(),
                    detail: detail.chars().take(160).collect(),
                };
            }
        }
    }
    if line.starts_with("http ") && line.contains(" srv=") {
        let mut r = parse_keyed(line);
        r.logged_epoch_ms = logged_epoch_ms;
        return LogLine::Request(r);
    }
    LogLine::Other
}

/// A timer as HAProxy writes it: `-1` (never reached) is `None`.
fn timer(v: &str) -> Option<u64> {
    v.parse::<u64>().ok()
}

/// The harness's own `log-format` (haproxy/haproxy.cfg.tmpl):
/// `http rid=<id> srv=<server> status=<code> tsc=<state> ... be=<backend> ...`.
fn parse_keyed(line: &str) -> RequestLog {
    let mut r = RequestLog::default();
    for tok in line.split_whitespace() {
        let Some((k, v)) = tok.split_once('=') else {
            continue;
        };
        match k {
            "rid" if v != "-" && !v.is_empty() => r.request_id = Some(v.to_string()),
            "srv" => r.server = v.to_string(),
            "status" => r.status = v.parse().ok(),
            "tsc" => r.termination = v.to_string(),
            "be" => r.backend = v.to_string(),
            "TR" => r.timers.tr_req = timer(v),
            "Tw" => r.timers.tw = timer(v),
            "Tc" => r.timers.tc = timer(v),
            "Tr" => r.timers.tr = timer(v),
            "Ta" => r.timers.ta = timer(v),
            "Tt" => r.timers.tt = timer(v),
            "retries" => r.retries = v.trim_start_matches('+').parse().ok(),
            "accept" => r.accept_epoch_ms = v.parse::<f64>().ok().map(|s| s * 1000.0),
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured from a real s1 `current` run (HAProxy 2.6.12, local runtime).
    const DOWN: &str = "2026-12-03T10:00:17.854562+00:00 Server be_app/pod-a is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 1 active and 0 backup servers left. 1 sessions active, 0 requeued, 0 remaining in queue.";

    #[test]
    fn server_down_line_with_haproxys_time() {
        match parse(DOWN) {
            LogLine::ServerState {
                server,
                state,
                logged_epoch_ms,
                ..
            } => {
                assert_eq!(server, "pod-a");
                assert_eq!(state, "DOWN");
                assert_eq!(
                    crate::model::ServerState::of_log(&state),
                    crate::model::ServerState::Down
                );
                assert_eq!(logged_epoch_ms, Some(1_796_292_017_854.562));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keyed_request_line() {
        let l = "2026-12-03T10:00:41.000100+00:00 http rid=long-0 srv=pod-a status=502 tsc=SH-- bytes=0 TR=0 Tw=0 Tc=1 Tr=-1 Ta=24000 Tt=24000 retries=0 conn=1/1/0/0 queue=0/0 client=127.0.0.1:4000 be=be_app method=GET uri=/sleep accept=1796292017.854";
        match parse(l) {
            LogLine::Request(r) => {
                assert_eq!(r.pod(), Some("pod-a"));
                assert_eq!(r.status, Some(502));
                assert_eq!(r.termination, "SH--");
                assert_eq!(r.backend, "be_app");
                assert_eq!(r.request_id.as_deref(), Some("long-0"));
                assert_eq!(r.timers.tc, Some(1));
                assert_eq!(r.timers.tr, None, "Tr=-1: no response head");
                assert_eq!(r.timers.ta, Some(24_000));
                assert_eq!(r.retries, Some(0));
                assert_eq!(r.accept_epoch_ms, Some(1_796_292_017_854.0));
                assert_eq!(r.end_epoch_ms(), Some(1_796_292_041_000.1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_without_the_iso_prefix_ends_at_accept_plus_ta() {
        let l = "http rid=- srv=<NOSRV> status=503 tsc=SC-- TR=0 Tw=0 Tc=-1 Tr=-1 Ta=2 Tt=2 be=be_app accept=1.5";
        match parse(l) {
            LogLine::Request(r) => {
                assert_eq!(r.request_id, None);
                assert_eq!(r.pod(), None);
                assert_eq!(r.end_epoch_ms(), Some(1_502.0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_other() {
        assert_eq!(parse(""), LogLine::Other);
        assert_eq!(
            parse("[NOTICE] (1) : haproxy version is 2.6"),
            LogLine::Other
        );
        assert_eq!(parse("2026-12-03T10:00:17Z"), LogLine::Other);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_mangled_keyed_lines(
            rid in "[ -~]{0,20}", t in "[-0-9.e+]{0,12}", tsc in "\\PC{0,6}",
        ) {
            let l = format!("2026-12-03T10:00:17.5+00:00 http rid={rid} srv=pod-a status={t} tsc={tsc} Ta={t} accept={t} Server x/ is ");
            let _ = parse(&l);
        }
    }
}
