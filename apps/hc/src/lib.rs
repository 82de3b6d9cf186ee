//! hc, the signal panel: a 5-state FSM that decides what HAProxy's health
//! check, K8s readiness and liveness answer while a pod drains (DESIGN §2.2).
//! [`serve`] runs it on listeners the caller bound, so tests and other
//! crates can run a real hc in-process.
//!
//! This crate must never decide when to drain; it only answers and records.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub mod fsm;
pub mod openapi;
pub mod reply;
pub mod routes;
pub mod server;
pub mod timeout_io;

/// How `/health_check.html` tells the LB to let go in CLOSING (shared with
/// the harness, which sets it per scenario).
pub use gate::settings::{BadLbSignal, LbSignal};

/// What hc speaks and how it refuses the LB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    pub naming: gate::Naming,
    pub lb_signal: LbSignal,
}

/// Sockets the caller bound. With `admin`, transitions are served only there
/// (the admin listener also answers every GET); `agent` answers HAProxy's agent-check.
pub struct Listeners {
    pub public: TcpListener,
    pub admin: Option<TcpListener>,
    pub agent: Option<TcpListener>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("hc listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves until `shutdown` completes, then returns at once, dropping every
/// open connection (hc's lifetime is owned by preStop: no graceful wait).
pub async fn serve(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let app = Arc::new(routes::App::new(config));
    let mut tasks = JoinSet::new();
    let public_role = if listeners.admin.is_some() {
        routes::Listener::PublicReadOnly
    } else {
        routes::Listener::All
    };
    for (name, l) in [
        ("public", Some(&listeners.public)),
        ("admin", listeners.admin.as_ref()),
        ("agent", listeners.agent.as_ref()),
    ] {
        if let Some(l) = l {
            tracing::info!(listener = name, addr = %l.local_addr()?, naming = %config.naming, lb_signal = %config.lb_signal, "listening");
        }
    }
    tasks.spawn(server::accept_http(
        listeners.public,
        app.clone(),
        public_role,
    ));
    if let Some(admin) = listeners.admin {
        tasks.spawn(server::accept_http(
            admin,
            app.clone(),
            routes::Listener::All,
        ));
    }
    if let Some(agent) = listeners.agent {
        tasks.spawn(server::accept_agent(agent, app.clone()));
    }
    shutdown.await;
    tasks.abort_all();
    // Wait for the aborts so the sockets are closed when this returns.
    while tasks.join_next().await.is_some() {}
    Ok(())
}
