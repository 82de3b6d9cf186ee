//! The `backend` binary: parses flags (each also an env var), binds, and
//! serves until SIGTERM/SIGINT, then drains and exits 0.
//!
//! Wiring only; the behaviour lives in the library.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "backend",
    about = "The system under test: /, /sleep, /stream, graceful shutdown"
)]
struct Args {
    /// Address to listen on (port 0: any free port; the `listening` log line says which).
    #[arg(long, env = "BACKEND_ADDR", default_value = "0.0.0.0:8080")]
    addr: SocketAddr,
    /// Name sent as `x-served-by` and logged as `hostname` (default: the hostname).
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// How long to wait for in-flight requests after SIGTERM (90, 90s, 500ms, 2m).
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "300s", value_parser = duration, allow_hyphen_values = true)]
    shutdown_timeout: Duration,
    /// Close a connection that has not sent a full request head this long
    /// (also the idle keep-alive timeout); 0 disables it.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "60s", value_parser = duration, allow_hyphen_values = true)]
    header_read_timeout: Duration,
}

fn duration(s: &str) -> Result<Duration, String> {
    gate::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// A listening socket with a backlog large enough for bursts of connections.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

fn main() -> std::process::ExitCode {
    gate::log::init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "startup_failed");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = backend::shutdown::on_signal().context("installing signal handlers")?;
    let listener = bind(args.addr).with_context(|| format!("binding {}", args.addr))?;
    let config = backend::Config {
        pod_name: args.pod_name.unwrap_or_else(hostname),
        shutdown_timeout: args.shutdown_timeout,
    };
    let options = backend::ServeOptions {
        header_read_timeout: Some(args.header_read_timeout).filter(|d| !d.is_zero()),
        ..backend::ServeOptions::default()
    };
    backend::serve_with(listener, config, options, shutdown).await?;
    Ok(())
}
