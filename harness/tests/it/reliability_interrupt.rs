//! The interrupt loop: the real `harness` runs a tiny scenario
//! (tests/fixtures/interrupt.toml) and gets SIGINT, SIGTERM or SIGKILL at a
//! random moment of startup, load, drain or teardown. After SIGINT/SIGTERM
//! nothing of the run may be left running, its ports must be free and its
//! artifacts complete (summary.json marked `interrupted`, every CSV
//! readable, the counts equal to the rows). After SIGKILL, `harness gc` must
//! end every leftover and `harness report` rebuild a report from the disk.
//!
//! Bounded by `RELIABILITY_ITERS` (default 4: one per phase) and
//! `RELIABILITY_MAX_SECS` (default 240). `RELIABILITY_OUT` appends one JSON
//! line per iteration (scripts/reliability.sh builds docs/reliability.md
//! from them). Pods on `127.0.<RELIABILITY_NET or 91>.N`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::run_support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::{Rng, SeedableRng};
use run_support::{harness_bin, run_dirs};

const PHASES: [&str; 4] = ["startup", "load", "drain", "teardown"];
const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL];
/// The fixture terminates pod-a 1 s after the load starts (+200 ms lead).
const DRAIN_AFTER_LOAD: Duration = Duration::from_millis(1300);
const POD_PORTS: [u16; 5] = [8080, 18180, 18181, 15000, 15006];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn harness(args: &[&str], net: u8) -> Command {
    let mut c = Command::new(harness_bin());
    c.args(args)
        .env("LAB_POD_NET", net.to_string())
        .env("LAB_NO_BUILD", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Processes carrying `GRACEFUL_LAB_OWNER=<pid>:...` (started by that harness).
fn processes_of_owner(pid: u32) -> Vec<i32> {
    run_support::processes_with_env(&format!("GRACEFUL_LAB_OWNER={pid}:"))
}

/// Waits up to `within` for the owner's processes to disappear.
fn leftovers_after(pid: u32, within: Duration) -> Vec<i32> {
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
fn busy_ports(net: u8, run: Option<&Path>) -> Vec<String> {
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

fn envoy_shm() -> usize {
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
fn artifact_problems(dir: &Path, rebuilt: bool) -> (Vec<String>, Option<bool>) {
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
fn wait_marker(
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
fn phase_now(log: &[(Instant, String)], now: Instant) -> &'static str {
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

#[derive(Debug, serde::Serialize)]
struct Iteration {
    iter: u64,
    signal: &'static str,
    target: &'static str,
    phase: String,
    t_signal_ms: u64,
    exit: Option<i32>,
    /// The run had already ended when the signal came (nothing to interrupt).
    finished_first: bool,
    /// Processes left before `harness gc` (SIGKILL only).
    orphans_before_gc: usize,
    leftovers: usize,
    busy_ports: Vec<String>,
    unreadable: Vec<String>,
    shm_left: usize,
    wall_ms: u64,
}

fn one_iteration(
    i: u64,
    sig: Signal,
    target: &'static str,
    net: u8,
    rng: &mut impl Rng,
) -> Iteration {
    let tmp = tempfile::tempdir().unwrap();
    let shm_before = envoy_shm();
    let t0 = Instant::now();
    let mut child = run_support::harness(&run_support::INTERRUPT_RUN, tmp.path())
        .env("LAB_POD_NET", net.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness starts");
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let limit = Duration::from_secs(120);
    match target {
        "startup" => std::thread::sleep(Duration::from_millis(rng.gen_range(50..1100))),
        "load" => {
            wait_marker(&rx, &mut log, "load running", limit);
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..1000)));
        }
        "drain" => {
            wait_marker(&rx, &mut log, "load running", limit);
            std::thread::sleep(Duration::from_millis(rng.gen_range(1500..6000)));
        }
        _ => {
            wait_marker(&rx, &mut log, "] teardown", limit);
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
        }
    }
    while let Ok(l) = rx.try_recv() {
        log.push(l);
    }
    let already_done = child.try_wait().unwrap().is_some();
    let phase = if already_done {
        "after the end".to_string()
    } else {
        phase_now(&log, Instant::now()).to_string()
    };
    let t_signal_ms = t0.elapsed().as_millis() as u64;
    if !already_done {
        let _ = kill(Pid::from_raw(pid as i32), sig);
    }
    let status = {
        let t = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if t.elapsed() > Duration::from_secs(40) {
                let _ = child.kill();
                break child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let _ = reader.join();
    let exit = status.and_then(|s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().or(s.signal().map(|x| 128 + x))
    });
    let dirs = run_dirs(tmp.path());
    let dir = dirs.first().cloned();
    let mut it = Iteration {
        iter: i,
        signal: sig.as_str(),
        target,
        phase,
        t_signal_ms,
        exit,
        finished_first: already_done,
        orphans_before_gc: 0,
        leftovers: 0,
        busy_ports: Vec::new(),
        unreadable: Vec::new(),
        shm_left: 0,
        wall_ms: 0,
    };
    if already_done && exit != Some(0) {
        it.unreadable.push(format!(
            "the harness ended by itself (exit {exit:?}) before the signal: {}",
            log.iter()
                .map(|(_, l)| l.as_str())
                .filter(|l| l.contains("error"))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    if dirs.len() > 1 {
        it.unreadable
            .push(format!("{} run folders for one mode", dirs.len()));
    }
    if sig == Signal::SIGKILL && !already_done {
        it.orphans_before_gc = processes_of_owner(pid).len();
        let gc = harness(&["gc"], net).output().expect("harness gc runs");
        if !gc.status.success() {
            it.unreadable.push(format!(
                "harness gc: {}",
                String::from_utf8_lossy(&gc.stderr).trim()
            ));
        }
        it.leftovers = leftovers_after(pid, Duration::from_secs(3)).len();
        if let Some(d) = &dir {
            let rep = harness(&["report"], net)
                .arg(d)
                .output()
                .expect("harness report runs");
            if !rep.status.success() {
                it.unreadable.push(format!(
                    "harness report: exit {:?}: {}",
                    rep.status.code(),
                    String::from_utf8_lossy(&rep.stderr).trim()
                ));
            }
            let (bad, finished) = artifact_problems(d, true);
            it.unreadable.extend(bad);
            it.finished_first |= finished == Some(true);
        }
    } else {
        it.leftovers = leftovers_after(pid, Duration::from_secs(3)).len();
        if let Some(d) = &dir {
            let (bad, finished) = artifact_problems(d, false);
            it.unreadable.extend(bad);
            it.finished_first |= finished == Some(true);
        }
        if !already_done && it.exit == Some(0) && !it.finished_first {
            it.unreadable.push("exit 0 after an interrupt".into());
        }
    }
    // Ports are released by the kernel as the processes die; allow a moment.
    let t = Instant::now();
    loop {
        it.busy_ports = busy_ports(net, dir.as_deref());
        if it.busy_ports.is_empty() || t.elapsed() > Duration::from_secs(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    it.shm_left = envoy_shm().saturating_sub(shm_before);
    it.wall_ms = t0.elapsed().as_millis() as u64;
    // Never let one iteration's leftovers spoil the next.
    if it.leftovers > 0 {
        let _ = harness(&["gc"], net).output();
    }
    it
}

#[test]
fn interrupted_runs_leave_nothing_and_lose_nothing() {
    let iters = env_num("RELIABILITY_ITERS", 4);
    let max = Duration::from_secs(env_num("RELIABILITY_MAX_SECS", 240));
    let net = env_num("RELIABILITY_NET", 91) as u8;
    let seed = env_num("RELIABILITY_SEED", rand::random::<u32>() as u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = std::env::var_os("RELIABILITY_OUT").map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .expect("RELIABILITY_OUT opens")
    });
    eprintln!("interrupt loop: {iters} iterations, at most {max:?}, seed {seed}, net {net}");
    assert!(
        busy_ports(net, None).is_empty(),
        "pod net {net} is in use before the loop: {:?}",
        busy_ports(net, None)
    );
    let t0 = Instant::now();
    let mut all = Vec::new();
    for i in 0..iters {
        if t0.elapsed() > max {
            eprintln!("time bound reached after {i} iterations");
            break;
        }
        let sig = SIGNALS[(i % 3) as usize];
        // 3 signals x 4 phases: coprime cycles, so every 12 iterations try
        // every pair, and the first 4 every phase.
        let target = PHASES[(i % 4) as usize];
        let it = one_iteration(i, sig, target, net, &mut rng);
        eprintln!(
            "#{i:02} {:7} aimed {:8} hit {:13} at {:5} ms: exit {:?}, orphans before gc {}, leftovers {}, busy ports {:?}, unreadable {:?}",
            it.signal, it.target, it.phase, it.t_signal_ms, it.exit, it.orphans_before_gc, it.leftovers, it.busy_ports, it.unreadable
        );
        if let Some(f) = out.as_mut() {
            writeln!(f, "{}", serde_json::to_string(&it).unwrap()).unwrap();
        }
        all.push(it);
    }
    let leftovers: usize = all.iter().map(|i| i.leftovers).sum();
    let unreadable: usize = all.iter().map(|i| i.unreadable.len()).sum();
    let ports: usize = all.iter().map(|i| i.busy_ports.len()).sum();
    let shm: usize = all.iter().map(|i| i.shm_left).sum();
    eprintln!(
        "interrupt loop: {} iterations in {:?}: leftovers {leftovers}, unreadable artifacts {unreadable}, busy ports {ports}, /dev/shm left {shm}",
        all.len(),
        t0.elapsed()
    );
    assert!(!all.is_empty(), "no iteration ran");
    assert_eq!(
        (leftovers, unreadable, ports, shm),
        (0, 0, 0, 0),
        "see the lines above"
    );
}
