//! `harness up`'s control area in its run folder: `up.json` (what is up,
//! where, and the control socket's path) and the Unix socket `harness
//! terminate` talks to. One request per connection, a JSON line
//! ([`Request`]); the answer is JSON lines ([`Reply`]): each step of the
//! termination as it happens, then `done` or `error`.
//!
//! The protocol, finding a running `up`, and the client. It never listens
//! on a network address, and never changes a folder it did not create.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::artifacts::rundir::{read_json, write_json_atomic};
use crate::artifacts::ArtifactsError;
use crate::model::Event;

/// The state file of an up folder.
pub const STATE_FILE: &str = "up.json";
/// The control socket's name (in the up folder, or in the temp folder when
/// that path is too long for a Unix socket).
pub const SOCKET_NAME: &str = "control.sock";
/// A Unix socket path is at most 107 bytes (`sun_path`).
pub const SOCKET_PATH_MAX: usize = 107;

/// One pod of an up, with the addresses a person uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpPod {
    pub name: String,
    pub ip: String,
    /// Envoy's inbound listener (HAProxy's server address).
    pub envoy_inbound: String,
    pub backend: String,
    /// hc's public port (HAProxy's check, readiness, liveness).
    pub hc: String,
    pub hc_admin: String,
    pub envoy_admin: String,
}

/// `up.json`: what an `up` runs and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpState {
    /// The `harness up` process.
    pub pid: u32,
    pub scenario: String,
    pub mode: String,
    pub runtime: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// `http://HOST:PORT/`.
    pub frontend_url: String,
    pub pods: Vec<UpPod>,
    pub haproxy_stats_socket: PathBuf,
    pub control_socket: PathBuf,
    /// Set when the up ended (its topology is gone).
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl UpState {
    pub fn write(&self, dir: &Path) -> Result<(), ArtifactsError> {
        write_json_atomic(&dir.join(STATE_FILE), self)
    }

    pub fn read(dir: &Path) -> Result<Self, ArtifactsError> {
        read_json(&dir.join(STATE_FILE))
    }
}

/// What `harness terminate` asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Kubelet's termination of `pod`, as `mode` does it (default: the
    /// up's mode).
    Terminate { pod: String, mode: Option<String> },
}

/// One line of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The termination started (`mode`'s plan); `warning` when that mode's
    /// topology differs from the up's.
    Started {
        pod: String,
        mode: String,
        warning: Option<String>,
    },
    /// One timeline event of the pod, as it happened.
    Step {
        event: Event,
    },
    /// Every container of the pod exited.
    Done {
        pod: String,
        prestop_exit: Option<i32>,
        exits: Vec<(String, i32)>,
        killed: Vec<String>,
    },
    Error {
        message: String,
    },
}

/// Why no running `up` could be reached.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no running `harness up` under {root} (no folder with a live up.json and {SOCKET_NAME}); start one with `harness up <scenario>`, or name its folder with --up DIR")]
    NoUp { root: PathBuf },
    #[error("{dir}: not a running `harness up`: {why}")]
    NotRunning { dir: PathBuf, why: String },
    #[error("{socket}: {why}")]
    Socket { socket: PathBuf, why: String },
    #[error("the up at {socket} answered something unreadable: {line}")]
    BadReply { socket: PathBuf, line: String },
    #[error(
        "the up at {socket} closed the connection before the termination ended (was it stopped?)"
    )]
    Cut { socket: PathBuf },
}

/// Whether process `pid` is alive.
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// The up of `dir` when it is running: its state, its process alive, its
/// socket present.
pub fn running_up(dir: &Path) -> Result<UpState, ControlError> {
    let not = |why: String| ControlError::NotRunning {
        dir: dir.to_path_buf(),
        why,
    };
    let st = UpState::read(dir).map_err(|e| not(e.to_string()))?;
    if let Some(t) = st.ended_at {
        return Err(not(format!("it ended at {t}")));
    }
    if !alive(st.pid) {
        return Err(not(format!("its process {} is gone", st.pid)));
    }
    if !st.control_socket.exists() {
        return Err(not(format!("no socket {}", st.control_socket.display())));
    }
    Ok(st)
}

/// The up named by `--up DIR`, else the newest running one under `root`.
pub fn find_up(root: &Path, explicit: Option<&Path>) -> Result<(PathBuf, UpState), ControlError> {
    if let Some(dir) = explicit {
        return running_up(dir).map(|st| (dir.to_path_buf(), st));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join(STATE_FILE).is_file());
    // Folder names start with their UTC start: newest last.
    dirs.sort();
    dirs.into_iter()
        .rev()
        .find_map(|d| running_up(&d).ok().map(|st| (d, st)))
        .ok_or_else(|| ControlError::NoUp {
            root: root.to_path_buf(),
        })
}

/// Sends `req` to the up at `socket` and hands each reply to `on_reply`
/// until `done` or `error` (returned).
pub async fn ask(
    socket: &Path,
    req: &Request,
    mut on_reply: impl FnMut(&Reply),
) -> Result<Reply, ControlError> {
    let sock_err = |why: String| ControlError::Socket {
        socket: socket.to_path_buf(),
        why,
    };
    let mut stream = UnixStream::connect(socket)
        .await
        .map_err(|e| sock_err(format!("cannot connect: {e}")))?;
    let mut line = serde_json::to_string(req).map_err(|e| sock_err(e.to_string()))?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .await
        .map_err(|e| sock_err(format!("cannot send: {e}")))?;
    let mut lines = BufReader::new(stream).lines();
    loop {
        let Some(l) = lines
            .next_line()
            .await
            .map_err(|e| sock_err(format!("reading: {e}")))?
        else {
            return Err(ControlError::Cut {
                socket: socket.to_path_buf(),
            });
        };
        let reply: Reply = serde_json::from_str(&l).map_err(|_| ControlError::BadReply {
            socket: socket.to_path_buf(),
            line: l.chars().take(200).collect(),
        })?;
        if matches!(reply, Reply::Done { .. } | Reply::Error { .. }) {
            return Ok(reply);
        }
        on_reply(&reply);
    }
}

/// Writes one reply line; false when the reader is gone.
pub async fn send(stream: &mut (impl AsyncWriteExt + Unpin), reply: &Reply) -> bool {
    let Ok(mut line) = serde_json::to_string(reply) else {
        return false;
    };
    line.push('\n');
    stream.write_all(line.as_bytes()).await.is_ok()
}

/// Where an up folder's control socket goes: in the folder, or in the
/// run's temp folder (`lab::socket_fallback_dir`) when that path is too
/// long for a Unix socket.
pub fn socket_path(dir: &Path, run_id: &str) -> PathBuf {
    let p = dir.join(SOCKET_NAME);
    if p.as_os_str().len() > SOCKET_PATH_MAX {
        return crate::lab::socket_fallback_dir(run_id).join(SOCKET_NAME);
    }
    p
}
