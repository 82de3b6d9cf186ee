//! The sink of a run's requests: each finished request is written to
//! requests.csv at once (so a killed run keeps it), counted, and fed to the
//! latency histograms. A disruption, and a request whose pod is unknown
//! (HAProxy answered it itself), waits briefly for the proxies' log lines of
//! it (HAProxy's and Envoy's, by x-request-id): the disruption's row gets
//! their `haproxy_term` and `envoy_flags`, its attribution their evidence.
//!
//! Memory stays bounded: only disruptions are kept (for attribution).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::artifacts::{ArtifactsError, RequestsWriter, Tally};
use crate::model::{Origin, RequestRecord};
use crate::observe::evidence::Evidence;
use crate::observe::proxy_logs::ProxyLogs;

/// How long a disruption (or a request without a pod) waits for the
/// proxies' log lines: HAProxy writes its line at the request's end, Envoy
/// flushes its access log every 0.1 s.
const LINES_WAIT: Duration = Duration::from_millis(700);

/// What the sink hands back when the run ends.
pub struct RecordsResult {
    pub tally: Tally,
    pub disruptions: Vec<RequestRecord>,
    /// Long requests (kind `long`), all of them: few by construction.
    pub long: Vec<RequestRecord>,
    /// What the proxies logged of each disruption, by request id.
    pub evidence: HashMap<String, Evidence>,
    pub write_error: Option<String>,
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
    };
    let mut pending: VecDeque<(Instant, RequestRecord)> = VecDeque::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Some(rec) => {
                    if rec.pod.is_none() || rec.outcome.is_disruption() {
                        pending.push_back((Instant::now(), rec));
                    } else {
                        accept(rec, &logs, &mut writer, &mut res);
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                while pending.front().is_some_and(|(t, _)| t.elapsed() >= LINES_WAIT) {
                    let (_, rec) = pending.pop_front().expect("front exists");
                    accept(rec, &logs, &mut writer, &mut res);
                }
            }
        }
    }
    if !pending.is_empty() {
        tokio::time::sleep(LINES_WAIT).await;
        for (_, rec) in pending {
            accept(rec, &logs, &mut writer, &mut res);
        }
    }
    if let Err(e) = writer.finish() {
        res.write_error = Some(e.to_string());
    }
    Ok(res)
}

fn accept(
    mut rec: RequestRecord,
    logs: &ProxyLogs,
    writer: &mut RequestsWriter,
    res: &mut RecordsResult,
) {
    let evidence = enrich(&mut rec, logs);
    if let Err(e) = writer.write(&rec) {
        if res.write_error.is_none() {
            res.write_error = Some(e.to_string());
        }
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
/// (a response HAProxy made itself has no `x-served-by`), and for a
/// disruption the evidence columns (and origin `haproxy` for a 5xx of
/// unknown origin HAProxy logged). Returns what was found.
pub fn enrich(rec: &mut RequestRecord, logs: &ProxyLogs) -> Evidence {
    let ev = logs.evidence(&rec.id);
    if let Some(h) = &ev.haproxy {
        if rec.pod.is_none() {
            rec.pod = h.log.pod().map(str::to_string);
        }
    }
    if rec.outcome.is_disruption() {
        ev.fill(rec);
        if rec.origin.is_none() && ev.haproxy.is_some() && rec.status.is_some_and(|s| s >= 500) {
            rec.origin = Some(Origin::Haproxy);
        }
    }
    ev
}
