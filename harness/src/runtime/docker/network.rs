//! The run's own bridge network: a free `10.213.N.0/24` (no docker network
//! nor host route uses it), created with the lab's labels.
//!
//! It must never take a subnet already in use on the host.

use std::net::Ipv4Addr;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::Docker;

use super::container::base_labels;
use super::{engine, host_in};
use crate::runtime::RuntimeError;

/// Creates `graceful-lab-<run_id>` on the first free subnet that the engine
/// accepts; returns its name and subnet.
pub(super) async fn create(
    docker: &Docker,
    run_id: &str,
    scenario: &str,
) -> Result<(String, Ipv4Addr), RuntimeError> {
    let name = format!("graceful-lab-{run_id}");
    let mut labels = base_labels(run_id, scenario);
    labels.insert("graceful-lab.kind".into(), "network".into());
    let mut last = String::new();
    for net in free_subnets(docker).await {
        let req = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("{net}/24")),
                    gateway: Some(host_in(net, 1).to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        match docker.create_network(req).await {
            Ok(_) => return Ok((name, net)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(engine(
        "network",
        format!("could not create {name}: {last}"),
    ))
}

/// Candidate `10.213.N.0` subnets no docker network nor host route uses.
async fn free_subnets(docker: &Docker) -> Vec<Ipv4Addr> {
    let mut used: Vec<String> = Vec::new();
    if let Ok(nets) = docker
        .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
        .await
    {
        for n in nets {
            for c in n.ipam.and_then(|i| i.config).unwrap_or_default() {
                used.extend(c.subnet);
            }
        }
    }
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let mut start = (std::process::id() % 200) as u8;
    let mut out = Vec::new();
    for _ in 0..250 {
        start = start % 250 + 1;
        let net = Ipv4Addr::new(10, 213, start, 0);
        let le = format!("{:02X}{:02X}D50A", 0, start);
        if used
            .iter()
            .any(|u| u.starts_with(&format!("10.213.{start}.")))
            || routes.contains(&le)
        {
            continue;
        }
        out.push(net);
        if out.len() >= 8 {
            break;
        }
    }
    out
}
