//! The lab's safety net: a registry of every process group and run of this
//! harness, the panic hook and Ctrl-C/SIGTERM handler that end them, and `gc`,
//! which sweeps processes whose harness was SIGKILLed.
//!
//! It never signals a group it cannot prove is the lab's: not its own
//! group, not pid <= 1, and `gc` not a harness that is still alive.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;
use tokio::sync::watch;

use super::procscan::{self, LabProcess};
use super::{Exit, Signal};

/// One registered process group (global, for the panic/signal hooks).
pub(super) struct Group {
    pub(super) pgid: i32,
    pub(super) exit: watch::Receiver<Option<Exit>>,
}

/// Every group and run of this harness that is not torn down yet.
pub(super) static REGISTRY: Mutex<Vec<Group>> = Mutex::new(Vec::new());
pub(super) static RUNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `sig` to `pgid` if that is a group we may touch. ESRCH is not an error.
pub(super) fn signal_group(pgid: i32, sig: Signal) -> Result<(), nix::Error> {
    let own = nix::unistd::getpgrp().as_raw();
    if pgid <= 1 || pgid == own {
        return Ok(());
    }
    match killpg(Pid::from_raw(pgid), sig.to_nix()) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Signals every process of `procs` (each one, and its group when it is
/// not ours).
pub(super) fn signal_scanned(procs: &[LabProcess], sig: Signal) {
    for p in procs {
        let _ = signal_group(p.pgid, sig);
        if p.pid > 1 && p.pid as u32 != std::process::id() {
            let _ = kill(Pid::from_raw(p.pid), sig.to_nix());
        }
    }
}

/// Signals every registered live group and every process of every
/// registered run. `try_lock` so a panic while holding the lock cannot hang.
fn signal_everything(sig: Signal, blocking: bool) {
    let runs: Vec<String> = if blocking {
        let groups = lock(&REGISTRY);
        for g in groups.iter().filter(|g| g.exit.borrow().is_none()) {
            let _ = signal_group(g.pgid, sig);
        }
        lock(&RUNS).clone()
    } else {
        if let Ok(groups) = REGISTRY.try_lock() {
            for g in groups.iter().filter(|g| g.exit.borrow().is_none()) {
                let _ = signal_group(g.pgid, sig);
            }
        }
        RUNS.try_lock().map(|r| r.clone()).unwrap_or_default()
    };
    let left: Vec<LabProcess> = procscan::lab_processes()
        .into_iter()
        .filter(|p| runs.contains(&p.run_id))
        .collect();
    signal_scanned(&left, sig);
}

fn everything_gone() -> bool {
    let runs = lock(&RUNS).clone();
    let groups_done = lock(&REGISTRY).iter().all(|g| g.exit.borrow().is_some());
    groups_done
        && !procscan::lab_processes()
            .iter()
            .any(|p| runs.contains(&p.run_id))
}

/// What the Ctrl-C/SIGTERM handler saw; the program can watch it to write an
/// `interrupted` summary.
#[derive(Debug, Clone)]
pub struct Interrupts {
    rx: watch::Receiver<Option<Signal>>,
}

impl Interrupts {
    /// `Some(signal)` once the harness was interrupted.
    pub fn interrupted(&self) -> Option<Signal> {
        *self.rx.borrow()
    }
    pub fn receiver(&self) -> watch::Receiver<Option<Signal>> {
        self.rx.clone()
    }
    /// Resolves when the harness is interrupted.
    pub async fn recv(&self) -> Signal {
        let mut rx = self.rx.clone();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

static HOOKS: OnceLock<Interrupts> = OnceLock::new();

/// Installs (once) a panic hook that SIGKILLs every registered process group,
/// and a SIGINT/SIGTERM handler that sends SIGTERM to every group of every
/// live runtime, publishes the signal through the returned `Interrupts`,
/// SIGKILLs what is left after 2 s, then gives the program 10 s more to
/// finish (write its `interrupted` summary) before exiting with
/// 128 + signal; a second signal exits at once. SIGXFSZ is handled too, so a
/// full disk quota (`RLIMIT_FSIZE`) is a write error, not a sudden death.
pub fn install_cleanup_hooks() -> Interrupts {
    HOOKS
        .get_or_init(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                signal_everything(Signal::Kill, false);
                prev(info);
            }));
            let (tx, rx) = watch::channel(None);
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("lab-signals".into())
                .spawn(move || signal_thread(tx, ready_tx));
            match spawned {
                // Return only once the handler is in place.
                Ok(_) => {
                    let _ = ready_rx.recv_timeout(Duration::from_secs(2));
                }
                Err(e) => eprintln!("harness: could not start the signal handler thread: {e}"),
            }
            Interrupts { rx }
        })
        .clone()
}

fn signal_thread(tx: watch::Sender<Option<Signal>>, ready: std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("harness: no runtime for the signal handler");
        return;
    };
    rt.block_on(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            eprintln!("harness: could not install the SIGINT/SIGTERM handler");
            return;
        };
        // A write past RLIMIT_FSIZE then fails with EFBIG (and is reported
        // by whoever wrote) instead of SIGXFSZ killing the harness.
        let mut xfsz = signal(SignalKind::from_raw(libc::SIGXFSZ)).ok();
        let _ = ready.send(());
        let mut told = false;
        let first = loop {
            tokio::select! {
                _ = int.recv() => break Signal::Int,
                _ = term.recv() => break Signal::Term,
                Some(()) = async { match xfsz.as_mut() { Some(x) => x.recv().await, None => std::future::pending().await } } => {
                    if !std::mem::replace(&mut told, true) {
                        eprintln!("harness: a file reached the file size limit (RLIMIT_FSIZE): writes past it fail");
                    }
                }
            }
        };
        eprintln!(
            "harness: {} received: ending every process of the run",
            first.name()
        );
        // SIGTERM first, then tell the program (which may exit at once), then
        // SIGKILL what is left after 2 s.
        let _ = tokio::task::spawn_blocking(|| signal_everything(Signal::Term, true)).await;
        tx.send_replace(Some(first));
        let ended = tokio::task::spawn_blocking(|| kill_after(Duration::from_secs(2)));
        tokio::select! {
            _ = ended => {}
            _ = int.recv() => std::process::exit(128 + first.number()),
            _ = term.recv() => std::process::exit(128 + first.number()),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        std::process::exit(128 + first.number());
    });
}

/// Waits up to `grace` for everything registered to end, then SIGKILLs
/// what is left (blocking).
fn kill_after(grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !everything_gone() {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_everything(Signal::Kill, true);
}

/// Makes a write past `RLIMIT_FSIZE` fail with `EFBIG` instead of the
/// default SIGXFSZ killing the process (for verbs that do not install the
/// cleanup hooks, e.g. `harness report`). The handler stays for the life of
/// the process; a program it starts gets the default action back at exec.
pub fn survive_file_size_limit() {
    use tokio::signal::unix::{signal, SignalKind};
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            // Registering is what counts; the stream itself may go.
            let _ = rt.block_on(async { signal(SignalKind::from_raw(libc::SIGXFSZ)) });
        }
    });
}

/// A process `gc` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    pub pid: i32,
    pub pgid: i32,
    pub run_id: String,
}

/// Ends (SIGKILL, whole group) every lab process whose harness is gone (its
/// owner pid is dead or was reused); processes of a harness still running
/// (another run, a parallel test) are left alone. Waits up to 2 s for them
/// to disappear.
pub fn gc() -> Vec<Swept> {
    let ours = lock(&RUNS).clone();
    sweep(|p| !ours.contains(&p.run_id) && !p.owner.as_deref().is_some_and(procscan::owner_alive))
}

/// Ends every process of `run_id`, whoever started it.
pub fn gc_run(run_id: &str) -> Vec<Swept> {
    sweep(|p| p.run_id == run_id)
}

fn sweep(select: impl Fn(&LabProcess) -> bool) -> Vec<Swept> {
    let victims: Vec<LabProcess> = procscan::lab_processes()
        .into_iter()
        .filter(|p| select(p))
        .collect();
    signal_scanned(&victims, Signal::Kill);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let live = procscan::lab_processes();
        if !victims.iter().any(|v| live.iter().any(|l| l.pid == v.pid)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    victims
        .into_iter()
        .map(|p| Swept {
            pid: p.pid,
            pgid: p.pgid,
            run_id: p.run_id,
        })
        .collect()
}
