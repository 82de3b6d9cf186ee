//! Disk trouble with real runs (tests/fixtures/interrupt.toml, pods on
//! `127.0.93.N`): an artifacts folder that is read-only from the start, a
//! run folder that turns read-only mid-run, and a file size limit
//! (`RLIMIT_FSIZE`, set with `prlimit`) far below what a run writes. Each
//! ends in a clear one-line error naming the file (before anything starts
//! where possible), never in a crash (SIGXFSZ) or a leftover process, and
//! what was written stays readable.
//!
//! The harness runs as root here: read-only must be made real by taking
//! CAP_DAC_OVERRIDE/CAP_FOWNER away (`setpriv --bounding-set`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::run_support;

use run_support::{spawn_lines, wait_exit, INTERRUPT_RUN as RUN};

const NET: u8 = 93;
const POD_PORTS: [u16; 5] = [8080, 18180, 18181, 15000, 15006];

fn bin() -> PathBuf {
    run_support::harness_bin()
}

/// `wrapper... harness args...` with the lab's env.
fn harness(wrapper: &[&str], args: &[&str], artifacts: &Path) -> Command {
    let mut c = Command::new(wrapper[0]);
    c.args(&wrapper[1..])
        .arg(bin())
        .args(args)
        .arg("--artifacts")
        .arg(artifacts)
        .env("LAB_POD_NET", NET.to_string())
        .env("LAB_NO_BUILD", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

const NO_DAC: [&str; 3] = [
    "setpriv",
    "--bounding-set",
    "-dac_override,-dac_read_search,-fowner",
];

fn lines(rx: &Receiver<String>) -> Vec<String> {
    // The reader thread ends with the process; give it a moment.
    let mut v = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        v.push(l);
    }
    v
}

/// Processes started by the harness `pid` that are still alive.
fn leftovers(pid: u32) -> Vec<i32> {
    run_support::processes_with_env(&format!("GRACEFUL_LAB_OWNER={pid}:"))
}

fn assert_ports_free() {
    for h in 1..=2 {
        for p in POD_PORTS {
            let a = format!("127.0.{NET}.{h}:{p}");
            std::net::TcpListener::bind(&a).unwrap_or_else(|e| panic!("{a} still bound: {e}"));
        }
    }
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes a folder writable again however the test ends (tempdir cleanup).
struct Writable(PathBuf);
impl Drop for Writable {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn a_read_only_artifacts_folder_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let art = tmp.path().join("artifacts");
    std::fs::create_dir(&art).unwrap();
    set_mode(&art, 0o555);
    let _w = Writable(art.clone());
    let (mut child, rx) = spawn_lines(harness(&NO_DAC, &RUN, &art));
    let pid = child.id();
    let st = wait_exit(&mut child, Duration::from_secs(60));
    let err = lines(&rx);
    assert!(!st.success(), "{st:?}");
    assert_eq!(st.signal(), None, "died of a signal: {st:?}");
    let line = err
        .iter()
        .find(|l| l.contains("not writable"))
        .unwrap_or_else(|| panic!("no 'not writable' line: {err:?}"));
    assert!(line.contains(&art.display().to_string()), "{line}");
    assert!(line.contains("Permission denied"), "{line}");
    assert!(
        !err.iter().any(|l| l.contains("starting ")),
        "something started: {err:?}"
    );
    assert!(leftovers(pid).is_empty());
    assert_eq!(
        std::fs::read_dir(&art).unwrap().count(),
        0,
        "wrote into a read-only folder"
    );
}

#[test]
fn a_run_folder_turning_read_only_mid_run_fails_cleanly_and_keeps_what_was_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, rx) = spawn_lines(harness(&NO_DAC, &RUN, tmp.path()));
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("load running")) {
        let l = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no 'load running': {seen:?}"));
        seen.push(l);
    }
    std::thread::sleep(Duration::from_secs(2));
    let dir = run_support::the_run_dir(tmp.path(), Duration::ZERO);
    set_mode(&dir, 0o555);
    let _w = Writable(dir.clone());
    let st = wait_exit(&mut child, Duration::from_secs(120));
    let err = lines(&rx);
    assert!(
        !st.success(),
        "a run that could not write its artifacts passed: {err:?}"
    );
    assert_eq!(st.signal(), None, "died of a signal: {st:?}");
    let line = err
        .iter()
        .find(|l| l.starts_with("harness:") && l.contains("Permission denied"))
        .unwrap_or_else(|| panic!("no error naming the refused write: {err:?}"));
    assert!(line.contains(&dir.display().to_string()), "{line}");
    assert!(
        leftovers(pid).is_empty(),
        "processes left: {:?}",
        leftovers(pid)
    );
    assert_ports_free();
    // What was written before is there and readable.
    let reqs = harness::artifacts::read_requests(&dir).expect("requests readable");
    assert!(
        !reqs.is_empty(),
        "requests recorded before the folder turned read-only"
    );
    harness::artifacts::read_timeline(&dir).expect("timeline readable");
    harness::artifacts::read_samples(&dir).expect("samples readable");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap())
            .expect("summary parses");
    assert_eq!(s["verdict"], "interrupted", "{s}");
    eprintln!(
        "read-only mid-run: exit {:?}; {line}; {} requests kept",
        st.code(),
        reqs.len()
    );
}

#[test]
fn a_file_size_limit_is_a_write_error_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let limit = 16 * 1024;
    let fsize = format!("--fsize={limit}:{limit}");
    let (mut child, rx) = spawn_lines(harness(&["prlimit", &fsize, "--"], &RUN, tmp.path()));
    let pid = child.id();
    let st = wait_exit(&mut child, Duration::from_secs(180));
    let err = lines(&rx);
    assert_eq!(
        st.signal(),
        None,
        "died of a signal (SIGXFSZ is 25): {st:?} {err:?}"
    );
    assert!(
        leftovers(pid).is_empty(),
        "processes left: {:?}",
        leftovers(pid)
    );
    assert_ports_free();
    let dir = run_support::the_run_dir(tmp.path(), Duration::ZERO);
    let text = err.join("\n");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json"))
            .expect("summary.json parses");
    let notes = summary["notes"].to_string();
    // Every file the limit cut is named (notes and a warning), none silently.
    let mut cut = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let (p, m) = (e.path(), e.metadata().unwrap());
            if m.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.strip_prefix(&dir).unwrap().display().to_string();
            assert!(
                !name.rsplit('/').next().unwrap().starts_with('.'),
                "temporary file left: {name}"
            );
            assert!(
                m.len() <= limit,
                "{name} is {} bytes, over the limit",
                m.len()
            );
            if m.len() == limit {
                cut.push(name);
            }
        }
    }
    assert!(
        !cut.is_empty(),
        "nothing reached the limit: the test did not bite"
    );
    for name in &cut {
        let base = name.rsplit('/').next().unwrap();
        assert!(
            notes.contains(base),
            "{name} was cut without a note: {notes}"
        );
        assert!(
            text.contains(base),
            "{name} was cut without a warning: {text}"
        );
    }
    // The measurements themselves are whole rows. When requests.csv itself
    // was cut, the run proves nothing: it is `invalid`, naming the file, and
    // the file keeps every row written before the cut; else it agrees with
    // the summary.
    let reqs = harness::artifacts::read_requests(&dir).expect("requests readable");
    let rows = reqs.len() as u64;
    if cut.iter().any(|n| n.starts_with("requests.csv")) {
        assert_eq!(summary["verdict"], "invalid", "{summary}");
        assert!(
            summary["invalid"].to_string().contains("requests.csv"),
            "{summary}"
        );
        assert!(
            rows > 0 && rows < summary["requests"].as_u64().unwrap(),
            "{summary}"
        );
    } else {
        assert_eq!(summary["requests"].as_u64(), Some(rows), "{summary}");
    }
    harness::artifacts::read_timeline(&dir).expect("timeline readable");
    harness::artifacts::read_samples(&dir).expect("samples readable");
    eprintln!(
        "RLIMIT_FSIZE {limit}: exit {:?}, verdict {}, cut and named: {cut:?}",
        st.code(),
        summary["verdict"]
    );
}

#[test]
fn report_under_a_file_size_limit_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gate-run/20261125T124416Z-quick-graceful");
    let dst = tmp.path().join("20260426T090000Z-s1-graceful");
    copy_dir(&src, &dst);
    for f in ["plot.svg", "plot.png", "report.html", "junit.xml"] {
        let _ = std::fs::remove_file(dst.join(f));
    }
    let out = Command::new("prlimit")
        .args(["--fsize=4096:4096", "--"])
        .arg(bin())
        .arg("report")
        .arg(&dst)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        None,
        "died of a signal: {:?} {err}",
        out.status
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("File too large") && err.contains(&dst.display().to_string()),
        "{err}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
