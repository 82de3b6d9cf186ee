//! One run of one scenario mode, end to end: run folder, topology, pods and
//! HAProxy, observers and probers, load, kubelet's termination, teardown,
//! then the verdict and the artifacts.
//!
//! This is the only place that wires the parts together; it must tear down
//! everything it started on every path out (success, error, interrupt).

mod accounting;
pub mod catalogue;
mod coverage;
mod faults;
mod hooks;
mod lines;
mod order;
mod records;
mod setup;
mod validity;
pub mod verdict;

use std::path::PathBuf;

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::apps::Apps;
use crate::artifacts::{self, RunDir, SamplesWriter, Summary, TimelineWriter};
use crate::kubelet;
use crate::lab::{self, LabDirs, LabEnv, Staging};
use crate::loadgen;
use crate::model::{Event, EventKind, RunClock, Sample, Source};
use crate::progress::Progress;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::images::LabImages;
use crate::runtime::{Interrupts, LabRuntime, LocalRuntime, Runtime};
use crate::scenario::{PreStop, Scenario};
use crate::timeline::Timeline;
use crate::tools::Tools;

pub use crate::observe::proxy_logs::ProxyLogs;
pub use crate::runtime::local::pod_net;
pub use setup::topology_settings;

/// What every run of an invocation shares.
pub struct RunEnv {
    pub tools: Tools,
    pub apps: Apps,
    pub artifacts_root: PathBuf,
    pub naming: gate::Naming,
    pub prestop_override: Option<PreStop>,
    pub runtime_name: String,
    pub runtime_reason: String,
    /// The engine and the lab's images when the runtime is docker.
    pub docker: Option<DockerEnv>,
    pub interrupts: Interrupts,
}

/// What a docker run needs: the engine (answered in the preflight) and the
/// images built (or found) there.
#[derive(Clone)]
pub struct DockerEnv {
    pub docker: bollard::Docker,
    pub images: LabImages,
}

/// A finished (or interrupted) run.
pub struct RunResult {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// Runs `mode` of `sc` and writes its run folder.
pub async fn run_mode(env: &RunEnv, sc: &Scenario, mode_name: &str) -> anyhow::Result<RunResult> {
    // The mode's own topology and faults, where it has them.
    let effective = sc.for_mode(mode_name);
    let sc = &effective;
    let mode = sc
        .modes
        .get(mode_name)
        .with_context(|| format!("scenario {} has no mode {mode_name:?}", sc.id))?;
    let progress = Progress::new(format!("{}/{mode_name}", sc.id));
    let dir = RunDir::create(&env.artifacts_root, &sc.id, mode_name)?;
    // The folder name alone can repeat across artifacts roots (same scenario,
    // same second): the pid makes the id that labels processes unique.
    let run_id = format!("{}-p{}", dir.run_id(), std::process::id());
    progress.phase(format!("run folder {}", dir.path().display()));
    let started = chrono::Utc::now();
    let clock = RunClock::new();
    let mut summary = Summary::new(&sc.id, mode_name, &run_id, started);
    summary.runtime = env.runtime_name.clone();
    summary.runtime_reason = env.runtime_reason.clone();
    summary.naming = env.naming;
    summary.versions = versions(env);
    for w in crate::scenario::warnings(sc) {
        summary.notes.push(format!("warning: {w}"));
    }
    setup::write_resolved_scenario(&dir, sc, mode_name, env)?;
    summary.write(dir.path())?;

    // Streams: timeline and samples go to their CSVs as they happen.
    let (tl_tx, tl_rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let (s_tx, s_rx) = tokio::sync::mpsc::unbounded_channel::<Sample>();
    let (r_tx, r_rx) = tokio::sync::mpsc::unbounded_channel();
    let writers_stop = CancellationToken::new();
    let tl_writer = tokio::spawn(stream_to(
        TimelineWriter::create(dir.path())?,
        tl_rx,
        writers_stop.clone(),
        |w, e| w.write(e),
    ));
    let s_writer = tokio::spawn(stream_to(
        SamplesWriter::create(dir.path())?,
        s_rx,
        writers_stop.clone(),
        |w, s| w.write(s),
    ));
    let timeline = Timeline::new(clock, Some(tl_tx));
    timeline.emit(
        Source::Harness,
        None,
        EventKind::RunStart,
        format!("{} {mode_name}: {}", sc.id, mode.about),
    );
    let proxy_logs = ProxyLogs::new(clock);
    let sink_dir = dir.path().to_path_buf();
    let sink_logs = proxy_logs.clone();
    let r_rx = progress.state().tap(r_rx);
    let sink = tokio::spawn(async move { records::sink(&sink_dir, r_rx, sink_logs).await });

    let rt = match &env.docker {
        None => LabRuntime::Local(
            LocalRuntime::new(&run_id, dir.logs_dir())
                .with_context(|| format!("creating {}", dir.logs_dir().display()))?,
        ),
        Some(d) => LabRuntime::Docker(
            DockerRuntime::new(
                d.docker.clone(),
                &run_id,
                &sc.id,
                dir.logs_dir(),
                d.images.clone(),
            )
            .await
            .context("creating the run's docker network")?,
        ),
    };
    let cancel = CancellationToken::new();
    let body = drive(
        env,
        sc,
        mode_name,
        &dir,
        &rt,
        &timeline,
        &progress,
        s_tx,
        r_tx,
        &proxy_logs,
        &cancel,
    );
    let outcome = tokio::select! {
        r = body => r,
        sig = env.interrupts.recv() => Err(anyhow::anyhow!("interrupted by {}", sig.name())),
    };
    cancel.cancel();
    progress.phase("teardown");
    rt.teardown().await;
    timeline.emit(
        Source::Harness,
        None,
        EventKind::Teardown,
        "every process of the run ended",
    );

    // Collect.
    let interrupted = env.interrupts.interrupted().is_some();
    // Every sink or writer error makes the run invalid (accounting).
    let mut write_errors: Vec<String> = Vec::new();
    let records = match tokio::time::timeout(Duration::from_secs(10), sink).await {
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
            write_errors.push("the requests sink did not finish within 10 s".into());
            None
        }
    };
    let events = timeline.snapshot();
    drop(timeline);
    writers_stop.cancel();
    for (name, w) in [
        ("timeline.csv", tl_writer.await),
        ("samples.csv", s_writer.await),
    ] {
        match w {
            Ok(None) => {}
            Ok(Some(e)) => write_errors.push(format!("{name}: {e}")),
            Err(e) => write_errors.push(format!("{name}: its writer failed: {e}")),
        }
    }
    setup::rewrite_timeline_sorted(dir.path(), &events);
    let samples = artifacts::read_samples(dir.path()).unwrap_or_else(|e| {
        write_errors.push(format!("samples.csv: {e}"));
        Vec::new()
    });

    let facts = match &outcome {
        Ok(f) => Some(f.clone()),
        Err(e) => {
            summary.notes.push(format!("run failed: {e:#}"));
            None
        }
    };
    setup::finish_summary(
        &mut summary,
        sc,
        mode,
        setup::Collected {
            records,
            events: &events,
            samples: &samples,
            write_errors: &write_errors,
            facts: facts.as_ref(),
            interrupted: interrupted || outcome.is_err(),
        },
    );
    summary.end(chrono::Utc::now());
    summary.write(dir.path())?;
    setup::write_reports(&dir, &mut summary);
    artifacts::note_size_limit(dir.path(), &mut summary.notes);
    if let Err(e) = artifacts::junit::write_run(dir.path(), &summary) {
        summary.notes.push(format!("junit.xml: {e}"));
    }
    summary.write(dir.path())?;
    progress.finish();
    if let Err(e) = outcome {
        if interrupted {
            return Err(e.context(format!(
                "run folder {} (marked interrupted)",
                dir.path().display()
            )));
        }
        return Err(e.context(format!("run folder {}", dir.path().display())));
    }
    Ok(RunResult {
        dir: dir.path().to_path_buf(),
        summary,
    })
}

/// What the drive phase learned that the verdict needs.
#[derive(Debug, Clone, Default)]
pub struct DriveFacts {
    pub terminations: Vec<(String, kubelet::TerminationReport)>,
    /// The load as scheduled (ms from the run's start).
    pub specs: Vec<loadgen::LoadSpec>,
    pub load: Option<loadgen::LoadStats>,
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    env: &RunEnv,
    sc: &Scenario,
    mode_name: &str,
    dir: &RunDir,
    rt: &LabRuntime,
    timeline: &Timeline,
    progress: &Progress,
    samples: tokio::sync::mpsc::UnboundedSender<Sample>,
    requests: tokio::sync::mpsc::UnboundedSender<crate::model::RequestRecord>,
    proxy_logs: &ProxyLogs,
    cancel: &CancellationToken,
) -> anyhow::Result<DriveFacts> {
    let mode = &sc.modes[mode_name];
    progress.phase(format!(
        "starting {} pods, Envoy sidecars and HAProxy ({} runtime)",
        sc.topology.pods,
        rt.name()
    ));
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
    let tee = |source| lines::haproxy_tee(timeline.clone(), proxy_logs.clone(), source);
    let envoy_tee = |pod: &str| lines::envoy_tee(proxy_logs.clone(), pod.to_string());
    let staging = Staging {
        lab: &lab_env,
        sc,
        settings: setup::topology_settings(sc),
        dirs: &dirs,
        timeline,
        haproxy_tee: &tee,
        envoy_tee: &envoy_tee,
    };
    let topo = lab::start_topology(&staging, rt).await?;
    progress.phase(format!(
        "HAProxy on {} checks every pod (inter {}, fall {}, rise {}); observers every 200 ms",
        topo.frontend,
        sc.topology.haproxy.inter,
        sc.topology.haproxy.fall,
        sc.topology.haproxy.rise
    ));
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

    // Load and faults are scheduled from the same instant.
    let t_load = timeline.clock().now_ms() + 200.0;
    let specs = setup::load_specs(sc, t_load);
    let scheduled_specs = specs.clone();
    timeline.emit_at(
        t_load,
        Source::Loadgen,
        None,
        EventKind::LoadStart,
        format!("{} generators", specs.len()),
    );
    let load_cancel = cancel.child_token();
    let load = start_load(
        &topo,
        loadgen::LoadConfig {
            target: topo.frontend,
            specs,
            request_timeout_margin: Duration::from_secs(30),
        },
        timeline,
        requests,
        load_cancel,
    );
    let runner = hooks::fault_runner(env, sc, mode, &topo, rt, timeline);
    let mut terms = Vec::new();
    for (i, f) in sc.faults.iter().enumerate() {
        let action = f.action(i).map_err(|e| anyhow::anyhow!(e))?;
        let at = timeline.clock().at_ms(t_load + f.at.as_f64_ms());
        terms.push(tokio::spawn(runner.clone().run(action, at)));
    }
    progress.phase(format!(
        "load running; {} scheduled",
        sc.faults
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{} at +{}", hooks::describe_fault(f, i), f.at))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    progress
        .state()
        .load_started(crate::progress::planned_load(sc));
    let ticker = {
        let (tl, pr) = (timeline.clone(), progress.state());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                pr.pods_from(&tl.snapshot());
            }
        })
    };
    let stats = load.await.context("load generator task")?;
    let mut facts = DriveFacts {
        specs: scheduled_specs,
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
    // Let the observers see the end state.
    tokio::time::sleep(Duration::from_millis(400)).await;
    cancel.cancel();
    let _ = observers.await;
    Ok(facts)
}

/// Starts the load: on docker from a thread inside HAProxy's network
/// namespace (a client inside the run's network, DESIGN §3.2), falling back
/// to the host's route into the run's bridge when the namespace cannot be
/// entered (said on the timeline); on local from the harness's runtime.
fn start_load(
    topo: &lab::Topo,
    cfg: loadgen::LoadConfig,
    timeline: &Timeline,
    requests: tokio::sync::mpsc::UnboundedSender<crate::model::RequestRecord>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<loadgen::LoadStats> {
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

fn versions(env: &RunEnv) -> std::collections::BTreeMap<String, String> {
    let mut v = std::collections::BTreeMap::new();
    v.insert("harness".into(), env!("CARGO_PKG_VERSION").into());
    v.insert(
        "apps".into(),
        format!("backend/hc/drain {}", env!("CARGO_PKG_VERSION")),
    );
    v.insert("haproxy".into(), env.tools.haproxy_version.clone());
    v.insert("envoy".into(), env.tools.envoy_version.clone());
    v
}

/// Streams items to a CSV writer until `stop`, then drains what is queued and finishes it.
async fn stream_to<W, T>(
    mut w: W,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    stop: CancellationToken,
    write: impl Fn(&mut W, &T) -> Result<(), artifacts::ArtifactsError>,
) -> Option<String>
where
    W: FinishPart,
{
    let mut err = None;
    loop {
        tokio::select! {
            item = rx.recv() => match item {
                Some(x) => if let Err(e) = write(&mut w, &x) { err.get_or_insert(e.to_string()); },
                None => break,
            },
            _ = stop.cancelled() => {
                while let Ok(x) = rx.try_recv() {
                    if let Err(e) = write(&mut w, &x) { err.get_or_insert(e.to_string()); }
                }
                break;
            }
        }
    }
    if let Err(e) = w.finish_part() {
        err.get_or_insert(e.to_string());
    }
    err
}

/// The streaming CSV writers' `finish`, for [`stream_to`].
trait FinishPart {
    fn finish_part(self) -> Result<(), artifacts::ArtifactsError>;
}

impl FinishPart for TimelineWriter {
    fn finish_part(self) -> Result<(), artifacts::ArtifactsError> {
        self.finish().map(|_| ())
    }
}

impl FinishPart for SamplesWriter {
    fn finish_part(self) -> Result<(), artifacts::ArtifactsError> {
        self.finish().map(|_| ())
    }
}
