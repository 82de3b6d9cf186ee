//! `harness load`: the run's load generator on its own, against one
//! `http://` URL on loopback, so it can be benchmarked against wrk and oha
//! (`scripts/bench-loadgen.sh`, docs/benchmarks.md). Closed loop (each
//! connection sends its next request when the previous one finished) when
//! no rate is given, else open loop at `--rate` req/s with latency counted
//! from each request's computed intended send time (t0 + i/rate).
//!
//! Prints achieved req/s, latency percentiles (only `ok` requests count, as
//! in a run's latency.hgrm) and the other outcomes. Never writes a file,
//! never sends to a non-loopback address, never runs past its duration plus
//! the request timeout.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::CommandError;
use crate::artifacts::{LatencyMs, LatencyStats};
use crate::loadgen::{self, LoadConfig, LoadSpec};
use crate::model::{Outcome, RequestRecord, RunClock};

/// The longest `--duration` accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(3_600);
/// The most `--connections` accepted.
pub const MAX_CONNECTIONS: usize = 10_000;
/// The widest `--send-window` accepted.
pub const MAX_SEND_WINDOW: Duration = Duration::from_millis(100);
/// Load starts this long after the runtime is up (connections are opened on demand).
const START_MS: u64 = 50;

/// The flags of `harness load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    #[arg(long)]
    pub url: String,
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    #[arg(long, default_value = "10s", value_parser = gate::duration::parse_duration)]
    pub duration: Duration,
    /// Open loop at this many req/s (closed loop when absent).
    #[arg(long)]
    pub rate: Option<f64>,
    // Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Open loop: the driver wakes at most once per this window and sends
    /// the requests due by then together, each timed from its own intended
    /// send time (so the wait, at most the window, is in its latency); 0 =
    /// a wake-up per request (µs-precise sends, more CPU per request).
    #[arg(long, default_value = "1ms", value_parser = gate::duration::parse_duration)]
    pub send_window: Duration,
    /// Request deadline beyond its expected duration.
    #[arg(long, default_value = "10s", value_parser = gate::duration::parse_duration)]
    pub timeout: Duration,
    #[arg(long)]
    pub json: bool,
}

/// What one `harness load` measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// `closed` or `open`.
    pub mode: &'static str,
    pub url: String,
    pub connections: usize,
    pub threads: usize,
    pub duration_s: f64,
    pub rate: Option<f64>,
    /// Open loop: the send window (`--send-window`), ms.
    pub send_window_ms: Option<f64>,
    /// Requests the load asked for (closed loop: started).
    pub scheduled: u64,
    pub completed: u64,
    pub ok: u64,
    /// Every outcome but `ok`.
    pub errors: u64,
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Open loop: requests sent more than 1 ms after their intended time.
    pub late_sends: u64,
    /// From the start of the load until the last request was recorded.
    pub elapsed_s: f64,
    /// `ok` requests per second of `elapsed_s`.
    pub achieved_rps: f64,
    /// Corrected: from the intended send time; uncorrected: from the actual send.
    pub latency_ms: LatencyMs,
}

/// `http://HOST:PORT/PATH` → the address and the path (with its query);
/// only a loopback address is taken.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String), CommandError> {
    let bad = |why: &str| CommandError::Usage(format!("--url {url}: {why}"));
    let t = crate::loadgen::parse_target(url).map_err(|e| match e {
        crate::loadgen::TargetError::NotHttp => bad("only http:// URLs are supported"),
        e => bad(&e.to_string()),
    })?;
    if t.tls_name.is_some() {
        return Err(bad(
            "only http:// URLs are supported (harness load is a plain-HTTP benchmark)",
        ));
    }
    if !t.addr.ip().is_loopback() {
        return Err(bad(&format!(
            "{} is not a loopback address (harness load only sends to 127.0.0.0/8 or ::1)",
            t.addr.ip()
        )));
    }
    Ok((t.addr, t.path))
}

impl LoadArgs {
    fn validate(&self) -> Result<(SocketAddr, String), CommandError> {
        let usage = |m: String| Err(CommandError::Usage(m));
        if !(1..=MAX_CONNECTIONS).contains(&self.connections) {
            return usage(format!(
                "--connections {}: must be 1..={MAX_CONNECTIONS}",
                self.connections
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return usage(format!(
                "--duration {:?}: must be above 0 and at most {MAX_DURATION:?}",
                self.duration
            ));
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0 && r <= 1_000_000.0) {
                return usage(format!("--rate {r}: must be a number in (0, 1000000]"));
            }
        }
        if self.send_window > MAX_SEND_WINDOW {
            return usage(format!(
                "--send-window {:?}: must be at most {MAX_SEND_WINDOW:?}",
                self.send_window
            ));
        }
        if !(1..=64).contains(&self.threads) {
            return usage(format!("--threads {}: must be 1..=64", self.threads));
        }
        parse_url(&self.url)
    }

    fn spec(&self, path: String) -> LoadSpec {
        let duration_ms = self.duration.as_millis() as u64;
        match self.rate {
            None => LoadSpec::Closed {
                connections: self.connections,
                duration_ms,
                path,
                start_ms: START_MS,
            },
            Some(rate) => LoadSpec::Open {
                rate,
                duration_ms,
                path,
                start_ms: START_MS,
                connections: self.connections,
                send_window: self.send_window,
            },
        }
    }
}

/// Runs the load and returns what it measured.
pub fn measure(args: &LoadArgs) -> Result<LoadReport, CommandError> {
    let (target, path) = args.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .map_err(|e| CommandError::Usage(format!("cannot start the runtime: {e}")))?;
    let cfg = LoadConfig {
        target,
        host: None,
        tls: None,
        horizon: None,
        specs: vec![args.spec(path)],
        request_timeout_margin: args.timeout,
    };
    let (stats, tally, last_ms) = rt.block_on(async {
        let clock = RunClock::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RequestRecord>();
        let cancel = CancellationToken::new();
        let on_ctrl_c = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            })
        };
        let sink = tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut last_ms = 0.0f64;
            while let Some(r) = rx.recv().await {
                last_ms = last_ms.max(r.end_ms);
                tally.record(&r);
            }
            (tally, last_ms)
        });
        let stats = loadgen::run(cfg, clock, tx, cancel).await;
        on_ctrl_c.abort();
        let (tally, last_ms) = sink.await.unwrap_or_default();
        (stats, tally, last_ms)
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    let elapsed_s = ((last_ms - START_MS as f64) / 1000.0).max(1e-9);
    let errors = tally.outcomes.values().sum::<u64>() - tally.ok;
    Ok(LoadReport {
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        url: args.url.clone(),
        connections: args.connections,
        threads: args.threads,
        duration_s: args.duration.as_secs_f64(),
        rate: args.rate,
        send_window_ms: args.rate.map(|_| args.send_window.as_secs_f64() * 1000.0),
        scheduled: stats.scheduled,
        completed: stats.completed,
        ok: tally.ok,
        errors,
        outcomes: tally.outcomes,
        late_sends: stats.late_sends,
        elapsed_s,
        achieved_rps: tally.ok as f64 / elapsed_s,
        latency_ms: tally.latency.percentiles(),
    })
}

#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    outcomes: BTreeMap<&'static str, u64>,
    latency: LatencyStats,
}

impl Tally {
    fn record(&mut self, r: &RequestRecord) {
        *self.outcomes.entry(r.outcome.as_str()).or_default() += 1;
        if r.outcome == Outcome::Ok {
            self.ok += 1;
        }
        self.latency.record(r);
    }
}

/// The report as text, one fact per line.
pub fn render(r: &LoadReport) -> String {
    let mut out = format!(
        "{} loop, {} connections, {} threads, {:.1}s{}: {}\n",
        r.mode,
        r.connections,
        r.threads,
        r.duration_s,
        r.rate
            .zip(r.send_window_ms)
            .map(|(x, w)| format!(" at {x} req/s (send window {w} ms)"))
            .unwrap_or_default(),
        r.url
    );
    out += &format!(
        "requests: {} completed, {} ok, {} errors; {:.0} req/s achieved over {:.2}s; {} late sends\n",
        r.completed, r.ok, r.errors, r.achieved_rps, r.elapsed_s, r.late_sends
    );
    if r.errors > 0 {
        let list: Vec<String> = r
            .outcomes
            .iter()
            .filter(|(k, _)| **k != "ok")
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        out += &format!("errors: {}\n", list.join(" "));
    }
    for (name, p) in [
        ("latency (from intended send)", r.latency_ms.corrected),
        ("latency (from actual send)", r.latency_ms.uncorrected),
    ] {
        match p {
            Some(p) => {
                out += &format!(
                    "{name} ms: p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}\n",
                    p.p50, p.p90, p.p99, p.p999, p.max
                )
            }
            None => out += &format!("{name}: no ok request\n"),
        }
    }
    out
}

impl LoadArgs {
    /// The `harness load` verb: exits 0 when every request was `ok`, 1 otherwise.
    pub fn run(&self) -> Result<ExitCode, CommandError> {
        let report = measure(self)?;
        if self.json {
            let text = serde_json::to_string(&report)
                .map_err(|e| CommandError::Usage(format!("cannot encode the report: {e}")))?;
            println!("{text}");
        } else {
            print!("{}", render(&report));
        }
        Ok(if report.errors == 0 && report.ok > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("http://127.0.0.1:8080/", "127.0.0.1:8080", "/")]
    #[case("http://127.0.0.1:9", "127.0.0.1:9", "/")]
    #[case(
        "http://127.0.0.1:81/sleep?seconds=1",
        "127.0.0.1:81",
        "/sleep?seconds=1"
    )]
    #[case("http://[::1]:8080/x", "[::1]:8080", "/x")]
    #[case("http://127.0.0.2/", "127.0.0.2:80", "/")]
    fn parses_loopback_urls(#[case] url: &str, #[case] addr: &str, #[case] path: &str) {
        let (a, p) = parse_url(url).unwrap();
        assert_eq!((a.to_string().as_str(), p.as_str()), (addr, path));
    }

    #[rstest]
    #[case("https://127.0.0.1:1/", "only http://")]
    #[case("127.0.0.1:1/", "only http://")]
    #[case("http:///x", "expected http(s)://HOST:PORT/PATH")]
    #[case("http://u@127.0.0.1:1/", "expected http(s)://HOST:PORT/PATH")]
    #[case("http://10.1.2.3:80/", "not a loopback address")]
    #[case("http://127.0.0.1:99999/", "cannot resolve")]
    fn rejects_bad_urls(#[case] url: &str, #[case] why: &str) {
        let e = parse_url(url).unwrap_err().to_string();
        assert!(e.contains(url) && e.contains(why), "{e}");
    }

    fn args() -> LoadArgs {
        LoadArgs {
            url: "http://127.0.0.1:1/".into(),
            connections: 4,
            duration: Duration::from_secs(1),
            rate: None,
            threads: 1,
            send_window: Duration::from_millis(1),
            timeout: Duration::from_secs(1),
            json: false,
        }
    }

    #[rstest]
    #[case(LoadArgs { connections: 0, ..args() }, "--connections 0")]
    #[case(LoadArgs { duration: Duration::ZERO, ..args() }, "--duration")]
    #[case(LoadArgs { duration: Duration::from_secs(7_200), ..args() }, "--duration")]
    #[case(LoadArgs { rate: Some(0.0), ..args() }, "--rate 0")]
    #[case(LoadArgs { rate: Some(f64::NAN), ..args() }, "--rate NaN")]
    #[case(LoadArgs { threads: 0, ..args() }, "--threads 0")]
    #[case(LoadArgs { send_window: Duration::from_secs(1), ..args() }, "--send-window")]
    fn rejects_bad_flags(#[case] a: LoadArgs, #[case] culprit: &str) {
        let e = a.validate().unwrap_err().to_string();
        assert!(e.contains(culprit), "{e}");
    }
}
