//! A pod over any `Runtime`: backend + hc + Envoy sidecar in the runtime's
//! sandbox, each waited on until it really serves, with a bounded deadline
//! and an error naming the process and its log.
//!
//! It must never wait without a deadline, nor report a pod ready that is not.

use std::path::Path;
use std::time::{Duration, Instant};

use gate::Naming;

use crate::apps::Apps;
use crate::runtime::{LineSink, Proc, ProcSpec, Runtime, RuntimeError};
use crate::tools::Tools;
use crate::topology::{PodAddrs, TopologySettings};

/// Where each pod process's output is also sent (besides its log file).
#[derive(Debug, Clone, Default)]
pub struct PodTees {
    pub backend: Option<LineSink>,
    pub hc: Option<LineSink>,
    pub envoy: Option<LineSink>,
}

/// Everything `start_pod` needs besides the pod's address.
#[derive(Debug, Clone)]
pub struct PodLaunch<'a> {
    pub apps: &'a Apps,
    pub tools: &'a Tools,
    pub settings: &'a TopologySettings,
    pub naming: Naming,
    /// This pod's rendered Envoy config (`Rendered::envoy_cfgs[i]`).
    pub envoy_cfg: &'a Path,
    /// How long each process may take to become ready.
    pub ready_timeout: Duration,
    /// Extra env for the backend (e.g. `SHUTDOWN_TIMEOUT`).
    pub backend_env: Vec<(String, String)>,
    /// Extra env for hc.
    pub hc_env: Vec<(String, String)>,
    pub tees: PodTees,
}

/// A running pod.
#[derive(Debug, Clone)]
pub struct Pod {
    pub addrs: PodAddrs,
    pub backend: Proc,
    pub hc: Proc,
    pub envoy: Proc,
}

impl Pod {
    /// The pod's containers, in the order they were started.
    pub fn procs(&self) -> [&Proc; 3] {
        [&self.backend, &self.hc, &self.envoy]
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("a plain HTTP client builds")
}

/// Polls `probe` every 20 ms until it says ready, `proc` exits, or `timeout`.
pub(super) async fn wait_ready<F, Fut>(
    proc: &Proc,
    timeout: Duration,
    mut probe: F,
) -> Result<(), RuntimeError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    loop {
        if let Some(exit) = proc.try_exit() {
            return Err(RuntimeError::ExitedEarly {
                what: proc.label(),
                code: exit.code,
                log: proc.log_path.clone(),
            });
        }
        let last = match probe().await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            return Err(RuntimeError::NotReady {
                what: proc.label(),
                waited: timeout,
                detail: last,
                log: proc.log_path.clone(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GET `url`; Ok when the status is 200 and the body (trimmed) is `body`
/// when one is given.
async fn get_ok(client: &reqwest::Client, url: &str, body: Option<&str>) -> Result<(), String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::OK {
        return Err(format!("GET {url}: {status}"));
    }
    match body {
        Some(want) if text.trim() != want => {
            Err(format!("GET {url}: {:?}, not {want}", text.trim()))
        }
        _ => Ok(()),
    }
}

/// Prepares `pod`'s sandbox (`Runtime::pod_sandbox`), starts its backend, hc
/// and Envoy sidecar and waits until each is ready (backend `/` 200, hc
/// `/health` 200, Envoy admin `/ready` = `LIVE`).
/// On an error the processes already started stay registered with the
/// runtime (its `teardown` ends them).
pub async fn start_pod<R: Runtime>(
    rt: &R,
    pod: &PodAddrs,
    launch: &PodLaunch<'_>,
) -> Result<Pod, RuntimeError> {
    let s = launch.settings;
    let envoy_cfg = rt.pod_sandbox(pod, launch.envoy_cfg).await?;
    let mut backend = ProcSpec::new("backend", &launch.apps.backend)
        .pod(&pod.name)
        .env("POD_NAME", &pod.name)
        .env("BACKEND_ADDR", pod.backend().to_string())
        .tee(launch.tees.backend.clone());
    backend.env.extend(launch.backend_env.iter().cloned());
    let mut hc = ProcSpec::new("hc", &launch.apps.hc)
        .pod(&pod.name)
        .env("POD_NAME", &pod.name)
        .env("HC_ADDR", pod.hc().to_string())
        .env("HC_ADMIN_ADDR", pod.hc_admin().to_string())
        .env(
            "HC_NAMING",
            match launch.naming {
                Naming::Gate => "gate",
                Naming::Legacy => "legacy",
            },
        )
        .env("HC_LB_SIGNAL", s.haproxy.lb_signal.to_string())
        .tee(launch.tees.hc.clone());
    if s.haproxy.agent_check {
        hc = hc.env("HC_AGENT_ADDR", pod.hc_agent().to_string());
    }
    hc.env.extend(launch.hc_env.iter().cloned());
    let envoy = ProcSpec::new("envoy", &launch.tools.envoy)
        .pod(&pod.name)
        .arg("-c")
        .arg(&envoy_cfg)
        .args(crate::topology::envoy_args(s))
        // The access log (stdout) is flushed every 0.1 s, not every 10 s:
        // the records sink waits for a disrupted request's line.
        .args(["--file-flush-interval-msec", "100"])
        .tee(launch.tees.envoy.clone())
        .batch_every(super::PROXY_LINES_EVERY);

    let backend = rt.start(backend).await?;
    let hc = rt.start(hc).await?;
    let envoy = rt.start(envoy).await?;
    let client = http_client();
    let t = launch.ready_timeout;
    let (b_url, h_url, e_url) = (
        format!("{}/", pod.backend_url()),
        format!("{}/health", pod.hc_url()),
        format!("{}/ready", pod.envoy_admin_url()),
    );
    let (b, h, e) = tokio::join!(
        wait_ready(&backend, t, || get_ok(&client, &b_url, None)),
        wait_ready(&hc, t, || get_ok(&client, &h_url, None)),
        wait_ready(&envoy, t, || get_ok(&client, &e_url, Some("LIVE"))),
    );
    b?;
    h?;
    e?;
    Ok(Pod {
        addrs: pod.clone(),
        backend,
        hc,
        envoy,
    })
}
