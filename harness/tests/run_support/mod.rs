//! Shared helpers of the harness's integration tests (included with
//! `mod run_support;`): the tools and apps a lab needs; the `harness`
//! command, its stderr as a stream of lines, waiting for a progress line, a
//! bounded wait for the exit, SIGINT, and reading run folders.
//!
//! Helpers only: they assert nothing about the product beyond "it answered
//! within the bound", and they never leave a child running past a failure
//! (a timed-out wait kills it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use harness::apps::{build_in, profile_dir, workspace_root, Apps};
use harness::tools::{locate, Tools};

/// The tools (HAProxy, Envoy, ...) as the harness finds them; panics naming
/// what is missing.
pub fn tools() -> Tools {
    locate().unwrap_or_else(|e| panic!("{e}"))
}

/// backend, hc and drain from the harness's profile folder, built
/// (`apps::build_in`) when missing (a workspace test run builds them fresh).
pub fn apps() -> Apps {
    let ws = workspace_root().expect("tests run inside the workspace");
    let bin = profile_dir(&ws);
    if ["backend", "hc", "drain"]
        .iter()
        .any(|b| !bin.join(b).is_file())
    {
        build_in(&ws).unwrap_or_else(|e| panic!("{e}"));
    }
    Apps {
        backend: bin.join("backend"),
        hc: bin.join("hc"),
        drain: bin.join("drain"),
        drain_script: ws.join("apps/hc/graceful-drain.sh"),
    }
}

pub fn harness_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_harness"))
}

/// The run most reliability tests start: tests/fixtures/interrupt.toml,
/// mode graceful, on the local runtime (give it to [`harness`]).
pub const INTERRUPT_RUN: [&str; 6] = [
    "scenario",
    "tests/fixtures/interrupt.toml",
    "--mode",
    "graceful",
    "--runtime",
    "local",
];

/// `tests/fixtures/<name>` as an absolute path.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `harness <args> --artifacts <artifacts>` run from the crate's folder,
/// with the apps the test build just made (`LAB_NO_BUILD=1`: the harness's
/// own `cargo build -p backend -p hc -p drain` resolves other features than
/// the test build and would rebuild half the dependency tree in every run).
pub fn harness(args: &[&str], artifacts: &Path) -> Command {
    let mut c = Command::new(harness_bin());
    c.args(args)
        .arg("--artifacts")
        .arg(artifacts)
        .env("LAB_NO_BUILD", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Starts `c` with stdout discarded and stderr read line by line (echoed
/// with a `[harness]` prefix, so a failing test shows them).
pub fn spawn_lines(mut c: Command) -> (Child, Receiver<String>) {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[harness] {l}");
            let _ = tx.send(l);
        }
    });
    (child, rx)
}

/// Waits until a line containing `needle` arrives (within `within`);
/// returns the lines seen, that one last. Panics naming what it saw.
pub fn wait_for_line(rx: &Receiver<String>, needle: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                panic!(
                    "no {needle:?} line within {within:?}; saw:\n{}",
                    seen.join("\n")
                )
            });
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return seen;
        }
    }
}

/// The child's exit within `within`; past it the child is killed and the
/// test fails.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("harness still running {within:?} after it was asked to end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ctrl-C to the child.
pub fn sigint(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
}

/// The run folders under `root`, sorted by name (= by start time).
pub fn run_dirs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The one run folder under `root`, waiting up to `within` for it to appear.
pub fn the_run_dir(root: &Path, within: Duration) -> PathBuf {
    let deadline = Instant::now() + within;
    loop {
        if let Some(d) = run_dirs(root).into_iter().next() {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "no run folder in {}",
            root.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The two run folders of a `--mode both` run under `root`, as
/// (current, graceful); panics unless there are exactly two.
pub fn current_and_graceful(root: &Path) -> (PathBuf, PathBuf) {
    let dirs = run_dirs(root);
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let [a, b]: [PathBuf; 2] = dirs.try_into().unwrap();
    if a.to_string_lossy().ends_with("current") {
        (a, b)
    } else {
        (b, a)
    }
}

/// A run folder's summary.json.
pub fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json parses")
}

/// Pids of the processes whose environment holds an entry starting with
/// `entry` (e.g. `GRACEFUL_LAB_OWNER=<pid>:` or `GRACEFUL_LAB_RUN_ID=<id>`).
pub fn processes_with_env(entry: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|kv| kv.starts_with(entry.as_bytes()))
            })
        })
        .collect()
}

/// A scenario run prints its one-line plan first, then the runtime it chose
/// and why (`runtime_prefix`), before anything starts.
pub fn assert_plan_then_runtime(stdout: &str, scenario_id: &str, runtime_prefix: &str) {
    let mut lines = stdout.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with(&format!("{scenario_id}: modes "))),
        "the plan comes first: {stdout}"
    );
    assert!(
        lines.next().is_some_and(|l| l.starts_with(runtime_prefix)),
        "the runtime and why come second: {stdout}"
    );
}
