//! The docker runtime through the product's own code: a pod (pause, backend,
//! hc and Envoy in one namespace) and HAProxy on the run's network, reached
//! from the host at the containers' IPs (no published port); the preStop by
//! the engine's exec in the hc container; exit codes from the engine (137 for
//! a SIGKILL); teardown leaves no container nor network with the run's label.

use std::time::Duration;

use crate::support::*;
use gate::Naming;
use harness::lab::{haproxy_api, start_haproxy, start_pod, PodLaunch, PodTees};
use harness::runtime::docker::docker_envoy_cfg;
use harness::runtime::docker::{DockerRuntime, OWNER_LABEL, RUN_LABEL};
use harness::runtime::{new_run_id, LabRuntime, ProcSpec, Runtime, Signal};
use harness::topology::{render, HaproxyPlacement, TopologySettings};

/// Removes the run's containers and network even when the test fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pod_serves_behind_haproxy_drains_by_exec_and_leaves_nothing() {
    let (imgs, _) = images().await;
    let (apps, tools) = (apps(), tools());
    let run_id = new_run_id();
    let _guard = Guard(run_id.clone());
    let tmp = tempfile::tempdir().unwrap();
    let drt = DockerRuntime::new(
        docker().await,
        &run_id,
        "test",
        tmp.path().join("logs"),
        imgs,
    )
    .await
    .expect("the run's network");
    // Through the enum the run uses, placed by the runtime as a run is.
    let rt = LabRuntime::Docker(drt);
    let pods = rt.pod_addrs(2);
    let lb = rt.haproxy_place(0).unwrap();
    assert_eq!(rt.kind().as_str(), "docker");
    let settings = TopologySettings {
        pods: 2,
        ..TopologySettings::default()
    };
    let rendered = render(
        &settings,
        &pods,
        &HaproxyPlacement {
            frontend_addr: lb.frontend,
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
    let t_topology = std::time::Instant::now();
    let pod = start_pod(&rt, &pods[0], &launch)
        .await
        .expect("the pod starts");
    let launch_b = PodLaunch {
        envoy_cfg: &rendered.envoy_cfgs[1],
        ..launch.clone()
    };
    let pod_b = start_pod(&rt, &pods[1], &launch_b)
        .await
        .expect("the second pod starts");
    let haproxy = start_haproxy(&rt, &tools, &rendered, &lb, None, Duration::from_secs(10))
        .await
        .expect("HAProxy starts");

    eprintln!(
        "docker topology (2 pods + HAProxy) ready in {:?}",
        t_topology.elapsed()
    );
    // Through HAProxy's container to Envoy's inbound listener to the backend.
    let c = client();
    let served = poll(Duration::from_secs(10), || async {
        let r = c
            .get(format!("http://{}/?pod=pod-a", lb.frontend))
            .send()
            .await
            .ok()?;
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
    let status = get_json(&c, &format!("{}/drain/status", pod.addrs.hc_url())).await;
    assert_eq!(status["state"], "CLOSED", "{status}");

    // The reference script on the other pod, with the image's sh, awk and curl.
    let script = rt
        .exec_in_pod(
            &pod_b.addrs,
            ProcSpec::new("prestop-script", &apps.drain_script)
                .env("LB_BUFFER", "0")
                .env("POLL_INTERVAL", "1")
                .env("DRAIN_TIMEOUT", "1"),
        )
        .await
        .expect("exec starts");
    let exit = script.wait_timeout(Duration::from_secs(30)).await.unwrap();
    let log = std::fs::read_to_string(&script.log_path).unwrap();
    assert_eq!(exit.code, 0, "{log}");
    assert!(log.contains("msg=done step=7"), "{log}");
    assert!(
        !log.contains("curl_failed") && !log.contains("not found"),
        "{log}"
    );
    let status = get_json(&c, &format!("{}/drain/status", pod_b.addrs.hc_url())).await;
    assert_eq!(status["state"], "CLOSED", "{status}");

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

/// hc's container shares the pause container's namespace with Envoy: from
/// inside hc, Envoy's admin answers on 127.0.0.1:15000.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pods_containers_share_one_network_namespace() {
    let (apps, tools) = (apps(), tools());
    let run_id = new_run_id();
    let _guard = Guard(run_id.clone());
    let tmp = tempfile::tempdir().unwrap();
    let rt = new_rt(&run_id, &tmp.path().join("logs")).await;
    let pods = rt.pod_addrs(1);
    let lb = rt.haproxy_place(0).unwrap();
    let pod = &pods[0];
    let settings = TopologySettings {
        pods: 1,
        ..TopologySettings::default()
    };
    let place = HaproxyPlacement {
        frontend_addr: lb.frontend,
        stats_socket: tmp.path().join("haproxy.sock"),
    };
    let rendered = render(&settings, &pods, &place, &tmp.path().join("config")).unwrap();
    let cfg = docker_envoy_cfg(&rendered.envoy_cfgs[0], pod).unwrap();
    rt.create_pod_sandbox(pod).await.unwrap();
    let _envoy = rt
        .start(
            ProcSpec::new("envoy", &tools.envoy)
                .pod(&pod.name)
                .arg("-c")
                .arg(&cfg)
                .args(["--disable-hot-restart", "--concurrency", "1"]),
        )
        .await
        .unwrap();
    let hc = rt
        .start(
            ProcSpec::new("hc", &apps.hc)
                .pod(&pod.name)
                .env("HC_ADDR", pod.hc().to_string()),
        )
        .await
        .unwrap();
    let ready = poll(Duration::from_secs(20), || async {
        let probe = rt
            .exec_in_pod(
                pod,
                ProcSpec::new("probe", "curl").args([
                    "-sf",
                    "-m",
                    "1",
                    "http://127.0.0.1:15000/ready",
                ]),
            )
            .await
            .ok()?;
        let exit = probe.wait_timeout(Duration::from_secs(5)).await?;
        let log = std::fs::read_to_string(&probe.log_path).unwrap_or_default();
        (exit.code == 0 && log.contains("LIVE")).then_some(())
    })
    .await;
    assert!(
        ready.is_some(),
        "Envoy's admin never answered on 127.0.0.1 inside the pod"
    );
    assert!(hc.is_running());
    // The pod's IP, from the host: the same namespace, one address.
    let (status, _) = get_when_up(&format!("{}/health", pod.hc_url())).await;
    assert_eq!(status, 200);
    rt.teardown().await;
}

/// A SIGKILL through the engine is 137; a runtime dropped without teardown
/// still removes its containers and network.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_is_137_and_a_dropped_runtime_leaves_nothing() {
    let run_id = new_run_id();
    let _guard = Guard(run_id.clone());
    let tmp = tempfile::tempdir().unwrap();
    let rt = new_rt(&run_id, tmp.path()).await;
    let sleeper = rt
        .start(ProcSpec::new("sleeper", "sleep").arg("600"))
        .await
        .unwrap();
    let label = format!("{RUN_LABEL}={run_id}");
    assert_eq!(docker_ids("containers", &label).len(), 1);
    rt.signal(&sleeper, Signal::Kill).unwrap();
    let exit = sleeper.wait_timeout(Duration::from_secs(10)).await.unwrap();
    assert_eq!((exit.code, exit.signal), (137, Some(9)));
    drop(rt);
    assert_eq!(docker_ids("containers", &label), Vec::<String>::new());
    assert_eq!(docker_ids("networks", &label), Vec::<String>::new());
}

/// `gc` removes what a dead harness left (its owner label names no live
/// process) and leaves a live run alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_sweeps_leftovers_of_dead_harnesses_only() {
    let (imgs, _) = images().await;
    let d = docker().await;
    let dead_run = new_run_id();
    let _g1 = Guard(dead_run.clone());
    let labels: std::collections::HashMap<String, String> = [
        ("graceful-lab".to_string(), "1".to_string()),
        (RUN_LABEL.to_string(), dead_run.clone()),
        (OWNER_LABEL.to_string(), "999999999:1".to_string()),
    ]
    .into();
    d.create_container(
        None::<bollard::query_parameters::CreateContainerOptions>,
        bollard::models::ContainerCreateBody {
            image: Some(imgs.pause.clone()),
            cmd: Some(vec!["sleep".into(), "600".into()]),
            labels: Some(labels),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let live_run = new_run_id();
    let _g2 = Guard(live_run.clone());
    let tmp = tempfile::tempdir().unwrap();
    let rt = new_rt(&live_run, tmp.path()).await;
    rt.start(ProcSpec::new("sleeper", "sleep").arg("600"))
        .await
        .unwrap();
    let swept = tokio::task::spawn_blocking(harness::runtime::docker::gc)
        .await
        .unwrap();
    assert!(swept.engine);
    assert!(swept.removed >= 1, "{swept:?}");
    assert_eq!(
        docker_ids("containers", &format!("{RUN_LABEL}={dead_run}")),
        Vec::<String>::new()
    );
    assert_eq!(
        docker_ids("containers", &format!("{RUN_LABEL}={live_run}")).len(),
        1
    );
    rt.teardown().await;
}
