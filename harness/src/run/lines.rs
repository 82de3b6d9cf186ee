//! Turns the output lines of the processes a run reads live into timeline
//! events: drain's step lines (`msg=<step>`) and HAProxy's log (server state
//! changes as events, request lines into the run's proxy logs), and Envoy's
//! access log lines into the proxy logs.
//!
//! Parsing and forwarding only; never blocks the process's output pump.

use std::time::Instant;

use crate::model::{EventKind, RunClock, ServerState, Source};
use crate::observe::haproxy_log::{self, LogLine};
use crate::observe::{envoy_log, proxy_logs::ProxyLogs};
use crate::runtime::{batch::LineBatch, LineSink};
use crate::timeline::Timeline;

/// A sink for drain's (or the script's) output: each `msg=<x>` line becomes
/// a `drain` event `<x>` on the timeline.
pub fn drain_tee(timeline: Timeline, pod: String) -> LineSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LineBatch>();
    tokio::spawn(async move {
        while let Some(LineBatch { at, lines }) = rx.recv().await {
            for (event, detail) in lines.iter().filter_map(|l| drain_event(l)) {
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
/// HAProxy's own time of the line (when it has one, else when it was read);
/// request lines go to the run's proxy logs by request id.
/// `source` names the HAProxy on the timeline (`haproxy`, `haproxy2`, ...).
pub fn haproxy_tee(timeline: Timeline, logs: ProxyLogs, source: Source) -> LineSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LineBatch>();
    tokio::spawn(async move {
        let clock = timeline.clock();
        while let Some(LineBatch { at, lines }) = rx.recv().await {
            for line in &lines {
                haproxy_line(&timeline, &logs, &source, clock, at, line);
            }
        }
    });
    tx
}

/// One line of HAProxy's output (see [`haproxy_tee`]).
fn haproxy_line(
    timeline: &Timeline,
    logs: &ProxyLogs,
    source: &Source,
    clock: RunClock,
    at: Instant,
    line: &str,
) {
    // In -db mode HAProxy also prints alerts on stderr (`[WARNING] ...`):
    // the same events as its log on stdout.
    if line.starts_with('[') {
        return;
    }
    match haproxy_log::parse(line) {
        LogLine::ServerState {
            logged_epoch_ms,
            server,
            state,
            detail,
        } => {
            let t_ms = logged_epoch_ms.map_or(clock.ms_of(at), |t| clock.ms_of_epoch(t));
            let ev = EventKind::Server(ServerState::of_log(&state));
            timeline.emit_at(
                t_ms,
                source.clone(),
                Some(&server),
                ev,
                format!("{state}: {detail}"),
            );
        }
        LogLine::Request(r) => logs.add_haproxy(at, &source.as_str(), r),
        LogLine::Other => {}
    }
}

/// A sink for `pod`'s Envoy output: access log lines go to the run's proxy
/// logs by request id; anything else Envoy prints is left to its log file.
pub fn envoy_tee(logs: ProxyLogs, pod: String) -> LineSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LineBatch>();
    tokio::spawn(async move {
        while let Some(LineBatch { at, lines }) = rx.recv().await {
            for l in lines.iter().filter_map(|l| envoy_log::parse(l)) {
                logs.add_envoy(at, &pod, l);
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
