//! What the client really sees through the lab's own HAProxy and Envoy
//! (configs rendered from the lab's templates, real binaries) when the app
//! behind them resets (SO_LINGER 0) or cleanly closes a connection at each
//! phase, next to what it sees straight from the app (`tests/it/loadgen.rs`).
//! The table it pins was observed (identical over repeated runs), not
//! assumed; it is a finding for DESIGN §3.4, written up in
//! docs/scenarios.md ("What the client sees through the proxies").
//!
//! One pod on 127.0.<NET>.1: the test server as the app on :8080, a health
//! responder on :18180 (always 200, so HAProxy keeps the server UP), Envoy
//! on :15006/:15000, HAProxy's frontend on a free 127.0.0.1 port.

use crate::drive;
use crate::test_server;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use harness::loadgen::LoadSpec;
use harness::model::{Origin, Outcome, Phase, RequestRecord, RunClock};
use harness::topology::{envoy_args, render, HaproxyPlacement, PodAddrs, TopologySettings};
use test_server::{AtAccept, StreamEnd, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// The pods' loopback net of this test (no other test uses it).
const NET: u8 = 147;

/// HAProxy, Envoy and the health responder of one pod; killed when dropped.
struct Proxies {
    frontend: SocketAddr,
    pod: PodAddrs,
    _haproxy: Child,
    _envoy: Child,
    health: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

impl Drop for Proxies {
    fn drop(&mut self) {
        self.health.abort();
    }
}

fn spawn(bin: &Path, args: &[&str], log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(bin)
        .args(args)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

/// Answers every check with `200` and closes.
async fn health_responder(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let l = TcpListener::bind(addr).await.expect("bind health");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 512];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                if s.write_all(ok.as_bytes()).await.is_ok() {
                    let _ = s.shutdown().await;
                }
            });
        }
    })
}

async fn start_proxies() -> Proxies {
    let s = TopologySettings {
        pods: 1,
        ..TopologySettings::default()
    };
    let pod = s.pod_addrs(NET).remove(0);
    let dir = tempfile::tempdir().unwrap();
    let frontend = testkit::free_addr();
    let place = HaproxyPlacement {
        frontend_addr: frontend,
        stats_socket: dir.path().join("haproxy.sock"),
    };
    let r = render(
        &s,
        std::slice::from_ref(&pod),
        &place,
        &dir.path().join("config"),
    )
    .unwrap();
    let health = health_responder(pod.hc()).await;
    let envoy_cfg = r.envoy_cfgs[0].to_str().unwrap().to_string();
    let mut args = vec!["-c".to_string(), envoy_cfg];
    args.extend(envoy_args(&s));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let envoy = spawn(
        &testkit::tool("envoy", "ENVOY_BIN"),
        &args,
        &dir.path().join("envoy.log"),
    );
    let haproxy = spawn(
        &testkit::tool("haproxy", "HAPROXY_BIN"),
        &["-db", "-f", r.haproxy_cfg.to_str().unwrap()],
        &dir.path().join("haproxy.log"),
    );
    Proxies {
        frontend,
        pod,
        _haproxy: haproxy,
        _envoy: envoy,
        health,
        dir,
    }
}

/// Waits until a `GET /` through the frontend is answered 200 by the app.
async fn wait_ready(frontend: SocketAddr) {
    let client = reqwest::Client::new();
    testkit::wait_for(
        "HAProxy + Envoy answering 200",
        Duration::from_secs(30),
        || {
            let r = client.get(format!("http://{frontend}/")).send();
            async move { r.await.is_ok_and(|r| r.status() == 200) }
        },
    )
    .await;
}

async fn one_request(target: SocketAddr, path: &str) -> RequestRecord {
    let spec = LoadSpec::Steady {
        rate: 1.0,
        duration_ms: 1,
        path: path.to_string(),
        start_ms: 0,
        keepalive: 0.0,
        max_conns: 1,
        seed: 1,
    };
    let margin = Duration::from_secs(5);
    let (mut records, _) = drive::load(
        target,
        vec![spec],
        margin,
        RunClock::new(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(records.len(), 1, "exactly one record");
    records.remove(0)
}

/// The number of lines in `log` now.
fn log_lines(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count()
}

/// A `key=value` token of the last log line in `log`, past its first
/// `skip` lines (every case's request has the same id), that names `rid`.
fn log_token(log: &Path, skip: usize, rid: &str, key: &str) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().skip(skip).collect();
    lines
        .into_iter()
        .rev()
        .find(|l| l.contains(&format!("rid={rid} ")))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|t| t.strip_prefix(&format!("{key}=")).map(str::to_string))
        })
        .unwrap_or_else(|| "-".into())
}

type Seen = (Outcome, Option<Phase>, Option<u16>, Option<Origin>);

fn short(r: &RequestRecord) -> String {
    format!(
        "{} {} {}",
        r.outcome,
        r.phase.map_or("-", Phase::as_str),
        r.status.map_or("-".into(), |s| s.to_string())
    )
}

/// One case, sent to Envoy's inbound listener alone and then through
/// HAProxy's frontend: what the client saw each way, with HAProxy's
/// termination state and Envoy's response flags (printed as a table row).
async fn through(p: &Proxies, name: &str, path: &str) -> (String, Seen, Seen) {
    let log = p.dir.path().join("haproxy.log");
    let envoy_log = p.dir.path().join("envoy.log");
    let e = one_request(p.pod.envoy_inbound(), path).await;
    let (skip, envoy_skip) = (log_lines(&log), log_lines(&envoy_log));
    let h = one_request(p.frontend, path).await;
    // Proxies write their log line when the stream ends: give them a moment.
    let rid = h.id.clone();
    let tsc = testkit::poll(Duration::from_secs(1), Duration::from_millis(20), || {
        let t = log_token(&log, skip, &rid, "tsc");
        async move { (t != "-").then_some(t) }
    })
    .await
    .unwrap_or_else(|| "-".into());
    let flags = log_token(&envoy_log, envoy_skip, &rid, "flags");
    eprintln!(
        "| {name} | {} | {} | {tsc} | {flags} | {} |",
        short(&e),
        short(&h),
        h.error.as_deref().unwrap_or("")
    );
    let seen = |r: &RequestRecord| (r.outcome, r.phase, r.status, r.origin);
    (name.to_string(), seen(&e), seen(&h))
}

/// Drops `app` and waits until its port refuses connections (its listener
/// task ends asynchronously), so the next server can bind the same address.
async fn stop(app: TestServer, addr: SocketAddr) {
    drop(app);
    testkit::wait_for(
        "the app's port closed",
        Duration::from_secs(5),
        || async move { tokio::net::TcpStream::connect(addr).await.is_err() },
    )
    .await;
}

const STREAM: &str = "/stream?seconds=2&interval_ms=200";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_client_sees_through_haproxy_and_envoy() {
    let p = start_proxies().await;
    let app = TestServer::bind(p.pod.backend(), StreamEnd::Complete, AtAccept::Serve).await;
    wait_ready(p.frontend).await;
    eprintln!("| case | via Envoy | via HAProxy + Envoy | HAProxy tsc | Envoy flags | error |");
    let mut got = Vec::new();
    for (name, path) in [
        ("ok", "/".to_string()),
        ("rst_before_head", "/reset".into()),
        ("fin_before_head", "/fin".into()),
        ("rst_mid_body", "/reset-mid".into()),
        ("fin_mid_body", "/fin-mid".into()),
        ("rst_mid_stream", format!("{STREAM}&rst_after=3")),
        ("fin_mid_stream", format!("{STREAM}&fin_after=3")),
        ("app_404", "/404".into()),
        ("app_500", "/500".into()),
    ] {
        got.push(through(&p, name, &path).await);
    }
    stop(app, p.pod.backend()).await;
    for (name, at) in [
        ("rst_at_accept", AtAccept::Rst),
        ("fin_at_accept", AtAccept::Fin),
    ] {
        let app = TestServer::bind(p.pod.backend(), StreamEnd::Complete, at).await;
        got.push(through(&p, name, "/").await);
        stop(app, p.pod.backend()).await;
    }
    use Origin::{App, Envoy};
    use Outcome as O;
    use Phase::Body;
    let e503 = (O::Http5xx, None, Some(503), Some(Envoy));
    let cut = (O::Closed, Some(Body), Some(200), None);
    let want: Vec<(String, Seen, Seen)> = [
        (
            "ok",
            (O::Ok, None, Some(200), None),
            (O::Ok, None, Some(200), None),
        ),
        ("rst_before_head", e503, e503),
        ("fin_before_head", e503, e503),
        ("rst_mid_body", cut, cut),
        ("fin_mid_body", cut, cut),
        ("rst_mid_stream", cut, cut),
        ("fin_mid_stream", cut, cut),
        (
            "app_404",
            (O::HttpStatus, None, Some(404), Some(App)),
            (O::HttpStatus, None, Some(404), Some(App)),
        ),
        (
            "app_500",
            (O::Http5xx, None, Some(500), Some(App)),
            (O::Http5xx, None, Some(500), Some(App)),
        ),
        ("rst_at_accept", e503, e503),
        ("fin_at_accept", e503, e503),
    ]
    .into_iter()
    .map(|(n, e, h)| (n.to_string(), e, h))
    .collect();
    assert_eq!(
        got, want,
        "what the client saw via Envoy and via HAProxy + Envoy"
    );
}
