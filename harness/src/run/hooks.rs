//! What kubelet runs for a pod and what the fault schedule acts on: each
//! pod's preStop hook (sleep, `drain` or the seed's script, with the mode's
//! drain settings as env) and termination plan, and the fault runner that
//! holds them.
//!
//! Building only; it must never start a process itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::kubelet::{PreStopHook, Termination};
use crate::runtime::docker_pod::LabRuntime;
use crate::scenario::{PreStop, Scenario};
use crate::timeline::Timeline;

use super::{faults, lines, setup, RunEnv};

/// The fault runner of a run: the live pods, each pod's termination plan,
/// and what a restart needs.
pub(super) fn fault_runner(
    env: &RunEnv,
    sc: &Scenario,
    mode: &crate::scenario::Mode,
    topo: &setup::Topo,
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
            apps: env.apps.clone(),
            tools: env.tools.clone(),
            settings: topo.settings.clone(),
            naming: env.naming,
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
    let kind = match (mode.prestop, override_) {
        (PreStop::Sleep, _) => PreStop::Sleep,
        (k, None) => k,
        (_, Some(o)) => o,
    };
    let d = &mode.drain;
    let tee = lines::drain_tee(timeline.clone(), pod.name.clone());
    // The seed's script does shell arithmetic on its durations: whole seconds.
    let script = kind == PreStop::Script;
    let dur = |x: crate::scenario::Dur| {
        if script {
            x.0.as_secs_f64().ceil().to_string()
        } else {
            x.to_string()
        }
    };
    let lb_buffer = match (script, d.lb_buffer.as_str()) {
        (true, "auto") => dur(d.lb_buffer_max),
        (true, b) => gate::duration::parse_duration(b)
            .map(|x| dur(crate::scenario::Dur(x)))
            .unwrap_or_else(|_| b.to_string()),
        (false, b) => b.to_string(),
    };
    let with_env = |spec: crate::runtime::ProcSpec| {
        let mut spec = spec
            .pod(&pod.name)
            .env("DRAIN_TIMEOUT", dur(d.timeout))
            .env("POLL_INTERVAL", dur(d.poll_interval))
            .env("LB_BUFFER", lb_buffer.clone())
            .env("LB_BUFFER_MAX", d.lb_buffer_max.to_string())
            .env("DRAIN_ORDER", d.order.clone())
            .tee(Some(tee.clone()));
        // With the 404 soft stop one refusal lets the LB go: drain's own default.
        if sc.topology.haproxy.lb_signal == 503 {
            spec = spec.env("LB_FALL", sc.topology.haproxy.fall.to_string());
        }
        if d.envoy_admin_unreachable {
            spec = spec.env("ENVOY_ADMIN", format!("http://{}:1", pod.ip));
        }
        if d.zero_on_stats_error && !script {
            spec = spec.arg("--zero-on-stats-error");
        }
        spec
    };
    match kind {
        PreStop::Sleep => PreStopHook::Exec(
            crate::runtime::ProcSpec::new("prestop", "sleep")
                .pod(&pod.name)
                .arg(format!("{}", mode.sleep.0.as_secs_f64())),
        ),
        PreStop::Drain => {
            let mut spec = with_env(crate::runtime::ProcSpec::new("prestop", &env.apps.drain));
            spec = spec.args(["--active-stat", d.active_stat.as_str()]);
            if let Some(m) = d.min_drain {
                spec = spec.args(["--min-drain".to_string(), m.to_string()]);
            }
            PreStopHook::Exec(spec)
        }
        // The script itself (0755, `#!/bin/sh`), as a pod spec's exec hook
        // names it: each runtime maps it to its copy (the docker runtime to
        // the hc image's /usr/local/bin/graceful-drain.sh; `sh <host path>`
        // found no such file inside the container).
        PreStop::Script => PreStopHook::Exec(with_env(crate::runtime::ProcSpec::new(
            "prestop",
            &env.apps.drain_script,
        ))),
    }
}
