//! The run's set-up and wrap-up steps: the resolved scenario file, the
//! topology (configs, pods, HAProxy, observers, probers), the load schedule,
//! and after the run the summary, histograms, plot and report.
//!
//! Called only from `run::run_mode`; everything started here is registered
//! with the runtime, which tears it down.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::artifacts::{self, DrainStep, RunDir, Summary};
use crate::kubelet::Prober;
use crate::loadgen::LoadSpec;
use crate::model::{Event, EventKind, Source};
use crate::observe::{ObserveConfig, PodTarget};
use crate::runtime::docker_pod::{self, LabRuntime};
use crate::runtime::{Pod, PodLaunch, PodTees};
use crate::scenario::{Load, Mode, Scenario};
use crate::timeline::Timeline;
use crate::topology::{
    self, DrainStrategy, EnvoySettings, HaproxyPlacement, HaproxySettings, TopologySettings,
};

use super::records::{HaproxyRequests, RecordsResult};
use super::verdict::{self, RunFacts};
use super::{DriveFacts, RunEnv};

/// The started topology.
pub struct Topo {
    pub frontend: SocketAddr,
    /// Each pod's EndpointSlice conditions, by pod name.
    pub endpoints: Vec<(String, crate::kubelet::Endpoint)>,
    pub pods: Vec<Pod>,
    pub observe: ObserveConfig,
    pub probers: Vec<Prober>,
    pub settings: TopologySettings,
    /// Each pod's rendered Envoy config, by pod name.
    pub envoy_cfgs: Vec<(String, std::path::PathBuf)>,
    pub haproxy_socket: std::path::PathBuf,
    /// Docker: the host pid of HAProxy's container, whose network namespace
    /// the load is sent from.
    pub haproxy_pid: Option<u32>,
}

/// `scenario.toml`: the scenario with only this mode, plus how it ran.
pub fn write_resolved_scenario(
    dir: &RunDir,
    sc: &Scenario,
    mode: &str,
    env: &RunEnv,
) -> anyhow::Result<()> {
    let mut one = sc.clone();
    one.modes.retain(|k, _| k == mode);
    one.mode_order = vec![mode.to_string()];
    if let (Some(m), Some(o)) = (one.modes.get_mut(mode), env.prestop_override) {
        if m.prestop != crate::scenario::PreStop::Sleep {
            m.prestop = o;
        }
    }
    let body = toml::to_string_pretty(&one).context("serialising the resolved scenario")?;
    let text = format!(
        "# Resolved settings of this run (every default filled in).\n# runtime = {:?} ({})\n# naming = {:?}\n{body}",
        env.runtime_name,
        env.runtime_reason,
        env.naming.to_string()
    );
    artifacts::write_atomic(&dir.file(artifacts::names::SCENARIO), text.as_bytes())?;
    Ok(())
}

/// The topology settings the templates are rendered with.
pub fn topology_settings(sc: &Scenario) -> TopologySettings {
    let h = &sc.topology.haproxy;
    let e = &sc.topology.envoy;
    let longest = sc.longest_request().0.as_secs() + 60;
    TopologySettings {
        pods: sc.topology.pods as usize,
        haproxy: HaproxySettings {
            inter_ms: h.inter.ms(),
            fall: h.fall,
            rise: h.rise,
            on_marked_down_shutdown_sessions: h.shutdown_sessions,
            retries: h.retries,
            redispatch: h.redispatch,
            retry_on: h.retry_on.clone(),
            timeout_server_s: longest,
            timeout_client_s: longest,
            lb_signal: h.lb_signal,
            agent_check: h.agent_check,
            agent_inter_ms: h.agent_inter.ms(),
            ..HaproxySettings::default()
        },
        envoy: EnvoySettings {
            drain_strategy: if e.drain_strategy == "immediate" {
                DrainStrategy::Immediate
            } else {
                DrainStrategy::Gradual
            },
            drain_time_s: e.drain_time.0.as_secs(),
            limit_stats_like_istio: e.limit_stats_like_istio,
            slow_delay_ms: e.slow_delay.ms(),
        },
    }
}

/// Renders the configs, starts every pod and HAProxy, waits until HAProxy's
/// first checks passed, and prepares observers and probers.
pub async fn start_topology(
    env: &RunEnv,
    sc: &Scenario,
    dir: &RunDir,
    rt: &LabRuntime,
    timeline: &Timeline,
    haproxy_requests: &HaproxyRequests,
) -> anyhow::Result<Topo> {
    let settings = topology_settings(sc);
    let place = place(rt, &settings)?;
    let pods = place.pods.clone();
    let frontend = place.frontend;
    let sock = stats_socket(dir, rt, "haproxy")?;
    let rendered = topology::render(
        &settings,
        &pods,
        &HaproxyPlacement {
            frontend_addr: frontend,
            stats_socket: sock,
        },
        &dir.config_dir(),
    )?;
    let mut started = Vec::new();
    for (addrs, cfg) in pods.iter().zip(&rendered.envoy_cfgs) {
        let launch = PodLaunch {
            apps: &env.apps,
            tools: &env.tools,
            settings: &settings,
            naming: env.naming,
            envoy_cfg: cfg,
            ready_timeout: Duration::from_secs(20),
            backend_env: vec![],
            hc_env: vec![],
            tees: PodTees::default(),
        };
        let pod = docker_pod::start_any_pod(rt, addrs, &launch)
            .await
            .with_context(|| format!("starting {}", addrs.name))?;
        timeline.emit(
            Source::Harness,
            Some(&addrs.name),
            EventKind::PodReady,
            format!("{}", addrs.ip),
        );
        started.push(pod);
    }
    let tee = super::lines::haproxy_tee(timeline.clone(), haproxy_requests.clone(), Source::HAPROXY);
    let haproxy = docker_pod::start_any_haproxy(
        rt,
        &env.tools,
        &rendered,
        place.haproxy_ip,
        Some(tee),
        Duration::from_secs(10),
    )
    .await
    .context("starting HAProxy")?;
    timeline.emit(Source::Harness, None, EventKind::HaproxyReady, frontend.to_string());
    super::lbs::wait_checks_passed(&haproxy.stats_socket, &pods, sc).await?;
    timeline.emit(
        Source::Harness,
        None,
        EventKind::LbReady,
        "HAProxy's first checks passed on every pod",
    );
    super::lbs::start_extra_haproxies(
        env,
        sc,
        dir,
        rt,
        timeline,
        haproxy_requests,
        &settings,
        &pods,
    )
    .await?;
    let observe = ObserveConfig {
        pods: pods
            .iter()
            .map(|p| PodTarget {
                name: p.name.clone(),
                hc_url: p.hc_url(),
                envoy_admin: p.envoy_admin_url(),
            })
            .collect(),
        haproxy_socket: haproxy.stats_socket.clone(),
        haproxy_backend: "be_app".into(),
        period: sc.observe.period.0,
    };
    let k = &sc.kubelet;
    let endpoints: Vec<(String, crate::kubelet::Endpoint)> = pods
        .iter()
        .map(|p| (p.name.clone(), crate::kubelet::Endpoint::default()))
        .collect();
    let probers = pods
        .iter()
        .zip(&endpoints)
        .flat_map(|(p, (_, ep))| {
            [
                Prober {
                    pod: p.name.clone(),
                    kind: "readiness",
                    url: format!("{}/health", p.hc_url()),
                    period: k.readiness_period.0,
                    failure_threshold: k.readiness_failure_threshold,
                    endpoint: Some(ep.clone()),
                },
                Prober {
                    pod: p.name.clone(),
                    kind: "liveness",
                    url: format!("{}/live", p.hc_url()),
                    period: k.liveness_period.0,
                    failure_threshold: k.liveness_failure_threshold,
                    endpoint: None,
                },
            ]
        })
        .collect();
    Ok(Topo {
        frontend,
        endpoints,
        pods: started,
        observe,
        probers,
        envoy_cfgs: pods
            .iter()
            .map(|p| p.name.clone())
            .zip(rendered.envoy_cfgs.iter().cloned())
            .collect(),
        haproxy_socket: haproxy.stats_socket.clone(),
        haproxy_pid: match rt {
            LabRuntime::Docker(d) => d.host_pid(&haproxy.proc).await,
            LabRuntime::Local(_) => None,
        },
        settings,
    })
}

/// Pods live on `127.0.<net>.N`: `LAB_POD_NET` (1..=254), default 10 (the
/// design's `127.0.10.N`). Tests that run at once give each run its own net.
pub fn pod_net() -> u8 {
    std::env::var("LAB_POD_NET")
        .ok()
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(topology::DEFAULT_POD_NET)
}

/// Where a run's pods and HAProxy live.
struct Placement {
    pods: Vec<topology::PodAddrs>,
    frontend: SocketAddr,
    /// HAProxy's container address (docker only; unused on local).
    haproxy_ip: std::net::Ipv4Addr,
}

/// Local: pods on `127.0.<net>.N`, HAProxy's frontend on a free loopback
/// port. Docker: pods and HAProxy at their container addresses on the run's
/// network, which the host reaches directly (no published port).
fn place(rt: &LabRuntime, settings: &TopologySettings) -> anyhow::Result<Placement> {
    Ok(match rt {
        LabRuntime::Local(_) => Placement {
            pods: settings.pod_addrs(pod_net()),
            frontend: free_loopback_port()?,
            haproxy_ip: std::net::Ipv4Addr::LOCALHOST,
        },
        LabRuntime::Docker(d) => {
            let plan = docker_pod::plan(d, settings.pods);
            Placement {
                pods: plan.pods,
                frontend: plan.frontend,
                haproxy_ip: plan.haproxy_ip,
            }
        }
    })
}

/// The stats socket of HAProxy `name`: in the run folder (docker: in its
/// own `sock/` subfolder, the only host folder HAProxy's container may write
/// to), or under the temp folder when that path is too long for a socket.
pub(super) fn stats_socket(
    dir: &RunDir,
    rt: &LabRuntime,
    name: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let folder = match rt {
        LabRuntime::Local(_) => dir.path().to_path_buf(),
        LabRuntime::Docker(_) => dir.path().join("sock"),
    };
    let mut sock = folder.join(format!("{name}.sock"));
    if sock.as_os_str().len() > 100 {
        sock = std::env::temp_dir()
            .join(format!("graceful-lab-{}", dir.run_id()))
            .join(format!("{name}.sock"));
    }
    if let Some(parent) = sock.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(sock)
}

pub(super) fn free_loopback_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?)
}

/// The scenario's load, scheduled from `t_load` (ms from the run's start).
pub fn load_specs(sc: &Scenario, t_load: f64) -> Vec<LoadSpec> {
    sc.load
        .iter()
        .enumerate()
        .map(|(i, l)| match l {
            Load::Long {
                count,
                seconds,
                start,
                pin,
            } => LoadSpec::Long {
                count: *count,
                seconds: *seconds as u32,
                start_ms: (t_load + start.as_f64_ms()) as u64,
                pin_pod: pin.clone(),
            },
            Load::Stream {
                count,
                seconds,
                interval_ms,
                start,
                pin,
            } => LoadSpec::Stream {
                count: *count,
                seconds: *seconds as u32,
                interval_ms: *interval_ms,
                start_ms: (t_load + start.as_f64_ms()) as u64,
                pin_pod: pin.clone(),
            },
            Load::Steady {
                rate,
                duration,
                path,
                start,
                keepalive,
                max_conns,
            } => LoadSpec::Steady {
                rate: *rate,
                duration_ms: duration.ms(),
                path: path.clone(),
                start_ms: (t_load + start.as_f64_ms()) as u64,
                keepalive: *keepalive,
                max_conns: *max_conns,
                seed: sc.seed.wrapping_add(i as u64),
            },
        })
        .collect()
}

/// timeline.csv in time order (events observed late were streamed out of order).
pub fn rewrite_timeline_sorted(dir: &Path, events: &[Event]) {
    if let Ok(mut w) = artifacts::TimelineWriter::create(dir) {
        for e in events {
            let _ = w.write(e);
        }
        let _ = w.finish();
    }
}

/// Counts, attributions, drain facts and expectations into the summary.
pub fn finish_summary(
    summary: &mut Summary,
    sc: &Scenario,
    mode: &Mode,
    records: Option<RecordsResult>,
    events: &[Event],
    facts: Option<&DriveFacts>,
    interrupted: bool,
) {
    let (long, disruptions) = match &records {
        Some(r) => {
            r.tally.apply_to(summary);
            if let Some(e) = &r.write_error {
                summary.notes.push(format!("requests.csv: {e}"));
            }
            (r.long.clone(), r.disruptions.clone())
        }
        None => (Vec::new(), Vec::new()),
    };
    summary.attributions = disruptions
        .iter()
        .map(|r| crate::timeline::attribute(r, events))
        .collect();
    // Drain facts of the (first) terminated pod.
    let first_term = facts.and_then(|f| f.terminations.first().map(|(_, t)| t.clone()));
    if let Some(f) = facts {
        if let Some((_, t)) = f.terminations.first() {
            summary.drain.prestop_ms = t.prestop_ms;
            summary.drain.exit_code = t.prestop_exit;
        }
        if let Some((sch, sent, done, late)) = f.load {
            summary.notes.push(format!(
                "load: {sch} scheduled, {sent} sent, {done} completed, {late} sent more than 1 ms late"
            ));
        }
    }
    summary.drain.steps = events
        .iter()
        .filter(|e| {
            e.source == Source::Drain
                || (e.source == Source::Kubelet
                    && matches!(
                        e.kind,
                        EventKind::PrestopStart
                            | EventKind::PrestopEnd
                            | EventKind::PrestopTimeout
                            | EventKind::PrestopFailed
                    ))
        })
        .map(|e| DrainStep {
            step: format!("{} {}", e.source, e.kind),
            t_ms: e.t_ms,
        })
        .collect();
    let first_terminated = sc.faults.iter().flat_map(|f| f.terminated_pods()).next();
    if let Some(pod) = first_terminated {
        summary.drain.close_lb_to_down_ms = verdict::lb_release_after_close_lb(events, pod);
    }
    if !interrupted {
        let steady_p99 = summary.latency_ms.corrected.as_ref().map(|p| p.p99);
        summary.expectations = verdict::judge(
            sc,
            &mode.expect,
            &RunFacts {
                disruptions: summary.disruptions,
                long: &long,
                timeline: events,
                steady_p99_ms: steady_p99,
                prestop_ms: summary.drain.prestop_ms,
                outcomes: &summary.outcomes,
                attributions: &summary.attributions,
                termination: first_term.as_ref(),
                close_lb_to_down_ms: summary.drain.close_lb_to_down_ms,
            },
        );
    }
    summary.interrupted = interrupted;
    summary.decide_verdict();
}

/// latency.hgrm, plot.svg/png and report.html; a failure becomes a note.
pub fn write_reports(dir: &RunDir, summary: &mut Summary) {
    let p = dir.path();
    match artifacts::read_requests(p) {
        Ok(reqs) => {
            let mut lat = artifacts::LatencyStats::new();
            for r in &reqs {
                lat.record(r);
            }
            if let Err(e) = lat.write_hgrm(&dir.file(artifacts::names::HGRM)) {
                summary.notes.push(format!("latency.hgrm: {e}"));
            }
            let _ = lat.write_hgrm_uncorrected(&dir.file(artifacts::names::HGRM_UNCORRECTED));
        }
        Err(e) => summary.notes.push(format!("latency.hgrm: {e}")),
    }
    if let Err(e) = artifacts::plot_svg(p) {
        summary.notes.push(format!("plot.svg: {e}"));
    }
    if let Err(e) = artifacts::plot_png(p) {
        summary.notes.push(format!("plot.png: {e}"));
    }
    let _ = summary.write(p);
    if let Err(e) = artifacts::write_report(p) {
        summary.notes.push(format!("report.html: {e}"));
    }
}
