//! The load balancers of a run beyond the pods: waiting until an HAProxy's
//! first checks passed on every pod, and the extra checker-only HAProxies of
//! `topology.haproxies` (s17).
//!
//! Everything started here is registered with the runtime, which tears it down.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::artifacts::RunDir;
use crate::model::{EventKind, Source};
use crate::runtime;
use crate::runtime::docker_pod::{self, LabRuntime};
use crate::scenario::Scenario;
use crate::timeline::Timeline;
use crate::topology::{self, HaproxyPlacement, TopologySettings};

use super::records::HaproxyRequests;
use super::setup::{free_loopback_port, pod_net};
use super::RunEnv;

/// The extra HAProxies of `topology.haproxies` (checkers only: no load goes
/// through them), each checking from its own source address
/// `127.0.<net>.<200 + i>` so hc counts its refusals apart; their log lines
/// go on the timeline as `haproxy2`, `haproxy3`, ...
#[allow(clippy::too_many_arguments)]
pub(super) async fn start_extra_haproxies(
    env: &RunEnv,
    sc: &Scenario,
    dir: &RunDir,
    rt: &LabRuntime,
    timeline: &Timeline,
    haproxy_requests: &HaproxyRequests,
    settings: &TopologySettings,
    pods: &[topology::PodAddrs],
) -> anyhow::Result<()> {
    for i in 1..sc.topology.haproxies as usize {
        let source = Source::Haproxy(i as u8 + 1);
        let name = source.as_str();
        let mut s = settings.clone();
        // Each checker's own source address, so hc counts its refusals
        // apart: on docker its container address is already its own.
        let (check_from, frontend_addr, docker_ip) = match rt {
            LabRuntime::Local(_) => (
                Some(std::net::Ipv4Addr::new(127, 0, pod_net(), 200 + i as u8)),
                free_loopback_port()?,
                std::net::Ipv4Addr::LOCALHOST,
            ),
            LabRuntime::Docker(d) => {
                let ip = d.ip(docker_pod::HAPROXY_HOST + i as u8);
                (
                    None,
                    std::net::SocketAddr::from((ip, docker_pod::FRONTEND_PORT)),
                    ip,
                )
            }
        };
        s.haproxy.source = check_from;
        if let Some(inter) = sc.topology.extra_haproxy_inter {
            s.haproxy.inter_ms = inter.ms();
        }
        let place = HaproxyPlacement {
            frontend_addr,
            stats_socket: super::setup::stats_socket(dir, rt, &name)?,
        };
        let cfg = dir.config_dir().join(format!("haproxy-{}.cfg", i + 1));
        let text = topology::render_haproxy(&s, pods, &place)?;
        std::fs::write(&cfg, text).with_context(|| format!("writing {}", cfg.display()))?;
        let rendered = topology::Rendered {
            haproxy_cfg: cfg,
            envoy_cfgs: vec![],
            stats_socket: place.stats_socket.clone(),
        };
        let tee = super::lines::haproxy_tee(timeline.clone(), haproxy_requests.clone(), source);
        let lb = docker_pod::start_any_haproxy(
            rt,
            &env.tools,
            &rendered,
            docker_ip,
            Some(tee),
            Duration::from_secs(10),
        )
        .await
        .with_context(|| format!("starting {name}"))?;
        wait_checks_passed(&lb.stats_socket, pods, sc).await?;
        timeline.emit(
            Source::Harness,
            None,
            EventKind::LbReady,
            format!("{name}: first checks passed on every pod"),
        );
    }
    Ok(())
}

/// Waits until HAProxy's `show stat` says every pod's check passed (L7OK).
pub(super) async fn wait_checks_passed(
    sock: &Path,
    pods: &[topology::PodAddrs],
    sc: &Scenario,
) -> anyhow::Result<()> {
    let limit =
        sc.topology.haproxy.inter.0 * (sc.topology.haproxy.rise + 1) + Duration::from_secs(5);
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(csv) = runtime::haproxy_api(sock, "show stat").await {
            let ok: Vec<&str> = csv
                .lines()
                .filter(|l| l.starts_with("be_app,"))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    (f.len() > 36 && f[17] == "UP" && f[36].starts_with("L7OK")).then_some(f[1])
                })
                .collect();
            if pods.iter().all(|p| ok.contains(&p.name.as_str())) {
                return Ok(());
            }
            last = format!("checks passed on: {ok:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("HAProxy's health checks did not pass on every pod within {limit:?} ({last})")
}
