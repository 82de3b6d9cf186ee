//! The lab's topology: where each pod lives (addresses and ports) and the
//! HAProxy and Envoy configs rendered for N pods from the templates in
//! `haproxy/` and `envoy/` (embedded at build time) into a run's `config/`.
//!
//! Pure rendering: it must never start a process or touch the network.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const HAPROXY_TMPL: &str = include_str!("../../haproxy/haproxy.cfg.tmpl");
const ENVOY_TMPL: &str = include_str!("../../envoy/envoy.yaml.tmpl");

mod settings;
pub use settings::{DrainStrategy, EnvoySettings, HaproxySettings, LbSignal, TopologySettings};

pub const BACKEND_PORT: u16 = 8080;
pub const HC_PORT: u16 = 18180;
pub const HC_ADMIN_PORT: u16 = 18181;
pub const HC_AGENT_PORT: u16 = 18182;
pub const ENVOY_INBOUND_PORT: u16 = 15006;
pub const ENVOY_ADMIN_PORT: u16 = 15000;
/// Pods of the local runtime live on `127.0.<DEFAULT_POD_NET>.<N>`.
pub const DEFAULT_POD_NET: u8 = 10;

/// One pod's name and address; every port is the seed's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodAddrs {
    pub name: String,
    pub ip: Ipv4Addr,
}

impl PodAddrs {
    pub fn new(name: impl Into<String>, ip: Ipv4Addr) -> Self {
        PodAddrs {
            name: name.into(),
            ip,
        }
    }
    fn at(&self, port: u16) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, port))
    }
    /// backend, `<ip>:8080`.
    pub fn backend(&self) -> SocketAddr {
        self.at(BACKEND_PORT)
    }
    /// hc's health port (HAProxy's check port), `<ip>:18180`.
    pub fn hc(&self) -> SocketAddr {
        self.at(HC_PORT)
    }
    /// hc's admin port (the POST transitions), `<ip>:18181`.
    pub fn hc_admin(&self) -> SocketAddr {
        self.at(HC_ADMIN_PORT)
    }
    /// hc's agent-check port, `<ip>:18182`.
    pub fn hc_agent(&self) -> SocketAddr {
        self.at(HC_AGENT_PORT)
    }
    /// Envoy's inbound listener (HAProxy's server address), `<ip>:15006`.
    pub fn envoy_inbound(&self) -> SocketAddr {
        self.at(ENVOY_INBOUND_PORT)
    }
    /// Envoy's admin, `<ip>:15000`.
    pub fn envoy_admin(&self) -> SocketAddr {
        self.at(ENVOY_ADMIN_PORT)
    }
    pub fn hc_url(&self) -> String {
        format!("http://{}", self.hc())
    }
    /// What the preStop hook gets as `HC_URL`: the admin port.
    pub fn hc_admin_url(&self) -> String {
        format!("http://{}", self.hc_admin())
    }
    pub fn envoy_admin_url(&self) -> String {
        format!("http://{}", self.envoy_admin())
    }
    pub fn backend_url(&self) -> String {
        format!("http://{}", self.backend())
    }
}

/// `pod-a`, `pod-b`, ... for pod index 0, 1, ...
pub fn pod_name(index: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    if index < letters.len() {
        format!("pod-{}", letters[index] as char)
    } else {
        format!("pod-{}", index + 1)
    }
}

/// `n` pods named `pod-a`... on `127.0.<net>.1`, `127.0.<net>.2`, ...
pub fn pod_addrs(n: usize, net: u8) -> Vec<PodAddrs> {
    (0..n)
        .map(|i| PodAddrs::new(pod_name(i), Ipv4Addr::new(127, 0, net, (i + 1) as u8)))
        .collect()
}

/// Where HAProxy listens and keeps its runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaproxyPlacement {
    /// The clients' frontend, e.g. `127.0.0.1:<free port>`.
    pub frontend_addr: SocketAddr,
    /// `stats socket` path (usually `<run dir>/haproxy.sock`; at most 107 bytes).
    pub stats_socket: PathBuf,
}

/// The files `render` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub haproxy_cfg: PathBuf,
    /// One per pod, in the order of `pods`.
    pub envoy_cfgs: Vec<PathBuf>,
    pub stats_socket: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("invalid topology setting: {0}")]
    Invalid(String),
    #[error("template {template}: placeholder {{{{{name}}}}} has no value")]
    Unfilled {
        template: &'static str,
        name: String,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Fills `{{name}}` placeholders; any left unfilled is an error.
fn fill(
    template: &'static str,
    text: &str,
    vars: &[(&str, String)],
) -> Result<String, TopologyError> {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    if let Some(start) = out.find("{{") {
        let rest = &out[start + 2..];
        let name = rest.split("}}").next().unwrap_or(rest).to_string();
        return Err(TopologyError::Unfilled { template, name });
    }
    Ok(out)
}

/// HAProxy's config text for `pods`.
pub fn render_haproxy(
    s: &TopologySettings,
    pods: &[PodAddrs],
    place: &HaproxyPlacement,
) -> Result<String, TopologyError> {
    s.validate()?;
    let sock = place.stats_socket.display().to_string();
    if sock.len() > 107 || sock.contains(char::is_whitespace) {
        return Err(TopologyError::Invalid(format!(
            "stats socket path {sock:?} must be at most 107 bytes and without spaces"
        )));
    }
    let h = &s.haproxy;
    let mut default_server = format!("inter {}ms fall {} rise {}", h.inter_ms, h.fall, h.rise);
    if h.on_marked_down_shutdown_sessions {
        default_server.push_str(" on-marked-down shutdown-sessions");
    }
    if let Some(src) = h.source {
        default_server.push_str(&format!(" source {src}"));
    }
    let use_servers: Vec<String> = pods
        .iter()
        .map(|p| format!("    use-server {0} if {{ urlp(pod) -m str {0} }}", p.name))
        .collect();
    let servers: Vec<String> = pods
        .iter()
        .map(|p| {
            let mut line = format!(
                "    server {} {} check port {} addr {}",
                p.name,
                p.envoy_inbound(),
                HC_PORT,
                p.ip
            );
            if h.agent_check {
                line.push_str(&format!(
                    " agent-check agent-addr {} agent-port {} agent-inter {}ms",
                    p.ip, HC_AGENT_PORT, h.agent_inter_ms
                ));
            }
            line
        })
        .collect();
    let vars = [
        ("stats_socket", sock),
        ("timeout_connect_ms", h.timeout_connect_ms.to_string()),
        ("timeout_client_s", h.timeout_client_s.to_string()),
        ("timeout_server_s", h.timeout_server_s.to_string()),
        ("retries", h.retries.to_string()),
        (
            "redispatch",
            if h.redispatch {
                "    option redispatch".into()
            } else {
                "    # no option redispatch".into()
            },
        ),
        (
            "retry_on",
            match &h.retry_on {
                Some(r) => format!("    retry-on {}", r.trim()),
                None => "    # retry-on: HAProxy's default (conn-failure)".into(),
            },
        ),
        ("frontend_addr", place.frontend_addr.to_string()),
        (
            "disable_on_404",
            if h.lb_signal == LbSignal::Status404 {
                "    # soft stop: the first 404 puts the server in NOLB, nothing is killed\n    http-check disable-on-404".into()
            } else {
                "    # a 503 fails the check; `fall` of them mark the server DOWN".into()
            },
        ),
        ("default_server", default_server),
        ("use_servers", use_servers.join("\n")),
        ("servers", servers.join("\n")),
    ];
    fill("haproxy/haproxy.cfg.tmpl", HAPROXY_TMPL, &vars)
}

const ISTIO_LIKE_STATS: &str = "stats_config:
  stats_matcher:
    inclusion_list:
      patterns:
      - prefix: \"http.inbound_http.\"
      - prefix: \"listener.inbound.\"
      - prefix: \"cluster.app.\"
      - prefix: \"server.\"
";

/// Envoy's config text for one pod of the lab: every address is the pod's.
pub fn render_envoy(s: &TopologySettings, pod: &PodAddrs) -> Result<String, TopologyError> {
    render_envoy_at(s, pod, pod.ip)
}

/// Envoy's config text with the inbound listener on `inbound_ip` and admin
/// and the backend on `pod.ip` (a Kubernetes pod: `0.0.0.0` and `127.0.0.1`).
pub fn render_envoy_at(
    s: &TopologySettings,
    pod: &PodAddrs,
    inbound_ip: Ipv4Addr,
) -> Result<String, TopologyError> {
    let stats = if s.envoy.limit_stats_like_istio {
        ISTIO_LIKE_STATS.to_string()
    } else {
        "# (stats not limited: every stat kept, http.admin.* included)\n".to_string()
    };
    let vars = [
        ("pod", pod.name.clone()),
        ("pod_ip", pod.ip.to_string()),
        ("inbound_ip", inbound_ip.to_string()),
        ("stats_config", stats.trim_end().to_string()),
        (
            "slow_delay",
            format!(
                "{}.{:03}s",
                s.envoy.slow_delay_ms / 1000,
                s.envoy.slow_delay_ms % 1000
            ),
        ),
    ];
    fill("envoy/envoy.yaml.tmpl", ENVOY_TMPL, &vars)
}

/// Envoy's flags after `-c <config>`: one Envoy per pod without shared
/// memory, one worker, and the drain strategy and time of the settings.
pub fn envoy_args(s: &TopologySettings) -> Vec<String> {
    [
        "--disable-hot-restart",
        "--concurrency",
        "1",
        "--drain-strategy",
        s.envoy.drain_strategy.as_str(),
        "--drain-time-s",
        &s.envoy.drain_time_s.to_string(),
        "--log-level",
        "warn",
    ]
    .map(String::from)
    .to_vec()
}

/// Renders HAProxy's config and one Envoy config per pod into `out_dir`
/// (`haproxy.cfg`, `envoy-<pod>.yaml`), creating it when needed.
pub fn render(
    settings: &TopologySettings,
    pods: &[PodAddrs],
    place: &HaproxyPlacement,
    out_dir: &Path,
) -> Result<Rendered, TopologyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TopologyError::Io { path, source }
    };
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let haproxy_cfg = out_dir.join("haproxy.cfg");
    let text = render_haproxy(settings, pods, place)?;
    std::fs::write(&haproxy_cfg, text).map_err(io(&haproxy_cfg))?;
    let mut envoy_cfgs = Vec::with_capacity(pods.len());
    for pod in pods {
        let path = out_dir.join(format!("envoy-{}.yaml", pod.name));
        std::fs::write(&path, render_envoy(settings, pod)?).map_err(io(&path))?;
        envoy_cfgs.push(path);
    }
    Ok(Rendered {
        haproxy_cfg,
        envoy_cfgs,
        stats_socket: place.stats_socket.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> HaproxyPlacement {
        HaproxyPlacement {
            frontend_addr: "127.0.0.1:18080".parse().unwrap(),
            stats_socket: "/tmp/x/haproxy.sock".into(),
        }
    }

    #[test]
    fn pods_live_on_their_own_loopback_address() {
        let p = pod_addrs(3, 10);
        assert_eq!(p[0].name, "pod-a");
        assert_eq!(p[2].name, "pod-c");
        assert_eq!(p[1].envoy_inbound().to_string(), "127.0.10.2:15006");
        assert_eq!(p[0].hc_admin_url(), "http://127.0.10.1:18181");
    }

    #[test]
    fn haproxy_config_has_one_server_and_pin_per_pod() {
        let s = TopologySettings::default();
        let text = render_haproxy(&s, &s.pod_addrs(10), &place()).unwrap();
        assert!(text.contains("server pod-b 127.0.10.2:15006 check port 18180 addr 127.0.10.2"));
        assert!(text.contains("use-server pod-a if { urlp(pod) -m str pod-a }"));
        assert!(text.contains("inter 2000ms fall 2 rise 2 on-marked-down shutdown-sessions"));
        assert!(!text.contains("disable-on-404\n"));
        assert!(!text.contains("{{"));
    }

    #[test]
    fn soft_stop_and_agent_check_are_rendered() {
        let mut s = TopologySettings::default();
        s.haproxy.lb_signal = LbSignal::Status404;
        s.haproxy.agent_check = true;
        s.haproxy.redispatch = true;
        s.haproxy.retry_on = Some("conn-failure 503".into());
        let text = render_haproxy(&s, &s.pod_addrs(10), &place()).unwrap();
        assert!(text.contains("    http-check disable-on-404"));
        assert!(
            text.contains("agent-check agent-addr 127.0.10.1 agent-port 18182 agent-inter 1000ms")
        );
        assert!(text.contains("    option redispatch"));
        assert!(text.contains("    retry-on conn-failure 503"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut s = TopologySettings::default();
        s.haproxy.fall = 0;
        assert!(render_haproxy(&s, &s.pod_addrs(10), &place()).is_err());
        let s: Result<TopologySettings, _> = toml::from_str("[haproxy]\nlb_signal = 500");
        assert!(s.unwrap_err().to_string().contains("expected 503 or 404"));
        let s: Result<TopologySettings, _> = toml::from_str("pods = 2\nbogus = 1");
        assert!(s.is_err());
    }

    #[test]
    fn settings_default_from_empty_toml() {
        let s: TopologySettings = toml::from_str("[haproxy]\nfall = 3").unwrap();
        assert_eq!(s.pods, 2);
        assert_eq!(s.haproxy.fall, 3);
        assert_eq!(s.haproxy.inter_ms, 2000);
        assert_eq!(s.envoy.drain_time_s, 600);
    }

    #[test]
    fn envoy_config_has_the_slow_route() {
        let mut s = TopologySettings::default();
        s.envoy.slow_delay_ms = 1020;
        let text = render_envoy(&s, &s.pod_addrs(10)[0]).unwrap();
        assert!(text.contains("fixed_delay: 1.020s"), "{text}");
        assert!(text.contains("prefix: \"/slow/\""));
        assert!(!text.contains("{{"));
    }
}
