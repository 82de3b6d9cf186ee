//! Drive: the lab staged by [`super::stage`] is started, loaded and
//! terminated as the scenario says, then torn down, and what it produced is
//! collected: the request records, the timeline, the samples and every
//! writer error. An interrupt (Ctrl-C, SIGTERM) ends the drive early and is
//! said so in [`Driven::interrupted`], typed, never read from an error text.
//!
//! Judges nothing and writes no final artifact; it must tear down everything
//! it started on every path out.

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::kubelet;
use crate::lab::{self, LabDirs, LabEnv, Staging};
use crate::loadgen;
use crate::model::{Event, EventKind, RequestRecord, Sample, Source};
use crate::runtime::Runtime;
use crate::scenario::Scenario;
use crate::timeline::Timeline;

use super::load_end::CoveredEnd;
use super::records::RecordsResult;
use super::stage::{Senders, Staged, Writers};
use super::{hooks, lines, setup, RunEnv};

/// How long the requests sink may take to write what is queued after the
/// load ended.
const SINK_FINISH: Duration = Duration::from_secs(10);

/// What the lab's run learned that the verdict needs.
#[derive(Debug, Clone, Default)]
pub struct DriveFacts {
    pub terminations: Vec<(String, kubelet::TerminationReport)>,
    /// The load as scheduled (ms from the run's start).
    pub specs: Vec<loadgen::LoadSpec>,
    pub load: Option<loadgen::LoadStats>,
    /// HAProxy's `DroppedLogs` at the end (its stdout was full): those
    /// requests have no HAProxy line to join; `Err` when it could not be read.
    pub haproxy_dropped_logs: Option<Result<u64, String>>,
}

/// The run was interrupted by this signal.
#[derive(Debug, Clone, thiserror::Error)]
#[error("interrupted by {0}")]
pub struct Interrupted(pub String);

/// A driven run: everything it produced, once every process ended.
pub struct Driven {
    /// The lab's facts, or why driving it failed.
    pub outcome: anyhow::Result<DriveFacts>,
    pub interrupted: Option<Interrupted>,
    /// `None` when the requests sink failed (said in `write_errors`).
    pub records: Option<RecordsResult>,
    /// The timeline, in time order.
    pub events: Vec<Event>,
    pub samples: Vec<Sample>,
    /// Every sink or writer error; each makes the run invalid.
    pub write_errors: Vec<String>,
}

/// Starts the lab, runs load and faults, tears everything down and
/// collects what the run produced.
pub async fn drive(
    env: &RunEnv,
    sc: &Scenario,
    staged: &Staged,
    senders: Senders,
    writers: Writers,
) -> Driven {
    let cancel = CancellationToken::new();
    let body = run_lab(env, sc, staged, senders, &cancel);
    finish(env, staged, writers, &cancel, body).await
}

/// Runs `body` (the lab's part of the run) until it ends or the harness is
/// interrupted, then cancels `cancel`, tears down everything the run
/// started and collects what it produced: the one way out of every run
/// (`harness up` too).
pub(super) async fn finish(
    env: &RunEnv,
    staged: &Staged,
    writers: Writers,
    cancel: &CancellationToken,
    body: impl std::future::Future<Output = anyhow::Result<DriveFacts>>,
) -> Driven {
    let (outcome, interrupted) = tokio::select! {
        r = body => (r, None),
        sig = env.interrupts.recv() => {
            let i = Interrupted(sig.name().to_string());
            (Err(anyhow::Error::new(i.clone())), Some(i))
        }
    };
    cancel.cancel();
    staged.progress.phase("teardown");
    staged.rt.teardown().await;
    staged.timeline.emit(
        Source::Harness,
        None,
        EventKind::Teardown,
        "every process of the run ended",
    );
    // A signal that came while the body was ending still counts.
    let interrupted = interrupted.or_else(|| {
        env.interrupts
            .interrupted()
            .map(|s| Interrupted(s.name().to_string()))
    });
    collect(&staged.timeline, &staged.dir, writers, outcome, interrupted).await
}

/// Waits for the writers and reads back what they wrote, beside how the
/// drive ended.
pub(super) async fn collect(
    timeline: &Timeline,
    dir: &crate::artifacts::RunDir,
    writers: Writers,
    outcome: anyhow::Result<DriveFacts>,
    interrupted: Option<Interrupted>,
) -> Driven {
    let mut write_errors = Vec::new();
    let records = match tokio::time::timeout(SINK_FINISH, writers.requests).await {
        Ok(Ok(Ok(r))) => Some(r),
        Ok(Ok(Err(e))) => {
            write_errors.push(format!("requests.csv: {e}"));
            None
        }
        Ok(Err(e)) => {
            write_errors.push(format!("the requests sink failed: {e}"));
            None
        }
        Err(_) => {
            write_errors.push(format!(
                "the requests sink did not finish within {} s",
                SINK_FINISH.as_secs()
            ));
            None
        }
    };
    if let Some(e) = records.as_ref().and_then(|r| r.write_error.as_ref()) {
        write_errors.push(format!("requests.csv: {e}"));
    }
    let events = timeline.snapshot();
    writers.stop.cancel();
    for (name, w) in [
        ("timeline.csv", writers.timeline.await),
        ("samples.csv", writers.samples.await),
    ] {
        match w {
            Ok(None) => {}
            Ok(Some(e)) => write_errors.push(format!("{name}: {e}")),
            Err(e) => write_errors.push(format!("{name}: its writer failed: {e}")),
        }
    }
    // Events observed late were streamed out of order.
    if let Err(e) = setup::rewrite_timeline_sorted(dir.path(), &events) {
        write_errors.push(format!("timeline.csv: {e}"));
    }
    let samples = crate::artifacts::read_samples(dir.path()).unwrap_or_else(|e| {
        write_errors.push(format!("samples.csv: {e}"));
        Vec::new()
    });
    Driven {
        outcome,
        interrupted,
        records,
        events,
        samples,
        write_errors,
    }
}

/// Starts the topology, its observers and probers, then the load and the
/// faults from one instant; returns when the load ended and every
/// termination finished.
async fn run_lab(
    env: &RunEnv,
    sc: &Scenario,
    staged: &Staged,
    senders: Senders,
    cancel: &CancellationToken,
) -> anyhow::Result<DriveFacts> {
    let (timeline, progress, rt) = (&staged.timeline, &staged.progress, &staged.rt);
    progress.phase(format!(
        "starting {} pods, Envoy sidecars and HAProxy ({} runtime)",
        sc.topology.pods,
        rt.kind()
    ));
    let topo = start_topology(env, sc, staged).await?;
    progress.phase(format!(
        "HAProxy on {} checks every pod (inter {}, fall {}, rise {}); observers every 200 ms",
        topo.frontend,
        sc.topology.haproxy.inter,
        sc.topology.haproxy.fall,
        sc.topology.haproxy.rise
    ));
    let observers = start_watchers(&topo, timeline, senders.samples, cancel);

    // Load and faults are scheduled from the same instant.
    let t_load = timeline.clock().now_ms() + 200.0;
    let specs = setup::load_specs(sc, t_load);
    let covered_end = CoveredEnd::start(sc, timeline);
    let load = start_load(
        &topo,
        (specs.clone(), covered_end.as_ref().map(CoveredEnd::horizon)),
        t_load,
        timeline,
        senders.requests,
        cancel.child_token(),
    );
    let terms = schedule_faults(env, sc, staged, &topo, t_load)?;
    progress
        .state()
        .load_started(crate::progress::planned_load(sc));
    let ticker = progress_ticker(timeline, progress);
    let stats = load.await.context("load generator task")?;
    let mut facts = DriveFacts {
        specs: match covered_end {
            Some(c) => c.cut(specs),
            None => specs,
        },
        load: Some(stats.clone()),
        ..Default::default()
    };
    progress.phase(format!(
        "load done: {} sent, {} completed; waiting for terminations",
        stats.sent, stats.completed
    ));
    for t in terms {
        facts.terminations.extend(t.await.context("fault task")??);
    }
    ticker.abort();
    facts.haproxy_dropped_logs =
        Some(crate::lab::haproxy::dropped_logs(&topo.haproxy_socket).await);
    // The observers take one last look at the end state, then stop.
    cancel.cancel();
    observers.await.context("the observers' task")?;
    Ok(facts)
}

/// The observers (returned, to be awaited once cancelled) and kubelet's
/// probers, every one stopping at `cancel`.
pub(super) fn start_watchers(
    topo: &lab::Topo,
    timeline: &Timeline,
    samples: tokio::sync::mpsc::UnboundedSender<Sample>,
    cancel: &CancellationToken,
) -> JoinHandle<()> {
    let observers = tokio::spawn(crate::observe::run(
        topo.observe.clone(),
        timeline.clone(),
        samples,
        cancel.clone(),
    ));
    for p in &topo.probers {
        tokio::spawn(kubelet::run_prober(
            p.clone(),
            timeline.clone(),
            cancel.clone(),
        ));
    }
    observers
}

/// One task per fault, each waiting for its moment after `t_load`; says on
/// the progress line what is scheduled.
fn schedule_faults(
    env: &RunEnv,
    sc: &Scenario,
    staged: &Staged,
    topo: &lab::Topo,
    t_load: f64,
) -> anyhow::Result<Vec<FaultTask>> {
    let (timeline, rt) = (&staged.timeline, &staged.rt);
    let mode = &sc.modes[&staged.mode_name];
    let runner = hooks::fault_runner(env, sc, mode, topo, rt, timeline);
    let mut terms = Vec::new();
    for (i, f) in sc.faults.iter().enumerate() {
        let action = f.action(i).map_err(|e| anyhow::anyhow!(e))?;
        let at = timeline.clock().at_ms(t_load + f.at.as_f64_ms());
        terms.push(tokio::spawn(runner.clone().run(action, at)));
    }
    staged.progress.phase(format!(
        "load running; {} scheduled",
        sc.faults
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{} at +{}", hooks::describe_fault(f, i), f.at))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(terms)
}

/// A fault's task: the terminations it caused.
type FaultTask = JoinHandle<anyhow::Result<Vec<(String, kubelet::TerminationReport)>>>;

/// Every 500 ms, the progress line's pods from the timeline (aborted by the
/// caller).
fn progress_ticker(timeline: &Timeline, progress: &crate::progress::Progress) -> JoinHandle<()> {
    let (tl, pr) = (timeline.clone(), progress.state());
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(500));
        loop {
            every.tick().await;
            pr.pods_from(&tl.snapshot());
        }
    })
}

/// The lab's topology, its HAProxy and Envoy output teed into the timeline
/// and the run's proxy logs.
pub(super) async fn start_topology(
    env: &RunEnv,
    sc: &Scenario,
    staged: &Staged,
) -> anyhow::Result<lab::Topo> {
    let (timeline, logs, dir) = (&staged.timeline, &staged.proxy_logs, &staged.dir);
    let lab_env = LabEnv {
        tools: env.tools.clone(),
        apps: env.apps.clone(),
        naming: env.naming,
    };
    let dirs = LabDirs {
        run_dir: dir.path().to_path_buf(),
        config_dir: dir.config_dir(),
        run_id: dir.run_id(),
    };
    let haproxy_tee = |source| lines::haproxy_tee(timeline.clone(), logs.clone(), source);
    let envoy_tee = |pod: &str| lines::envoy_tee(logs.clone(), pod.to_string());
    let staging = Staging {
        lab: &lab_env,
        sc,
        settings: setup::topology_settings(sc),
        dirs: &dirs,
        timeline,
        haproxy_tee: &haproxy_tee,
        envoy_tee: &envoy_tee,
    };
    lab::start_topology(&staging, &staged.rt).await
}

/// Starts the load at `t_load` (said on the timeline): on docker from a thread inside HAProxy's network
/// namespace (a client inside the run's network, DESIGN §3.2), falling back
/// to the host's route into the run's bridge when the namespace cannot be
/// entered (said on the timeline); on local from the harness's runtime.
/// The horizon, when given, may end the open-loop schedules early.
fn start_load(
    topo: &lab::Topo,
    (specs, horizon): (Vec<loadgen::LoadSpec>, Option<loadgen::Horizon>),
    t_load: f64,
    timeline: &Timeline,
    requests: tokio::sync::mpsc::UnboundedSender<RequestRecord>,
    cancel: CancellationToken,
) -> JoinHandle<loadgen::LoadStats> {
    timeline.emit_at(
        t_load,
        Source::Loadgen,
        None,
        EventKind::LoadStart,
        format!("{} generators", specs.len()),
    );
    let cfg = loadgen::LoadConfig {
        target: topo.frontend,
        host: None,
        tls: None,
        horizon,
        specs,
        request_timeout_margin: Duration::from_secs(30),
    };
    let clock = timeline.clock();
    if let Some(pid) = topo.haproxy_netns_pid {
        let (c, r, k) = (cfg.clone(), requests.clone(), cancel.clone());
        match crate::runtime::netns::spawn_in_netns(pid, move || loadgen::run(c, clock, r, k)) {
            Ok(rx) => {
                timeline.emit(
                    Source::Loadgen,
                    None,
                    EventKind::LoadNetns,
                    format!("sending from inside HAProxy's network namespace (pid {pid})"),
                );
                return tokio::spawn(async move { rx.await.unwrap_or_default() });
            }
            Err(e) => timeline.emit(
                Source::Loadgen,
                None,
                EventKind::LoadNetns,
                format!("sending from the host through the run's bridge: {e}"),
            ),
        }
    }
    tokio::spawn(loadgen::run(cfg, clock, requests, cancel))
}
