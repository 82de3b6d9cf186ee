//! Test support: runs the real `backend` binary on a free loopback port,
//! collects its log lines, and speaks raw HTTP/1.1 over std sockets.
//!
//! Helpers only; every process started here is killed when its guard drops.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

// Re-exported for the tests that `use common::*`; not every test binary uses each.
#[allow(unused_imports)]
pub use testkit::http::{dechunk, parse, Resp};
use testkit::ChildGuard;

/// The log lines a process has written so far, with a way to wait for one.
#[derive(Clone, Default)]
pub struct Logs(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        self.0 .0.lock().unwrap().clone()
    }

    /// The first line matching `pred`, waiting up to `within` for it.
    pub fn wait_for(&self, within: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        let (lock, cv) = &*self.0;
        let mut lines = lock.lock().unwrap();
        loop {
            if let Some(l) = lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = cv.wait_timeout(lines, left).unwrap().0;
        }
    }

    fn push(&self, line: String) {
        let (lock, cv) = &*self.0;
        lock.lock().unwrap().push(line);
        cv.notify_all();
    }
}

/// A running `backend` process; killed on drop.
pub struct Backend {
    pub child: ChildGuard,
    pub addr: SocketAddr,
    pub logs: Logs,
}

pub const POD: &str = "pod-test";

impl Backend {
    /// Starts the binary on 127.0.0.1 with an OS-chosen port (read back from
    /// the `msg=listening` line) and the extra flags given.
    pub fn start(extra: &[&str]) -> Backend {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
            .args(["--addr", "127.0.0.1:0", "--pod-name", POD])
            .args(extra)
            .env("RUST_LOG", "info,request=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn backend");
        let logs = Logs::default();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[backend] {line}");
                sink.push(line);
            }
        });
        let mut b = Backend {
            child: ChildGuard(child),
            addr: "127.0.0.1:1".parse().unwrap(),
            logs,
        };
        let line = b
            .logs
            .wait_for(Duration::from_secs(10), |l| l.contains("msg=listening"))
            .expect("backend never logged msg=listening");
        b.addr = field(&line, "addr").unwrap().parse().unwrap();
        b
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig).expect("signal backend");
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        self.child.wait_exit("backend", within)
    }

    /// The `msg=shutdown_complete` line (it follows the exit at once).
    pub fn shutdown_complete(&self) -> String {
        self.logs
            .wait_for(Duration::from_secs(1), |l| {
                l.contains("msg=shutdown_complete")
            })
            .expect("no msg=shutdown_complete line")
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }
}

/// The value of `key=` in a logfmt line (unquoted values only).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(" {key}=");
    let start = line.find(&pat)? + pat.len();
    line[start..].split(' ').next()
}

/// Sends `raw` as is and reads the answer until the server closes.
pub fn raw_exchange(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(raw)?;
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        // A reset after the answer was read still counts as an answer.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(e),
    }
}

/// `GET path` with `Connection: close` and optional extra header lines.
pub fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> Resp {
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra_headers}\r\n");
    parse(&raw_exchange(addr, req.as_bytes()).expect("exchange")).expect("parse response")
}
