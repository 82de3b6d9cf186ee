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
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::run_support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::{Rng, SeedableRng};
use run_support::run_dirs;

const PHASES: [&str; 4] = ["startup", "load", "drain", "teardown"];
const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL];

mod probes;
use probes::{
    artifact_problems, busy_ports, env_num, envoy_shm, harness, leftovers_after, phase_now,
    processes_of_owner, wait_marker,
};

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

/// What the harness was doing when the signal came, and how it ended.
struct Signalled {
    pid: u32,
    /// Its stderr lines up to the signal.
    log: Vec<(Instant, String)>,
    /// It had ended before the signal (which was then not sent).
    already_done: bool,
    phase: String,
    t_signal_ms: u64,
    exit: Option<i32>,
}

/// Starts the run with its artifacts in `artifacts`, waits for `target`'s
/// moment (plus a random delay), sends `sig` unless the run already ended,
/// and waits (at most 40 s, then SIGKILL) for it to exit.
fn run_and_signal(
    artifacts: &Path,
    sig: Signal,
    target: &'static str,
    net: u8,
    rng: &mut impl Rng,
    t0: Instant,
) -> Signalled {
    let mut child = run_support::harness(&run_support::INTERRUPT_RUN, artifacts)
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
    let exit = exit_within_40s(&mut child);
    let _ = reader.join();
    Signalled {
        pid,
        log,
        already_done,
        phase,
        t_signal_ms,
        exit,
    }
}

/// The child's exit code (128 + signal when killed), waiting at most 40 s,
/// then SIGKILLing it.
fn exit_within_40s(child: &mut std::process::Child) -> Option<i32> {
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
    status.and_then(|s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().or(s.signal().map(|x| 128 + x))
    })
}

/// What the signalled run left: after a SIGKILL, what `harness gc` could
/// not end and whether `harness report` rebuilds the report from the disk;
/// after SIGINT/SIGTERM, the processes left and the artifacts as written.
fn check_leftovers(it: &mut Iteration, sig: Signal, s: &Signalled, net: u8, dir: Option<&Path>) {
    let pid = s.pid;
    if sig == Signal::SIGKILL && !s.already_done {
        it.orphans_before_gc = processes_of_owner(pid).len();
        let gc = harness(&["gc"], net).output().expect("harness gc runs");
        if !gc.status.success() {
            it.unreadable.push(format!(
                "harness gc: {}",
                String::from_utf8_lossy(&gc.stderr).trim()
            ));
        }
        it.leftovers = leftovers_after(pid, Duration::from_secs(3)).len();
        if let Some(d) = dir {
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
        if let Some(d) = dir {
            let (bad, finished) = artifact_problems(d, false);
            it.unreadable.extend(bad);
            it.finished_first |= finished == Some(true);
        }
        if !s.already_done && it.exit == Some(0) && !it.finished_first {
            it.unreadable.push("exit 0 after an interrupt".into());
        }
    }
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
    let s = run_and_signal(tmp.path(), sig, target, net, rng, t0);
    let dirs = run_dirs(tmp.path());
    let dir = dirs.first().cloned();
    let mut it = Iteration {
        iter: i,
        signal: sig.as_str(),
        target,
        phase: s.phase.clone(),
        t_signal_ms: s.t_signal_ms,
        exit: s.exit,
        finished_first: s.already_done,
        orphans_before_gc: 0,
        leftovers: 0,
        busy_ports: Vec::new(),
        unreadable: Vec::new(),
        shm_left: 0,
        wall_ms: 0,
    };
    if s.already_done && s.exit != Some(0) {
        it.unreadable.push(format!(
            "the harness ended by itself (exit {:?}) before the signal: {}",
            s.exit,
            s.log
                .iter()
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
    check_leftovers(&mut it, sig, &s, net, dir.as_deref());
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
