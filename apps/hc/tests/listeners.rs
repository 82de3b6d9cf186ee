//! Listeners and process behaviour of the real binary: the admin split, the
//! agent-check socket, per-client `lb_refusals`, SIGTERM, logs, bad settings.

mod common;

use std::io::Read;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rstest::rstest;
use testkit::ChildGuard;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn admin_split_serves_posts_only_on_admin() {
    let hc = Hc::start(Opts {
        admin: true,
        ..Default::default()
    })
    .await;
    let admin = hc.admin.unwrap();
    for p in ["/drain", "/close-lb", "/close", "/reopen", "/fault"] {
        for m in ["POST", "GET"] {
            let r = req(hc.addr, m, p, &[]).await;
            assert_eq!(
                r.status, 404,
                "{m} {p} on the public listener is an unknown path"
            );
        }
    }
    assert_eq!(
        get(hc.addr, "/drain/status").await.json()["state"],
        "OPEN",
        "public POSTs changed nothing"
    );
    for p in ["/health_check.html", "/health", "/live", "/drain/status"] {
        assert_eq!(get(hc.addr, p).await.status, 200, "public GET {p}");
        assert_eq!(get(admin, p).await.status, 200, "admin GET {p}");
    }
    assert_eq!(post(admin, "/drain").await.status, 200);
    assert_eq!(req(admin, "GET", "/drain", &[]).await.status, 405);
    assert_eq!(
        get(hc.addr, "/drain/status").await.json()["state"],
        "DRAINING",
        "one FSM behind both listeners"
    );
    assert_eq!(post(admin, "/close-lb").await.status, 200);
    assert_eq!(get(hc.addr, "/health_check.html").await.status, 503);
}

async fn agent_line(addr: std::net::SocketAddr) -> String {
    let mut s = connect_from(addr, None).await;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(3), s.read_to_string(&mut out))
        .await
        .expect("agent closes after its line")
        .unwrap();
    out
}

#[rstest]
#[case("OPEN", "up ready\n")]
#[case("DRAINING", "up ready\n")]
#[case("CLOSING", "drain\n")]
#[case("CLOSED", "down\n")]
#[case("FAULT", "down\n")]
#[tokio::test]
async fn agent_check_replies_one_line(#[case] state: &str, #[case] line: &str) {
    let hc = Hc::start(Opts {
        agent: true,
        ..Default::default()
    })
    .await;
    hc.goto(state).await;
    assert_eq!(agent_line(hc.agent.unwrap()).await, line);
    // An agent that sends something (agent-send) still gets its line.
    let mut s = connect_from(hc.agent.unwrap(), None).await;
    tokio::io::AsyncWriteExt::write_all(&mut s, b"hello\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, line);
}

#[tokio::test]
async fn agent_follows_reopen() {
    let hc = Hc::start(Opts {
        agent: true,
        ..Default::default()
    })
    .await;
    hc.goto("CLOSING").await;
    assert_eq!(agent_line(hc.agent.unwrap()).await, "drain\n");
    assert_eq!(post(hc.addr, "/reopen").await.status, 200);
    assert_eq!(
        agent_line(hc.agent.unwrap()).await,
        "up ready\n",
        "`ready` lifts HAProxy's DRAIN"
    );
}

fn refusals(j: &serde_json::Value) -> Vec<(String, u64)> {
    j["progress"]["lb_refusals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

#[rstest]
#[case("503", 503)]
#[case("404", 404)]
#[tokio::test]
async fn lb_refusals_counted_per_client_ip(#[case] signal: &'static str, #[case] code: u16) {
    let hc = Hc::start(Opts {
        lb_signal: Some(signal),
        ..Default::default()
    })
    .await;
    let a: IpAddr = "127.0.0.1".parse().unwrap();
    let b: IpAddr = "127.0.0.2".parse().unwrap();
    let c: IpAddr = "127.0.0.3".parse().unwrap();
    let check = |ip: IpAddr| req_from(hc.addr, Some(ip), "GET", "/health_check.html", &[]);
    // Seen while OPEN, then forgotten: drain step 1 clears the map.
    assert_eq!(check(c).await.status, 200);
    assert_eq!(
        refusals(&get(hc.addr, "/drain/status").await.json()),
        [("127.0.0.3".into(), 0)]
    );
    hc.goto("DRAINING").await;
    let st = get(hc.addr, "/drain/status").await.json();
    assert_eq!(refusals(&st), []);
    assert_eq!(st["progress"]["lb_signal"], code);

    assert_eq!(check(a).await.status, 200);
    assert_eq!(check(b).await.status, 200);
    assert_eq!(
        refusals(&get(hc.addr, "/drain/status").await.json()),
        [("127.0.0.1".into(), 0), ("127.0.0.2".into(), 0)]
    );
    assert_eq!(post(hc.addr, "/close-lb").await.status, 200);
    for _ in 0..3 {
        assert_eq!(check(a).await.status, code);
    }
    assert_eq!(check(b).await.status, code);
    // Other endpoints and conditional GETs of other paths do not count.
    get(hc.addr, "/health").await;
    let st = get(hc.addr, "/drain/status").await.json();
    assert_eq!(
        refusals(&st),
        [("127.0.0.1".into(), 3), ("127.0.0.2".into(), 1)]
    );
    assert_eq!(st["ready"], false);

    // A 200 resets the count to 0.
    assert_eq!(post(hc.addr, "/reopen").await.status, 200);
    assert_eq!(check(a).await.status, 200);
    assert_eq!(
        refusals(&get(hc.addr, "/drain/status").await.json()),
        [("127.0.0.1".into(), 0), ("127.0.0.2".into(), 1)]
    );
}

#[rstest]
#[case(Signal::SIGTERM)]
#[case(Signal::SIGINT)]
#[tokio::test]
async fn signal_exits_zero_at_once_and_logs_in_naming(#[case] sig: Signal) {
    let addr = testkit::free_addr();
    let mut child = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_hc"))
            .env_clear()
            .env("HC_ADDR", addr.to_string())
            .env("HC_NAMING", "legacy")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "hc did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(post(addr, "/drain?reason=from%20test").await.status, 200);
    assert_eq!(post(addr, "/fault").await.status, 200);
    // An idle keep-alive connection must not hold the exit back: an hc that
    // waited for it would wait for the 60 s idle limit. A quarter of that
    // is the bound, which an exit "at once" is nowhere near on any machine.
    let _idle = connect_from(addr, None).await;
    let bound = Duration::from_secs(15);
    let t0 = Instant::now();
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < bound,
            "hc still running {bound:?} after {sig}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("msg=transition from=READY to=DRAINING reason=\"from test\""),
        "{log}"
    );
    assert!(
        log.contains("msg=transition from=DRAINING to=FAILED reason=\"POST /fault\""),
        "{log}"
    );
    for line in log.lines() {
        assert!(
            line.starts_with("ts=") && line.contains(" level="),
            "logfmt line: {line}"
        );
        for gate_only in ["OPEN", "CLOSING", "CLOSED", "FAULT"] {
            assert!(
                !line.contains(&format!("={gate_only}")),
                "legacy log speaks gate name: {line}"
            );
        }
    }
}

#[rstest]
#[case(&[("HC_NAMING", "modern")], "naming")]
#[case(&[("HC_LB_SIGNAL", "500")], "possible values: 503, 404")]
#[case(&[("HC_ADDR", "nowhere")], "--addr")]
#[test]
fn bad_settings_fail_clearly(#[case] env: &[(&str, &str)], #[case] says: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_hc"))
        .env_clear()
        .envs(env.iter().copied())
        .env(
            "HC_ADDR",
            env.iter()
                .find(|(k, _)| *k == "HC_ADDR")
                .map_or("127.0.0.1:0", |(_, v)| *v),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(says), "stderr should mention {says:?}: {err}");
}

#[test]
fn busy_port_fails_with_the_address() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_hc"))
        .env_clear()
        .env("HC_ADDR", &addr)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr) && err.contains("HC_ADDR"), "{err}");
}
