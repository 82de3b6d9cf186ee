//! `harness synth-requests <dir> --rows N` (hidden): writes a made-up but
//! realistic run folder (requests.csv of steady load at a fixed rate over
//! two pods, with a few disruptions around a termination in the middle;
//! timeline.csv, samples.csv and summary.json to match) for the artifacts
//! benchmark (`scripts/bench-artifacts.sh`) and the tests at scale.
//!
//! Deterministic (no clock, no randomness beyond a fixed-seed xorshift);
//! it writes only into the folder it is given and never runs anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{TimeZone, Utc};

use super::CommandError;
use crate::artifacts::{RequestsWriter, SamplesWriter, Summary, Tally, TimelineWriter};
use crate::model::{
    Attribution, Event, EventKind, EvidenceKind, Origin, Outcome, Phase, RequestKind,
    RequestRecord, Sample, ServerState, Source,
};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synth {
    pub rows: u64,
    /// Disrupted requests, spread over 2 s after the middle of the run.
    pub disruptions: u64,
    /// Intended send rate, requests per second.
    pub rate: f64,
}

/// What was written: the counts a straightforward reading must find.
#[derive(Debug, Clone)]
pub struct Written {
    pub tally: Tally,
    pub disrupted_ids: Vec<String>,
}

/// A fixed-seed xorshift: the same folder every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Row `i`: which rows are disrupted is a pure function of `i` and `s`.
fn row(i: u64, s: &Synth, rng: &mut Rng) -> RequestRecord {
    let intended = 1000.0 + i as f64 * 1000.0 / s.rate;
    let sent = intended + 0.05 + rng.unit() * 0.4;
    // A long tail: 1 % of requests take 5-50 ms.
    let service = if rng.unit() < 0.01 {
        5.0 + rng.unit() * 45.0
    } else {
        0.8 + rng.unit() * 2.5
    };
    let pod = if i.is_multiple_of(2) {
        "pod-a"
    } else {
        "pod-b"
    };
    let mut r = RequestRecord {
        id: format!("steady-{i}"),
        kind: RequestKind::Steady,
        method: "GET".into(),
        path: "/".into(),
        pod: Some(pod.into()),
        conn_id: 1 + i % 16,
        reused: i >= 16,
        intended_ms: intended,
        sent_ms: sent,
        ttfb_ms: Some(sent + service),
        end_ms: sent + service + 0.01,
        status: Some(200),
        bytes: 2,
        chunks: None,
        outcome: Outcome::Ok,
        phase: None,
        origin: None,
        haproxy_term: None,
        envoy_flags: None,
        error: None,
    };
    let window = (2.0 * s.rate) as u64;
    let start = s.rows / 2;
    let step = (window / s.disruptions.max(1)).max(1);
    let k = i.wrapping_sub(start);
    if i >= start && k.is_multiple_of(step) && k / step < s.disruptions {
        if k / step % 3 == 2 {
            r.outcome = Outcome::Http5xx;
            r.status = Some(503);
            r.origin = Some(Origin::Haproxy);
        } else {
            r.outcome = Outcome::Reset;
            r.phase = Some(Phase::Head);
            r.status = None;
            r.ttfb_ms = None;
            r.bytes = 0;
            r.error = Some("connection reset by peer".into());
        }
    }
    r
}

/// The termination of pod-a at `t_term` on the timeline, and 4 Hz samples
/// of both pods (pod-a CLOSED and DOWN after it) until `t_end`.
fn write_timeline_and_samples(dir: &Path, t_term: f64, t_end: f64) -> Result<(), CommandError> {
    let mut tw = TimelineWriter::create(dir)?;
    for (dt, source, kind) in [
        (-5.0, Source::Kubelet, EventKind::Terminating),
        (-4.0, Source::Kubelet, EventKind::PrestopStart),
        (0.0, Source::HAPROXY, EventKind::Server(ServerState::Down)),
        (1500.0, Source::Kubelet, EventKind::Sigterm),
        (2500.0, Source::Kubelet, EventKind::Exit),
    ] {
        tw.write(&Event::new(t_term + dt, source, Some("pod-a"), kind, ""))?;
    }
    tw.finish()?;
    let mut sw = SamplesWriter::create(dir)?;
    let mut t = 0.0;
    while t <= t_end {
        for pod in ["pod-a", "pod-b"] {
            let gone = pod == "pod-a" && t > t_term;
            sw.write(&Sample {
                t_ms: t,
                pod: pod.into(),
                hc_state: Some(if gone { "CLOSED" } else { "OPEN" }.into()),
                envoy_rq_active: Some(if gone { 0 } else { 3 }),
                envoy_cx_active: Some(if gone { 0 } else { 8 }),
                haproxy_status: Some(if gone { "DOWN" } else { "UP" }.into()),
            })?;
        }
        t += 250.0;
    }
    sw.finish()?;
    Ok(())
}

/// Writes the folder; returns what a reader must count.
pub fn write(dir: &Path, s: &Synth) -> Result<Written, CommandError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::artifacts::ArtifactsError::io("creating", dir, e))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut w = RequestsWriter::create(dir)?;
    let mut tally = Tally::new();
    let mut disrupted_ids = Vec::new();
    let mut attributions = Vec::new();
    let mut t_end = 0.0f64;
    let t_term = 1000.0 + (s.rows / 2) as f64 * 1000.0 / s.rate;
    for i in 0..s.rows {
        let r = row(i, s, &mut rng);
        tally.record(&r);
        if r.outcome.is_disruption() {
            disrupted_ids.push(r.id.clone());
            attributions.push(Attribution {
                request_id: r.id.clone(),
                outcome: r.outcome,
                t_ms: r.end_ms,
                cause: Some("haproxy server_down pod-a".into()),
                cause_t_ms: Some(t_term),
                delta_ms: Some(r.end_ms - t_term),
                pod: r.pod.clone(),
                evidence: EvidenceKind::Inferred,
            });
        }
        t_end = t_end.max(r.end_ms);
        w.write(&r)?;
    }
    w.finish()?;
    write_timeline_and_samples(dir, t_term, t_end)?;
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 3, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut summary = Summary::new("synth", "current", "synth", t0);
    tally.apply_to(&mut summary);
    summary.attributions = attributions;
    summary.interrupted = false;
    summary.decide_verdict();
    summary.write(dir)?;
    Ok(Written {
        tally,
        disrupted_ids,
    })
}

/// The flags of `harness synth-requests`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// The folder to write (created when missing).
    pub dir: PathBuf,
    #[arg(long)]
    pub rows: u64,
    #[arg(long, default_value_t = 20)]
    pub disruptions: u64,
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
}

impl SynthArgs {
    pub fn run(&self) -> Result<ExitCode, CommandError> {
        let s = Synth {
            rows: self.rows,
            disruptions: self.disruptions,
            rate: self.rate,
        };
        let w = write(&self.dir, &s)?;
        println!(
            "wrote {}: {} requests, {} disrupted",
            self.dir.display(),
            w.tally.requests,
            w.tally.disruptions
        );
        Ok(ExitCode::SUCCESS)
    }
}
