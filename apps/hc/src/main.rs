//! The `hc` binary: flags and env vars, binding, signals; everything else is
//! the library.
//!
//! It must never hold hc back on SIGTERM/SIGINT: it exits 0 at once.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use gate::Naming;
use hc::{Config, LbSignal, Listeners};
use tokio::net::TcpListener;

/// The graceful-lab health-check sidecar (DESIGN §2.2).
#[derive(Debug, Parser)]
#[command(name = "hc", version)]
struct Args {
    /// Public listener (health answers; also transitions unless --admin-addr is set).
    #[arg(long, env = "HC_ADDR", default_value = "0.0.0.0:18180")]
    addr: SocketAddr,
    /// Admin listener: when set, POST transitions are served only here.
    #[arg(long, env = "HC_ADMIN_ADDR")]
    admin_addr: Option<SocketAddr>,
    /// HAProxy agent-check listener (answers up / drain / down).
    #[arg(long, env = "HC_AGENT_ADDR")]
    agent_addr: Option<SocketAddr>,
    /// State names to speak: gate (OPEN ...) or legacy (READY ...).
    #[arg(long, env = "HC_NAMING", default_value = "gate")]
    naming: Naming,
    /// What /health_check.html answers in CLOSING: 503 or 404 (soft stop).
    #[arg(long, env = "HC_LB_SIGNAL", default_value = "503")]
    lb_signal: LbSignal,
    /// Print the OpenAPI document (YAML) and exit.
    #[arg(long)]
    print_openapi: bool,
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {what} address {addr}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.print_openapi {
        print!("{}", hc::openapi::yaml());
        return Ok(());
    }
    gate::log::init();
    let listeners = Listeners {
        public: bind(args.addr, "HC_ADDR").await?,
        admin: match args.admin_addr {
            Some(a) => Some(bind(a, "HC_ADMIN_ADDR").await?),
            None => None,
        },
        agent: match args.agent_addr {
            Some(a) => Some(bind(a, "HC_AGENT_ADDR").await?),
            None => None,
        },
    };
    let config = Config {
        naming: args.naming,
        lb_signal: args.lb_signal,
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let shutdown = async move {
        let sig = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        };
        tracing::info!(signal = sig, "exit");
    };
    hc::serve(listeners, config, shutdown).await?;
    Ok(())
}
