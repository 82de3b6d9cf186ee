//! hc against the real HAProxy (2.6): the 404 soft stop puts the server in
//! NOLB, the agent-check `drain` puts it in DRAIN, and `/reopen` brings both
//! back (the agent's `up ready` lifts the DRAIN; a bare `up` would not).
//! HAProxy comes from HAPROXY_BIN, PATH, or <workspace>/tools/bin.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `show stat` status (field 18) of `backend/server`.
fn status(sock: &Path, backend: &str) -> String {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return "no socket".into();
    };
    s.write_all(b"show stat\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines()
        .find(|l| l.starts_with(&format!("{backend},s1,")))
        .and_then(|l| l.split(',').nth(17))
        .unwrap_or("absent")
        .to_string()
}

fn wait_status(sock: &Path, backend: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let got = status(sock, backend);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{backend}/s1 is {got:?}, want {want:?} within 8 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn soft_stop_and_agent_drain_and_reopen_with_real_haproxy() {
    let hc = Hc::start(Opts {
        lb_signal: Some("404"),
        agent: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let (addr, agent) = (hc.addr, hc.agent.unwrap());
    let cfg = format!(
        "global\n  stats socket {sock} mode 600 level admin\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         backend soft\n  option httpchk GET /health_check.html\n  http-check disable-on-404\n\
         \x20 server s1 {addr} check inter 200ms fall 2 rise 2\n\
         backend agent\n  option httpchk GET /health\n\
         \x20 server s1 {addr} check inter 200ms fall 2 rise 2 agent-check agent-addr {aip} agent-port {aport} agent-inter 200ms\n",
        sock = sock.display(),
        aip = agent.ip(),
        aport = agent.port(),
    );
    let cfg_path = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let _hap = testkit::ChildGuard(
        Command::new(testkit::tool("haproxy", "HAPROXY_BIN"))
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    let s = sock.clone();
    let blocking = move |f: fn(&Path)| {
        let s = s.clone();
        async move { tokio::task::spawn_blocking(move || f(&s)).await.unwrap() }
    };
    blocking(|s| {
        wait_status(s, "soft", "UP");
        wait_status(s, "agent", "UP");
    })
    .await;
    hc.goto("CLOSING").await;
    blocking(|s| {
        wait_status(s, "soft", "NOLB");
        wait_status(s, "agent", "DRAIN (agent)");
    })
    .await;
    let st = get(hc.addr, "/drain/status").await.json();
    assert!(
        st["progress"]["lb_refusals"]["127.0.0.1"].as_u64().unwrap() >= 1,
        "{st}"
    );
    assert_eq!(post(hc.addr, "/reopen").await.status, 200);
    blocking(|s| {
        wait_status(s, "soft", "UP");
        wait_status(s, "agent", "UP");
    })
    .await;
}
