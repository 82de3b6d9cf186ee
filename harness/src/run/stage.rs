//! Stage: everything a run needs before the lab starts. The run folder with
//! its resolved scenario and a provisional summary.json (so a run killed
//! later still leaves a readable folder), the streaming writers (timeline,
//! samples, requests), the run's clock, timeline and proxy-log store, and
//! the runtime the lab will live in.
//!
//! Starts no process of the lab and judges nothing: drive does the one,
//! judge the other.

use anyhow::Context;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::artifacts::{self, RunDir, SamplesWriter, Summary, TimelineWriter};
use crate::model::{Event, EventKind, RequestRecord, RunClock, Sample, Source};
use crate::observe::proxy_logs::ProxyLogs;
use crate::progress::Progress;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::{LabRuntime, LocalRuntime};
use crate::scenario::Scenario;
use crate::timeline::Timeline;

use super::records::{self, RecordsResult};
use super::{setup, RunEnv};

/// A staged run: its folder, streams and runtime, nothing started yet.
pub struct Staged {
    pub dir: RunDir,
    pub mode_name: String,
    /// The summary as known before the run: ids, runtime, versions, warnings.
    pub summary: Summary,
    pub progress: Progress,
    pub timeline: Timeline,
    pub proxy_logs: ProxyLogs,
    pub rt: LabRuntime,
}

/// Where the lab sends what it sees; dropping them ends the streams.
pub struct Senders {
    pub samples: UnboundedSender<Sample>,
    pub requests: UnboundedSender<RequestRecord>,
}

/// The tasks that write the streams to the run folder.
pub struct Writers {
    pub timeline: JoinHandle<Option<String>>,
    pub samples: JoinHandle<Option<String>>,
    pub requests: JoinHandle<Result<RecordsResult, artifacts::ArtifactsError>>,
    /// Tells the timeline and samples writers to finish what is queued.
    pub stop: CancellationToken,
}

/// Creates the run folder, its writers and its runtime for `mode_name` of
/// `sc` (the mode's own scenario, `Scenario::for_mode`).
pub async fn stage(
    env: &RunEnv,
    sc: &Scenario,
    mode_name: &str,
) -> anyhow::Result<(Staged, Senders, Writers)> {
    stage_as(env, sc, mode_name, &sc.id).await
}

/// As [`stage`], the run folder named `<UTC>-<folder>-<mode>` (`harness up`
/// names its folder `up-<scenario>`).
pub async fn stage_as(
    env: &RunEnv,
    sc: &Scenario,
    mode_name: &str,
    folder: &str,
) -> anyhow::Result<(Staged, Senders, Writers)> {
    let mode = sc
        .modes
        .get(mode_name)
        .with_context(|| format!("scenario {} has no mode {mode_name:?}", sc.id))?;
    let progress = Progress::new(format!("{folder}/{mode_name}"));
    let dir = RunDir::create(&env.artifacts_root, folder, mode_name)?;
    // The folder name alone can repeat across artifacts roots (same scenario,
    // same second): the pid makes the id that labels processes unique.
    let run_id = format!("{}-p{}", dir.run_id(), std::process::id());
    progress.phase(format!("run folder {}", dir.path().display()));
    let clock = RunClock::new();
    let mut summary = Summary::new(&sc.id, mode_name, &run_id, chrono::Utc::now());
    summary.runtime = Some(env.runtime);
    summary.runtime_reason = env.runtime_reason.clone();
    summary.naming = env.naming;
    summary.versions = versions(env);
    for w in crate::scenario::warnings(sc) {
        summary.notes.push(format!("warning: {w}"));
    }
    setup::write_resolved_scenario(&dir, sc, mode_name, env)?;
    summary.write(dir.path())?;

    let streams = open_streams(&dir, clock, &progress)?;
    streams.timeline.emit(
        Source::Harness,
        None,
        EventKind::RunStart,
        format!("{} {mode_name}: {}", sc.id, mode.about),
    );
    let rt = runtime(env, sc, &dir, &run_id).await?;
    Ok((
        Staged {
            dir,
            mode_name: mode_name.to_string(),
            summary,
            progress,
            timeline: streams.timeline,
            proxy_logs: streams.proxy_logs,
            rt,
        },
        streams.senders,
        streams.writers,
    ))
}

/// A run folder's streams, open: the timeline and the proxy-log store on
/// `clock`, what feeds them, and the tasks writing them.
pub struct Streams {
    pub timeline: Timeline,
    pub proxy_logs: ProxyLogs,
    pub senders: Senders,
    pub writers: Writers,
}

/// Opens `dir`'s timeline.csv, samples.csv and requests.csv (the records
/// sink, counted on `progress`) and starts the tasks that write them; the
/// one place a run's streams are set up (`harness watch` too).
pub fn open_streams(dir: &RunDir, clock: RunClock, progress: &Progress) -> anyhow::Result<Streams> {
    let (tl_tx, tl_rx) = unbounded_channel::<Event>();
    let (s_tx, s_rx) = unbounded_channel::<Sample>();
    let (r_tx, r_rx) = unbounded_channel();
    let stop = CancellationToken::new();
    let tl_writer = tokio::spawn(stream_to(
        TimelineWriter::create(dir.path())?,
        tl_rx,
        stop.clone(),
        |w, e| w.write(e),
    ));
    let s_writer = tokio::spawn(stream_to(
        SamplesWriter::create(dir.path())?,
        s_rx,
        stop.clone(),
        |w, s| w.write(s),
    ));
    let timeline = Timeline::new(clock, Some(tl_tx));
    let proxy_logs = ProxyLogs::new(clock);
    let (sink_dir, sink_logs) = (dir.path().to_path_buf(), proxy_logs.clone());
    let r_rx = progress.state().tap(r_rx);
    let sink = tokio::spawn(async move { records::sink(&sink_dir, r_rx, sink_logs).await });
    Ok(Streams {
        timeline,
        proxy_logs,
        senders: Senders {
            samples: s_tx,
            requests: r_tx,
        },
        writers: Writers {
            timeline: tl_writer,
            samples: s_writer,
            requests: sink,
            stop,
        },
    })
}

/// The run's runtime: local processes, or the run's own docker network.
async fn runtime(
    env: &RunEnv,
    sc: &Scenario,
    dir: &RunDir,
    run_id: &str,
) -> anyhow::Result<LabRuntime> {
    Ok(match &env.docker {
        None => LabRuntime::Local(
            LocalRuntime::new(run_id, dir.logs_dir())
                .with_context(|| format!("creating {}", dir.logs_dir().display()))?,
        ),
        Some(d) => LabRuntime::Docker(
            DockerRuntime::new(
                d.docker.clone(),
                run_id,
                &sc.id,
                dir.logs_dir(),
                d.images.clone(),
            )
            .await
            .context("creating the run's docker network")?,
        ),
    })
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

/// Streams items to a CSV writer until `stop`, then drains what is queued
/// and finishes it. Returns the first write error.
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
