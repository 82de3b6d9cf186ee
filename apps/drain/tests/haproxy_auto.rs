//! LB_BUFFER=auto against a real HAProxy checking a real hc: drain's `/close`
//! comes after HAProxy took the server out (DOWN after `fall` 503s, NOLB at
//! the first 404 with `http-check disable-on-404`), and before its next
//! check: drain let go on exactly `fall` refusals by hc's count, and closed
//! less than one check interval (2 s) after HAProxy's line. Without a
//! checker, the wait runs to LB_BUFFER_MAX and no further than half the
//! 10 s default a drain ignoring the setting would wait.

mod common;

use std::time::Duration;

use common::*;
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// HAProxy's check interval (`inter`).
const INTER: Duration = Duration::from_secs(2);

struct Haproxy {
    proc: Proc,
    sock: std::path::PathBuf,
}

impl Haproxy {
    fn start(server: std::net::SocketAddr, check_port: u16, soft_stop: bool) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("haproxy.sock");
        let cfg = format!(
            "global\n  log stdout format raw local0\n  stats socket {sock} mode 600 level admin\n\
             defaults\n  mode http\n  log global\n  option httplog\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
             backend be\n  option httpchk GET /health_check.html\n{soft}  server pod {server} check port {check_port} inter {inter}ms fall 2 rise 2\n\
             frontend fe\n  bind 127.0.0.1:{fe}\n  default_backend be\n",
            sock = sock.display(),
            soft = if soft_stop { "  http-check disable-on-404\n" } else { "" },
            inter = INTER.as_millis(),
            fe = free_port(),
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let mut cmd = Command::new(tool("haproxy", "HAPROXY_BIN"));
        cmd.arg("-db").arg("-f").arg(&path);
        Haproxy {
            proc: Proc::spawn(cmd, Some(dir)),
            sock,
        }
    }

    /// `show stat`: (status, check_status) of be/pod.
    async fn pod(&self) -> Option<(String, String)> {
        let mut s = tokio::net::UnixStream::connect(&self.sock).await.ok()?;
        s.write_all(b"show stat\n").await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        out.lines().find(|l| l.starts_with("be,pod,")).map(|l| {
            let f: Vec<_> = l.split(',').collect();
            (f[17].to_string(), f[36].to_string())
        })
    }
}

#[rstest]
#[case::fail_503_seed(hc::LbSignal::Status503, "seed", "is DOWN", "DOWN")]
#[case::soft_404_seed(hc::LbSignal::Status404, "seed", "is stopping", "NOLB")]
#[case::fail_503_lb_first(hc::LbSignal::Status503, "lb-first", "is DOWN", "DOWN")]
#[case::soft_404_lb_first(hc::LbSignal::Status404, "lb-first", "is stopping", "NOLB")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_follows_the_lb_letting_go(
    #[case] signal: hc::LbSignal,
    #[case] order: &str,
    #[case] haproxy_says: &str,
    #[case] final_status: &str,
) {
    let envoy = Envoy::start(start_backend().await).await;
    let hc = start_hc(signal).await;
    let hc_port: u16 = hc.rsplit(':').next().unwrap().parse().unwrap();
    let mut lb = Haproxy::start(envoy.inbound, hc_port, signal == hc::LbSignal::Status404);
    let lb_ref = &lb;
    wait_for(
        "HAProxy's first check passed",
        Duration::from_secs(10),
        || async move {
            lb_ref
                .pod()
                .await
                .is_some_and(|(st, chk)| st == "UP" && chk == "L7OK")
        },
    )
    .await;

    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_ORDER", order),
            ("DRAIN_TIMEOUT", "10s"),
            ("POLL_INTERVAL", "200ms"),
            ("LB_BUFFER", "auto"),
            ("LB_BUFFER_MAX", "10s"),
        ],
        &[],
    );
    let marked = lb
        .proc
        .wait_line(
            &format!("Server be/pod {haproxy_says}"),
            Duration::from_secs(15),
        )
        .await;
    let (code, _) = d.finish(Duration::from_secs(30)).await;
    let log = d.text();
    assert_eq!(code, 0, "{log}");

    let released = d.msgs("lb_released");
    assert_eq!(released.len(), 1, "{log}");
    assert!(field(&released[0].text, "waited_ms").is_some(), "{log}");
    let fall = if signal == hc::LbSignal::Status404 {
        1
    } else {
        2
    };
    // Let go on the refusal that made HAProxy act, not one check later:
    // every checker's count is exactly `fall` (HAProxy's next check is
    // INTER away; drain reads hc every 50 ms).
    let counts = field(&released[0].text, "refusals").unwrap_or_default();
    assert!(
        !counts.is_empty()
            && counts
                .split(',')
                .all(|c| c.rsplit(':').next() == Some(&fall.to_string())),
        "{log}"
    );
    let close = &d.msgs("hc_close")[0];
    let listeners = d.msgs("envoy_drain_listeners")[0].at;
    if order == "lb-first" {
        assert!(
            listeners > released[0].at,
            "lb-first drains Envoy after the LB let go: {log}"
        );
    } else {
        assert!(listeners < released[0].at, "{log}");
    }
    assert!(
        close.at > marked.at,
        "hc_close before HAProxy let go: {log}\n{}",
        lb.proc.text()
    );
    // Before HAProxy's next check: a drain that waited for one more refusal
    // (or to LB_BUFFER_MAX) closes INTER or more after the line.
    let after = close.at - marked.at;
    assert!(
        after < INTER,
        "hc_close {after:?} after HAProxy let go: {log}"
    );
    // The refusals drain waited for, by hc's own count.
    let st = hc_status(&hc).await;
    assert_eq!(st.state, "CLOSED");
    assert!(
        !st.progress.lb_refusals.is_empty() && st.progress.lb_refusals.values().all(|&n| n >= fall)
    );
    assert_eq!(lb.pod().await.map(|p| p.0).as_deref(), Some(final_status));
    eprintln!("hc_close {after:?} after HAProxy's {haproxy_says:?}");
}

/// No checker ever seen (no LB): auto never releases on an empty list, it
/// waits out LB_BUFFER_MAX and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_checker_waits_until_the_bound() {
    let (envoy, hc) = envoy_and_hc().await;
    let mut d = drain(
        &[
            ("HC_URL", &hc),
            ("ENVOY_ADMIN", &envoy.admin),
            ("DRAIN_ORDER", "lb-first"),
            ("LB_BUFFER_MAX", "1500ms"),
            ("POLL_INTERVAL", "200ms"),
        ],
        &[],
    );
    let (code, wall) = d.finish(Duration::from_secs(30)).await;
    let log = d.text();
    assert_eq!(code, 0, "{log}");
    assert!(d.msgs("lb_released").is_empty(), "{log}");
    let t = d.msgs("lb_wait_timeout");
    assert_eq!(t.len(), 1, "{log}");
    // At least the bound, and well short of the 10 s default that a wait
    // ignoring LB_BUFFER_MAX would run to (half of it).
    let default_max = drain::Config::default().lb_buffer_max.as_millis() as u64;
    let waited: u64 = field(&t[0].text, "waited_ms").unwrap().parse().unwrap();
    assert!((1500..default_max / 2).contains(&waited), "{log}");
    assert!(wall < Duration::from_millis(default_max), "{wall:?}: {log}");
    assert_eq!(hc_status(&hc).await.state, "CLOSED");
}
