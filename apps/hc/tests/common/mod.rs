//! Test support: runs the real `hc` binary on free loopback ports (killed on
//! drop) and speaks raw HTTP/1.1 to it, from a chosen source address.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{free_addr, ChildGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub const STATES: [&str; 5] = ["OPEN", "DRAINING", "CLOSING", "CLOSED", "FAULT"];
pub const LEGACY: [&str; 5] = [
    "READY",
    "DRAINING",
    "DRAINED_WAIT_LB",
    "TERMINATING",
    "FAILED",
];

/// The POSTs that lead from OPEN to `state` (a gate name).
pub fn path_to(state: &str) -> &'static [&'static str] {
    match state {
        "OPEN" => &[],
        "DRAINING" => &["/drain"],
        "CLOSING" => &["/drain", "/close-lb"],
        "CLOSED" => &["/drain", "/close-lb", "/close"],
        "FAULT" => &["/fault"],
        _ => panic!("unknown state {state}"),
    }
}

/// `state` (gate name) in the given naming ("gate" or "legacy").
pub fn named(state: &str, naming: &str) -> &'static str {
    let i = STATES
        .iter()
        .position(|s| *s == state)
        .expect("gate state name");
    if naming == "legacy" {
        LEGACY[i]
    } else {
        STATES[i]
    }
}

/// A running `hc` process, killed on drop.
pub struct Hc {
    pub child: ChildGuard,
    pub addr: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub agent: Option<SocketAddr>,
}

#[derive(Default, Clone)]
pub struct Opts {
    pub naming: Option<&'static str>,
    pub lb_signal: Option<&'static str>,
    pub admin: bool,
    pub agent: bool,
}

impl Hc {
    pub async fn start(o: Opts) -> Hc {
        let addr = free_addr();
        let admin = o.admin.then(free_addr);
        let agent = o.agent.then(free_addr);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hc"));
        cmd.env_clear()
            .env("HC_ADDR", addr.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = o.naming {
            cmd.env("HC_NAMING", n);
        }
        if let Some(s) = o.lb_signal {
            cmd.env("HC_LB_SIGNAL", s);
        }
        if let Some(a) = admin {
            cmd.env("HC_ADMIN_ADDR", a.to_string());
        }
        if let Some(a) = agent {
            cmd.env("HC_AGENT_ADDR", a.to_string());
        }
        let child = ChildGuard(cmd.spawn().expect("spawn hc"));
        let hc = Hc {
            child,
            addr,
            admin,
            agent,
        };
        hc.wait_up().await;
        hc
    }

    async fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for a in [Some(self.addr), self.admin, self.agent]
            .into_iter()
            .flatten()
        {
            while TcpStream::connect(a).await.is_err() {
                assert!(
                    Instant::now() < deadline,
                    "hc did not listen on {a} within 10 s"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// Where transitions are served.
    pub fn control(&self) -> SocketAddr {
        self.admin.unwrap_or(self.addr)
    }

    /// Walks OPEN -> `state` (gate name) with POSTs, asserting each is 200.
    pub async fn goto(&self, state: &str) {
        for p in path_to(state) {
            let r = req(self.control(), "POST", p, &[]).await;
            assert_eq!(r.status, 200, "POST {p} while walking to {state}: {r:?}");
        }
    }
}

#[allow(unused_imports)]
pub use testkit::http::Resp;

/// Parses one HTTP/1.x response from raw bytes (a `Connection: close` answer).
pub fn parse(raw: &[u8]) -> Resp {
    testkit::http::parse(raw)
        .unwrap_or_else(|| panic!("no HTTP response in {:?}", String::from_utf8_lossy(raw)))
}

/// Connects to `addr` from `src` (any port).
pub async fn connect_from(addr: SocketAddr, src: Option<IpAddr>) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    if let Some(ip) = src {
        sock.bind(SocketAddr::new(ip, 0)).unwrap();
    }
    sock.connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

/// One request on a fresh connection, `Connection: close`, 5 s bound.
pub async fn req_from(
    addr: SocketAddr,
    src: Option<IpAddr>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Resp {
    let fut = async {
        let mut s = connect_from(addr, src).await;
        let mut msg = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            msg.push_str(&format!("{k}: {v}\r\n"));
        }
        msg.push_str("\r\n");
        s.write_all(msg.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        parse(&raw)
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} on {addr}: no answer within 5 s"))
}

pub async fn req(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    req_from(addr, None, method, path, headers).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    req(addr, "GET", path, &[]).await
}

pub async fn post(addr: SocketAddr, path: &str) -> Resp {
    req(addr, "POST", path, &[]).await
}
