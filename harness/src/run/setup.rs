//! The run's set-up helpers: the resolved scenario file, the topology
//! settings, the load schedule, and timeline.csv rewritten in time order.
//!
//! Called from the run's stages; starts nothing.

use std::path::Path;

use anyhow::Context;

use crate::artifacts::{self, RunDir};
use crate::loadgen::LoadSpec;
use crate::model::Event;
use crate::scenario::{Load, Scenario};
use crate::topology::{EnvoySettings, HaproxySettings, TopologySettings};

use super::RunEnv;

/// `scenario.toml`: the scenario with only this mode, plus how it ran.
pub fn write_resolved_scenario(
    dir: &RunDir,
    sc: &Scenario,
    mode: &str,
    env: &RunEnv,
) -> anyhow::Result<()> {
    let mut one = sc.clone();
    one.modes.retain(|k, _| k == mode);
    one.mode_order = vec![mode.to_string()];
    if let (Some(m), Some(o)) = (one.modes.get_mut(mode), env.prestop_override) {
        if m.prestop != crate::scenario::PreStop::Sleep {
            m.prestop = o;
        }
    }
    let body = toml::to_string_pretty(&one).context("serialising the resolved scenario")?;
    let text = format!(
        "# Resolved settings of this run (every default filled in).\n# runtime = {:?} ({})\n# naming = {:?}\n{body}",
        env.runtime.as_str(),
        env.runtime_reason,
        env.naming.to_string()
    );
    artifacts::write_atomic(&dir.file(artifacts::names::SCENARIO), text.as_bytes())?;
    Ok(())
}

/// The topology settings the templates are rendered with.
pub fn topology_settings(sc: &Scenario) -> TopologySettings {
    let h = &sc.topology.haproxy;
    let e = &sc.topology.envoy;
    let longest = sc.longest_request().0.as_secs() + 60;
    TopologySettings {
        pods: sc.topology.pods as usize,
        haproxy: HaproxySettings {
            inter_ms: h.inter.ms(),
            fall: h.fall,
            rise: h.rise,
            on_marked_down_shutdown_sessions: h.shutdown_sessions,
            retries: h.retries,
            redispatch: h.redispatch,
            retry_on: h.retry_on.clone(),
            timeout_server_s: longest,
            timeout_client_s: longest,
            lb_signal: h.lb_signal,
            agent_check: h.agent_check,
            agent_inter_ms: h.agent_inter.ms(),
            ..HaproxySettings::default()
        },
        envoy: EnvoySettings {
            drain_strategy: e.drain_strategy,
            drain_time_s: e.drain_time.0.as_secs(),
            limit_stats_like_istio: e.limit_stats_like_istio,
            slow_delay_ms: e.slow_delay.ms(),
        },
    }
}

/// The scenario's load, scheduled from `t_load` (ms from the run's start).
pub fn load_specs(sc: &Scenario, t_load: f64) -> Vec<LoadSpec> {
    sc.load
        .iter()
        .enumerate()
        .map(|(i, l)| match l {
            Load::Long {
                count,
                seconds,
                start,
                pin,
            } => LoadSpec::Long {
                count: *count,
                seconds: *seconds as u32,
                start_ms: (t_load + start.as_f64_ms()) as u64,
                pin_pod: pin.clone(),
            },
            Load::Stream {
                count,
                seconds,
                interval_ms,
                start,
                pin,
            } => LoadSpec::Stream {
                count: *count,
                seconds: *seconds as u32,
                interval_ms: *interval_ms,
                start_ms: (t_load + start.as_f64_ms()) as u64,
                pin_pod: pin.clone(),
            },
            Load::Steady {
                rate,
                duration,
                path,
                start,
                keepalive,
                max_conns,
            } => LoadSpec::Steady {
                rate: *rate,
                duration_ms: duration.ms(),
                path: path.clone(),
                start_ms: (t_load + start.as_f64_ms()) as u64,
                keepalive: *keepalive,
                max_conns: *max_conns,
                seed: sc.seed.wrapping_add(i as u64),
            },
        })
        .collect()
}

/// timeline.csv again, in time order (events observed late were streamed
/// out of order).
pub fn rewrite_timeline_sorted(
    dir: &Path,
    events: &[Event],
) -> Result<(), crate::artifacts::ArtifactsError> {
    let mut w = artifacts::TimelineWriter::create(dir)?;
    for e in events {
        w.write(e)?;
    }
    w.finish().map(|_| ())
}
