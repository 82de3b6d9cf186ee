//! The keep-alive pool of one `steady` load: idle connections a request may
//! reuse, bounded by `max_conns`.
//!
//! Bounds: a connection goes back to the idle list after a complete exchange
//! only while at most `max_conns` connections are open (otherwise it is
//! closed), so the pool settles at `max_conns`. When every connection is
//! busy a request opens a new one anyway, up to a hard cap of
//! [`hard_cap`]`(max_conns)` = max(4 × max_conns, 16) open connections; at the
//! cap a request that wants a new connection closes an idle one first, and
//! with nothing idle it waits for a connection to come back (that wait is
//! part of its corrected latency and counts toward its deadline).
//! A [`Pool::fixed`] pool (the `open` load of `harness load`) has no burst
//! room: its hard cap is `max_conns`, so a request waits for one of exactly
//! that many connections, as oha's and wrk2's rate modes do.
//!
//! Never hands out a connection another request holds.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, Semaphore};

use super::client::{Conn, ConnectError, Connector};

/// The most connections one pool opens at once.
pub fn hard_cap(max_conns: usize) -> usize {
    max_conns.saturating_mul(4).max(16)
}

#[derive(Debug)]
pub struct Pool {
    connector: Arc<Connector>,
    idle: Mutex<Vec<Conn>>,
    /// One permit per open connection, `hard_cap` in all.
    open: Arc<Semaphore>,
    hard_cap: usize,
    max_conns: usize,
    returned: Notify,
}

impl Pool {
    pub fn new(connector: Arc<Connector>, max_conns: usize) -> Self {
        Self::with_cap(connector, max_conns, hard_cap(max_conns))
    }

    /// A pool of at most `conns` connections, no burst room (see the module doc).
    pub fn fixed(connector: Arc<Connector>, conns: usize) -> Self {
        Self::with_cap(connector, conns, conns.max(1))
    }

    fn with_cap(connector: Arc<Connector>, max_conns: usize, hard_cap: usize) -> Self {
        Pool {
            connector,
            idle: Mutex::new(Vec::new()),
            open: Arc::new(Semaphore::new(hard_cap)),
            hard_cap,
            max_conns,
            returned: Notify::new(),
        }
    }

    /// Connections open now (idle or busy).
    pub fn open_conns(&self) -> usize {
        self.hard_cap - self.open.available_permits()
    }

    fn pop_idle(&self) -> Option<Conn> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// A connection for one request: the most recently used idle one when
    /// `reuse` and one is alive, else a new one (see the module doc for the
    /// bounds).
    pub async fn checkout(&self, reuse: bool) -> Result<Conn, ConnectError> {
        loop {
            if reuse {
                while let Some(mut conn) = self.pop_idle() {
                    if conn.alive() {
                        return Ok(conn);
                    }
                }
            }
            if let Ok(permit) = self.open.clone().try_acquire_owned() {
                return self.connector.connect(Some(permit)).await;
            }
            // At the hard cap.
            if let Some(conn) = self.pop_idle() {
                if reuse && conn.is_reusable() {
                    self.idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(conn);
                    continue;
                }
                // Close it to make room: its permit comes back once its
                // socket is closed.
                drop(conn);
                let permit = self.open.clone().acquire_owned().await;
                let permit = permit.expect("the pool's semaphore is never closed");
                return self.connector.connect(Some(permit)).await;
            }
            let returned = self.returned.notified();
            tokio::select! {
                permit = self.open.clone().acquire_owned() => {
                    let permit = permit.expect("the pool's semaphore is never closed");
                    return self.connector.connect(Some(permit)).await;
                }
                _ = returned => {}
            }
        }
    }

    /// Gives back a connection whose exchange completed.
    pub fn checkin(&self, conn: Conn) {
        if conn.is_reusable() && self.open_conns() <= self.max_conns {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        self.returned.notify_one();
    }

    /// Closes every idle connection.
    pub fn close(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
