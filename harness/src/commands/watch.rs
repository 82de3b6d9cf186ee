//! `harness watch --url URL --during "CMD"`: the lab's load generator,
//! classification, artifacts and verdict aimed at any HTTP(S) service while a
//! command runs (a rollout on a real cluster, `harness terminate` here).
//!
//! Flags, checks and printing only; the work is in `run::watch`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::load::{MAX_CONNECTIONS, MAX_DURATION};
use super::print_judgement;
use crate::artifacts::Verdict;
use crate::loadgen::TlsClient;
use crate::observe::outside::{LbSource, OutsideConfig};
use crate::run::watch::{WatchPlan, Watched};

/// The highest `--rate` accepted (req/s).
pub const MAX_RATE: f64 = 100_000.0;

const LONG_ABOUT: &str = "Send open-loop load to an HTTP service while a command runs, and judge it the way the lab judges a scenario.

The load: HTTP/1.1, over TLS for an https:// URL (the certificate is always verified, against the system's roots and --cacert; there is no way to skip that). --rate requests per second (split evenly over the --path values), each request sent at its scheduled time whatever the others do (latency counts from that time), over at most --connections keep-alive connections (--keepalive of the requests reuse an idle one, the rest open a new one). It is bounded in time and rate by these flags: it starts at once, runs --warmup before CMD, goes on until CMD has ended plus --settle, and never beyond --duration from its start (a CMD still running then is stopped and the watch fails). Nothing is refused by address: aim it only at a service you may load.

CMD runs through `sh -c` after the warm-up. Each line it prints (stdout and stderr) and its exit code land on the timeline (timeline.csv, report.html).

Every request is one row of requests.csv with its outcome (ok, reset, closed, refused, timeout, http_5xx, http_status, truncated); every outcome but ok is a disruption. The run folder artifacts/<UTC>-watch-during/ also holds timeline.csv, samples.csv (with the optional observers: HAProxy's server states from --haproxy-socket or --haproxy-stats, Envoy's active requests from --envoy-admin), latency.hgrm, summary.json, plot.svg/png, report.html and junit.xml.

Verdict and exit code: pass (exit 0) when disruptions <= --max-disruptions and CMD exited 0 within --duration; fail (exit 1) otherwise; invalid (exit 3) when the run cannot prove anything: a scheduled request without its row, a writer error, the load generator more than 1 s behind its schedule, no request at all; 2 when it could not start (a bad flag, an unreachable --url: CMD is then not run); 128+N when interrupted by signal N.";

const AFTER_HELP: &str = "Examples:
  # gate a rollout on a real cluster (CI): exit 1 on any lost request
  harness watch --url https://web.example --during \"kubectl rollout restart deploy/web && kubectl rollout status deploy/web\" --max-disruptions 0
  # the same through a port-forward, or with a private CA
  harness watch --url http://127.0.0.1:8080/ --during \"...\"     # kubectl port-forward svc/web 8080:80
  harness watch --url https://web.internal/ --cacert ca.pem --during \"...\"

  # against the lab: `harness up s1 --mode graceful` in another terminal
  harness watch --url http://127.0.0.1:PORT/ --path / --path '/sleep?seconds=2' --rate 50 --during \"harness terminate pod-a\" --max-disruptions 0";

/// The flags of `harness watch`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Load an HTTP service while a command runs (a rollout); record and judge every request",
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP
)]
pub struct WatchArgs {
    /// The service: http(s)://HOST[:PORT][/PATH] (its path is the default --path).
    #[arg(long)]
    pub url: String,
    /// For an https:// URL: also trust the CA certificates of this PEM file
    /// (the system's roots are always trusted).
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// The command to run after the warm-up (through `sh -c`).
    #[arg(long)]
    pub during: String,
    /// Requests per second, open loop (all paths together).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// The most connections the load keeps open (split over the paths).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// A path (with its query) to request; repeat for several, the rate is
    /// split evenly (default: the URL's path).
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Share of requests that reuse an idle keep-alive connection (0..=1).
    #[arg(long, default_value_t = 0.9)]
    pub keepalive: f64,
    /// The hard bound of the load, from its start.
    #[arg(long, default_value = "10m", value_parser = gate::duration::parse_duration)]
    pub duration: Duration,
    /// Load before CMD starts.
    #[arg(long, default_value = "5s", value_parser = gate::duration::parse_duration)]
    pub warmup: Duration,
    /// Load after CMD ended.
    #[arg(long, default_value = "10s", value_parser = gate::duration::parse_duration)]
    pub settle: Duration,
    /// A request's deadline beyond its expected duration.
    #[arg(long, default_value = "10s", value_parser = gate::duration::parse_duration)]
    pub timeout: Duration,
    /// Fail (exit 1) when more requests than this are disrupted.
    #[arg(long, default_value_t = 0)]
    pub max_disruptions: u64,
    /// HAProxy's runtime API socket: its server states on the timeline.
    #[arg(long, conflicts_with = "haproxy_stats")]
    pub haproxy_socket: Option<PathBuf>,
    /// HAProxy's stats page URL (read as `<url>;csv`): its server states.
    #[arg(long)]
    pub haproxy_stats: Option<String>,
    /// Only this HAProxy backend's servers (default: every backend's).
    #[arg(long)]
    pub haproxy_backend: Option<String>,
    /// An Envoy admin URL (http://HOST:15000): its active requests and connections.
    #[arg(long)]
    pub envoy_admin: Option<String>,
    /// Where the run folder goes.
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

impl WatchArgs {
    /// Checks every flag and resolves the URL.
    pub fn plan(&self) -> anyhow::Result<WatchPlan> {
        let target = crate::loadgen::parse_target(&self.url)
            .map_err(|e| anyhow::anyhow!("--url {}: {e}", self.url))?;
        let tls = match (&target.tls_name, &self.cacert) {
            (Some(name), cacert) => Some(
                TlsClient::new(name, cacert.as_deref())
                    .map_err(|e| anyhow::anyhow!("--url {}: {e}", self.url))?,
            ),
            (None, Some(_)) => anyhow::bail!("--cacert: only for an https:// --url"),
            (None, None) => None,
        };
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE,
            "--rate {}: must be a number in (0, {MAX_RATE}]",
            self.rate
        );
        anyhow::ensure!(
            (1..=MAX_CONNECTIONS).contains(&self.connections),
            "--connections {}: must be 1..={MAX_CONNECTIONS}",
            self.connections
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.keepalive),
            "--keepalive {}: must be in 0..=1",
            self.keepalive
        );
        anyhow::ensure!(
            !self.duration.is_zero() && self.duration <= MAX_DURATION,
            "--duration {:?}: must be above 0 and at most {MAX_DURATION:?}",
            self.duration
        );
        anyhow::ensure!(
            self.warmup < self.duration,
            "--warmup {:?}: must be shorter than --duration {:?}",
            self.warmup,
            self.duration
        );
        anyhow::ensure!(!self.during.trim().is_empty(), "--during: give a command");
        let paths = if self.paths.is_empty() {
            vec![target.path.clone()]
        } else {
            self.paths.clone()
        };
        if let Some(p) = paths.iter().find(|p| !p.starts_with('/')) {
            anyhow::bail!("--path {p:?}: must start with /");
        }
        anyhow::ensure!(
            paths.len() <= self.connections,
            "{} paths need at least as many --connections",
            paths.len()
        );
        Ok(WatchPlan {
            url: self.url.clone(),
            target,
            tls,
            paths,
            rate: self.rate,
            connections: self.connections,
            keepalive: self.keepalive,
            duration: self.duration,
            warmup: self.warmup,
            settle: self.settle,
            timeout: self.timeout,
            during: self.during.clone(),
            max_disruptions: self.max_disruptions,
            observe: self.observe(),
            artifacts_root: super::artifacts_root(self.artifacts.clone()),
        })
    }

    fn observe(&self) -> OutsideConfig {
        let haproxy = match (&self.haproxy_socket, &self.haproxy_stats) {
            (Some(p), _) => Some(LbSource::Socket(p.clone())),
            (None, Some(u)) => Some(LbSource::StatsUrl(u.clone())),
            (None, None) => None,
        };
        OutsideConfig {
            haproxy,
            haproxy_backend: self.haproxy_backend.clone(),
            envoy_admin: self.envoy_admin.clone(),
            period: Duration::from_millis(250),
        }
    }

    /// `harness watch`: see [`LONG_ABOUT`] for the exit codes.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let plan = self.plan()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let status = rt
            .block_on(crate::run::watch::probe(&plan))
            .map_err(|e| anyhow::anyhow!("--url {}: {e}; the command was not run", self.url))?;
        println!("watch: {} answered HTTP {status}; load starts", self.url);
        let interrupts = crate::runtime::install_cleanup_hooks();
        let w = rt.block_on(crate::run::watch::watch(&plan, &interrupts))?;
        rt.shutdown_timeout(Duration::from_secs(2));
        print_verdict(&w);
        Ok(match w.summary.verdict {
            Verdict::Pass => ExitCode::SUCCESS,
            Verdict::Fail => ExitCode::from(1),
            Verdict::Invalid => ExitCode::from(3),
            Verdict::Interrupted => ExitCode::from(130),
        })
    }
}

fn print_verdict(w: &Watched) {
    let s = &w.summary;
    let by = s.disruptions_text();
    println!(
        "requests {}, disruptions {}{}; command: {:?}",
        s.requests,
        s.disruptions,
        if by.is_empty() {
            String::new()
        } else {
            format!(" ({by})")
        },
        w.command
    );
    print_judgement(s);
    println!("watch: {} -> {}", s.verdict.as_str(), w.dir.display());
}
