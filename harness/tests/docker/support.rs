//! Shared helpers of the docker tests (the `support` module of the docker test binary):
//! the engine, the lab's images built locally (no pulls), guards that
//! remove what a test created, and label checks through the docker CLI
//! (the tests may use it; the product does not).
#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use harness::runtime::images::{ensure_lab_images, ImageReport, LabImages};

pub use crate::run_support::{apps, tools};

/// The engine; a test FAILS (not skips) without one.
pub async fn docker() -> bollard::Docker {
    harness::runtime::docker::connect()
        .await
        .unwrap_or_else(|e| {
            panic!("the docker tests need a Docker Engine (systemctl start docker / dockerd): {e}")
        })
}

/// The lab's images, built when their content tag is missing.
pub async fn images() -> (LabImages, Vec<ImageReport>) {
    let d = docker().await;
    ensure_lab_images(&d, &apps(), &tools())
        .await
        .unwrap_or_else(|e| panic!("building the lab's images: {e}"))
}

/// `graceful-lab/x:hash` -> ("graceful-lab/x", "hash") for GenericImage.
pub fn split_tag(tag: &str) -> (String, String) {
    let (n, t) = tag.rsplit_once(':').expect("a tagged image");
    (n.to_string(), t.to_string())
}

/// Ids of containers / networks carrying `label` (docker CLI).
pub fn docker_ids(what: &str, label: &str) -> Vec<String> {
    let args: Vec<&str> = match what {
        "containers" => vec!["ps", "-a", "-q", "--filter"],
        "networks" => vec!["network", "ls", "-q", "--filter"],
        _ => vec!["volume", "ls", "-q", "--filter"],
    };
    let out = Command::new("docker")
        .args(args)
        .arg(format!("label={label}"))
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Polls `f` every 50 ms until it returns Some or `within` passes.
pub async fn poll<T, F, Fut>(within: Duration, f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    testkit::poll(within, Duration::from_millis(50), f).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// GET `url` as JSON (the test fails on any error).
pub async fn get_json(c: &reqwest::Client, url: &str) -> serde_json::Value {
    c.get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// GET `url` until it answers (any status); returns (status, body).
pub async fn get_when_up(url: &str) -> (u16, String) {
    let c = client();
    poll(Duration::from_secs(15), || async {
        let r = c.get(url).send().await.ok()?;
        let s = r.status().as_u16();
        Some((s, r.text().await.unwrap_or_default()))
    })
    .await
    .unwrap_or_else(|| panic!("{url} did not answer within 15 s"))
}

/// Removes everything labelled with its run id when dropped (also when the
/// test panics).
pub struct Guard(pub String);
impl Drop for Guard {
    fn drop(&mut self) {
        harness::runtime::docker::remove_run_blocking(&self.0);
    }
}

/// A docker runtime for `run_id` on the lab's images, logs in `logs`.
pub async fn new_rt(
    run_id: &str,
    logs: &std::path::Path,
) -> harness::runtime::docker::DockerRuntime {
    let (imgs, _) = images().await;
    harness::runtime::docker::DockerRuntime::new(docker().await, run_id, "test", logs, imgs)
        .await
        .expect("the run's network")
}
