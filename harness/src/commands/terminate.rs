//! `harness terminate <pod>`: asks a running `harness up` (over the Unix
//! socket of its folder) to run kubelet's termination of one pod, the
//! mode's preStop, SIGTERM, grace period and SIGKILL, and prints each step
//! as it happens. Exits 0 when every container of the pod has exited.
//!
//! Printing only; the termination runs in the `up` process (`run::up`),
//! the protocol is `run::control`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::run::control::{self, Reply, Request};

/// The flags of `harness terminate`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Run a mode's termination of one pod of a running `harness up`, printing each step",
    long_about = "Run kubelet's termination of one pod of a running `harness up`: terminating (the grace period starts), the mode's preStop hook, SIGTERM to every container, SIGKILL at the end of the grace period (plus kubelet's one-time 2 s extension when preStop ran out of time). The up performs it with the same kubelet emulation a scenario uses; each step is printed as it happens (seconds from `terminating`), with the pod's hc, endpoint and HAProxy changes.\n\nIt talks to the up through the control socket in its folder (no network). Exit 0 when every container of the pod exited; 2 with one line when no up is running, the pod is unknown or already terminated.",
    after_help = "Example:\n  harness terminate pod-a                    # the newest running up\n  harness terminate pod-a --mode graceful --up artifacts/20261203T200000Z-up-s1-current"
)]
pub struct TerminateArgs {
    /// The pod to terminate (pod-a, pod-b, ...).
    pub pod: String,
    /// Whose termination plan (preStop, grace period) to run: a mode of the
    /// up's scenario (default: the up's mode).
    #[arg(long)]
    pub mode: Option<String>,
    /// The up's folder (default: the newest running up in the artifacts folder).
    #[arg(long)]
    pub up: Option<PathBuf>,
    /// Where up folders are looked for.
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

impl TerminateArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let root = super::artifacts_root(self.artifacts.clone());
        let (dir, st) = control::find_up(&root, self.up.as_deref())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let req = Request::Terminate {
            pod: self.pod.clone(),
            mode: self.mode.clone(),
        };
        let mut t0: Option<f64> = None;
        let last = rt.block_on(control::ask(&st.control_socket, &req, |r| {
            print_reply(r, &mut t0)
        }));
        let last = last.with_context(|| format!("up folder {}", dir.display()))?;
        match last {
            Reply::Done {
                pod,
                prestop_exit,
                exits,
                killed,
            } => {
                let exits: Vec<String> = exits.iter().map(|(c, e)| format!("{c}={e}")).collect();
                println!(
                    "{pod} terminated: preStop exit {}, containers {}{}",
                    prestop_exit.map_or("-".to_string(), |c| c.to_string()),
                    exits.join(" "),
                    if killed.is_empty() {
                        String::new()
                    } else {
                        format!(", SIGKILLed: {}", killed.join(" "))
                    }
                );
                Ok(ExitCode::SUCCESS)
            }
            Reply::Error { message } => anyhow::bail!("{message} (up folder {})", dir.display()),
            other => anyhow::bail!("unexpected reply {other:?}"),
        }
    }
}

/// One progress line, seconds from the pod's `terminating`.
fn print_reply(r: &Reply, t0: &mut Option<f64>) {
    match r {
        Reply::Started { pod, mode, warning } => {
            println!("terminating {pod} as mode {mode} does it");
            if let Some(w) = warning {
                println!("warning: {w}");
            }
        }
        Reply::Step { event } => {
            let t0 = *t0.get_or_insert(event.t_ms);
            println!(
                "{:>8.3} s  {:<8} {:<16} {}",
                (event.t_ms - t0) / 1000.0,
                event.source,
                event.kind,
                event.detail
            );
        }
        Reply::Done { .. } | Reply::Error { .. } => {}
    }
}
