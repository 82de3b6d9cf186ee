//! Access and leaks, on a real run (tests/fixtures/interrupt.toml, pods on
//! `127.0.94.N`): while it runs, a POST to a pod's public hc port is refused
//! (the harness starts hc with `HC_ADMIN_ADDR`, so only the admin port
//! drains) and HAProxy's admin socket is private to its owner; afterwards no
//! file of the run folder holds a secret from the harness's environment,
//! the home folder, or a temporary path outside the run folder.

use crate::run_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const NET: u8 = 94;

fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            files(&p, out);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

/// Absolute paths under `prefix` mentioned in `text` (up to the next quote,
/// space or separator).
fn paths_under<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(i, _)| *i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
        .map(|(i, _)| {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"',;:)]}>=&".contains(c))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn public_port_cannot_drain_and_artifacts_leak_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = format!("s3cr3t-{:016x}", rand::random::<u64>());
    let mut c = run_support::harness(&run_support::INTERRUPT_RUN, tmp.path());
    c.env("LAB_POD_NET", NET.to_string())
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("GITHUB_TOKEN", format!("{secret}-gh"))
        .env("LAB_TEST_PASSWORD", format!("{secret}-pw"));
    // stderr echoed with a `[harness]` prefix, so a failing run says why.
    let (mut child, rx) = run_support::spawn_lines(c);
    run_support::wait_for_line(&rx, "load running", Duration::from_secs(120));
    // pod-b is not terminated by the scenario: every POST on its public
    // port is unknown there, and its state does not move.
    let public = format!("127.0.{NET}.2:18180");
    for p in ["/drain", "/close-lb", "/close", "/reopen", "/fault"] {
        let (status, _) = http(&public, "POST", p);
        assert!(
            status == 404 || status == 403,
            "POST {p} on the public port: {status}"
        );
    }
    let (_, st) = http(&public, "GET", "/drain/status");
    let st: serde_json::Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["state"], "OPEN", "{st}");
    assert_eq!(
        st["progress"]["transitions"].as_array().unwrap().len(),
        0,
        "{st}"
    );
    // The admin port exists (the harness's drain uses it) and answers GETs.
    let (status, _) = http(&format!("127.0.{NET}.2:18181"), "GET", "/drain/status");
    assert_eq!(status, 200);
    let dir = run_support::the_run_dir(tmp.path(), Duration::ZERO);
    let sock = dir.join("haproxy.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "HAProxy's admin socket is mode {mode:o}");

    let status = run_support::wait_exit(&mut child, Duration::from_secs(120));
    assert!(
        status.success(),
        "{status:?}; summary: {}",
        std::fs::read_to_string(dir.join("summary.json")).unwrap_or_default()
    );
    // The drain of pod-a went through its admin port.
    let tl = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    assert!(tl.contains(",drain,pod-a,hc_close_lb,"), "{tl}");

    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap();
    let run = dir.canonicalize().unwrap();
    let temp = std::env::temp_dir();
    let tools: Vec<PathBuf> = [
        "LAB_TOOLS_DIR",
        "HAPROXY_BIN",
        "ENVOY_BIN",
        "BUSYBOX_BIN",
        "CURL_BIN",
    ]
    .iter()
    .filter_map(std::env::var_os)
    .map(PathBuf::from)
    .collect();
    let mut all = Vec::new();
    files(&dir, &mut all);
    let mut leaks = Vec::new();
    let mut scanned = 0u64;
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        scanned += bytes.len() as u64;
        let text = String::from_utf8_lossy(&bytes);
        let name = f.strip_prefix(&dir).unwrap().display().to_string();
        if text.contains(&secret) {
            leaks.push(format!("{name}: a secret from the environment"));
        }
        for p in paths_under(&text, &home)
            .into_iter()
            .chain(paths_under(&text, "/home/"))
        {
            if !Path::new(p).starts_with(&workspace) && !Path::new(p).starts_with(&run) {
                leaks.push(format!("{name}: home path {p}"));
            }
        }
        for p in paths_under(&text, &temp.display().to_string()) {
            // The project tree may itself live under the temp folder (a
            // fresh clone in /tmp): its paths are allowed, as under $HOME.
            // The tools the run used are named on purpose (provenance), and
            // the test command may have fetched them into a temp folder.
            let inside = Path::new(p).starts_with(&run)
                || Path::new(p).starts_with(&dir)
                || Path::new(p).starts_with(&workspace)
                || tools.iter().any(|t| Path::new(p).starts_with(t));
            if !inside {
                leaks.push(format!("{name}: temporary path outside the run {p}"));
            }
        }
    }
    eprintln!(
        "scanned {} files ({scanned} bytes) of {}: {} leaks",
        all.len(),
        dir.display(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    // World-writable artifacts would let anyone rewrite a verdict.
    for f in &all {
        let m = std::fs::metadata(f).unwrap().permissions().mode();
        assert_eq!(m & 0o002, 0, "{} is world-writable", f.display());
    }
}
