//! A container's (or exec's) output and exit: the pump that copies the
//! engine's stream line by line into its `LogFile` (and to the run's tee),
//! and the exit read from the engine (137 for a SIGKILL).
//!
//! It must never drop a line it read: each goes to the log file (a failed
//! write is reported once, by `LogFile`), then to the tee (unbounded), and a
//! last partial line is flushed at the end.

use super::*;
use crate::runtime::logfile::SharedLog;

/// Copies an engine output stream line by line to `file` and `tee`
/// (stdout and stderr keep separate partial lines).
pub(super) async fn pump<S>(mut stream: S, file: SharedLog, tee: Option<LineSink>)
where
    S: futures::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>>
        + Unpin,
{
    use bollard::container::LogOutput;
    let mut partial: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let emit = |buf: &[u8]| {
        let at = Instant::now();
        let mut b = buf;
        while let Some((b'\r', rest)) = b.split_last() {
            b = rest;
        }
        let line = String::from_utf8_lossy(b).into_owned();
        lock(&file).write_line(&line);
        if let Some(t) = &tee {
            let _ = t.send((at, line));
        }
    };
    while let Some(Ok(out)) = stream.next().await {
        let (i, msg) = match out {
            LogOutput::StdErr { message } => (1, message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => (0, message),
            LogOutput::StdIn { .. } => continue,
        };
        partial[i].extend_from_slice(&msg);
        while let Some(pos) = partial[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial[i].drain(..=pos).collect();
            emit(&line[..line.len() - 1]);
        }
    }
    for p in partial.iter().filter(|p| !p.is_empty()) {
        emit(p);
    }
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
