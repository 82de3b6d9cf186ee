//! `harness watch --url https://...` end to end against a real TLS server:
//! HAProxy terminating TLS with the test CA's certificate
//! (tests/fixtures/tls/) and answering every request itself. With
//! `--cacert` the load runs over verified TLS (keep-alive included) and
//! passes; killing the server during CMD fails the watch; without the CA
//! the certificate does not verify and nothing runs. Every watch is
//! bounded by --duration.

use crate::run_support;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use run_support::{harness_bin, summary};
use testkit::ChildGuard;

/// A real HAProxy serving `200 ok` over TLS on a free loopback port.
struct TlsServer {
    addr: SocketAddr,
    haproxy: ChildGuard,
    _dir: tempfile::TempDir,
}

fn tls_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn start_tls_server() -> TlsServer {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  maxconn 512\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
             frontend tls\n  bind {addr} ssl crt {} alpn http/1.1\n  \
             http-request return status 200 content-type text/plain string ok\n",
            tls_fixture("server-bundle.pem").display()
        ),
    )
    .unwrap();
    let haproxy = Command::new(testkit::tool("haproxy", "HAPROXY_BIN"))
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("haproxy starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "haproxy listens on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    TlsServer {
        addr,
        haproxy: haproxy.into(),
        _dir: dir,
    }
}

/// `harness watch` at `url` with `extra` flags: 40 req/s, warm-up 1 s,
/// settle 2 s, at most 30 s.
fn watch(url: &str, during: &str, extra: &[&str], artifacts: &Path) -> Output {
    let out = Command::new(harness_bin())
        .args(["watch", "--url", url, "--during", during, "--rate", "40"])
        .args(["--warmup", "1s", "--settle", "2s", "--duration", "30s"])
        .args(extra)
        .arg("--artifacts")
        .arg(artifacts)
        .output()
        .expect("harness watch runs");
    eprintln!(
        "[watch] {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// (outcome, reused) of every row of requests.csv.
fn rows(dir: &Path) -> Vec<(String, bool)> {
    let mut r = csv::Reader::from_path(dir.join("requests.csv")).expect("requests.csv");
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let (outcome, reused) = (col("outcome"), col("reused"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[outcome].to_string(), &rec[reused] == "true")
        })
        .collect()
}

fn only_run(artifacts: &Path) -> PathBuf {
    let dirs = run_support::run_dirs(artifacts);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
fn https_with_the_servers_ca_passes_over_verified_keep_alive_tls() {
    let server = start_tls_server();
    let art = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}/", server.addr.port());
    let ca = tls_fixture("ca.pem");
    let out = watch(
        &url,
        "sleep 1",
        &["--cacert", ca.to_str().unwrap()],
        art.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let dir = only_run(art.path());
    let s = summary(&dir);
    assert_eq!(s["verdict"], "pass", "{s}");
    assert_eq!(s["disruptions"], 0, "{s}");
    let rows = rows(&dir);
    assert!(
        rows.len() >= 100,
        "40 req/s for at least 4 s: {}",
        rows.len()
    );
    assert!(rows.iter().all(|(o, _)| o == "ok"), "{rows:?}");
    let reused = rows.iter().filter(|(_, r)| *r).count();
    assert!(
        reused * 2 > rows.len(),
        "most requests reuse a kept-alive TLS connection: {reused} of {}",
        rows.len()
    );
}

#[test]
fn a_server_killed_during_cmd_fails_the_https_watch() {
    let server = start_tls_server();
    let art = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let during = format!("sleep 1; kill -9 {}", server.haproxy.id());
    let ca = tls_fixture("ca.pem");
    let out = watch(
        &url,
        &during,
        &["--cacert", ca.to_str().unwrap()],
        art.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&only_run(art.path()));
    assert_eq!(s["verdict"], "fail", "{s}");
    let rows = rows(&only_run(art.path()));
    let ok = rows.iter().filter(|(o, _)| o == "ok").count();
    assert!(
        ok >= 20,
        "the warm-up and the first second were served: {ok}"
    );
    assert!(
        s["disruptions"].as_u64().unwrap() >= 40,
        "2 s of settle at 40 req/s against a dead server: {s}"
    );
}

#[test]
fn an_unverified_certificate_or_a_misplaced_cacert_is_one_line_and_runs_nothing() {
    let server = start_tls_server();
    let art = tempfile::tempdir().unwrap();
    let marker = art.path().join("ran");
    let during = format!("touch {}", marker.display());
    let url = format!("https://localhost:{}/", server.addr.port());
    let out = watch(&url, &during, &[], art.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("certificate") && err.contains("the command was not run"),
        "{err}"
    );
    assert!(
        !marker.exists(),
        "CMD ran although the certificate did not verify"
    );
    assert!(run_support::run_dirs(art.path()).is_empty());
    let http = format!("http://{}/", server.addr);
    let ca = tls_fixture("ca.pem");
    let out = watch(
        &http,
        &during,
        &["--cacert", ca.to_str().unwrap()],
        art.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--cacert: only for an https:// --url"),
        "{err}"
    );
    assert!(!marker.exists());
}
