//! Shared test rig: finds the real Envoy/HAProxy, starts them (killed on
//! drop), runs hc and backend in-process on loopback, runs `drain` or the
//! script as a real process and collects its lines with arrival times.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

// Re-exported for the tests that `use common::*`; not every test binary uses each.
#[allow(unused_imports)]
pub use testkit::{free_port, tool, wait_for, workspace};

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Starts a real backend in-process; it lives as long as the test's runtime.
pub async fn start_backend() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let cfg = backend::Config {
        pod_name: "pod-a".into(),
        shutdown_timeout: Duration::from_secs(5),
    };
    tokio::spawn(backend::serve(l, cfg, std::future::pending()));
    addr
}

/// Starts a real hc in-process; returns its base URL.
pub async fn start_hc(lb_signal: hc::LbSignal) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let listeners = hc::Listeners {
        public: l,
        admin: None,
        agent: None,
    };
    let cfg = hc::Config {
        naming: gate::Naming::Gate,
        lb_signal,
    };
    tokio::spawn(hc::serve(listeners, cfg, std::future::pending()));
    format!("http://{addr}")
}

pub async fn hc_status(hc_url: &str) -> gate::DrainStatus {
    client()
        .get(format!("{hc_url}/drain/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn hc_post(hc_url: &str, path: &str) -> u16 {
    client()
        .post(format!("{hc_url}{path}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A line a child wrote, with when the test read it.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

/// A child process killed on drop, whose stdout and stderr lines are collected.
pub struct Proc {
    pub child: Child,
    rx: mpsc::UnboundedReceiver<Line>,
    pub lines: Vec<Line>,
    pub started: Instant,
    _dir: Option<tempfile::TempDir>,
}

impl Proc {
    pub fn spawn(mut cmd: Command, dir: Option<tempfile::TempDir>) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn");
        let (tx, rx) = mpsc::unbounded_channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for r in [
            Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(text)) = lines.next_line().await {
                    let _ = tx.send(Line {
                        at: Instant::now(),
                        text,
                    });
                }
            });
        }
        Proc {
            child,
            rx,
            lines: Vec::new(),
            started,
            _dir: dir,
        }
    }

    /// Moves what arrived so far into `lines`.
    pub fn collect(&mut self) -> &[Line] {
        while let Ok(l) = self.rx.try_recv() {
            self.lines.push(l);
        }
        &self.lines
    }

    /// Waits for a line containing `needle` (bounded).
    pub async fn wait_line(&mut self, needle: &str, within: Duration) -> Line {
        let end = Instant::now() + within;
        loop {
            if let Some(l) = self.collect().iter().find(|l| l.text.contains(needle)) {
                return l.clone();
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no line with {needle:?} within {within:?}; got:\n{}",
                self.text()
            );
            if let Ok(Some(l)) = tokio::time::timeout(left, self.rx.recv()).await {
                self.lines.push(l);
            }
        }
    }

    /// Waits for the exit (bounded); returns the code and the wall time since spawn.
    pub async fn finish(&mut self, within: Duration) -> (i32, Duration) {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running after {within:?}:\n{}", self.text()))
            .unwrap();
        let wall = self.started.elapsed();
        // Let the readers drain the pipes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.collect();
        (status.code().unwrap_or(-1), wall)
    }

    pub fn text(&mut self) -> String {
        self.collect();
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last logfmt line (one with a `msg=`): drain's summary line.
    pub fn last_msg(&mut self) -> Line {
        self.collect();
        let last = self.lines.iter().rev().find(|l| l.text.contains("msg="));
        last.cloned()
            .unwrap_or_else(|| panic!("no logfmt line at all: {:?}", self.lines))
    }

    /// Lines whose `msg=` is exactly `msg`.
    pub fn msgs(&mut self, msg: &str) -> Vec<Line> {
        let key = format!("msg={msg}");
        self.collect();
        self.lines
            .iter()
            .filter(|l| l.text.split_whitespace().any(|w| w == key))
            .cloned()
            .collect()
    }
}

/// `key=value` of a logfmt line (unquoted values only).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pre = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(pre.as_str()))
}

/// Runs the `drain` binary with these env settings (nothing inherited that matters).
pub fn drain(env: &[(&str, &str)], args: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drain"));
    cmd.args(args);
    for k in [
        "HC_URL",
        "ENVOY_ADMIN",
        "DRAIN_TIMEOUT",
        "POLL_INTERVAL",
        "LB_BUFFER",
        "LB_BUFFER_MAX",
        "LB_FALL",
        "DRAIN_ORDER",
        "ZERO_ON_STATS_ERROR",
        "ACTIVE_STAT",
        "MIN_DRAIN",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    Proc::spawn(cmd, None)
}

/// Runs `apps/hc/graceful-drain.sh` with `sh`.
pub fn script(env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new("sh");
    cmd.arg(workspace().join("apps/hc/graceful-drain.sh"));
    cmd.envs(env.iter().copied());
    Proc::spawn(cmd, None)
}

/// A real Envoy: admin on a free port, one inbound listener → `upstream`,
/// route `timeout: 0s`.
pub struct Envoy {
    pub proc: Proc,
    pub admin: String,
    pub inbound: SocketAddr,
}

impl Envoy {
    pub async fn start(upstream: SocketAddr) -> Envoy {
        let bin = tool("envoy", "ENVOY_BIN");
        let dir = tempfile::tempdir().unwrap();
        let admin_port = free_port();
        let in_port = free_port();
        let cfg = ENVOY_YAML
            .replace("ADMIN_PORT", &admin_port.to_string())
            .replace("IN_PORT", &in_port.to_string())
            .replace("UP_PORT", &upstream.port().to_string());
        let path = dir.path().join("envoy.yaml");
        std::fs::write(&path, cfg).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&path).args([
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "-l",
            "warning",
        ]);
        let proc = Proc::spawn(cmd, Some(dir));
        let admin = format!("http://127.0.0.1:{admin_port}");
        let ready = format!("{admin}/ready");
        let c = client();
        wait_for("envoy /ready LIVE", Duration::from_secs(15), || {
            let c = c.clone();
            let ready = ready.clone();
            async move {
                match c.get(&ready).send().await {
                    Ok(r) => r.text().await.is_ok_and(|t| t.trim() == "LIVE"),
                    Err(_) => false,
                }
            }
        })
        .await;
        Envoy {
            proc,
            admin,
            inbound: SocketAddr::from(([127, 0, 0, 1], in_port)),
        }
    }

    /// The inbound+cluster active-request sum, admin's own left out.
    pub async fn active_rq(&self) -> u64 {
        let body = client()
            .get(format!(
                "{}/stats?filter=downstream_rq_active%7Cupstream_rq_active",
                self.admin
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        drain::stats::sum_active(body.as_bytes(), drain::ActiveStat::Rq).unwrap()
    }
}

const ENVOY_YAML: &str = r#"
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: ADMIN_PORT}}
static_resources:
  listeners:
  - name: inbound
    address: {socket_address: {address: 127.0.0.1, port_value: IN_PORT}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound_http
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route: {cluster: app, timeout: 0s}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: app
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: UP_PORT}}}
"#;

/// Starts `GET <envoy>/sleep?seconds=N` in the background; resolves to
/// (status, body, when it ended).
pub fn long_request(
    envoy: &Envoy,
    seconds: u64,
) -> tokio::task::JoinHandle<(u16, String, Instant)> {
    let url = format!("http://{}/sleep?seconds={seconds}", envoy.inbound);
    tokio::spawn(async move {
        let r = client().get(url).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        (status, body, Instant::now())
    })
}

/// A real Envoy in front of an in-process backend, and an in-process hc
/// that answers 503 once draining (its base URL).
pub async fn envoy_and_hc() -> (Envoy, String) {
    let envoy = Envoy::start(start_backend().await).await;
    let hc = start_hc(hc::LbSignal::Status503).await;
    (envoy, hc)
}

/// [`long_request`], returned once Envoy counts it in flight.
pub async fn request_in_flight(
    envoy: &Envoy,
    seconds: u64,
) -> tokio::task::JoinHandle<(u16, String, Instant)> {
    let req = long_request(envoy, seconds);
    wait_in_flight(envoy).await;
    req
}

/// Waits until Envoy counts the request in flight.
pub async fn wait_in_flight(envoy: &Envoy) {
    let e = envoy;
    wait_for(
        "the request in flight through envoy",
        Duration::from_secs(5),
        || async move { e.active_rq().await >= 1 },
    )
    .await;
}
