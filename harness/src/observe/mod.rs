//! The observers: every `period` (250 ms or faster) each pod's hc state,
//! Envoy's active-request and active-connection gauges, and HAProxy's view of
//! every server (runtime API), as samples; changes also go on the timeline.
//!
//! Observers only read. They must never change a pod's state, and a source
//! that stops answering is recorded as a gap (empty fields), never an abort.

pub mod envoy_log;
pub mod evidence;
pub mod haproxy_log;
mod mechanism;
pub mod outside;
pub mod proxy_logs;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::model::{EventKind, Sample, ServerState, Source};
use crate::timeline::Timeline;

/// Where the observers find one pod.
#[derive(Debug, Clone)]
pub struct PodTarget {
    pub name: String,
    /// e.g. `http://127.0.10.1:18180`
    pub hc_url: String,
    /// e.g. `http://127.0.10.1:15000`
    pub envoy_admin: String,
}

/// What to sample and how often.
#[derive(Debug, Clone)]
pub struct ObserveConfig {
    pub pods: Vec<PodTarget>,
    pub haproxy_socket: PathBuf,
    pub haproxy_backend: String,
    pub period: Duration,
}

/// Samples until `cancel` fires, then takes one last sample of the end state.
pub async fn run(
    cfg: ObserveConfig,
    timeline: Timeline,
    samples: UnboundedSender<Sample>,
    cancel: CancellationToken,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .pool_max_idle_per_host(2)
        .build()
        .expect("reqwest client without TLS always builds");
    let mut seen = Seen::default();
    let mut passes = Passes::new(cfg.period, cancel);
    while passes.next().await {
        let t_ms = timeline.clock().now_ms();
        let lb = show_stat(&cfg.haproxy_socket, &cfg.haproxy_backend).await;
        seen.haproxy_answer(lb.as_ref().err(), t_ms, &timeline);
        let polls = cfg.pods.iter().map(|p| poll_pod(&http, p));
        let results = futures::future::join_all(polls).await;
        for (pod, (hc_state, rq, cx)) in cfg.pods.iter().zip(results) {
            let lb_status = lb.as_ref().ok().and_then(|m| m.get(&pod.name).cloned());
            seen.hc_state(&pod.name, hc_state.as_ref(), t_ms, &timeline);
            seen.lb_status(&pod.name, lb_status.as_ref(), t_ms, &timeline);
            // The samples' sink gone means the run is ending: nothing to keep.
            let _ = samples.send(Sample {
                t_ms,
                pod: pod.name.clone(),
                hc_state,
                envoy_rq_active: rq,
                envoy_cx_active: cx,
                haproxy_status: lb_status,
            });
        }
    }
}

/// The observers' passes: one every `period` (a late tick is skipped, not
/// caught up) until `cancel` fires, then one last pass that records the
/// end state.
struct Passes {
    tick: tokio::time::Interval,
    cancel: CancellationToken,
    ended: bool,
}

impl Passes {
    fn new(period: Duration, cancel: CancellationToken) -> Self {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Passes {
            tick,
            cancel,
            ended: false,
        }
    }

    /// Waits for the next pass: true to take it, false after the last one.
    async fn next(&mut self) -> bool {
        if self.ended {
            return false;
        }
        tokio::select! {
            _ = self.cancel.cancelled() => self.ended = true,
            _ = self.tick.tick() => {}
        }
        true
    }
}

/// What the observers saw last: a change from it goes on the timeline.
#[derive(Default)]
struct Seen {
    hc: HashMap<String, String>,
    lb: HashMap<String, String>,
    haproxy_gap: bool,
}

impl Seen {
    /// HAProxy's runtime API stopping or resuming answering, at the tick's
    /// time (so the gap lines up with its samples).
    fn haproxy_answer(&mut self, err: Option<&String>, t_ms: f64, timeline: &Timeline) {
        match (err, self.haproxy_gap) {
            (Some(e), false) => {
                self.haproxy_gap = true;
                timeline.emit_at(
                    t_ms,
                    Source::Harness,
                    None,
                    EventKind::ObserverGap,
                    format!("haproxy runtime API: {e}"),
                );
            }
            (None, true) => {
                self.haproxy_gap = false;
                timeline.emit_at(
                    t_ms,
                    Source::Harness,
                    None,
                    EventKind::ObserverResumed,
                    "haproxy runtime API",
                );
            }
            _ => {}
        }
    }

    /// A pod's hc state, on the timeline when it changed.
    fn hc_state(&mut self, pod: &str, state: Option<&String>, t_ms: f64, timeline: &Timeline) {
        let Some(s) = state else { return };
        if self.hc.get(pod) != Some(s) {
            let from = self.hc.insert(pod.to_string(), s.clone());
            timeline.emit_at(
                t_ms,
                Source::Hc,
                Some(pod),
                EventKind::State,
                format!("{} -> {s}", from.as_deref().unwrap_or("?")),
            );
        }
    }

    /// HAProxy's status of a pod, on the timeline when it changed.
    fn lb_status(&mut self, pod: &str, status: Option<&String>, t_ms: f64, timeline: &Timeline) {
        let Some(s) = status else { return };
        if self.lb.get(pod) != Some(s) {
            let from = self.lb.insert(pod.to_string(), s.clone());
            timeline.emit_at(
                t_ms,
                Source::HAPROXY,
                Some(pod),
                EventKind::Status(ServerState::parse(s)),
                format!(
                    "{} -> {s} (runtime API poll)",
                    from.as_deref().unwrap_or("?")
                ),
            );
        }
    }
}

async fn poll_pod(
    http: &reqwest::Client,
    p: &PodTarget,
) -> (Option<String>, Option<i64>, Option<i64>) {
    let hc = async {
        let r = http
            .get(format!("{}/drain/status", p.hc_url))
            .send()
            .await
            .ok()?;
        let st: gate::DrainStatus = r.json().await.ok()?;
        Some(st.state)
    };
    let envoy = async {
        let url = format!(
            "{}/stats?filter=downstream_rq_active%7Cdownstream_cx_active",
            p.envoy_admin
        );
        let r = http.get(url).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        let body = r.text().await.ok()?;
        Some(envoy_gauges(&body))
    };
    let (state, gauges) = tokio::join!(hc, envoy);
    let (rq, cx) = gauges.unwrap_or((None, None));
    (state, rq, cx)
}

/// Sums the data-plane `http.<prefix>.downstream_rq_active` and
/// `downstream_cx_active` gauges, leaving out the admin listener's own.
pub fn envoy_gauges(body: &str) -> (Option<i64>, Option<i64>) {
    let mut rq = None;
    let mut cx = None;
    for line in body.lines() {
        let Some((name, value)) = line.split_once(": ") else {
            continue;
        };
        let name = name.trim();
        if !name.starts_with("http.") || name.starts_with("http.admin.") {
            continue;
        }
        let Ok(v) = value.trim().parse::<i64>() else {
            continue;
        };
        if name.ends_with(".downstream_rq_active") {
            *rq.get_or_insert(0) += v;
        } else if name.ends_with(".downstream_cx_active") {
            *cx.get_or_insert(0) += v;
        }
    }
    (rq, cx)
}

/// HAProxy's `show stat` over the runtime API: server name -> status.
pub async fn show_stat(
    socket: &std::path::Path,
    backend: &str,
) -> Result<HashMap<String, String>, String> {
    show_stat_csv(socket)
        .await
        .map(|csv| parse_show_stat(&csv, backend))
}

/// HAProxy's `show stat` CSV over the runtime API (within 500 ms).
pub async fn show_stat_csv(socket: &std::path::Path) -> Result<String, String> {
    let fut = async {
        let mut s = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| format!("{}: {e}", socket.display()))?;
        s.write_all(b"show stat\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        s.read_to_string(&mut out)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(out)
    };
    match tokio::time::timeout(Duration::from_millis(500), fut).await {
        Ok(r) => r,
        Err(_) => Err("show stat timed out".into()),
    }
}

/// Every server row of `show stat` CSV (or the stats page's `;csv`):
/// (backend, server, status), status being field 18.
pub fn stat_servers(csv: &str) -> Vec<(String, String, String)> {
    csv.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() > 17 && f[1] != "BACKEND" && f[1] != "FRONTEND")
                .then(|| (f[0].to_string(), f[1].to_string(), f[17].to_string()))
        })
        .collect()
}

/// Parses `show stat` CSV (status is field 18): `backend`'s servers.
pub fn parse_show_stat(csv: &str, backend: &str) -> HashMap<String, String> {
    stat_servers(csv)
        .into_iter()
        .filter(|(px, _, _)| px == backend)
        .map(|(_, sv, st)| (sv, st))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_gauges_leave_admin_out() {
        let body = "cluster.app.upstream_rq_active: 2\nhttp.admin.downstream_rq_active: 1\nhttp.inbound_http.downstream_rq_active: 2\nhttp.inbound_http.downstream_cx_active: 3\nhttp.admin.downstream_cx_active: 1\n";
        assert_eq!(envoy_gauges(body), (Some(2), Some(3)));
        assert_eq!(envoy_gauges("<html>oops</html>"), (None, None));
    }

    #[test]
    fn show_stat_status_column() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\nfe,FRONTEND,,,0,0,0,0,0,0,0,0,0,,,,,OPEN,\nbe_app,pod-a,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1\nbe_app,pod-b,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1\nbe_app,BACKEND,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1\n";
        let m = parse_show_stat(csv, "be_app");
        assert_eq!(m.len(), 2);
        assert_eq!(m["pod-a"], "UP");
        assert_eq!(m["pod-b"], "DOWN");
    }
}
