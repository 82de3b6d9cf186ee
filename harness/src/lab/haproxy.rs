//! HAProxy in the lab: one start for every runtime (the runtime places it),
//! the wait until its stats socket answers and until its first health checks
//! passed on every pod, and its runtime API over the stats socket.
//!
//! It must never wait without a deadline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::pod::wait_ready;
use crate::runtime::{LbPlace, LineSink, Proc, ProcSpec, Runtime, RuntimeError};
use crate::tools::Tools;
use crate::topology::{PodAddrs, Rendered};

/// A running HAProxy.
#[derive(Debug, Clone)]
pub struct Haproxy {
    pub proc: Proc,
    pub stats_socket: PathBuf,
}

/// Starts HAProxy (`haproxy -db -f <cfg>`, output to `haproxy.log`) where
/// `place` says, and waits until its stats socket answers `show info`.
pub async fn start_haproxy<R: Runtime>(
    rt: &R,
    tools: &Tools,
    rendered: &Rendered,
    place: &LbPlace,
    tee: Option<LineSink>,
    ready_timeout: Duration,
) -> Result<Haproxy, RuntimeError> {
    let sock = &rendered.stats_socket;
    if let Err(e) = std::fs::remove_file(sock) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(RuntimeError::Log {
                path: sock.clone(),
                source: e,
            });
        }
    }
    let sock_dir = sock.parent().unwrap_or(Path::new("/tmp"));
    let spec = ProcSpec::new("haproxy", &tools.haproxy)
        .args(["-db", "-f"])
        .arg(&rendered.haproxy_cfg)
        .tee(tee)
        .batch_every(super::PROXY_LINES_EVERY);
    let proc = rt.start_lb(spec, place, sock_dir).await?;
    wait_haproxy_ready(&proc, sock, ready_timeout).await?;
    Ok(Haproxy {
        proc,
        stats_socket: sock.clone(),
    })
}

/// Waits until HAProxy's stats socket answers `show info`.
async fn wait_haproxy_ready(
    proc: &Proc,
    sock: &Path,
    timeout: Duration,
) -> Result<(), RuntimeError> {
    wait_ready(proc, timeout, || async {
        let info = haproxy_api(sock, "show info")
            .await
            .map_err(|e| format!("stats socket {}: {e}", sock.display()))?;
        if info.contains("Name: HAProxy") {
            Ok(())
        } else {
            Err(format!("show info answered {:?}", info.lines().next()))
        }
    })
    .await
}

/// Waits until HAProxy's health checks passed (UP, L7OK) on every pod of
/// `be_app`, at most `limit`.
pub async fn wait_checks_passed(
    sock: &Path,
    pods: &[PodAddrs],
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(csv) = haproxy_api(sock, "show stat").await {
            let ok: Vec<&str> = csv
                .lines()
                .filter(|l| l.starts_with("be_app,"))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    (f.len() > 36 && f[17] == "UP" && f[36].starts_with("L7OK")).then_some(f[1])
                })
                .collect();
            if pods.iter().all(|p| ok.contains(&p.name.as_str())) {
                return Ok(());
            }
            last = format!("checks passed on: {ok:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("HAProxy's health checks did not pass on every pod within {limit:?} ({last})")
}

/// How many log lines HAProxy dropped so far (`show info`'s `DroppedLogs`):
/// it drops a line when its stdout would block (the pipe is full).
pub async fn dropped_logs(sock: &Path) -> Result<u64, String> {
    let info = haproxy_api(sock, "show info")
        .await
        .map_err(|e| format!("stats socket {}: {e}", sock.display()))?;
    info_field(&info, "DroppedLogs")
        .ok_or_else(|| format!("show info on {} has no DroppedLogs", sock.display()))
}

/// A numeric field of `show info`'s `Name: value` lines.
pub fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Sends one command to HAProxy's runtime API and returns the whole answer.
pub async fn haproxy_api(socket: &Path, command: &str) -> std::io::Result<String> {
    let fut = async {
        let mut s = tokio::net::UnixStream::connect(socket).await?;
        s.write_all(format!("{}\n", command.trim_end()).as_bytes())
            .await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "HAProxy runtime API {} did not answer within 5 s",
                    socket.display()
                ),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::info_field;

    #[test]
    fn a_field_of_show_info() {
        let info = "Name: HAProxy\nVersion: 2.6.12\nDroppedLogs: 182\nCumRecvLogs: 0\n";
        assert_eq!(info_field(info, "DroppedLogs"), Some(182));
        assert_eq!(info_field(info, "CumRecvLogs"), Some(0));
        assert_eq!(info_field(info, "Name"), None);
        assert_eq!(info_field(info, "Dropped"), None);
    }
}
