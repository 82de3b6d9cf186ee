//! hc, the signal panel: a 5-state FSM that decides what HAProxy's health
//! check, K8s readiness and liveness answer while a pod drains (DESIGN §2.2).
//! [`serve`] runs it on listeners the caller bound, so tests and other
//! crates can run a real hc in-process.
//!
//! This crate must never decide when to drain; it only answers and records.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use http::StatusCode;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub mod fsm;
pub mod openapi;
pub mod reply;
pub mod routes;
pub mod server;
pub mod timeout_io;

/// How `/health_check.html` tells the LB to let go in CLOSING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LbSignal {
    /// A failed check (HAProxy needs `fall` of them).
    #[default]
    Status503,
    /// Soft stop: HAProxy's `http-check disable-on-404` puts the server in NOLB.
    Status404,
}

impl LbSignal {
    pub fn code(self) -> u16 {
        match self {
            LbSignal::Status503 => 503,
            LbSignal::Status404 => 404,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            LbSignal::Status503 => StatusCode::SERVICE_UNAVAILABLE,
            LbSignal::Status404 => StatusCode::NOT_FOUND,
        }
    }
}

/// An `HC_LB_SIGNAL` that is neither 503 nor 404.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LB signal {0:?}: expected 503 or 404")]
pub struct BadLbSignal(pub String);

impl FromStr for LbSignal {
    type Err = BadLbSignal;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "503" => Ok(LbSignal::Status503),
            "404" => Ok(LbSignal::Status404),
            _ => Err(BadLbSignal(s.to_string())),
        }
    }
}

impl fmt::Display for LbSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

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
