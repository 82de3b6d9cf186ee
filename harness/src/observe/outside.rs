//! The observers of `harness watch`, aimed at a service the harness did not
//! start: HAProxy's view of its servers (the runtime API socket, or the
//! stats page's CSV at a URL) and one Envoy admin's active-request and
//! active-connection gauges, sampled every `period`; changes go on the
//! timeline the way a run's observers put them there.
//!
//! Observers only read (GET and `show stat`). A source that stops answering
//! is a gap on the timeline, never an abort.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{envoy_gauges, show_stat_csv, stat_servers, Passes, Seen};
use crate::model::Sample;
use crate::timeline::Timeline;

/// Where HAProxy's server states are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LbSource {
    /// The runtime API's Unix socket (`show stat`).
    Socket(PathBuf),
    /// The stats page, read as CSV (`<url>;csv`).
    StatsUrl(String),
}

/// What `watch` observes.
#[derive(Debug, Clone)]
pub struct OutsideConfig {
    pub haproxy: Option<LbSource>,
    /// Only this backend's servers (named by server); every backend's
    /// otherwise (named `backend/server` when several backends have servers).
    pub haproxy_backend: Option<String>,
    pub envoy_admin: Option<String>,
    pub period: Duration,
}

/// The sample's `pod` of the Envoy admin's gauges.
pub const ENVOY_LABEL: &str = "envoy";

impl OutsideConfig {
    pub fn is_empty(&self) -> bool {
        self.haproxy.is_none() && self.envoy_admin.is_none()
    }
}

/// Samples until `cancel` fires, then takes one last sample.
pub async fn run(
    cfg: OutsideConfig,
    timeline: Timeline,
    samples: UnboundedSender<Sample>,
    cancel: CancellationToken,
) {
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .no_proxy()
        .build()
    else {
        tracing::error!("the observers' HTTP client could not be built");
        return;
    };
    let mut seen = Seen::default();
    let mut passes = Passes::new(cfg.period, cancel);
    while passes.next().await {
        let t_ms = timeline.clock().now_ms();
        if let Some(src) = &cfg.haproxy {
            let servers = lb_states(&http, src, cfg.haproxy_backend.as_deref()).await;
            seen.haproxy_answer(servers.as_ref().err(), t_ms, &timeline);
            for (name, status) in servers.unwrap_or_default() {
                seen.lb_status(&name, Some(&status), t_ms, &timeline);
                let s = Sample {
                    t_ms,
                    pod: name,
                    hc_state: None,
                    envoy_rq_active: None,
                    envoy_cx_active: None,
                    haproxy_status: Some(status),
                };
                if samples.send(s).is_err() {
                    return;
                }
            }
        }
        if let Some(admin) = &cfg.envoy_admin {
            let (rq, cx) = envoy(&http, admin).await;
            let s = Sample {
                t_ms,
                pod: ENVOY_LABEL.to_string(),
                hc_state: None,
                envoy_rq_active: rq,
                envoy_cx_active: cx,
                haproxy_status: None,
            };
            if samples.send(s).is_err() {
                return;
            }
        }
    }
}

/// Each server's status, named as [`OutsideConfig::haproxy_backend`] says.
async fn lb_states(
    http: &reqwest::Client,
    src: &LbSource,
    backend: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let csv = match src {
        LbSource::Socket(p) => show_stat_csv(p).await?,
        LbSource::StatsUrl(u) => {
            let url = if u.ends_with(";csv") {
                u.clone()
            } else {
                format!("{u};csv")
            };
            let r = http
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("{url}: HTTP {}", r.status()));
            }
            r.text().await.map_err(|e| format!("{url}: {e}"))?
        }
    };
    Ok(name_servers(stat_servers(&csv), backend))
}

/// (backend, server, status) rows → (name, status): only `backend`'s servers
/// by their name, else every server, `backend/server` when several
/// backends have servers.
pub fn name_servers(
    rows: Vec<(String, String, String)>,
    backend: Option<&str>,
) -> Vec<(String, String)> {
    let several = rows.iter().any(|(px, _, _)| px != &rows[0].0);
    rows.into_iter()
        .filter(|(px, _, _)| backend.is_none_or(|b| b == px))
        .map(|(px, sv, st)| {
            let name = if several && backend.is_none() {
                format!("{px}/{sv}")
            } else {
                sv
            };
            (name, st)
        })
        .collect()
}

async fn envoy(http: &reqwest::Client, admin: &str) -> (Option<i64>, Option<i64>) {
    let url = format!(
        "{}/stats?filter=downstream_rq_active%7Cdownstream_cx_active",
        admin.trim_end_matches('/')
    );
    let Ok(r) = http.get(url).send().await else {
        return (None, None);
    };
    if !r.status().is_success() {
        return (None, None);
    }
    match r.text().await {
        Ok(body) => envoy_gauges(&body),
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(px: &str, sv: &str, st: &str) -> (String, String, String) {
        (px.into(), sv.into(), st.into())
    }

    #[test]
    fn servers_are_named_by_backend_only_when_needed() {
        let one = vec![row("be_app", "pod-a", "UP"), row("be_app", "pod-b", "DOWN")];
        assert_eq!(
            name_servers(one, None),
            vec![
                ("pod-a".into(), "UP".into()),
                ("pod-b".into(), "DOWN".into())
            ]
        );
        let two = vec![row("be_app", "pod-a", "UP"), row("be_x", "web-1", "NOLB")];
        assert_eq!(
            name_servers(two.clone(), None),
            vec![
                ("be_app/pod-a".into(), "UP".into()),
                ("be_x/web-1".into(), "NOLB".into())
            ]
        );
        assert_eq!(
            name_servers(two, Some("be_x")),
            vec![("web-1".into(), "NOLB".into())]
        );
    }
}
