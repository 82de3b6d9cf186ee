//! The lab: stages a topology on a runtime. Renders the configs, starts
//! every pod and HAProxy where the runtime places them, waits until
//! HAProxy's first checks passed on every pod, and describes what the
//! observers and probers watch.
//!
//! It takes a narrow environment ([`LabEnv`]: tools, apps, naming), never the
//! run's whole one, and never imports `run/`, `commands/` or `artifacts/`.
//! Never matches on local vs docker: the runtime answers placement.
//! Everything it starts is registered with the runtime, which tears it down.

pub mod haproxy;
pub mod pod;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::apps::Apps;
use crate::kubelet::{Endpoint, ProbeKind, Prober};
use crate::model::{EventKind, Source};
use crate::observe::{ObserveConfig, PodTarget};
use crate::runtime::{LbPlace, LineSink, Runtime};
use crate::scenario::Scenario;
use crate::timeline::Timeline;
use crate::tools::Tools;
use crate::topology::{self, HaproxyPlacement, PodAddrs, Rendered, TopologySettings};

pub use haproxy::{haproxy_api, start_haproxy, wait_checks_passed, Haproxy};
pub use pod::{start_pod, Pod, PodLaunch, PodTees};

/// What the lab needs of the run's environment.
#[derive(Debug, Clone)]
pub struct LabEnv {
    pub tools: Tools,
    pub apps: Apps,
    pub naming: gate::Naming,
}

impl LabEnv {
    /// How a pod of this lab is launched with `envoy_cfg`.
    pub fn pod_launch<'a>(
        &'a self,
        settings: &'a TopologySettings,
        envoy_cfg: &'a Path,
    ) -> PodLaunch<'a> {
        PodLaunch {
            apps: &self.apps,
            tools: &self.tools,
            settings,
            naming: self.naming,
            envoy_cfg,
            ready_timeout: Duration::from_secs(20),
            backend_env: vec![],
            hc_env: vec![],
            tees: PodTees::default(),
        }
    }
}

/// Where a staged run's files go.
#[derive(Debug, Clone)]
pub struct LabDirs {
    /// The run folder (stats sockets).
    pub run_dir: PathBuf,
    /// Rendered configs.
    pub config_dir: PathBuf,
    /// Names the temp folder of a socket whose path would be too long.
    pub run_id: String,
}

/// What staging a topology needs.
pub struct Staging<'a> {
    pub lab: &'a LabEnv,
    pub sc: &'a Scenario,
    pub settings: TopologySettings,
    pub dirs: &'a LabDirs,
    pub timeline: &'a Timeline,
    /// Where HAProxy `source`'s output lines go.
    pub haproxy_tee: &'a (dyn Fn(Source) -> LineSink + Sync),
    /// Where pod `name`'s Envoy output lines go.
    pub envoy_tee: &'a (dyn Fn(&str) -> LineSink + Sync),
}

/// The started topology.
pub struct Topo {
    pub frontend: SocketAddr,
    /// Each pod's EndpointSlice conditions, by pod name.
    pub endpoints: Vec<(String, Endpoint)>,
    pub pods: Vec<Pod>,
    pub observe: ObserveConfig,
    pub probers: Vec<Prober>,
    pub settings: TopologySettings,
    /// Each pod's rendered Envoy config, by pod name.
    pub envoy_cfgs: Vec<(String, PathBuf)>,
    pub haproxy_socket: PathBuf,
    /// The host pid whose network namespace HAProxy lives in when it is not
    /// the host's (docker): the load is sent from there.
    pub haproxy_netns_pid: Option<u32>,
}

/// Renders the configs, starts every pod and HAProxy, waits until each
/// HAProxy's first checks passed, and prepares observers and probers.
pub async fn start_topology<R: Runtime + Sync>(s: &Staging<'_>, rt: &R) -> anyhow::Result<Topo> {
    let pods = rt.pod_addrs(s.settings.pods);
    let place = rt.haproxy_place(0)?;
    let rendered = topology::render(
        &s.settings,
        &pods,
        &HaproxyPlacement {
            frontend_addr: place.frontend,
            stats_socket: stats_socket(s.dirs, rt, "haproxy")?,
        },
        &s.dirs.config_dir,
    )?;
    let mut started = Vec::new();
    for (addrs, cfg) in pods.iter().zip(&rendered.envoy_cfgs) {
        let mut launch = s.lab.pod_launch(&s.settings, cfg);
        launch.tees.envoy = Some((s.envoy_tee)(&addrs.name));
        let pod = start_pod(rt, addrs, &launch)
            .await
            .with_context(|| format!("starting {}", addrs.name))?;
        let ip = addrs.ip.to_string();
        s.timeline
            .emit(Source::Harness, Some(&addrs.name), EventKind::PodReady, ip);
        started.push(pod);
    }
    let haproxy = start_lb(s, rt, 0, (&rendered, &place), &pods).await?;
    for i in 1..s.sc.topology.haproxies as usize {
        let place = rt.haproxy_place(i)?;
        let extra = render_extra_haproxy(s, rt, i, &place, &pods)?;
        start_lb(s, rt, i, (&extra, &place), &pods).await?;
    }
    let endpoints: Vec<(String, Endpoint)> = pods
        .iter()
        .map(|p| (p.name.clone(), Endpoint::default()))
        .collect();
    Ok(Topo {
        frontend: place.frontend,
        probers: probers(s.sc, &pods, &endpoints),
        endpoints,
        observe: observe_config(s.sc, &pods, &haproxy.stats_socket),
        pods: started,
        envoy_cfgs: pods
            .iter()
            .map(|p| p.name.clone())
            .zip(rendered.envoy_cfgs.iter().cloned())
            .collect(),
        haproxy_socket: haproxy.stats_socket.clone(),
        haproxy_netns_pid: rt.netns_pid(&haproxy.proc).await,
        settings: s.settings.clone(),
    })
}

/// Starts HAProxy `i` from its rendered config and waits until its first
/// checks passed on every pod.
async fn start_lb<R: Runtime + Sync>(
    s: &Staging<'_>,
    rt: &R,
    i: usize,
    (rendered, place): (&Rendered, &LbPlace),
    pods: &[PodAddrs],
) -> anyhow::Result<Haproxy> {
    let source = Source::Haproxy(i as u8 + 1);
    let name = source.as_str();
    let tee = (s.haproxy_tee)(source);
    let lb = start_haproxy(
        rt,
        &s.lab.tools,
        rendered,
        place,
        Some(tee),
        Duration::from_secs(10),
    )
    .await
    .with_context(|| format!("starting {name}"))?;
    if i == 0 {
        s.timeline.emit(
            Source::Harness,
            None,
            EventKind::HaproxyReady,
            place.frontend.to_string(),
        );
    }
    let h = &s.sc.topology.haproxy;
    let limit = h.inter.0 * (h.rise + 1) + Duration::from_secs(5);
    wait_checks_passed(&lb.stats_socket, pods, limit).await?;
    let detail = match i {
        0 => "HAProxy's first checks passed on every pod".to_string(),
        _ => format!("{name}: first checks passed on every pod"),
    };
    s.timeline
        .emit(Source::Harness, None, EventKind::LbReady, detail);
    Ok(lb)
}

/// The config of HAProxy `i` > 0 (`haproxy-<i+1>.cfg`): checking from its own
/// source address, at `extra_haproxy_inter` when the scenario sets one.
fn render_extra_haproxy<R: Runtime>(
    s: &Staging<'_>,
    rt: &R,
    i: usize,
    place: &LbPlace,
    pods: &[PodAddrs],
) -> anyhow::Result<Rendered> {
    let mut settings = s.settings.clone();
    settings.haproxy.source = place.check_source;
    if let Some(inter) = s.sc.topology.extra_haproxy_inter {
        settings.haproxy.inter_ms = inter.ms();
    }
    let name = Source::Haproxy(i as u8 + 1).as_str();
    let hp = HaproxyPlacement {
        frontend_addr: place.frontend,
        stats_socket: stats_socket(s.dirs, rt, &name)?,
    };
    let cfg = s.dirs.config_dir.join(format!("haproxy-{}.cfg", i + 1));
    let text = topology::render_haproxy(&settings, pods, &hp)?;
    std::fs::write(&cfg, text).with_context(|| format!("writing {}", cfg.display()))?;
    Ok(Rendered {
        haproxy_cfg: cfg,
        envoy_cfgs: vec![],
        stats_socket: hp.stats_socket,
    })
}

/// How often the harness reads HAProxy's and Envoy's output: their lines
/// carry their own times, so one wake-up per 20 ms (not one per request's
/// log line) costs no accuracy; 20 ms of HAProxy's log at 8,000 req/s still
/// fits its stdout pipe (64 KiB), and a read that fills the buffer reads on.
pub const PROXY_LINES_EVERY: Duration = Duration::from_millis(20);

/// The longest stats socket path HAProxy takes: 2.6 refuses a longer one
/// with "socket path ... too long (max 97)" (sun_path's 108 bytes less room
/// for its `.<pid>.tmp` rename), seen with a 98-byte run folder path.
pub const HAPROXY_SOCKET_MAX: usize = 97;

/// Where a stats socket goes when the run folder's path is too long for one:
/// a folder of the temp folder named after the run, removed with the run
/// ([`remove_socket_fallback`]).
pub fn socket_fallback_dir(run_id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("graceful-lab-{run_id}"))
}

/// Removes [`socket_fallback_dir`] of the run, when it was made. A failure
/// is said on stderr: only an empty folder or a dead socket is left.
pub fn remove_socket_fallback(run_id: &str) {
    let dir = socket_fallback_dir(run_id);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            eprintln!("harness: could not remove {}: {e}", dir.display())
        }
        _ => {}
    }
}

/// The stats socket of HAProxy `name`, in the runtime's socket folder of the
/// run, or in [`socket_fallback_dir`] when that path is too long for HAProxy.
fn stats_socket<R: Runtime>(dirs: &LabDirs, rt: &R, name: &str) -> anyhow::Result<PathBuf> {
    let sock = socket_path(&rt.stats_socket_dir(&dirs.run_dir), name, &dirs.run_id);
    if let Some(parent) = sock.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(sock)
}

/// `<dir>/<name>.sock`, or the same name in [`socket_fallback_dir`] when
/// that path is longer than HAProxy takes.
fn socket_path(dir: &Path, name: &str, run_id: &str) -> PathBuf {
    let sock = dir.join(format!("{name}.sock"));
    if sock.as_os_str().len() > HAPROXY_SOCKET_MAX {
        return socket_fallback_dir(run_id).join(format!("{name}.sock"));
    }
    sock
}

/// What the observers sample: every pod's hc and Envoy, and HAProxy's view.
fn observe_config(sc: &Scenario, pods: &[PodAddrs], socket: &Path) -> ObserveConfig {
    ObserveConfig {
        pods: pods
            .iter()
            .map(|p| PodTarget {
                name: p.name.clone(),
                hc_url: p.hc_url(),
                envoy_admin: p.envoy_admin_url(),
            })
            .collect(),
        haproxy_socket: socket.to_path_buf(),
        haproxy_backend: "be_app".into(),
        period: sc.observe.period.0,
    }
}

/// Kubelet's readiness and liveness probers of every pod (readiness also
/// drives the pod's EndpointSlice `serving`).
fn probers(sc: &Scenario, pods: &[PodAddrs], endpoints: &[(String, Endpoint)]) -> Vec<Prober> {
    pods.iter()
        .zip(endpoints)
        .flat_map(|(p, (_, ep))| {
            [
                Prober::of(ProbeKind::Readiness, p, &sc.kubelet, Some(ep.clone())),
                Prober::of(ProbeKind::Liveness, p, &sc.kubelet, None),
            ]
        })
        .collect()
}

#[cfg(test)]
mod socket_tests {
    use super::*;

    /// 97 bytes stay in the run folder; 98 (a docker run under
    /// artifacts/repeat-<UTC>-docker/<UTC>-s1-graceful/sock) move out.
    #[test]
    fn a_socket_path_longer_than_haproxy_takes_moves_to_the_temp_folder() {
        let sock_len = "haproxy.sock".len() + 1;
        let fits = PathBuf::from(format!(
            "/{}",
            "d".repeat(HAPROXY_SOCKET_MAX - sock_len - 1)
        ));
        let p = socket_path(&fits, "haproxy", "r1");
        assert_eq!(p.as_os_str().len(), HAPROXY_SOCKET_MAX);
        assert!(p.starts_with(&fits));
        let long = PathBuf::from(format!("/{}", "d".repeat(HAPROXY_SOCKET_MAX - sock_len)));
        let p = socket_path(&long, "haproxy", "r1");
        assert_eq!(p, socket_fallback_dir("r1").join("haproxy.sock"));
    }
}
