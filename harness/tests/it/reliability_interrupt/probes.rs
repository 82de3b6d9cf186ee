//! The probes of `reliability_interrupt`: what a run left behind (its
//! processes, bound ports, Envoy's `/dev/shm` files, its artifacts), the
//! `harness` binary for `gc` and `report`, and the progress lines that tell
//! which phase a run is in.

use std::path::Path;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::run_support;
use run_support::harness_bin;

/// The fixture terminates pod-a 1 s after the load starts (+200 ms lead).
const DRAIN_AFTER_LOAD: Duration = Duration::from_millis(1300);
const POD_PORTS: [u16; 5] = [8080, 18180, 18181, 15000, 15006];

pub(super) fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(super) fn harness(args: &[&str], net: u8) -> Command {
    let mut c = Command::new(harness_bin());
    c.args(args)
        .env("LAB_POD_NET", net.to_string())
        .env("LAB_NO_BUILD", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Processes carrying `GRACEFUL_LAB_OWNER=<pid>:...` (started by that harness).
pub(super) fn processes_of_owner(pid: u32) -> Vec<i32> {
    run_support::processes_with_env(&format!("GRACEFUL_LAB_OWNER={pid}:"))
}

/// Waits up to `within` for the owner's processes to disappear.
pub(super) fn leftovers_after(pid: u32, within: Duration) -> Vec<i32> {
    let t = Instant::now();
    loop {
        let left = processes_of_owner(pid);
        if left.is_empty() || t.elapsed() > within {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The run's addresses still bound: every pod port and HAProxy's frontend.
pub(super) fn busy_ports(net: u8, run: Option<&Path>) -> Vec<String> {
    let mut addrs: Vec<String> = (1..=2)
        .flat_map(|h| POD_PORTS.map(|p| format!("127.0.{net}.{h}:{p}")))
        .collect();
    if let Some(cfg) = run.and_then(|d| std::fs::read_to_string(d.join("config/haproxy.cfg")).ok())
    {
        for l in cfg.lines() {
            if let Some(a) = l.trim().strip_prefix("bind ") {
                let a = a.split_whitespace().next().unwrap_or("");
                if a.parse::<std::net::SocketAddr>().is_ok() {
                    addrs.push(a.to_string());
                }
            }
        }
    }
    addrs
        .into_iter()
        .filter(|a| std::net::TcpListener::bind(a.as_str()).is_err())
        .collect()
}

pub(super) fn envoy_shm() -> usize {
    std::fs::read_dir("/dev/shm")
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("envoy"))
                .count()
        })
        .unwrap_or(0)
}

/// Everything wrong with the artifacts of a run folder (empty: all good).
/// `rebuilt`: after `harness report` of a SIGKILLed run.
pub(super) fn artifact_problems(dir: &Path, rebuilt: bool) -> (Vec<String>, Option<bool>) {
    let mut bad = Vec::new();
    let summary: Option<serde_json::Value> = std::fs::read(dir.join("summary.json"))
        .map_err(|e| bad.push(format!("summary.json: {e}")))
        .ok()
        .and_then(|b| {
            serde_json::from_slice(&b)
                .map_err(|e| bad.push(format!("summary.json does not parse: {e}")))
                .ok()
        });
    let reqs = harness::artifacts::read_requests(dir)
        .map_err(|e| bad.push(format!("requests: {e}")))
        .ok();
    if let Err(e) = harness::artifacts::read_timeline(dir) {
        bad.push(format!("timeline: {e}"));
    }
    if let Err(e) = harness::artifacts::read_samples(dir) {
        bad.push(format!("samples: {e}"));
    }
    let mut finished = None;
    if let Some(s) = &summary {
        let interrupted = s["interrupted"] == true;
        let completed = !interrupted && s["ended_at"].is_string();
        finished = Some(completed);
        if !completed && s["verdict"] != "interrupted" {
            bad.push(format!(
                "summary.json: interrupted={} verdict={}",
                s["interrupted"], s["verdict"]
            ));
        }
        if let (Some(n), Some(r)) = (s["requests"].as_u64(), &reqs) {
            if n != r.len() as u64 {
                bad.push(format!(
                    "summary.json counts {n} requests, requests.csv has {}",
                    r.len()
                ));
            }
        }
    }
    if rebuilt && !dir.join("report.html").is_file() {
        bad.push("report.html not rebuilt".into());
    }
    if !rebuilt {
        // A harness that was not SIGKILLed finishes its CSVs.
        for n in ["requests.csv", "timeline.csv", "samples.csv"] {
            if dir.join(format!("{n}.part")).exists() {
                bad.push(format!("{n}.part left unfinished"));
            }
        }
    }
    (bad, finished)
}

/// Waits for a stderr line containing `marker`, at most `within`; every line
/// seen goes to `log`.
pub(super) fn wait_marker(
    rx: &Receiver<(Instant, String)>,
    log: &mut Vec<(Instant, String)>,
    marker: &str,
    within: Duration,
) -> bool {
    if log.iter().any(|(_, l)| l.contains(marker)) {
        return true;
    }
    let deadline = Instant::now() + within;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let hit = line.1.contains(marker);
        log.push(line);
        if hit {
            return true;
        }
    }
    false
}

/// Which phase the run was in, by the progress lines seen so far.
pub(super) fn phase_now(log: &[(Instant, String)], now: Instant) -> &'static str {
    let at = |m: &str| log.iter().find(|(_, l)| l.contains(m)).map(|(t, _)| *t);
    if at("] teardown").is_some() {
        return "teardown";
    }
    match at("load running") {
        None => "startup",
        Some(t) if now.duration_since(t) < DRAIN_AFTER_LOAD => "load",
        Some(_) => "drain",
    }
}
