//! The rendered HAProxy and Envoy configs are accepted by the real HAProxy
//! (`haproxy -c`) and the real Envoy (`envoy --mode validate`), for the
//! seed's settings and every variant a scenario can ask for.

use std::path::Path;
use std::process::Command;

use harness::topology::{render, DrainStrategy, HaproxyPlacement, LbSignal, TopologySettings};
use rstest::rstest;

use crate::run_support;
use run_support::tools;

fn check(cmd: &mut Command, what: &str, file: &Path) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} rejected {}:\n{text}\n--- config ---\n{}",
        file.display(),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    text
}

#[rstest]
#[case::seed(|_: &mut TopologySettings| {})]
#[case::soft_stop_404(|s: &mut TopologySettings| s.haproxy.lb_signal = LbSignal::Status404)]
#[case::agent_check(|s: &mut TopologySettings| { s.haproxy.agent_check = true; s.haproxy.agent_inter_ms = 500; })]
#[case::redispatch_retry_on(|s: &mut TopologySettings| {
    s.haproxy.redispatch = true;
    s.haproxy.retries = 0;
    s.haproxy.retry_on = Some("conn-failure empty-response 503".into());
    s.haproxy.on_marked_down_shutdown_sessions = false;
})]
#[case::three_pods_immediate_unlimited_stats(|s: &mut TopologySettings| {
    s.pods = 3;
    s.envoy.drain_strategy = DrainStrategy::Immediate;
    s.envoy.limit_stats_like_istio = false;
})]
fn rendered_configs_pass_the_real_validators(#[case] tweak: fn(&mut TopologySettings)) {
    let t = tools();
    let mut s = TopologySettings::default();
    tweak(&mut s);
    let dir = tempfile::tempdir().unwrap();
    let pods = s.pod_addrs(10);
    let place = HaproxyPlacement {
        frontend_addr: "127.0.0.1:18080".parse().unwrap(),
        stats_socket: dir.path().join("haproxy.sock"),
    };
    let r = render(&s, &pods, &place, &dir.path().join("config")).unwrap();
    assert_eq!(r.envoy_cfgs.len(), s.pods);

    let text = check(
        Command::new(&t.haproxy)
            .arg("-c")
            .arg("-f")
            .arg(&r.haproxy_cfg),
        "haproxy -c",
        &r.haproxy_cfg,
    );
    assert!(text.contains("Configuration file is valid"), "{text}");
    assert!(
        !text.contains("[WARNING]"),
        "HAProxy warns about the config:\n{text}"
    );

    for cfg in &r.envoy_cfgs {
        check(
            Command::new(&t.envoy)
                .args(["--mode", "validate", "--disable-hot-restart", "-c"])
                .arg(cfg),
            "envoy --mode validate",
            cfg,
        );
    }
    let haproxy = std::fs::read_to_string(&r.haproxy_cfg).unwrap();
    for p in &pods {
        assert!(haproxy.contains(&format!("server {} {}:15006", p.name, p.ip)));
    }
}

/// `limit_stats_like_istio` really decides whether the admin listener's own
/// request gauge exists (what makes the seed's script sum never reach 0).
#[rstest]
#[case::limited(true, 23)]
#[case::plain(false, 24)]
#[tokio::test]
async fn istio_like_stats_leave_out_the_admin_listener(#[case] limited: bool, #[case] net: u8) {
    use harness::runtime::{gc_run, LocalRuntime, ProcSpec, Runtime};
    let t = tools();
    let mut s = TopologySettings {
        pods: 1,
        ..TopologySettings::default()
    };
    s.envoy.limit_stats_like_istio = limited;
    let dir = tempfile::tempdir().unwrap();
    let pods = s.pod_addrs(net);
    let place = HaproxyPlacement {
        frontend_addr: "127.0.0.1:18080".parse().unwrap(),
        stats_socket: dir.path().join("haproxy.sock"),
    };
    let r = render(&s, &pods, &place, &dir.path().join("config")).unwrap();
    let rt = LocalRuntime::new(
        format!("test-stats-{net}-{}", std::process::id()),
        dir.path(),
    )
    .unwrap();
    struct Sweep(String);
    impl Drop for Sweep {
        fn drop(&mut self) {
            gc_run(&self.0);
        }
    }
    let _sweep = Sweep(rt.run_id().to_string());
    let envoy = rt
        .start(
            ProcSpec::new("envoy", &t.envoy)
                .pod("pod-a")
                .arg("-c")
                .arg(&r.envoy_cfgs[0])
                .args(["--disable-hot-restart", "--concurrency", "1"]),
        )
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!(
        "{}/stats?filter=downstream_rq_active|upstream_rq_active",
        pods[0].envoy_admin_url()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stats = loop {
        assert!(
            envoy.is_running(),
            "Envoy exited; see {}",
            envoy.log_path.display()
        );
        match client.get(&url).send().await {
            Ok(r) if r.status() == 200 => break r.text().await.unwrap(),
            _ if std::time::Instant::now() > deadline => panic!("Envoy admin never answered"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    };
    assert!(
        stats.contains("http.inbound_http.downstream_rq_active: 0"),
        "{stats}"
    );
    assert!(
        stats.contains("cluster.app.upstream_rq_active: 0"),
        "{stats}"
    );
    assert_eq!(
        stats.contains("http.admin.downstream_rq_active: 1"),
        !limited,
        "{stats}"
    );
    rt.teardown().await;
}
