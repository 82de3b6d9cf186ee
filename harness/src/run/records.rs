//! The sink of a run's requests: each finished request is written to
//! requests.csv at once (so a killed run keeps it), counted, and fed to the
//! latency histograms. A request whose pod is unknown (HAProxy answered it
//! itself) waits briefly for HAProxy's log line naming the server.
//!
//! Memory stays bounded: only disruptions are kept (for attribution).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::artifacts::{ArtifactsError, RequestsWriter, Tally};
use crate::model::{Origin, RequestRecord};
use crate::observe::haproxy_log::RequestLog;

/// HAProxy's request log lines by request id (filled by the log reader).
pub type HaproxyRequests = Arc<Mutex<HashMap<String, RequestLog>>>;

/// How long a request without a pod waits for HAProxy's log line.
const POD_WAIT: Duration = Duration::from_millis(700);

/// What the sink hands back when the run ends.
pub struct RecordsResult {
    pub tally: Tally,
    pub disruptions: Vec<RequestRecord>,
    /// Long requests (kind `long`), all of them: few by construction.
    pub long: Vec<RequestRecord>,
    pub write_error: Option<String>,
}

/// Consumes records until the channel closes.
pub async fn sink(
    run_dir: &Path,
    mut rx: UnboundedReceiver<RequestRecord>,
    haproxy: HaproxyRequests,
) -> Result<RecordsResult, ArtifactsError> {
    let mut writer = RequestsWriter::create(run_dir)?;
    let mut res = RecordsResult {
        tally: Tally::new(),
        disruptions: Vec::new(),
        long: Vec::new(),
        write_error: None,
    };
    let mut pending: VecDeque<(Instant, RequestRecord)> = VecDeque::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Some(rec) => {
                    if rec.pod.is_none() {
                        pending.push_back((Instant::now(), rec));
                    } else {
                        accept(rec, &haproxy, &mut writer, &mut res);
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                while pending.front().is_some_and(|(t, _)| t.elapsed() >= POD_WAIT) {
                    let (_, rec) = pending.pop_front().expect("front exists");
                    accept(rec, &haproxy, &mut writer, &mut res);
                }
            }
        }
    }
    if !pending.is_empty() {
        tokio::time::sleep(POD_WAIT).await;
        for (_, rec) in pending {
            accept(rec, &haproxy, &mut writer, &mut res);
        }
    }
    if let Err(e) = writer.finish() {
        res.write_error = Some(e.to_string());
    }
    Ok(res)
}

fn accept(
    mut rec: RequestRecord,
    haproxy: &HaproxyRequests,
    writer: &mut RequestsWriter,
    res: &mut RecordsResult,
) {
    enrich(&mut rec, haproxy);
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
        res.disruptions.push(rec);
    }
}

/// Fills the pod from HAProxy's log (a response HAProxy made itself has no
/// `x-served-by`) and notes HAProxy's termination state in `error`.
pub fn enrich(rec: &mut RequestRecord, haproxy: &HaproxyRequests) {
    let Ok(map) = haproxy.lock() else { return };
    let Some(log) = map.get(&rec.id) else { return };
    if rec.pod.is_none() && !log.server.is_empty() && !log.server.starts_with('<') {
        rec.pod = Some(log.server.clone());
    }
    if rec.outcome.is_disruption() {
        let note = format!(
            "haproxy: {} {}",
            log.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            log.termination
        );
        rec.error = Some(match rec.error.take() {
            Some(e) if !e.is_empty() => format!("{e}; {note}"),
            _ => note,
        });
        if rec.origin.is_none() && rec.status.is_some_and(|s| s >= 500) {
            rec.origin = Some(Origin::Haproxy);
        }
    }
}
