//! `harness watch --during CMD`: the command, run through `sh -c` as a
//! child of the harness (the local runtime: its own process group,
//! registered with the cleanup hooks, its output in `logs/during.log`),
//! each output line (stdout and stderr) and its exit stamped on the
//! timeline (source `during`).
//!
//! Runs one command and reports; it never judges, and never leaves the
//! command running (a command still running at the deadline is stopped:
//! SIGTERM to its group, SIGKILL 5 s later).

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::model::{EventKind, Source};
use crate::runtime::{batch::LineBatch, LocalRuntime, Proc, ProcSpec, Runtime};
use crate::timeline::Timeline;

/// The most output lines put on the timeline (every line stays in the log).
pub const MAX_LINES: usize = 10_000;
/// The longest line kept on the timeline, in characters.
pub const MAX_LINE_CHARS: usize = 500;
/// How long a stopped command gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long its output may trail its exit (a pipe a background child holds).
const OUTPUT_TRAIL: Duration = Duration::from_secs(2);

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandEnd {
    /// It exited by itself with this code (128 + N for a signal).
    Exited(i32),
    /// It was still running at the deadline and was stopped.
    Stopped,
    /// It could not be started (the reason).
    NotStarted(String),
}

/// The running command.
pub struct During {
    proc: Proc,
    lines: JoinHandle<()>,
}

/// Starts `sh -c cmd` on `rt`, its lines stamped on `timeline`.
pub async fn start(rt: &LocalRuntime, cmd: &str, timeline: &Timeline) -> Result<During, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LineBatch>();
    let tl = timeline.clone();
    let lines = tokio::spawn(async move {
        let mut n = 0usize;
        while let Some(LineBatch { at, lines }) = rx.recv().await {
            for line in lines {
                n += 1;
                if n > MAX_LINES {
                    continue;
                }
                let detail = if n == MAX_LINES {
                    format!("(further lines only in logs/during.log) {line}")
                } else {
                    line
                };
                let detail: String = detail.chars().take(MAX_LINE_CHARS).collect();
                let t = tl.clock().ms_of(at);
                tl.emit_at(t, Source::During, None, EventKind::CommandOutput, detail);
            }
        }
    });
    let spec = ProcSpec::new("during", "sh")
        .args(["-c", cmd])
        .tee(Some(tx));
    let proc = rt.start(spec).await.map_err(|e| e.to_string())?;
    timeline.emit(
        Source::During,
        None,
        EventKind::CommandStart,
        format!("sh -c {cmd:?} (pid {})", proc.pid.unwrap_or(0)),
    );
    Ok(During { proc, lines })
}

impl During {
    /// Waits until the command exits or `deadline`, when it is stopped;
    /// its last lines and its end go on the timeline.
    pub async fn finish(
        self,
        rt: &LocalRuntime,
        deadline: Instant,
        timeline: &Timeline,
    ) -> CommandEnd {
        let until = tokio::time::Instant::from_std(deadline);
        let exited = tokio::select! {
            e = self.proc.wait() => Some(e),
            _ = tokio::time::sleep_until(until) => None,
        };
        let end = match exited {
            Some(e) => CommandEnd::Exited(e.code),
            None => {
                let how = match rt.stop(&self.proc, STOP_GRACE).await {
                    Ok(e) => format!("still running at --duration: stopped (exit {})", e.code),
                    Err(e) => format!("still running at --duration; stopping it failed: {e}"),
                };
                timeline.emit(Source::During, None, EventKind::CommandStopped, how);
                CommandEnd::Stopped
            }
        };
        if tokio::time::timeout(OUTPUT_TRAIL, self.lines)
            .await
            .is_err()
        {
            tracing::debug!("the command's output outlived it (a background child holds it)");
        }
        if let CommandEnd::Exited(code) = end {
            let at = self.proc.try_exit().map_or(Instant::now(), |e| e.at);
            timeline.emit_at(
                timeline.clock().ms_of(at),
                Source::During,
                None,
                EventKind::CommandExit,
                format!("exit code {code}"),
            );
        }
        end
    }
}
