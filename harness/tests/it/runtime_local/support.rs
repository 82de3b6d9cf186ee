//! The helpers of `runtime_local`: a runtime that is gc'ed on drop, the
//! host's `/dev/shm` names, `show stat` rows, and the stand-in harness
//! process (`helper_harness`) started, watched and waited for.

use std::collections::BTreeSet;
use std::time::Duration;

use harness::runtime::procscan::lab_processes;
use harness::runtime::{LocalRuntime, Runtime};
use testkit::{poll_ok as poll, ChildGuard};

/// Kills whatever a test left, even when it fails half-way.
pub(super) struct Guard(pub(super) LocalRuntime);
impl Drop for Guard {
    fn drop(&mut self) {
        harness::runtime::gc_run(self.0.run_id());
    }
}

pub(super) fn runtime(dir: &tempfile::TempDir, name: &str) -> Guard {
    let id = format!("test-{name}-{}", std::process::id());
    Guard(LocalRuntime::new(id, dir.path().join("logs")).unwrap())
}

pub(super) fn shm() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `(server, status, check_status)` of be_app's servers from `show stat`.
pub(super) fn servers(show_stat: &str) -> Vec<(String, String, String)> {
    show_stat
        .lines()
        .filter(|l| l.starts_with("be_app,"))
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[1] != "BACKEND")
        .map(|f| (f[1].to_string(), f[17].to_string(), f[36].to_string()))
        .collect()
}

pub(super) const HELPER_DIR: &str = "LAB_TEST_HELPER_DIR";
pub(super) const HELPER_MODE: &str = "LAB_TEST_HELPER_MODE";

/// Runs `helper_harness` in `mode`; returns it and the pid of its `sleep`.
pub(super) async fn spawn_helper(dir: &std::path::Path, mode: &str) -> (ChildGuard, i32) {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "runtime_local::helper_harness",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER_DIR, dir)
        .env(HELPER_MODE, mode)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child = ChildGuard(child);
    let pid_file = dir.join("pid");
    let pid: i32 = poll("the helper's child", Duration::from_secs(10), || async {
        std::fs::read_to_string(&pid_file)
            .map_err(|e| e.to_string())
            .and_then(|s| s.trim().parse().map_err(|e| format!("{e}")))
    })
    .await;
    (child, pid)
}

pub(super) fn alive(pid: i32) -> bool {
    lab_processes().iter().any(|p| p.pid == pid)
}

/// Waits for the helper's exit status (bounded).
pub(super) async fn helper_exit(
    child: &mut ChildGuard,
    within: Duration,
) -> std::process::ExitStatus {
    poll("the helper exits", within, || {
        let r = child.0.try_wait();
        async move {
            match r {
                Ok(Some(st)) => Ok(st),
                Ok(None) => Err("still running".to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}
