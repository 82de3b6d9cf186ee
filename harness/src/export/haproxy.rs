//! The external LB's part of the export: the `backend` section of the lab's
//! HAProxy config, rendered by the lab's own renderer (`haproxy/` template,
//! `topology::render_haproxy`) and cut out of it, with the `defaults` lines
//! that act on a backend (timeouts, retries, redispatch, retry-on) moved in,
//! and without the lab's `?pod=` pinning.
//!
//! Text only: it must never start HAProxy or touch the network.

use std::net::Ipv4Addr;

use super::{ExportError, Resolved};
use crate::topology::{self, HaproxyPlacement, PodAddrs};

/// The lab's backend section name.
pub const BACKEND: &str = "be_app";

/// `defaults` lines that also mean something in a backend section.
const BACKEND_DEFAULTS: &[&str] = &[
    "timeout connect",
    "timeout server",
    "retries",
    "option redispatch",
    "retry-on",
];

/// The pods' addresses in the export: TEST-NET-1 (RFC 5737), to be
/// replaced by the real pod IPs.
pub fn example_pods(n: u32) -> Vec<PodAddrs> {
    (0..n as usize)
        .map(|i| PodAddrs::new(topology::pod_name(i), Ipv4Addr::new(192, 0, 2, i as u8 + 1)))
        .collect()
}

/// The `backend be_app` section for the external HAProxy.
pub(super) fn backend(r: &Resolved) -> Result<String, ExportError> {
    let place = HaproxyPlacement {
        frontend_addr: "0.0.0.0:80".parse().expect("a literal socket address"),
        stats_socket: "/run/haproxy.sock".into(),
    };
    let mut settings = r.settings.clone();
    // `source` tells the lab's several HAProxies apart on one machine.
    settings.haproxy.source = None;
    let pods = example_pods(r.sc.topology.pods);
    let text = topology::render_haproxy(&settings, &pods, &place)?;
    let section = |name: &str| -> Vec<&str> {
        text.lines()
            .skip_while(|l| l.trim_end() != name)
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with(char::is_whitespace))
            .collect()
    };
    let from_defaults = section("defaults").into_iter().filter(|l| {
        let t = l.trim_start();
        BACKEND_DEFAULTS.iter().any(|k| t.starts_with(k))
    });
    let own = section(&format!("backend {BACKEND}"))
        .into_iter()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("use-server") && !t.starts_with("# ?pod=")
        });
    let mut out = vec![
        "# The external LB's backend for the exported pods, rendered from the".to_string(),
        format!(
            "# lab's haproxy/ template for scenario {} mode {}. Replace the 192.0.2.N",
            r.sc.id, r.mode
        ),
        "# addresses with your pod IPs (each server: Envoy's inbound port, checks on".into(),
        "# hc's port 18180). Add it to your haproxy.cfg and point a frontend at it.".into(),
        format!("backend {BACKEND}"),
    ];
    out.extend(from_defaults.chain(own).map(String::from));
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    Ok(out.join("\n") + "\n")
}
