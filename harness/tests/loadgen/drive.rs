//! Runs the load generator to the end (or to `cancel`) and collects its
//! records, sorted as scheduled (`<kind>-<n>`): shared by the loadgen test
//! binaries (included with `#[path]`). Helpers only; no assertion.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use harness::loadgen::{run, LoadConfig, LoadSpec, LoadStats};
use harness::model::{RequestRecord, RunClock};
use tokio_util::sync::CancellationToken;

/// The load of `specs` against `target`, each request's deadline its
/// expected duration plus `margin`.
pub async fn load(
    target: SocketAddr,
    specs: Vec<LoadSpec>,
    margin: Duration,
    clock: RunClock,
    cancel: CancellationToken,
) -> (Vec<RequestRecord>, LoadStats) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = LoadConfig {
        target,
        host: None,
        tls: None,
        horizon: None,
        specs,
        request_timeout_margin: margin,
    };
    let stats = run(cfg, clock, tx, cancel).await;
    let mut records = Vec::new();
    while let Ok(r) = rx.try_recv() {
        records.push(r);
    }
    // `<kind>-<n>` in schedule order.
    records.sort_by_key(|r| (r.kind.as_str(), id_number(&r.id)));
    (records, stats)
}

/// The `<n>` of a request id `<kind>-<n>`.
pub fn id_number(id: &str) -> u64 {
    id.rsplit('-').next().unwrap().parse().unwrap()
}
