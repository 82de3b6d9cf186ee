//! Where the lab's processes run (the engine): one trait to start, signal,
//! exec in and stop a process of a pod, its exit codes (128 + signal for a
//! kill, as Docker and kubelet report them), and where each runtime places
//! pods, HAProxies and stats sockets. Two runtimes (local, docker) and
//! [`LabRuntime`], the one a run holds; images and cleanup.
//!
//! A runtime must never leave anything behind: `teardown` ends everything it
//! started, and the local runtime also does on a panic or Ctrl-C
//! (`install_cleanup_hooks`); `gc` sweeps what a SIGKILLed harness left.
//! It never imports the layers above it (lab, run, artifacts, commands).

use std::ffi::OsString;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::topology::PodAddrs;

pub mod any;
pub mod batch;
pub mod cleanup;
pub mod docker;
pub mod images;
pub mod local;
pub mod logfile;
pub mod netns;
pub mod procscan;

pub use any::LabRuntime;
pub use cleanup::{gc, gc_run, install_cleanup_hooks, survive_file_size_limit, Interrupts, Swept};
pub use local::{new_run_id, LocalRuntime};

/// Env var set on every process of a run (its value: the run id), so
/// leftovers can be found in `/proc/*/environ`.
pub const RUN_ID_ENV: &str = "GRACEFUL_LAB_RUN_ID";
/// Env var naming the harness that started a process (`<pid>:<start time>`),
/// so `gc` tells orphans from processes of a harness still running.
pub const OWNER_ENV: &str = "GRACEFUL_LAB_OWNER";

/// Receives a process's output, a batch of lines per read, with the
/// instant they were read.
pub type LineSink = mpsc::UnboundedSender<batch::LineBatch>;

/// A signal a runtime can deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Term,
    Kill,
    Int,
    Hup,
    Quit,
    Usr1,
    Usr2,
    Stop,
    Cont,
}

impl Signal {
    /// The Linux signal number.
    pub fn number(self) -> i32 {
        self.to_nix() as i32
    }
    /// `SIGTERM`, ...
    pub fn name(self) -> &'static str {
        self.to_nix().as_str()
    }
    pub fn to_nix(self) -> nix::sys::signal::Signal {
        use nix::sys::signal::Signal as S;
        match self {
            Signal::Term => S::SIGTERM,
            Signal::Kill => S::SIGKILL,
            Signal::Int => S::SIGINT,
            Signal::Hup => S::SIGHUP,
            Signal::Quit => S::SIGQUIT,
            Signal::Usr1 => S::SIGUSR1,
            Signal::Usr2 => S::SIGUSR2,
            Signal::Stop => S::SIGSTOP,
            Signal::Cont => S::SIGCONT,
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, or 128 + the signal number when a signal ended it
    /// (a SIGKILL is 137).
    pub code: i32,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub at: Instant,
}

impl Exit {
    pub fn from_status(status: std::process::ExitStatus, at: Instant) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit {
                code,
                signal: None,
                at,
            },
            (None, Some(sig)) => Exit {
                code: 128 + sig,
                signal: Some(sig),
                at,
            },
            (None, None) => Exit {
                code: -1,
                signal: None,
                at,
            },
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ProcSpec {
    /// Short name: `backend`, `hc`, `envoy`, `haproxy`, `prestop`, ...
    pub name: String,
    /// The pod it belongs to (`None`: HAProxy, the load, ...).
    pub pod: Option<String>,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Added to the harness's environment (later entries win).
    pub env: Vec<(String, String)>,
    /// Also send every output line here.
    pub tee: Option<LineSink>,
    /// Read the output at most once per this (`None`: as it comes), for a
    /// process whose lines carry their own times (their read time is up to
    /// this late). Local runtime only: docker's log stream is never paced.
    pub batch_every: Option<Duration>,
}

impl ProcSpec {
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ProcSpec {
            name: name.into(),
            pod: None,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            tee: None,
            batch_every: None,
        }
    }
    pub fn pod(mut self, pod: impl Into<String>) -> Self {
        self.pod = Some(pod.into());
        self
    }
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I: IntoIterator<Item = A>, A: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn tee(mut self, sink: Option<LineSink>) -> Self {
        self.tee = sink;
        self
    }
    /// See [`ProcSpec::batch_every`].
    pub fn batch_every(mut self, every: Duration) -> Self {
        self.batch_every = Some(every);
        self
    }
    /// `pod-a/backend` or `haproxy`.
    pub fn label(&self) -> String {
        label(self.pod.as_deref(), &self.name)
    }
    /// `<pod>-<name>.log` or `<name>.log`.
    pub fn log_file_name(&self) -> String {
        match &self.pod {
            Some(p) => format!("{p}-{}.log", self.name),
            None => format!("{}.log", self.name),
        }
    }
}

fn label(pod: Option<&str>, name: &str) -> String {
    match pod {
        Some(p) => format!("{p}/{name}"),
        None => name.to_string(),
    }
}

/// A started process. Cheap to clone; every clone sees the same exit.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Unique within its runtime.
    pub id: u64,
    pub name: String,
    pub pod: Option<String>,
    /// The OS pid (local runtime; it is also the process group id).
    pub pid: Option<u32>,
    pub log_path: PathBuf,
    pub started: Instant,
    exit: watch::Receiver<Option<Exit>>,
}

impl Proc {
    pub fn new(
        id: u64,
        spec: &ProcSpec,
        pid: Option<u32>,
        log_path: PathBuf,
        exit: watch::Receiver<Option<Exit>>,
    ) -> Proc {
        Proc {
            id,
            name: spec.name.clone(),
            pod: spec.pod.clone(),
            pid,
            log_path,
            started: Instant::now(),
            exit,
        }
    }
    /// `pod-a/backend` or `haproxy`.
    pub fn label(&self) -> String {
        label(self.pod.as_deref(), &self.name)
    }
    /// A receiver that changes once, to `Some(exit)`.
    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit.clone()
    }
    /// The exit, when it already happened.
    pub fn try_exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }
    pub fn is_running(&self) -> bool {
        self.try_exit().is_none()
    }
    /// Waits for the exit.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.clone();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e;
            }
            if rx.changed().await.is_err() {
                // The watcher is gone without a value: report what we have.
                return rx.borrow().unwrap_or(Exit {
                    code: -1,
                    signal: None,
                    at: Instant::now(),
                });
            }
        }
    }
    /// Waits for the exit at most `d`.
    pub async fn wait_timeout(&self, d: Duration) -> Option<Exit> {
        tokio::time::timeout(d, self.wait()).await.ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("could not start {what} ({program}): {source}")]
    Spawn {
        what: String,
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("could not open log file {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not signal {what} with {signal}: {reason}")]
    Signal {
        what: String,
        signal: &'static str,
        reason: String,
    },
    #[error("{what} was not ready within {waited:?} ({detail}); see its log {log}")]
    NotReady {
        what: String,
        waited: Duration,
        detail: String,
        log: PathBuf,
    },
    #[error("{what} exited with code {code} before it was ready; see its log {log}")]
    ExitedEarly {
        what: String,
        code: i32,
        log: PathBuf,
    },
    #[error("unknown process {0} for this runtime")]
    UnknownProc(String),
}

/// Start, signal, exec in and stop the processes of the lab's pods.
pub trait Runtime {
    /// The id every process of this run carries.
    fn run_id(&self) -> &str;
    /// Where every process's output goes (`<pod>-<name>.log`, `haproxy.log`).
    fn logs_dir(&self) -> &Path;
    /// Starts a process; its output goes to `logs_dir()/spec.log_file_name()`.
    fn start(&self, spec: ProcSpec) -> impl Future<Output = Result<Proc, RuntimeError>> + Send;
    /// Sends `sig` to the process (local: its whole process group).
    fn signal(&self, proc: &Proc, sig: Signal) -> Result<(), RuntimeError>;
    /// Runs a command inside `pod` (a preStop hook), with the pod's addresses
    /// in its env: `HC_URL` (hc's admin port), `ENVOY_ADMIN`, `POD_NAME`,
    /// `POD_IP` (the spec's env wins).
    fn exec_in_pod(
        &self,
        pod: &PodAddrs,
        spec: ProcSpec,
    ) -> impl Future<Output = Result<Proc, RuntimeError>> + Send;
    /// SIGTERM, then SIGKILL after `grace`; returns the exit.
    fn stop(
        &self,
        proc: &Proc,
        grace: Duration,
    ) -> impl Future<Output = Result<Exit, RuntimeError>> + Send;
    /// Ends everything this runtime started (SIGTERM, 2 s, SIGKILL) and reaps it.
    fn teardown(&self) -> impl Future<Output = ()> + Send;

    /// Where pods 0..n live (their names and addresses).
    fn pod_addrs(&self, n: usize) -> Vec<PodAddrs>;
    /// Where HAProxy `i` (0: the first) listens and checks from.
    fn haproxy_place(&self, i: usize) -> Result<LbPlace, RuntimeError>;
    /// The folder under the run folder `run_dir` that HAProxy's stats socket
    /// goes in (docker: the only host folder its container may write to).
    fn stats_socket_dir(&self, run_dir: &Path) -> PathBuf;
    /// The host pid whose network namespace `proc` lives in, when it is not
    /// the host's own (local: `None`).
    fn netns_pid(&self, proc: &Proc) -> impl Future<Output = Option<u32>> + Send;
    /// Prepares `pod`'s sandbox before its containers start and returns the
    /// Envoy config they must use (docker: the pause container, and the
    /// config with Envoy's admin on every address of the pod).
    fn pod_sandbox(
        &self,
        pod: &PodAddrs,
        envoy_cfg: &Path,
    ) -> impl Future<Output = Result<PathBuf, RuntimeError>> + Send;
    /// Starts HAProxy's process at `place`, with `sock_dir` writable (its
    /// stats socket is created there).
    fn start_lb(
        &self,
        spec: ProcSpec,
        place: &LbPlace,
        sock_dir: &Path,
    ) -> impl Future<Output = Result<Proc, RuntimeError>> + Send;
}

/// Where one HAProxy lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbPlace {
    /// Its frontend, as the host reaches it.
    pub frontend: SocketAddr,
    /// The address its health checks leave from (so hc tells checkers
    /// apart); `None`: its own address.
    pub check_source: Option<Ipv4Addr>,
    /// Its container's address (docker); local: 127.0.0.1.
    pub ip: Ipv4Addr,
}

/// `Runtime::stop` for every runtime: SIGTERM, then SIGKILL after `grace`.
pub async fn stop_with_grace<R: Runtime + ?Sized>(
    rt: &R,
    proc: &Proc,
    grace: Duration,
) -> Result<Exit, RuntimeError> {
    if let Some(e) = proc.try_exit() {
        return Ok(e);
    }
    rt.signal(proc, Signal::Term)?;
    if let Some(e) = proc.wait_timeout(grace).await {
        return Ok(e);
    }
    rt.signal(proc, Signal::Kill)?;
    proc.wait_timeout(Duration::from_secs(10))
        .await
        .ok_or_else(|| RuntimeError::Signal {
            what: proc.label(),
            signal: "SIGKILL",
            reason: "still running 10 s after SIGKILL".into(),
        })
}

/// The env a process started in `pod` sees (before the spec's own).
pub fn pod_env(pod: &PodAddrs) -> Vec<(String, String)> {
    vec![
        ("POD_NAME".into(), pod.name.clone()),
        ("POD_IP".into(), pod.ip.to_string()),
        ("HC_URL".into(), pod.hc_admin_url()),
        ("ENVOY_ADMIN".into(), pod.envoy_admin_url()),
    ]
}
