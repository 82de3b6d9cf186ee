//! The sink of a run's requests: every 20 ms it takes the requests that
//! finished, writes them to requests.csv and flushes it (so a killed run
//! keeps all but the last 20 ms), counts them, and feeds the latency
//! histograms. A disruption, and a request whose pod is unknown
//! (HAProxy answered it itself), waits briefly for the proxies' log lines of
//! it (HAProxy's and Envoy's, by x-request-id): the disruption's row gets
//! their `haproxy_term` and `envoy_flags`, its attribution their evidence.
//!
//! Memory stays bounded: only disruptions are kept (for attribution).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{error::TryRecvError, UnboundedReceiver};

use crate::artifacts::{ArtifactsError, RequestsWriter, Tally};
use crate::model::{Origin, RequestRecord};
use crate::observe::evidence::Evidence;
use crate::observe::proxy_logs::ProxyLogs;

/// How long a disruption (or a request without a pod) waits for the
/// proxies' log lines: HAProxy writes its line at the request's end, Envoy
/// flushes its access log every 0.1 s.
const LINES_WAIT: Duration = Duration::from_millis(700);

/// How often the sink takes what the load sent and writes it out.
const DRAIN_EVERY: Duration = Duration::from_millis(20);

/// What the sink hands back when the run ends.
pub struct RecordsResult {
    pub tally: Tally,
    pub disruptions: Vec<RequestRecord>,
    /// Long requests (kind `long`), all of them: few by construction.
    pub long: Vec<RequestRecord>,
    /// What the proxies logged of each disruption, by request id.
    pub evidence: HashMap<String, Evidence>,
    pub write_error: Option<String>,
    /// HAProxy request lines the harness read during the load.
    pub haproxy_lines: u64,
}

/// Consumes records until the channel closes.
pub async fn sink(
    run_dir: &Path,
    mut rx: UnboundedReceiver<RequestRecord>,
    logs: ProxyLogs,
) -> Result<RecordsResult, ArtifactsError> {
    let mut writer = RequestsWriter::create(run_dir)?;
    let mut res = RecordsResult {
        tally: Tally::new(),
        disruptions: Vec::new(),
        long: Vec::new(),
        evidence: HashMap::new(),
        write_error: None,
        haproxy_lines: 0,
    };
    let mut pending: VecDeque<(Instant, RequestRecord)> = VecDeque::new();
    // Woken per tick, not per record: a sender does not wake a sink that is
    // not waiting on the channel. Rows reach the file once per tick.
    let mut tick = tokio::time::interval(DRAIN_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    while open {
        tick.tick().await;
        loop {
            match rx.try_recv() {
                Ok(rec) if rec.pod.is_none() || rec.outcome.is_disruption() => {
                    pending.push_back((Instant::now(), rec));
                }
                Ok(rec) => accept(rec, &logs, &mut writer, &mut res),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        while let Some((t, _)) = pending.front() {
            let due = *t + LINES_WAIT;
            if Instant::now() < due {
                if open {
                    break;
                }
                // The load ended: the last ones still wait for their lines.
                tokio::time::sleep_until(due.into()).await;
            }
            let (_, rec) = pending.pop_front().expect("front exists");
            accept(rec, &logs, &mut writer, &mut res);
        }
        flush(&mut writer, &mut res);
    }
    if let Err(e) = writer.finish() {
        res.write_error.get_or_insert(e.to_string());
    }
    res.haproxy_lines = logs.haproxy_lines_read();
    Ok(res)
}

fn flush(writer: &mut RequestsWriter, res: &mut RecordsResult) {
    if let Err(e) = writer.flush() {
        res.write_error.get_or_insert(e.to_string());
    }
}

fn accept(
    mut rec: RequestRecord,
    logs: &ProxyLogs,
    writer: &mut RequestsWriter,
    res: &mut RecordsResult,
) {
    let evidence = enrich(&mut rec, logs);
    if let Err(e) = writer.write(&rec) {
        res.write_error.get_or_insert(e.to_string());
    }
    res.tally.record(&rec);
    if rec.kind == crate::model::RequestKind::Long {
        res.long.push(rec.clone());
    }
    if rec.outcome.is_disruption() {
        res.evidence.insert(rec.id.clone(), evidence);
        res.disruptions.push(rec);
    }
}

/// Joins `rec` to the proxies' lines of it: fills the pod from HAProxy's
/// (a response HAProxy made itself has no `x-served-by`), else from the
/// pod whose Envoy logged it (HAProxy drops log lines when its stdout is
/// full: seen under docker), and for a disruption the evidence columns (and
/// origin `haproxy` for a 5xx of unknown origin HAProxy logged). Returns
/// what was found.
pub fn enrich(rec: &mut RequestRecord, logs: &ProxyLogs) -> Evidence {
    if rec.pod.is_some() && !rec.outcome.is_disruption() {
        // Nothing to fill: an ok request's pod is known.
        return Evidence::default();
    }
    let ev = logs.evidence(&rec.id);
    if rec.pod.is_none() {
        let by_haproxy = ev.haproxy.as_ref().and_then(|h| h.log.pod());
        let by_envoy = ev.envoy.as_ref().map(|e| e.pod.as_str());
        rec.pod = by_haproxy.or(by_envoy).map(str::to_string);
    }
    if rec.outcome.is_disruption() {
        ev.fill(rec);
        if rec.origin.is_none() && ev.haproxy.is_some() && rec.status.is_some_and(|s| s >= 500) {
            rec.origin = Some(Origin::Haproxy);
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, RunClock};
    use crate::observe::envoy_log::EnvoyLog;
    use crate::observe::haproxy_log::RequestLog;
    use rstest::rstest;

    fn rec(id: &str, pod: Option<&str>, outcome: Outcome, status: Option<u16>) -> RequestRecord {
        let mut r = RequestRecord::for_test(id, outcome);
        r.pod = pod.map(Into::into);
        r.status = status;
        r
    }

    fn logs(haproxy: Option<&str>, envoy: Option<&str>) -> ProxyLogs {
        let logs = ProxyLogs::new(RunClock::new());
        let now = Instant::now();
        if let Some(server) = haproxy {
            let l = RequestLog {
                request_id: Some("r1".into()),
                server: server.into(),
                termination: "SH--".into(),
                ..Default::default()
            };
            logs.add_haproxy(now, "haproxy", l);
        }
        if let Some(pod) = envoy {
            let l = EnvoyLog {
                request_id: Some("r1".into()),
                flags: "DC".into(),
                ..Default::default()
            };
            logs.add_envoy(now, pod, l);
        }
        logs
    }

    /// A 502 HAProxy made itself has no `x-served-by`: its pod comes from
    /// HAProxy's line, else (the line dropped) from the Envoy that logged it.
    #[rstest]
    #[case::haproxy_line(Some("pod-a"), Some("pod-a"), Some("pod-a"))]
    #[case::haproxy_line_dropped(None, Some("pod-a"), Some("pod-a"))]
    #[case::haproxy_chose_none(Some("<NOSRV>"), None, None)]
    #[case::no_line(None, None, None)]
    fn the_pod_of_an_answer_without_served_by(
        #[case] haproxy: Option<&str>,
        #[case] envoy: Option<&str>,
        #[case] want: Option<&str>,
    ) {
        let mut r = rec("r1", None, Outcome::Http5xx, Some(502));
        let ev = enrich(&mut r, &logs(haproxy, envoy));
        assert_eq!(r.pod.as_deref(), want);
        assert_eq!(r.envoy_flags.is_some(), envoy.is_some());
        assert_eq!(ev.haproxy.is_some(), haproxy.is_some());
    }

    /// An ok request whose pod is known is not looked up (nor changed).
    #[test]
    fn an_ok_request_with_its_pod_is_left_alone() {
        let mut r = rec("r1", Some("pod-b"), Outcome::Ok, Some(200));
        let ev = enrich(&mut r, &logs(Some("pod-a"), Some("pod-a")));
        assert_eq!(r.pod.as_deref(), Some("pod-b"));
        assert!(ev.haproxy.is_none() && ev.envoy.is_none());
    }
}
