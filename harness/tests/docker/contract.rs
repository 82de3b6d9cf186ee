//! hc's and the backend's contracts inside containers of the lab's locally
//! built images, started with testcontainers (no pull: the images exist),
//! reached from the host at the container's bridge address (no published
//! port).

use crate::support::*;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

async fn run(tag: &str, cmd: &[&str], env: &[(&str, &str)]) -> ContainerAsync<GenericImage> {
    let (name, t) = split_tag(tag);
    let mut req = GenericImage::new(name, t)
        .with_wait_for(WaitFor::message_on_stderr("listening"))
        .with_cmd(cmd.iter().map(|s| s.to_string()))
        .with_label("graceful-lab", "1")
        .with_label("graceful-lab.run", "test-contract")
        // A live owner: a parallel `gc` leaves these alone.
        .with_label(
            harness::runtime::docker::OWNER_LABEL,
            harness::runtime::procscan::own_token(),
        )
        .with_cap_drop("ALL")
        .with_network("bridge");
    for (k, v) in env {
        req = req.with_env_var(*k, *v);
    }
    req.start().await.expect("the container starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_serves_and_names_its_pod_in_a_container() {
    let (imgs, _) = images().await;
    let c = run(
        &imgs.backend,
        &["/usr/local/bin/backend"],
        &[("BACKEND_ADDR", "0.0.0.0:8080"), ("POD_NAME", "pod-x")],
    )
    .await;
    let ip = c.get_bridge_ip_address().await.unwrap();
    let (status, body) = get_when_up(&format!("http://{ip}:8080/")).await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let r = client()
        .get(format!("http://{ip}:8080/sleep?seconds=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-served-by"], "pod-x");
    assert_eq!(r.text().await.unwrap().trim(), "slept 0s");
    let (status, _) = get_when_up(&format!("http://{ip}:8080/sleep?seconds=abc")).await;
    assert_eq!(status, 400, "a bad value is refused clearly");
}

#[tokio::test(flavor = "multi_thread")]
async fn hc_walks_its_fsm_in_a_container() {
    let (imgs, _) = images().await;
    let c = run(
        &imgs.hc,
        &["/usr/local/bin/hc"],
        &[("HC_ADDR", "0.0.0.0:18180"), ("POD_NAME", "pod-x")],
    )
    .await;
    let ip = c.get_bridge_ip_address().await.unwrap();
    let base = format!("http://{ip}:18180");
    let http = client();
    let (status, body) = get_when_up(&format!("{base}/health_check.html")).await;
    assert_eq!((status, body.trim()), (200, "OK"));
    for (path, want) in [("/drain", 200), ("/close-lb", 200)] {
        let r = http.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "POST {path}");
    }
    let r = http
        .get(format!("{base}/health_check.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        503,
        "CLOSING: the LB is told to let go"
    );
    let r = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "readiness holds until CLOSED");
    let st = get_json(&http, &format!("{base}/drain/status")).await;
    assert_eq!(st["state"], "CLOSING", "{st}");
    let r = http.put(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
}
