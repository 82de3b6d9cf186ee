//! The local runtime: every process is a child of the harness, in its own
//! process group (signals reach the whole group), labelled with the run id in
//! its env, its output appended line by line to `<logs_dir>/<pod>-<name>.log`
//! (optionally tee'd to a channel).
//!
//! It must never leave a process behind: `teardown` and `Drop` end every
//! group it started, and each one is registered with `cleanup` (panic hook,
//! Ctrl-C/SIGTERM handler, `gc`) the moment it is spawned.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::batch::{deliver, Pace, Splitter};
use super::cleanup::{lock, signal_group, signal_scanned, Group, REGISTRY, RUNS};
use super::logfile::{LogFile, SharedLog};
use super::procscan::{self, LabProcess};
use super::{
    pod_env, Exit, LbPlace, LineSink, Proc, ProcSpec, Runtime, RuntimeError, Signal, OWNER_ENV,
    RUN_ID_ENV,
};
use crate::topology::PodAddrs;

/// A fresh run id: `<UTC yyyymmddThhmmssZ>-<pid>-<random>`.
pub fn new_run_id() -> String {
    format!(
        "{}-{}-{:06x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

struct Inner {
    run_id: String,
    logs_dir: PathBuf,
    owner: String,
    next_id: AtomicU64,
    procs: Mutex<Vec<Proc>>,
}

impl Drop for Inner {
    /// Last resort when `teardown` was not awaited: SIGKILL (no reaping).
    fn drop(&mut self) {
        let procs = lock(&self.procs).clone();
        for p in procs.iter().filter(|p| p.is_running()) {
            if let Some(pid) = p.pid {
                let _ = signal_group(pid as i32, Signal::Kill);
            }
        }
        signal_scanned(&procscan::processes_of_run(&self.run_id), Signal::Kill);
        let pids: Vec<i32> = procs
            .iter()
            .filter_map(|p| p.pid.map(|x| x as i32))
            .collect();
        lock(&REGISTRY).retain(|g| !pids.contains(&g.pgid));
        lock(&RUNS).retain(|r| r != &self.run_id);
    }
}

/// The local runtime of one run. Cheap to clone.
#[derive(Clone)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
}

impl LocalRuntime {
    /// A runtime for run `run_id` writing logs into `logs_dir` (created).
    pub fn new(run_id: impl Into<String>, logs_dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let run_id = run_id.into();
        let logs_dir = logs_dir.into();
        std::fs::create_dir_all(&logs_dir)?;
        lock(&RUNS).push(run_id.clone());
        Ok(LocalRuntime {
            inner: Arc::new(Inner {
                run_id,
                logs_dir,
                owner: procscan::own_token(),
                next_id: AtomicU64::new(1),
                procs: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Every process started so far (running or not).
    pub fn procs(&self) -> Vec<Proc> {
        lock(&self.inner.procs).clone()
    }

    fn live_of_run(&self) -> Vec<LabProcess> {
        procscan::processes_of_run(&self.inner.run_id)
    }

    fn all_gone(&self) -> bool {
        self.procs().iter().all(|p| !p.is_running()) && self.live_of_run().is_empty()
    }

    fn signal_all(&self, sig: Signal) {
        for p in self.procs().iter().filter(|p| p.is_running()) {
            let _ = self.signal(p, sig);
        }
        signal_scanned(&self.live_of_run(), sig);
    }

    async fn wait_all_gone(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.all_gone() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Copies `r` to `file` and `tee`, the lines of each read as one batch
/// (at most one read per `every`, when set).
async fn pump<R: AsyncRead + Unpin>(
    mut r: R,
    file: SharedLog,
    tee: Option<LineSink>,
    every: Option<Duration>,
) {
    let mut split = Splitter::default();
    let mut pace = Pace::new(every);
    let mut buf = vec![0u8; 64 * 1024];
    let mut full = false;
    loop {
        // A read that filled the buffer left more in the pipe: read on at
        // once, so a paced pump never lets the writer's pipe fill.
        if !full {
            pace.ready().await;
        }
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                full = n == buf.len();
                deliver(&file, tee.as_ref(), Instant::now(), split.push(&buf[..n]));
            }
        }
    }
    if let Some(last) = split.finish() {
        deliver(&file, tee.as_ref(), Instant::now(), vec![last]);
    }
}

impl Runtime for LocalRuntime {
    fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    fn logs_dir(&self) -> &Path {
        &self.inner.logs_dir
    }

    async fn start(&self, spec: ProcSpec) -> Result<Proc, RuntimeError> {
        let log_path = self.inner.logs_dir.join(spec.log_file_name());
        let file = LogFile::open(&log_path)?;
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env(RUN_ID_ENV, &self.inner.run_id)
            .env(OWNER_ENV, &self.inner.owner)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|source| RuntimeError::Spawn {
            what: spec.label(),
            program: spec.program.clone(),
            source,
        })?;
        let pid = child.id();
        let (tx, rx) = watch::channel(None);
        if let Some(pid) = pid {
            lock(&REGISTRY).push(Group {
                pgid: pid as i32,
                exit: rx.clone(),
            });
        }
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, file.clone(), spec.tee.clone(), spec.batch_every));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, file, spec.tee.clone(), spec.batch_every));
        }
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(st) => Exit::from_status(st, Instant::now()),
                Err(_) => Exit {
                    code: -1,
                    signal: None,
                    at: Instant::now(),
                },
            };
            tx.send_replace(Some(exit));
        });
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let proc = Proc::new(id, &spec, pid, log_path, rx);
        lock(&self.inner.procs).push(proc.clone());
        Ok(proc)
    }

    fn signal(&self, proc: &Proc, sig: Signal) -> Result<(), RuntimeError> {
        let err = |reason: String| RuntimeError::Signal {
            what: proc.label(),
            signal: sig.name(),
            reason,
        };
        let pgid = proc.pid.ok_or_else(|| err("it has no pid".into()))? as i32;
        if !lock(&self.inner.procs).iter().any(|p| p.id == proc.id) {
            return Err(RuntimeError::UnknownProc(proc.label()));
        }
        if proc.is_running() {
            // The leader is not reaped yet, so the group id is still ours.
            return signal_group(pgid, sig).map_err(|e| err(e.to_string()));
        }
        // The leader is gone: signal what is left of its group, by run id.
        let left: Vec<LabProcess> = self
            .live_of_run()
            .into_iter()
            .filter(|p| p.pgid == pgid)
            .collect();
        signal_scanned(&left, sig);
        Ok(())
    }

    async fn exec_in_pod(&self, pod: &PodAddrs, spec: ProcSpec) -> Result<Proc, RuntimeError> {
        let mut env = pod_env(pod);
        env.extend(spec.env);
        let spec = ProcSpec {
            pod: Some(pod.name.clone()),
            env,
            ..spec
        };
        self.start(spec).await
    }

    async fn stop(&self, proc: &Proc, grace: Duration) -> Result<Exit, RuntimeError> {
        super::stop_with_grace(self, proc, grace).await
    }

    async fn teardown(&self) {
        self.signal_all(Signal::Term);
        if !self.wait_all_gone(Duration::from_secs(2)).await {
            self.signal_all(Signal::Kill);
            if !self.wait_all_gone(Duration::from_secs(5)).await {
                eprintln!(
                    "harness: run {}: processes still alive after SIGKILL: {:?}",
                    self.inner.run_id,
                    self.live_of_run()
                );
            }
        }
        let pids: Vec<i32> = self
            .procs()
            .iter()
            .filter_map(|p| p.pid.map(|x| x as i32))
            .collect();
        lock(&REGISTRY).retain(|g| !pids.contains(&g.pgid));
    }

    /// Pods on `127.0.<net>.N` (see [`pod_net`]).
    fn pod_addrs(&self, n: usize) -> Vec<PodAddrs> {
        crate::topology::pod_addrs(n, pod_net())
    }

    /// A free loopback port; a second HAProxy checks from `127.0.<net>.20N`.
    fn haproxy_place(&self, i: usize) -> Result<LbPlace, RuntimeError> {
        Ok(LbPlace {
            frontend: free_loopback_port()?,
            check_source: (i > 0).then(|| Ipv4Addr::new(127, 0, pod_net(), 200 + i as u8)),
            ip: Ipv4Addr::LOCALHOST,
        })
    }

    fn stats_socket_dir(&self, run_dir: &Path) -> PathBuf {
        run_dir.to_path_buf()
    }

    async fn netns_pid(&self, _proc: &Proc) -> Option<u32> {
        None
    }

    async fn pod_sandbox(
        &self,
        _pod: &PodAddrs,
        envoy_cfg: &Path,
    ) -> Result<PathBuf, RuntimeError> {
        Ok(envoy_cfg.to_path_buf())
    }

    async fn start_lb(
        &self,
        spec: ProcSpec,
        _place: &LbPlace,
        _sock_dir: &Path,
    ) -> Result<Proc, RuntimeError> {
        self.start(spec).await
    }
}

/// Pods live on `127.0.<net>.N`: `LAB_POD_NET` (1..=254), default 10 (the
/// design's `127.0.10.N`). Tests that run at once give each run its own net.
pub fn pod_net() -> u8 {
    std::env::var("LAB_POD_NET")
        .ok()
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(crate::topology::DEFAULT_POD_NET)
}

/// A loopback address with a port nobody listens on right now.
pub fn free_loopback_port() -> Result<SocketAddr, RuntimeError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|source| RuntimeError::Spawn {
            what: "a free loopback port".into(),
            program: PathBuf::from("bind 127.0.0.1:0"),
            source,
        })
}
