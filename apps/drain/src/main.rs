//! `drain`: parses the settings (flags or env, DESIGN §2.3), runs the drain
//! and exits with its code. All logic lives in the library.

use std::time::Duration;

use clap::Parser;
use drain::{ActiveStat, Config, DrainOrder, LbBuffer};
use gate::duration::parse_duration;

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// preStop orchestrator: drain hc and Envoy, wait until nothing is in flight,
/// then take the pod out of the LB and the endpoints.
#[derive(Debug, Parser)]
#[command(name = "drain", version)]
struct Args {
    /// hc's base URL.
    #[arg(long, env = "HC_URL", default_value = "http://127.0.0.1:18180")]
    hc_url: String,
    /// Envoy's admin base URL.
    #[arg(long, env = "ENVOY_ADMIN", default_value = "http://127.0.0.1:15000")]
    envoy_admin: String,
    /// Stop polling this long after the start (90, 90s, 500ms).
    #[arg(long, env = "DRAIN_TIMEOUT", default_value = "120s", value_parser = duration)]
    drain_timeout: Duration,
    /// Pause between two stats polls.
    #[arg(long, env = "POLL_INTERVAL", default_value = "2s", value_parser = duration)]
    poll_interval: Duration,
    /// Wait between close-lb and close: a duration or `auto` (default: 10s in
    /// the seed order, auto in lb-first).
    #[arg(long, env = "LB_BUFFER")]
    lb_buffer: Option<LbBuffer>,
    /// Upper bound of LB_BUFFER=auto.
    #[arg(long, env = "LB_BUFFER_MAX", default_value = "10s", value_parser = duration)]
    lb_buffer_max: Duration,
    /// Refusals per checker that mean the LB let go (default: 2 for hc's 503
    /// signal, 1 for 404).
    #[arg(long, env = "LB_FALL", value_parser = clap::value_parser!(u32).range(1..))]
    lb_fall: Option<u32>,
    /// seed (drain, listeners, poll, close-lb, wait, close) or lb-first
    /// (drain, close-lb, wait, listeners, poll, close).
    #[arg(long, env = "DRAIN_ORDER", default_value = "seed", ignore_case = true)]
    drain_order: DrainOrder,
    /// The seed's flaw: count an unreadable stats answer as 0 (env: 1/true/yes).
    #[arg(long, env = "ZERO_ON_STATS_ERROR", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    zero_on_stats_error: bool,
    /// rq: active requests; cx: active connections of the inbound listener(s).
    #[arg(long, env = "ACTIVE_STAT", default_value = "rq", ignore_case = true)]
    active_stat: ActiveStat,
    /// Do not end the poll before this long after the start.
    #[arg(long, env = "MIN_DRAIN", default_value = "0s", value_parser = duration)]
    min_drain: Duration,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    gate::log::init();
    let cfg = Config {
        hc_url: a.hc_url,
        envoy_admin: a.envoy_admin,
        drain_timeout: a.drain_timeout,
        poll_interval: a.poll_interval,
        lb_buffer: a.lb_buffer,
        lb_buffer_max: a.lb_buffer_max,
        lb_fall: a.lb_fall,
        order: a.drain_order,
        zero_on_stats_error: a.zero_on_stats_error,
        active_stat: a.active_stat,
        min_drain: a.min_drain,
        ..Config::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(drain::run(&cfg));
    println!("{}", out.done_line());
    std::process::exit(out.exit_code());
}
