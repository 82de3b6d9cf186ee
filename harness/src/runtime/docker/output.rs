//! A container's (or exec's) output and exit: the pump that copies the
//! engine's stream into its `LogFile` (and to the run's tee), a batch of
//! lines at a time (`runtime::batch`),
//! and the exit read from the engine (137 for a SIGKILL).
//!
//! It must never drop a line it read: each goes to the log file (a failed
//! write is reported once, by `LogFile`), then to the tee (unbounded), and a
//! last partial line is flushed at the end.

use super::*;
use crate::runtime::batch::{deliver, Splitter};
use crate::runtime::logfile::SharedLog;

/// Copies an engine output stream to `file` and `tee`: what the stream has
/// ready is one batch of lines; stdout and stderr keep separate partial
/// lines. It is never paced (`ProcSpec::batch_every` is for the local
/// runtime's pipes): read once per 20 ms, Docker 20.10's json-file follow
/// ended HAProxy's and Envoy's log streams 2-4 s into s1's load (1,516 and
/// 4,020 of ~29,000 HAProxy lines, 2026-12-07), while the containers ran on.
pub(super) async fn pump<S>(mut stream: S, file: SharedLog, tee: Option<LineSink>)
where
    S: futures::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>>
        + Unpin,
{
    use bollard::container::LogOutput;
    use futures::FutureExt;
    let mut split: [Splitter; 2] = Default::default();
    let mut take = |out: LogOutput, lines: &mut Vec<String>| match out {
        LogOutput::StdErr { message } => lines.extend(split[1].push(&message)),
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            lines.extend(split[0].push(&message))
        }
        LogOutput::StdIn { .. } => {}
    };
    loop {
        let Some(Ok(first)) = stream.next().await else {
            break;
        };
        let mut lines = Vec::new();
        take(first, &mut lines);
        let mut ended = false;
        while let Some(next) = stream.next().now_or_never() {
            match next {
                Some(Ok(out)) => take(out, &mut lines),
                _ => {
                    ended = true;
                    break;
                }
            }
        }
        deliver(&file, tee.as_ref(), Instant::now(), lines);
        if ended {
            break;
        }
    }
    let last: Vec<String> = split.iter_mut().filter_map(Splitter::finish).collect();
    deliver(&file, tee.as_ref(), Instant::now(), last);
}

/// The container's exit from the engine's wait (137 for a SIGKILL).
pub(super) async fn wait_exit(docker: &Docker, id: &str) -> Exit {
    let mut s = docker.wait_container(
        id,
        Some(
            WaitContainerOptionsBuilder::new()
                .condition("not-running")
                .build(),
        ),
    );
    let code = match s.next().await {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        _ => match docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => c.state.and_then(|s| s.exit_code).unwrap_or(-1),
            Err(_) => -1,
        },
    };
    exit_of(code)
}

pub(super) fn exit_of(code: i64) -> Exit {
    let code = code as i32;
    Exit {
        code,
        signal: (129..=192).contains(&code).then(|| code - 128),
        at: Instant::now(),
    }
}
