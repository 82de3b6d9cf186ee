//! Turns the output lines of the processes a run reads live into timeline
//! events: drain's step lines (`msg=<step>`) and HAProxy's log (server state
//! changes as events, request lines into the request-id map).
//!
//! Parsing and forwarding only; never blocks the process's output pump.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::{EventKind, ServerState, Source};
use crate::observe::haproxy_log::{self, LogLine};
use crate::runtime::LineSink;
use crate::timeline::Timeline;

use super::records::HaproxyRequests;

/// How long HAProxy's request log lines stay in the request-id map.
pub const KEEP_REQUEST_LINES: Duration = Duration::from_secs(10);

/// A sink for drain's (or the script's) output: each `msg=<x>` line becomes
/// a `drain` event `<x>` on the timeline.
pub fn drain_tee(timeline: Timeline, pod: String) -> LineSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    tokio::spawn(async move {
        while let Some((at, line)) = rx.recv().await {
            if let Some((event, detail)) = drain_event(&line) {
                timeline.emit_at(
                    timeline.clock().ms_of(at),
                    Source::Drain,
                    Some(&pod),
                    EventKind::Step(event),
                    detail,
                );
            }
        }
    });
    tx
}

/// `ts=... level=info msg=hc_close_lb step=4 elapsed_ms=...` -> (`hc_close_lb`, `step=4 ...`).
pub fn drain_event(line: &str) -> Option<(String, String)> {
    if line.contains("[done]") {
        let at = line.find("[done]").unwrap_or(0);
        return Some(("done".into(), line[at..].trim_matches('"').to_string()));
    }
    let mut event = None;
    let mut rest = Vec::new();
    for tok in line.split_whitespace() {
        match tok.split_once('=') {
            Some(("msg", v)) => event = Some(v.trim_matches('"').to_string()),
            Some(("ts", _)) => {}
            _ => rest.push(tok),
        }
    }
    event.map(|e| (e, rest.join(" ")))
}

/// A sink for HAProxy's stdout: server state changes go on the timeline at
/// the moment the line was read; request lines fill the request-id map,
/// which keeps only the last [`KEEP_REQUEST_LINES`] of them (a record looks
/// its line up within a second of it: the map must not grow with the run).
/// `source` names the HAProxy on the timeline (`haproxy`, `haproxy2`, ...).
pub fn haproxy_tee(timeline: Timeline, requests: HaproxyRequests, source: Source) -> LineSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    tokio::spawn(async move {
        let mut order: VecDeque<(Instant, String)> = VecDeque::new();
        while let Some((at, line)) = rx.recv().await {
            // In -db mode HAProxy also prints alerts on stderr (`[WARNING] ...`):
            // the same events as its log on stdout.
            if line.starts_with('[') {
                continue;
            }
            match haproxy_log::parse(&line) {
                LogLine::ServerState {
                    server,
                    state,
                    detail,
                } => {
                    let ev = EventKind::Server(ServerState::of_log(&state));
                    timeline.emit_at(
                        timeline.clock().ms_of(at),
                        source.clone(),
                        Some(&server),
                        ev,
                        format!("{state}: {detail}"),
                    );
                }
                LogLine::Request(r) => {
                    if let Some(id) = r.request_id.clone() {
                        if let Ok(mut m) = requests.lock() {
                            while order
                                .front()
                                .is_some_and(|(t, _)| at.duration_since(*t) > KEEP_REQUEST_LINES)
                            {
                                if let Some((_, old)) = order.pop_front() {
                                    m.remove(&old);
                                }
                            }
                            order.push_back((at, id.clone()));
                            m.insert(id, r);
                        }
                    }
                }
                LogLine::Other => {}
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::drain_event;

    #[test]
    fn drain_lines() {
        assert_eq!(
            drain_event(
                "ts=2026-11-25T12:00:00.000Z level=info msg=hc_close_lb step=4 elapsed_ms=61000"
            ),
            Some((
                "hc_close_lb".into(),
                "level=info step=4 elapsed_ms=61000".into()
            ))
        );
        assert_eq!(
            drain_event("ts=x level=info msg=\"[done] preStop completed in 71s\"").map(|x| x.0),
            Some("done".into())
        );
        assert_eq!(drain_event("plain text"), None);
    }
}
