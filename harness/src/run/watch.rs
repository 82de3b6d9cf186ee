//! `harness watch`: a run without a lab. The same streams, load generator,
//! records sink, collection and record stage as a scenario run, aimed at
//! any HTTP URL: load starts, after the warm-up CMD runs (`sh -c`, its
//! lines and exit on the timeline), the load goes on until CMD ended plus
//! the settle time (the loadgen's [`Horizon`]), or `--duration` at most;
//! then [`super::watch_judge`] decides and the record stage writes the
//! artifacts.
//!
//! It starts nothing but CMD and the load, and tears CMD down on every
//! path out (deadline, interrupt, panic: the local runtime's guards).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::artifacts::{RunDir, Summary};
use crate::loadgen::{self, Horizon, HttpTarget, LoadSpec, TlsClient};
use crate::model::{EventKind, RunClock, Source};
use crate::observe::outside::{self, OutsideConfig};
use crate::progress::Progress;
use crate::runtime::{Interrupts, LocalRuntime, Runtime};
use crate::timeline::Timeline;

use super::during::{self, CommandEnd};
use super::stage::{open_streams, Senders};
use super::watch_judge::{self, WatchFacts};
use super::{drive, record, DriveFacts, Interrupted};

/// The folder name's scenario and mode parts: `<UTC>-watch-during`.
pub const FOLDER: (&str, &str) = ("watch", "during");

/// Everything a watch is asked to do.
#[derive(Debug, Clone)]
pub struct WatchPlan {
    pub url: String,
    pub target: HttpTarget,
    /// TLS for an `https://` URL.
    pub tls: Option<TlsClient>,
    /// Each path gets `rate / paths.len()` req/s.
    pub paths: Vec<String>,
    pub rate: f64,
    pub connections: usize,
    /// Share of requests that may reuse an idle keep-alive connection.
    pub keepalive: f64,
    /// The hard bound of the load (from its start).
    pub duration: Duration,
    pub warmup: Duration,
    pub settle: Duration,
    /// Added to a request's expected duration to make its deadline.
    pub timeout: Duration,
    pub during: String,
    pub max_disruptions: u64,
    pub observe: OutsideConfig,
    pub artifacts_root: PathBuf,
}

/// A finished (or interrupted) watch.
pub struct Watched {
    pub dir: PathBuf,
    pub summary: Summary,
    pub command: CommandEnd,
}

/// Runs the watch and writes its folder.
pub async fn watch(plan: &WatchPlan, interrupts: &Interrupts) -> anyhow::Result<Watched> {
    let dir = RunDir::create(&plan.artifacts_root, FOLDER.0, FOLDER.1)?;
    let run_id = format!("{}-p{}", dir.run_id(), std::process::id());
    let progress = Progress::new(format!("watch {}", plan.url));
    let clock = RunClock::new();
    let mut summary = Summary::new(FOLDER.0, FOLDER.1, &run_id, chrono::Utc::now());
    summary.runtime_reason = format!("harness watch: an outside service at {}", plan.url);
    summary
        .versions
        .insert("harness".into(), env!("CARGO_PKG_VERSION").into());
    summary.notes.push(describe(plan));
    summary.write(dir.path())?;
    let streams = open_streams(&dir, clock, &progress)?;
    let timeline = streams.timeline.clone();
    timeline.emit(Source::Harness, None, EventKind::RunStart, describe(plan));
    let rt = LocalRuntime::new(&run_id, dir.logs_dir())
        .with_context(|| format!("creating {}", dir.logs_dir().display()))?;
    let cancel = CancellationToken::new();
    let ended = std::sync::Mutex::new(None);
    let body = drive_watch(
        plan,
        &rt,
        &timeline,
        streams.senders,
        &cancel,
        &ended,
        &progress,
    );
    let (outcome, interrupted) = tokio::select! {
        r = body => (r, None),
        sig = interrupts.recv() => {
            let i = Interrupted(sig.name().to_string());
            (Err(anyhow::Error::new(i.clone())), Some(i))
        }
    };
    cancel.cancel();
    rt.teardown().await;
    let interrupted = interrupted.or_else(|| {
        interrupts
            .interrupted()
            .map(|s| Interrupted(s.name().to_string()))
    });
    let driven = drive::collect(&timeline, &dir, streams.writers, outcome, interrupted).await;
    let command = ended
        .lock()
        .ok()
        .and_then(|e| e.clone())
        .unwrap_or(CommandEnd::NotStarted("the watch ended before it".into()));
    let judged = watch_judge::judge(
        summary,
        &driven,
        &WatchFacts {
            max_disruptions: plan.max_disruptions,
            command: &command,
        },
    );
    let summary = record::record(&dir, judged)?;
    progress.finish();
    Ok(Watched {
        dir: dir.path().to_path_buf(),
        summary,
        command,
    })
}

/// One line saying what the watch does.
fn describe(p: &WatchPlan) -> String {
    format!(
        "watch {} at {} req/s over up to {} connections ({}), warm-up {:?}, then `{}`, settle {:?}, at most {:?}",
        p.url,
        p.rate,
        p.connections,
        p.paths.join(" "),
        p.warmup,
        p.during,
        p.settle,
        p.duration
    )
}

/// The load specs: one open-loop entry per path, the rate split evenly.
fn specs(plan: &WatchPlan, start_ms: u64) -> Vec<LoadSpec> {
    let n = plan.paths.len().max(1);
    plan.paths
        .iter()
        .enumerate()
        .map(|(i, path)| LoadSpec::Steady {
            rate: plan.rate / n as f64,
            duration_ms: plan.duration.as_millis() as u64,
            path: path.clone(),
            start_ms,
            keepalive: plan.keepalive,
            max_conns: (plan.connections / n).max(1),
            seed: i as u64 + 1,
        })
        .collect()
}

/// Load, observers and CMD; returns when the load ended.
async fn drive_watch(
    plan: &WatchPlan,
    rt: &LocalRuntime,
    timeline: &Timeline,
    senders: Senders,
    cancel: &CancellationToken,
    ended: &std::sync::Mutex<Option<CommandEnd>>,
    progress: &Progress,
) -> anyhow::Result<DriveFacts> {
    let observers = (!plan.observe.is_empty()).then(|| {
        tokio::spawn(outside::run(
            plan.observe.clone(),
            timeline.clone(),
            senders.samples.clone(),
            cancel.clone(),
        ))
    });
    drop(senders.samples);
    let clock = timeline.clock();
    let t_load = (clock.now_ms() + 100.0).ceil() as u64;
    let specs = specs(plan, t_load);
    let horizon = Horizon::new();
    let cfg = loadgen::LoadConfig {
        target: plan.target.addr,
        host: Some(plan.target.host.clone()),
        tls: plan.tls.clone(),
        horizon: Some(horizon.clone()),
        specs: specs.clone(),
        request_timeout_margin: plan.timeout,
    };
    timeline.emit_at(
        t_load as f64,
        Source::Loadgen,
        None,
        EventKind::LoadStart,
        format!("{} generators against {}", specs.len(), plan.url),
    );
    let load = tokio::spawn(loadgen::run(
        cfg,
        clock,
        senders.requests,
        cancel.child_token(),
    ));
    progress.state().load_started(plan.duration);
    let (end, cut) = run_during(plan, rt, timeline, t_load, progress).await;
    if let Ok(mut e) = ended.lock() {
        *e = Some(end.clone());
    }
    horizon.set(cut);
    timeline.emit_at(
        cut as f64,
        Source::Loadgen,
        None,
        EventKind::LoadEnd,
        format!(
            "the command ended ({end:?}); load until +{:?} of settle (or --duration)",
            plan.settle
        ),
    );
    progress.phase(format!("settle {:?}", plan.settle));
    let stats = load.await.context("the load generator's task")?;
    cancel.cancel();
    if let Some(o) = observers {
        o.await.context("the observers' task")?;
    }
    // The schedules really ran until `cut`: the accounting counts that.
    let specs = specs.into_iter().map(|s| s.cut_at(horizon.get())).collect();
    Ok(DriveFacts {
        terminations: Vec::new(),
        specs,
        load: Some(stats),
        // Watch reads no HAProxy log.
        haproxy_dropped_logs: None,
    })
}

/// Waits out the warm-up, runs CMD (stopped at the load's hard end) with
/// its lines on the timeline, and returns how it ended and where the load
/// must stop: `--settle` after it, never past `--duration` (ms of the run).
async fn run_during(
    plan: &WatchPlan,
    rt: &LocalRuntime,
    timeline: &Timeline,
    t_load: u64,
    progress: &Progress,
) -> (CommandEnd, u64) {
    let clock = timeline.clock();
    progress.phase(format!("warm-up {:?}", plan.warmup));
    let hard_end = clock.at_ms(t_load as f64 + plan.duration.as_millis() as f64);
    tokio::time::sleep_until(
        clock
            .at_ms(t_load as f64 + plan.warmup.as_millis() as f64)
            .into(),
    )
    .await;
    progress.phase(format!("running `{}`", plan.during));
    let end = match during::start(rt, &plan.during, timeline).await {
        Ok(d) => d.finish(rt, hard_end, timeline).await,
        Err(e) => CommandEnd::NotStarted(e),
    };
    if let CommandEnd::NotStarted(why) = &end {
        timeline.emit(
            Source::During,
            None,
            EventKind::CommandExit,
            format!("not started: {why}"),
        );
    }
    let cut = (clock.now_ms().ceil() as u64 + plan.settle.as_millis() as u64)
        .min(t_load + plan.duration.as_millis() as u64);
    (end, cut)
}

/// The deadline of the URL's probe before anything starts.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One GET of the URL before the watch starts, through the load's own
/// client (and TLS): an unreachable service, or a certificate that does
/// not verify, is an error (CMD is not run); any HTTP answer is fine.
pub async fn probe(plan: &WatchPlan) -> Result<u16, String> {
    loadgen::probe(&plan.target, plan.tls.clone(), PROBE_TIMEOUT).await
}
