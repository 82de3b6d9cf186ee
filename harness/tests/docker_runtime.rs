//! The docker runtime through the product's own code: a pod (pause + backend
//! + hc + Envoy in one namespace) and HAProxy on the run's network, reached
//! from the host at the containers' IPs (no published port); the preStop by
//! the engine's exec in the hc container; exit codes from the engine (137
//! for a SIGKILL); teardown leaves no container nor network with the run's
//! label.

mod docker_support;

use std::time::Duration;

use docker_support::*;
use gate::Naming;
use harness::runtime::docker::{remove_run_blocking, DockerRuntime, RUN_LABEL};
use harness::runtime::docker_pod::{plan, start_docker_haproxy, start_docker_pod};
use harness::runtime::{haproxy_api, new_run_id, PodLaunch, PodTees, ProcSpec, Runtime, Signal};
use harness::topology::{render, HaproxyPlacement, TopologySettings};

/// Removes the run's containers and network even when the test fails.
struct Guard(String);
impl Drop for Guard {
    fn drop(&mut self) {
        remove_run_blocking(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pod_serves_behind_haproxy_drains_by_exec_and_leaves_nothing() {
    let (imgs, _) = images().await;
    let (apps, tools) = (apps(), tools());
    let run_id = new_run_id();
    let _guard = Guard(run_id.clone());
    let tmp = tempfile::tempdir().unwrap();
    let rt = DockerRuntime::new(
        docker().await,
        &run_id,
        "test",
        tmp.path().join("logs"),
        imgs,
    )
    .await
    .expect("the run's network");
    let p = plan(&rt, 1);
    let settings = TopologySettings {
        pods: 1,
        ..TopologySettings::default()
    };
    let rendered = render(
        &settings,
        &p.pods,
        &HaproxyPlacement {
            frontend_addr: p.frontend,
            stats_socket: tmp.path().join("run/haproxy.sock"),
        },
        &tmp.path().join("config"),
    )
    .unwrap();
    let launch = PodLaunch {
        apps: &apps,
        tools: &tools,
        settings: &settings,
        naming: Naming::Gate,
        envoy_cfg: &rendered.envoy_cfgs[0],
        ready_timeout: Duration::from_secs(20),
        backend_env: vec![],
        hc_env: vec![],
        tees: PodTees::default(),
    };
    let pod = start_docker_pod(&rt, &p.pods[0], &launch)
        .await
        .expect("the pod starts");
    let haproxy = start_docker_haproxy(&rt, &rendered, p.haproxy_ip, None, Duration::from_secs(10))
        .await
        .expect("HAProxy starts");

    // Through HAProxy's container to Envoy's inbound listener to the backend.
    let c = client();
    let served = poll(Duration::from_secs(10), || async {
        let r = c.get(format!("http://{}/", p.frontend)).send().await.ok()?;
        (r.status() == 200).then(|| r.headers().get("x-served-by").cloned())?
    })
    .await
    .expect("HAProxy forwards to the pod once its check passed");
    assert_eq!(served.to_str().unwrap(), "pod-a");
    let stat = haproxy_api(&haproxy.stats_socket, "show stat")
        .await
        .unwrap();
    assert!(
        stat.lines().any(|l| l.starts_with("be_app,pod-a,")),
        "{stat}"
    );

    // preStop by exec in the hc container: drain reaches hc and Envoy on the
    // pod's own addresses.
    let prestop = rt
        .exec_in_pod(
            &pod.addrs,
            ProcSpec::new("prestop", &apps.drain)
                .env("LB_BUFFER", "0")
                .env("POLL_INTERVAL", "100ms")
                .env("DRAIN_TIMEOUT", "10"),
        )
        .await
        .expect("exec starts");
    let exit = prestop
        .wait_timeout(Duration::from_secs(30))
        .await
        .expect("the preStop ends");
    let log = std::fs::read_to_string(&prestop.log_path).unwrap();
    assert_eq!(exit.code, 0, "drain's exit; its log:\n{log}");
    assert!(
        log.contains("envoy_drain_listeners") && log.contains("status=200"),
        "{log}"
    );
    let status: serde_json::Value = c
        .get(format!("{}/drain/status", pod.addrs.hc_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "CLOSED", "{status}");

    // The same in the reference script, with the image's sh and curl.
    let script = rt
        .exec_in_pod(
            &pod.addrs,
            ProcSpec::new("prestop-script", &apps.drain_script)
                .env("LB_BUFFER", "0")
                .env("POLL_INTERVAL", "0")
                .env("DRAIN_TIMEOUT", "1"),
        )
        .await
        .expect("exec starts");
    let exit = script.wait_timeout(Duration::from_secs(30)).await.unwrap();
    let log = std::fs::read_to_string(&script.log_path).unwrap();
    assert!(!log.contains("not found"), "sh/curl/awk missing: {log}");
    assert!(log.contains("curl") || log.contains("done"), "{log}");
    let _ = exit;

    // Exit codes from the engine: hc ends on SIGTERM, a SIGKILL is 137.
    let hc = rt.stop(&pod.hc, Duration::from_secs(5)).await.unwrap();
    assert_eq!(hc.code, 0, "hc exits 0 on SIGTERM");
    rt.signal(&pod.envoy, Signal::Kill).unwrap();
    let envoy = pod
        .envoy
        .wait_timeout(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!((envoy.code, envoy.signal), (137, Some(9)));
    assert!(std::fs::read_to_string(&pod.backend.log_path)
        .unwrap()
        .contains("listening"));

    let label = format!("{RUN_LABEL}={run_id}");
    assert!(!docker_ids("containers", &label).is_empty());
    assert_eq!(docker_ids("networks", &label).len(), 1);
    rt.teardown().await;
    assert_eq!(docker_ids("containers", &label), Vec::<String>::new());
    assert_eq!(docker_ids("networks", &label), Vec::<String>::new());
}
