//! The run's proxy log lines by `x-request-id`: HAProxy's request lines and
//! every pod's Envoy access log lines, as the output pumps read them, so the
//! records sink can join each request to its lines (see [`super::evidence`]).
//!
//! Memory stays bounded: a line is kept for [`KEEP_LINES`] after it was read
//! (the sink looks a request up within a second of its end). It never blocks
//! a pump beyond a short mutex hold.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::RunClock;

use super::envoy_log::EnvoyLog;
use super::evidence::{EnvoyLine, Evidence, HaproxyLine};
use super::haproxy_log::RequestLog;

/// How long a line stays in the map after it was read.
pub const KEEP_LINES: Duration = Duration::from_secs(10);

/// Ordered maps, not hash tables: under constant insert and evict a hash
/// table doubles once its tombstones run out (a one-time +16 MiB step 35-40 s
/// into a 2,000 req/s run, measured 2026-12-07); a B-tree's memory follows
/// the lines it holds.
#[derive(Default)]
struct Lines {
    haproxy: BTreeMap<String, HaproxyLine>,
    envoy: BTreeMap<String, EnvoyLine>,
    /// (read at, is_envoy, request id), oldest first.
    order: VecDeque<(Instant, bool, String)>,
}

impl Lines {
    fn evict(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(t, _, _)| now.saturating_duration_since(*t) > KEEP_LINES)
        {
            if let Some((_, envoy, id)) = self.order.pop_front() {
                if envoy {
                    self.envoy.remove(&id);
                } else {
                    self.haproxy.remove(&id);
                }
            }
        }
    }
}

/// A cloneable handle on the run's proxy log lines.
#[derive(Clone)]
pub struct ProxyLogs {
    lines: Arc<Mutex<Lines>>,
    /// HAProxy request lines with a request id read so far.
    haproxy_read: Arc<AtomicU64>,
    /// Maps the proxies' own log times to ms of the run.
    clock: RunClock,
}

impl ProxyLogs {
    pub fn new(clock: RunClock) -> Self {
        ProxyLogs {
            lines: Arc::default(),
            haproxy_read: Arc::default(),
            clock,
        }
    }

    /// Keeps HAProxy's line of a request (`source` names the HAProxy).
    pub fn add_haproxy(&self, at: Instant, source: &str, log: RequestLog) {
        let Some(id) = log.request_id.clone() else {
            return;
        };
        self.haproxy_read.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.lines.lock() {
            g.evict(at);
            g.order.push_back((at, false, id.clone()));
            let line = HaproxyLine {
                source: source.to_string(),
                end_ms: log.end_epoch_ms().map(|t| self.clock.ms_of_epoch(t)),
                log,
            };
            g.haproxy.insert(id, line);
        }
    }

    /// Keeps `pod`'s Envoy access log line of a request.
    pub fn add_envoy(&self, at: Instant, pod: &str, log: EnvoyLog) {
        let Some(id) = log.request_id.clone() else {
            return;
        };
        if let Ok(mut g) = self.lines.lock() {
            g.evict(at);
            g.order.push_back((at, true, id.clone()));
            let line = EnvoyLine {
                pod: pod.to_string(),
                end_ms: log.end_epoch_ms().map(|t| self.clock.ms_of_epoch(t)),
                log,
            };
            g.envoy.insert(id, line);
        }
    }

    /// How many HAProxy request lines (with a request id) were read so far.
    pub fn haproxy_lines_read(&self) -> u64 {
        self.haproxy_read.load(Ordering::Relaxed)
    }

    /// The lines logged for request `id` so far.
    pub fn evidence(&self, id: &str) -> Evidence {
        let Ok(g) = self.lines.lock() else {
            return Evidence::default();
        };
        Evidence {
            haproxy: g.haproxy.get(id).cloned(),
            envoy: g.envoy.get(id).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlog(id: &str) -> RequestLog {
        RequestLog {
            request_id: Some(id.into()),
            server: "pod-a".into(),
            termination: "DH--".into(),
            ..Default::default()
        }
    }

    #[test]
    fn joins_both_lines_and_forgets_old_ones() {
        let logs = ProxyLogs::new(RunClock::new());
        let t0 = Instant::now();
        logs.add_haproxy(t0, "haproxy", hlog("long-0"));
        let env = EnvoyLog {
            request_id: Some("long-0".into()),
            flags: "DC".into(),
            ..Default::default()
        };
        logs.add_envoy(t0, "pod-a", env);
        let e = logs.evidence("long-0");
        assert_eq!(e.haproxy.unwrap().log.termination, "DH--");
        assert_eq!(e.envoy.unwrap().pod, "pod-a");
        // A line read KEEP_LINES later evicts both.
        logs.add_haproxy(
            t0 + KEEP_LINES + Duration::from_millis(1),
            "haproxy",
            hlog("x"),
        );
        let e = logs.evidence("long-0");
        assert!(e.haproxy.is_none() && e.envoy.is_none());
        assert!(logs.evidence("x").haproxy.is_some());
        // Both HAProxy lines were counted, evicted or not.
        assert_eq!(logs.haproxy_lines_read(), 2);
    }

    #[test]
    fn a_line_without_request_id_is_not_kept() {
        let logs = ProxyLogs::new(RunClock::new());
        let mut l = hlog("y");
        l.request_id = None;
        logs.add_haproxy(Instant::now(), "haproxy", l);
        assert!(logs.lines.lock().unwrap().order.is_empty());
    }
}
