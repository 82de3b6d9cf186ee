//! What kubelet runs for a pod and what the fault schedule acts on: each
//! pod's preStop hook (sleep, `drain` or the seed's script, with the mode's
//! drain settings as env) and termination plan, and the fault runner that
//! holds them.
//!
//! Building only; it must never start a process itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::kubelet::{PreStopHook, Termination};
use crate::lab::{LabEnv, Topo};
use crate::prestop;
use crate::runtime::LabRuntime;
use crate::scenario::{PreStop, Scenario};
use crate::timeline::Timeline;

use super::{faults, lines, RunEnv};

/// The fault runner of a run: the live pods, each pod's termination plan,
/// and what a restart needs.
pub(super) fn fault_runner(
    env: &RunEnv,
    sc: &Scenario,
    mode: &crate::scenario::Mode,
    topo: &Topo,
    rt: &LabRuntime,
    timeline: &Timeline,
) -> Arc<faults::FaultRunner> {
    let plans = topo
        .pods
        .iter()
        .map(|pod| {
            let plan = Termination {
                grace: sc.kubelet.grace_period.0,
                prestop: prestop_hook(env, mode, env.prestop_override, &pod.addrs, timeline, sc),
                sidecar: sc.topology.envoy.sidecar,
                termination_drain: sc.topology.envoy.termination_drain.0,
                endpoint: topo
                    .endpoints
                    .iter()
                    .find(|(n, _)| n == &pod.addrs.name)
                    .map(|(_, e)| e.clone()),
            };
            (pod.addrs.name.clone(), plan)
        })
        .collect();
    let h = &sc.topology.haproxy;
    Arc::new(faults::FaultRunner {
        rt: rt.clone(),
        timeline: timeline.clone(),
        pods: Arc::new(Mutex::new(
            topo.pods
                .iter()
                .map(|p| (p.addrs.name.clone(), p.clone()))
                .collect(),
        )),
        plans,
        relaunch: faults::Relaunch {
            lab: LabEnv {
                tools: env.tools.clone(),
                apps: env.apps.clone(),
                naming: env.naming,
            },
            settings: topo.settings.clone(),
            envoy_cfgs: topo.envoy_cfgs.iter().cloned().collect(),
            haproxy_socket: topo.haproxy_socket.clone(),
            readmit_timeout: h.inter.0 * (h.rise + 2) + Duration::from_secs(10),
        },
    })
}

pub(super) fn describe_fault(f: &crate::scenario::Fault, i: usize) -> String {
    use crate::scenario::FaultAction as A;
    match f.action(i) {
        Ok(A::Terminate(p)) => format!("{p} terminated"),
        Ok(A::Kill {
            pod,
            process,
            signal,
        }) => format!("{signal} to {pod}/{process}"),
        Ok(A::HcFault(p)) => format!("{p} hc FAULT"),
        Ok(A::HcReopen(p)) => format!("{p} hc reopened"),
        Ok(A::Rolling { pods, .. }) => format!("rolling restart of {}", pods.join(", ")),
        Err(e) => e,
    }
}

fn prestop_hook(
    env: &RunEnv,
    mode: &crate::scenario::Mode,
    override_: Option<PreStop>,
    pod: &crate::topology::PodAddrs,
    timeline: &Timeline,
    sc: &Scenario,
) -> PreStopHook {
    let cmd = prestop::command(prestop::kind(mode, override_), mode, &sc.topology.haproxy);
    let program = match cmd.kind {
        PreStop::Sleep => std::path::Path::new("sleep"),
        PreStop::Drain => env.apps.drain.as_path(),
        // The script itself (0755, `#!/bin/sh`), as a pod spec's exec hook
        // names it: each runtime maps it to its copy (the docker runtime to
        // the hc image's /usr/local/bin/graceful-drain.sh; `sh <host path>`
        // found no such file inside the container).
        PreStop::Script => env.apps.drain_script.as_path(),
    };
    let mut spec = crate::runtime::ProcSpec::new("prestop", program)
        .pod(&pod.name)
        .args(cmd.args);
    for (k, v) in cmd.env {
        spec = spec.env(k, v);
    }
    if cmd.kind == PreStop::Sleep {
        return PreStopHook::Exec(spec);
    }
    if mode.drain.envoy_admin_unreachable {
        spec = spec.env("ENVOY_ADMIN", format!("http://{}:1", pod.ip));
    }
    let tee = lines::drain_tee(timeline.clone(), pod.name.clone());
    PreStopHook::Exec(spec.tee(Some(tee)))
}
