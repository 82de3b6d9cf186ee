//! The run's set-up and wrap-up steps: the resolved scenario file, the
//! topology settings, the load schedule, and after the run the summary,
//! histograms, plot and report.
//!
//! Called only from `run::run_mode`; everything started here is registered
//! with the runtime, which tears it down.

use std::path::Path;

use anyhow::Context;

use crate::artifacts::{self, DrainStep, RunDir, Summary};
use crate::loadgen::LoadSpec;
use crate::model::{Event, EventKind, Source};
use crate::scenario::{Load, Mode, Scenario};
use crate::topology::{EnvoySettings, HaproxySettings, TopologySettings};

use super::records::RecordsResult;
use super::verdict::{self, RunFacts};
use super::{DriveFacts, RunEnv};
use crate::observe::evidence::{self, Evidence};

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
        env.runtime_name,
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

/// timeline.csv in time order (events observed late were streamed out of order).
pub fn rewrite_timeline_sorted(dir: &Path, events: &[Event]) {
    if let Ok(mut w) = artifacts::TimelineWriter::create(dir) {
        for e in events {
            let _ = w.write(e);
        }
        let _ = w.finish();
    }
}

/// What a run collected once everything it started has ended.
pub struct Collected<'a> {
    pub records: Option<RecordsResult>,
    pub events: &'a [Event],
    pub samples: &'a [crate::model::Sample],
    /// Every sink or writer error (each makes the run invalid).
    pub write_errors: &'a [String],
    pub facts: Option<&'a DriveFacts>,
    pub interrupted: bool,
}

/// Counts, attributions, drain facts and expectations into the summary.
pub fn finish_summary(summary: &mut Summary, sc: &Scenario, mode: &Mode, c: Collected<'_>) {
    let Collected {
        records,
        events,
        samples,
        write_errors,
        facts,
        interrupted,
    } = c;
    let (long, disruptions) = match &records {
        Some(r) => {
            r.tally.apply_to(summary);
            if let Some(e) = &r.write_error {
                summary.notes.push(format!("requests.csv: {e}"));
            }
            (r.long.clone(), r.disruptions.clone())
        }
        None => (Vec::new(), Vec::new()),
    };
    let no_lines = Evidence::default();
    summary.attributions = disruptions
        .iter()
        .map(|r| {
            let ev = records.as_ref().and_then(|x| x.evidence.get(&r.id));
            evidence::attribute(r, ev.unwrap_or(&no_lines), events)
        })
        .collect();
    // Drain facts of the (first) terminated pod.
    let first_term = facts.and_then(|f| f.terminations.first().map(|(_, t)| t.clone()));
    if let Some(f) = facts {
        if let Some((_, t)) = f.terminations.first() {
            summary.drain.prestop_ms = t.prestop_ms;
            summary.drain.exit_code = t.prestop_exit;
        }
        if let Some(l) = &f.load {
            summary.notes.push(format!(
                "load: {} scheduled, {} sent, {} completed, {} sent more than 1 ms late",
                l.scheduled, l.sent, l.completed, l.late_sends
            ));
        }
    }
    summary.drain.steps = events
        .iter()
        .filter(|e| {
            e.source == Source::Drain
                || (e.source == Source::Kubelet
                    && matches!(
                        e.kind,
                        EventKind::PrestopStart
                            | EventKind::PrestopEnd
                            | EventKind::PrestopTimeout
                            | EventKind::PrestopFailed
                    ))
        })
        .map(|e| DrainStep {
            step: format!("{} {}", e.source, e.kind),
            t_ms: e.t_ms,
        })
        .collect();
    let first_terminated = sc.faults.iter().flat_map(|f| f.terminated_pods()).next();
    if let Some(pod) = first_terminated {
        summary.drain.close_lb_to_down_ms = verdict::lb_release_after_close_lb(events, pod);
    }
    if !interrupted {
        let steady_p99 = summary.latency_ms.corrected.as_ref().map(|p| p.p99);
        summary.expectations = verdict::judge(
            sc,
            &mode.expect,
            &RunFacts {
                disruptions: summary.disruptions,
                long: &long,
                timeline: events,
                steady_p99_ms: steady_p99,
                prestop_ms: summary.drain.prestop_ms,
                outcomes: &summary.outcomes,
                attributions: &summary.attributions,
                termination: first_term.as_ref(),
                close_lb_to_down_ms: summary.drain.close_lb_to_down_ms,
                samples,
                terminated_pod: first_terminated,
            },
        );
    }
    if !interrupted {
        let mut write_errors = write_errors.to_vec();
        if let Some(e) = records.as_ref().and_then(|r| r.write_error.as_ref()) {
            write_errors.push(format!("requests.csv: {e}"));
        }
        super::validity::judge(
            summary,
            sc,
            mode,
            &super::validity::ValidityFacts {
                events,
                write_errors: &write_errors,
                facts,
                rows: records.as_ref().map(|r| r.tally.requests),
            },
        );
    }
    summary.interrupted = interrupted;
    summary.decide_verdict();
}

/// latency.hgrm, plot.svg/png and report.html; a failure becomes a note.
pub fn write_reports(dir: &RunDir, summary: &mut Summary) {
    let p = dir.path();
    match artifacts::read_requests(p) {
        Ok(reqs) => {
            let mut lat = artifacts::LatencyStats::new();
            for r in &reqs {
                lat.record(r);
            }
            if let Err(e) = lat.write_hgrm(&dir.file(artifacts::names::HGRM)) {
                summary.notes.push(format!("latency.hgrm: {e}"));
            }
            let _ = lat.write_hgrm_uncorrected(&dir.file(artifacts::names::HGRM_UNCORRECTED));
        }
        Err(e) => summary.notes.push(format!("latency.hgrm: {e}")),
    }
    if let Err(e) = artifacts::plot_svg(p) {
        summary.notes.push(format!("plot.svg: {e}"));
    }
    if let Err(e) = artifacts::plot_png(p) {
        summary.notes.push(format!("plot.png: {e}"));
    }
    let _ = summary.write(p);
    if let Err(e) = artifacts::write_report(p) {
        summary.notes.push(format!("report.html: {e}"));
    }
}
