//! Running work inside another process's network namespace: a dedicated
//! thread enters `/proc/<pid>/ns/net` (setns) and drives a current-thread
//! tokio runtime there, so every socket it opens belongs to that namespace.
//! The docker runtime uses it to send the load from inside HAProxy's
//! container namespace, as a client in the cluster would (DESIGN §3.2).
//!
//! It must never change the namespace of any other thread: only the thread
//! it spawns enters the namespace, and that thread ends with the work.

use std::future::Future;
use std::thread;

use tokio::sync::oneshot;

/// Why the work could not be placed in the namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("opening /proc/{pid}/ns/net: {source}")]
    Open { pid: u32, source: std::io::Error },
    #[error("entering the network namespace of pid {pid} (needs CAP_SYS_ADMIN): {source}")]
    Enter { pid: u32, source: nix::Error },
    #[error("starting a thread for pid {0}'s namespace: {1}")]
    Thread(u32, String),
}

/// Starts `make()`'s future on a new thread inside pid's network namespace
/// and returns a receiver of its output. Fails (without running anything)
/// when the namespace cannot be entered.
pub fn spawn_in_netns<F, M>(pid: u32, make: M) -> Result<oneshot::Receiver<F::Output>, NetnsError>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<Result<(), NetnsError>>();
    let (out_tx, out_rx) = oneshot::channel();
    thread::Builder::new()
        .name(format!("lab-netns-{pid}"))
        .spawn(move || {
            let entered = enter(pid);
            let ok = entered.is_ok();
            let _ = entered_tx.send(entered);
            if !ok {
                return;
            }
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            let _ = out_tx.send(rt.block_on(make()));
        })
        .map_err(|e| NetnsError::Thread(pid, e.to_string()))?;
    entered_rx
        .recv()
        .map_err(|e| NetnsError::Thread(pid, e.to_string()))??;
    Ok(out_rx)
}

fn enter(pid: u32) -> Result<(), NetnsError> {
    let f = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|source| NetnsError::Open { pid, source })?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|source| NetnsError::Enter { pid, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netns_of(pid: &str) -> std::path::PathBuf {
        std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
    }

    /// Entering our own namespace works and runs the work; the caller's
    /// thread keeps its namespace.
    #[test]
    fn runs_the_work_in_the_namespace() {
        let me = std::process::id();
        let before = netns_of("thread-self");
        let rx = match spawn_in_netns(me, || async { netns_of("thread-self") }) {
            Ok(rx) => rx,
            // Without CAP_SYS_ADMIN even our own namespace cannot be entered.
            Err(NetnsError::Enter { .. }) => return,
            Err(e) => panic!("{e}"),
        };
        let inside = rx.blocking_recv().unwrap();
        assert_eq!(inside, before);
        assert_eq!(netns_of("thread-self"), before);
    }

    #[test]
    fn a_missing_process_is_named() {
        let e = spawn_in_netns(u32::MAX - 1, || async {}).unwrap_err();
        assert!(e.to_string().contains("/proc/4294967294/ns/net"), "{e}");
    }
}
