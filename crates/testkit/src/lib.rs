//! Dev-only test support shared by the tests of every crate of the
//! workspace (a `[dev-dependencies]` entry only; never a dependency of a
//! product crate):
//!
//! - [`ChildGuard`]: a child process killed (and reaped) when dropped, also
//!   when the test panics;
//! - [`free_port`] / [`free_addr`]: a free loopback port;
//! - [`tool`]: a real tool (HAProxy, Envoy) the way scripts/get-tools.sh
//!   provides it;
//! - [`poll`] / [`poll_ok`] / [`wait_for`]: bounded waits for a condition;
//! - [`http`]: raw HTTP/1.1 answers parsed;
//! - [`slowloris`]: the raw clients of the slowloris tests;
//! - [`fixtures`]: scenario text the harness's tests start from.
//!
//! Helpers only: nothing here asserts anything about the product beyond
//! "it happened within the bound", and nothing here leaves a process running.

pub mod fixtures;
pub mod http;
pub mod slowloris;

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// A child process that is killed and reaped when the guard drops.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// The child's exit status within `within`; past it the child is killed
    /// and the test fails naming `what`.
    pub fn wait_exit(&mut self, what: &str, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.0.try_wait().expect("try_wait") {
                return st;
            }
            if Instant::now() >= deadline {
                self.kill_now();
                panic!("{what} did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill_now(&mut self) {
        // Already gone is fine: the guard only makes sure it is.
        if self.0.kill().is_ok() {
            self.0.wait().ok();
        }
    }
}

impl From<Child> for ChildGuard {
    fn from(c: Child) -> Self {
        ChildGuard(c)
    }
}

impl Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// A free port on 127.0.0.1 (bound by the OS, then released).
pub fn free_port() -> u16 {
    free_addr().port()
}

/// A free `127.0.0.1:<port>` (bound by the OS, then released).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// The workspace's root folder.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A real tool: `$<env>`, then PATH, then /usr/sbin, then
/// `<workspace>/tools/bin/`; else the test fails saying how to get it.
pub fn tool(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), workspace().join("tools/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found ({env}, PATH, tools/bin): run scripts/get-tools.sh")
        })
}

/// Calls `f` every `every` until it returns `Some` or `within` passes.
pub async fn poll<T, F, Fut>(within: Duration, every: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Calls `f` every 50 ms until it returns `Ok`; fails the test naming
/// `what` and the last error when `within` passes first.
pub async fn poll_ok<T, E, F, Fut>(what: &str, within: Duration, mut f: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => panic!("{what}: not within {within:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Polls `cond` every 20 ms until it holds; fails the test naming `what`
/// when `within` passes first.
pub async fn wait_for<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let every = Duration::from_millis(20);
    let held = poll(within, every, || {
        let fut = cond();
        async move { fut.await.then_some(()) }
    })
    .await;
    assert!(held.is_some(), "timed out waiting for {what}");
}
