//! The local runtime with real processes: a 2-pod topology behind a real
//! HAProxy serves and pins requests, exit codes follow 128 + signal, output
//! lands in the log files and the tee, teardown and gc leave nothing behind.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gate::Naming;
use harness::lab::{haproxy_api, start_haproxy, start_pod, PodLaunch, PodTees};
use harness::runtime::procscan::processes_of_run;
use harness::runtime::{gc, LbPlace, LocalRuntime, ProcSpec, Runtime, Signal};
use harness::topology::{render, HaproxyPlacement, PodAddrs, TopologySettings};
use rstest::rstest;
use testkit::{free_port, poll_ok as poll};
use tokio::sync::mpsc;

use crate::run_support;
use run_support::{apps, tools};

mod output;
mod support;
use support::{alive, helper_exit, runtime, servers, shm, spawn_helper, HELPER_DIR, HELPER_MODE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pods_behind_haproxy_serve_pinned_requests_and_tear_down_clean() {
    let (tools, apps) = (tools(), apps());
    let shm_before = shm();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, "topology");
    let settings = TopologySettings::default();
    let pods = settings.pod_addrs(21);
    let frontend: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let place = HaproxyPlacement {
        frontend_addr: frontend,
        stats_socket: dir.path().join("haproxy.sock"),
    };
    let rendered = render(&settings, &pods, &place, &dir.path().join("config")).unwrap();

    let mut started = Vec::new();
    for (pod, cfg) in pods.iter().zip(&rendered.envoy_cfgs) {
        let launch = PodLaunch {
            apps: &apps,
            tools: &tools,
            settings: &settings,
            naming: Naming::Gate,
            envoy_cfg: cfg,
            ready_timeout: Duration::from_secs(10),
            backend_env: vec![],
            hc_env: vec![],
            tees: PodTees::default(),
        };
        started.push(start_pod(&rt.0, pod, &launch).await.unwrap());
    }
    let (tx, mut haproxy_lines) = mpsc::unbounded_channel();
    let lb = LbPlace {
        frontend,
        check_source: None,
        ip: std::net::Ipv4Addr::LOCALHOST,
    };
    let hap = start_haproxy(
        &rt.0,
        &tools,
        &rendered,
        &lb,
        Some(tx),
        Duration::from_secs(10),
    )
    .await
    .unwrap();

    // Both servers UP after a real passing check (not just the initial state).
    poll(
        "both servers UP with L7OK",
        Duration::from_secs(8),
        || async {
            let stat = haproxy_api(&hap.stats_socket, "show stat")
                .await
                .map_err(|e| e.to_string())?;
            let s = servers(&stat);
            let names: Vec<&str> = s.iter().map(|x| x.0.as_str()).collect();
            if names == ["pod-a", "pod-b"] && s.iter().all(|x| x.1 == "UP" && x.2 == "L7OK") {
                Ok(())
            } else {
                Err(format!("{s:?}"))
            }
        },
    )
    .await;

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for pod in ["pod-a", "pod-b", "pod-a"] {
        let rid = format!("rid-{pod}-{}", rand::random::<u32>());
        let resp = client
            .get(format!("http://{frontend}/?pod={pod}"))
            .header("x-request-id", &rid)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-served-by"], pod);
        // HAProxy's log line (tee'd live) names the request id and the server.
        let line = poll("HAProxy log line", Duration::from_secs(5), || {
            let found = loop {
                match haproxy_lines.try_recv() {
                    Ok(b) => {
                        let key = format!("rid={rid} ");
                        if let Some(l) = b.lines.into_iter().find(|l| l.contains(&key)) {
                            break Some(l);
                        }
                    }
                    Err(_) => break None,
                }
            };
            async move { found.ok_or_else(|| "not yet".to_string()) }
        })
        .await;
        // HAProxy's own ISO time first, then the keyed request line.
        assert!(
            line.split_once(' ')
                .is_some_and(|(t, rest)| t.starts_with("20") && rest.starts_with("http ")),
            "{line}"
        );
        assert!(
            line.contains(&format!("srv={pod} status=200 tsc=----")),
            "{line}"
        );
    }
    assert!(std::fs::read_to_string(dir.path().join("logs/haproxy.log"))
        .unwrap()
        .contains("srv=pod-b status=200"));
    assert!(dir.path().join("logs/pod-a-envoy.log").exists());

    rt.0.teardown().await;
    assert!(
        processes_of_run(rt.0.run_id()).is_empty(),
        "left behind: {:?}",
        processes_of_run(rt.0.run_id())
    );
    for p in rt.0.procs() {
        assert!(p.try_exit().is_some(), "{} has no exit recorded", p.label());
    }
    let new_shm: Vec<String> = shm().difference(&shm_before).cloned().collect();
    assert!(new_shm.is_empty(), "new in /dev/shm: {new_shm:?}");
}

#[rstest]
#[case::sigkill(Some(Signal::Kill), "sleep 30", 137, Some(9))]
#[case::sigterm(Some(Signal::Term), "sleep 30", 143, Some(15))]
#[case::plain_exit(None, "exit 3", 3, None)]
#[tokio::test]
async fn exit_codes_are_the_code_or_128_plus_signal(
    #[case] sig: Option<Signal>,
    #[case] script: &str,
    #[case] code: i32,
    #[case] signal: Option<i32>,
) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, &format!("exit{code}"));
    let p =
        rt.0.start(ProcSpec::new("victim", "/bin/sh").args(["-c", script]))
            .await
            .unwrap();
    if let Some(sig) = sig {
        assert!(p.is_running());
        rt.0.signal(&p, sig).unwrap();
    }
    let exit = p
        .wait_timeout(Duration::from_secs(5))
        .await
        .expect("it exits");
    assert_eq!((exit.code, exit.signal), (code, signal));
    // Every clone of the handle sees the same exit.
    assert_eq!(p.clone().try_exit(), Some(exit));
}

#[tokio::test]
async fn exec_in_pod_sees_the_pods_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, "exec");
    let pod = PodAddrs::new("pod-a", "127.0.22.1".parse().unwrap());
    let p =
        rt.0.exec_in_pod(
            &pod,
            ProcSpec::new("prestop", "/bin/sh")
                .args([
                    "-c",
                    "echo $HC_URL $ENVOY_ADMIN $POD_NAME $DRAIN_TIMEOUT $GRACEFUL_LAB_RUN_ID",
                ])
                .env("DRAIN_TIMEOUT", "7"),
        )
        .await
        .unwrap();
    assert_eq!(p.wait().await.code, 0);
    let log = std::fs::read_to_string(dir.path().join("logs/pod-a-prestop.log")).unwrap();
    assert_eq!(
        log.trim(),
        format!(
            "http://127.0.22.1:18181 http://127.0.22.1:15000 pod-a 7 {}",
            rt.0.run_id()
        )
    );
}

#[tokio::test]
async fn signals_reach_the_whole_group_and_teardown_kills_what_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(&dir, "group");
    let p =
        rt.0.start(ProcSpec::new("family", "/bin/sh").args(["-c", "sleep 300 & sleep 300 & wait"]))
            .await
            .unwrap();
    let stubborn = rt
        .0
        .start(ProcSpec::new("stubborn", "/bin/sh").args(["-c", "trap '' TERM; sleep 300 & wait"]))
        .await
        .unwrap();
    poll("5 processes of the run", Duration::from_secs(5), || async {
        let n = processes_of_run(rt.0.run_id()).len();
        if n == 5 {
            Ok(())
        } else {
            Err(format!("{n}"))
        }
    })
    .await;
    rt.0.signal(&p, Signal::Term).unwrap();
    assert_eq!(
        p.wait_timeout(Duration::from_secs(5)).await.unwrap().code,
        143
    );
    poll(
        "the family's children gone",
        Duration::from_secs(5),
        || async {
            let left: Vec<i32> = processes_of_run(rt.0.run_id())
                .iter()
                .filter(|x| Some(x.pgid as u32) == p.pid)
                .map(|x| x.pid)
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        },
    )
    .await;

    let t = Instant::now();
    rt.0.teardown().await;
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "SIGKILL comes after 2 s of SIGTERM"
    );
    assert_eq!(stubborn.try_exit().map(|e| e.code), Some(137));
    assert!(processes_of_run(rt.0.run_id()).is_empty());
}

/// Not a test on its own: the tests below run this binary with only this
/// function as a stand-in harness that starts `sleep 300` and then, by
/// `LAB_TEST_HELPER_MODE`: `hang` (to be SIGKILLed), `hooks` (installs the
/// cleanup hooks and returns once interrupted) or `panic` (hooks, then panics).
#[tokio::test]
#[ignore = "helper process for the gc and cleanup-hook tests"]
async fn helper_harness() {
    let Some(dir) = std::env::var_os(HELPER_DIR).map(PathBuf::from) else {
        return;
    };
    let mode = std::env::var(HELPER_MODE).unwrap_or_default();
    let hooks = (mode != "hang").then(harness::runtime::install_cleanup_hooks);
    let rt = LocalRuntime::new(
        format!("test-helper-{mode}-{}", std::process::id()),
        dir.join("logs"),
    )
    .unwrap();
    let p = rt
        .start(ProcSpec::new("orphan", "/bin/sleep").arg("300"))
        .await
        .unwrap();
    std::fs::write(dir.join("pid.part"), p.pid.unwrap().to_string()).unwrap();
    std::fs::rename(dir.join("pid.part"), dir.join("pid")).unwrap();
    // Leak a handle: no Drop cleanup, so only the hooks can end the process.
    std::mem::forget(rt.clone());
    match (mode.as_str(), hooks) {
        ("panic", _) => panic!("helper panics on purpose"),
        ("hooks", Some(h)) => {
            let sig = h.recv().await;
            assert_eq!(sig, Signal::Int);
        }
        _ => tokio::time::sleep(Duration::from_secs(300)).await,
    }
}

#[tokio::test]
async fn ctrl_c_ends_every_process_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (mut helper, orphan) = spawn_helper(dir.path(), "hooks").await;
    assert!(alive(orphan));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(helper.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let st = helper_exit(&mut helper, Duration::from_secs(8)).await;
    assert!(
        st.success(),
        "the helper saw the interrupt and returned: {st:?}"
    );
    assert!(
        !alive(orphan),
        "the SIGINT handler must end the run's processes"
    );
}

#[tokio::test]
async fn a_panic_ends_every_process_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (mut helper, orphan) = spawn_helper(dir.path(), "panic").await;
    let st = helper_exit(&mut helper, Duration::from_secs(8)).await;
    assert!(!st.success());
    poll("the orphan is gone", Duration::from_secs(2), || async {
        if alive(orphan) {
            Err("alive".to_string())
        } else {
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn gc_sweeps_what_a_sigkilled_harness_left() {
    let dir = tempfile::tempdir().unwrap();
    // A process of a live runtime (ours): gc must leave it alone.
    let rt = runtime(&dir, "gc-live");
    let mine =
        rt.0.start(ProcSpec::new("mine", "/bin/sleep").arg("300"))
            .await
            .unwrap();

    let helper_dir = dir.path().join("helper");
    std::fs::create_dir_all(&helper_dir).unwrap();
    let (mut helper, orphan) = spawn_helper(&helper_dir, "hang").await;
    // SIGKILL the helper: no Drop, no hook runs; its child survives.
    helper.0.kill().unwrap();
    helper.0.wait().unwrap();
    assert!(
        alive(orphan),
        "the orphan should outlive its SIGKILLed harness"
    );

    let swept = gc();
    assert!(swept.iter().any(|s| s.pid == orphan), "gc swept {swept:?}");
    assert!(!alive(orphan), "orphan still alive");
    assert!(
        mine.is_running(),
        "gc must not touch a live harness's processes"
    );
    assert!(!swept.iter().any(|s| s.run_id == rt.0.run_id()));
    rt.0.teardown().await;
}
