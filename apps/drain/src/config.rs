//! The drain's settings (DESIGN §2.3); their value types (order, LB buffer,
//! active stat) live in `gate::settings`, shared with the harness.
//!
//! Plain data with parsing; it must never do I/O.

use std::time::Duration;

pub use gate::settings::{ActiveStat, DrainOrder, LbBuffer};

/// Everything one drain run needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// hc's base URL (`HC_URL`), e.g. `http://127.0.0.1:18180`.
    pub hc_url: String,
    /// Envoy's admin base URL (`ENVOY_ADMIN`).
    pub envoy_admin: String,
    /// Polling stops when this much time has passed since the start.
    pub drain_timeout: Duration,
    pub poll_interval: Duration,
    /// `None`: the order's default (seed: 10 s fixed; lb-first: auto).
    pub lb_buffer: Option<LbBuffer>,
    /// Upper bound of the automatic LB wait.
    pub lb_buffer_max: Duration,
    /// Refusals per checker that mean "let go"; `None`: 2 for a 503 signal, 1 for 404.
    pub lb_fall: Option<u32>,
    pub order: DrainOrder,
    /// The seed's flaw: an unreadable stats answer counts as 0.
    pub zero_on_stats_error: bool,
    pub active_stat: ActiveStat,
    /// The poll does not end before this much time since the start.
    pub min_drain: Duration,
    /// Every HTTP call's timeout (5 s).
    pub call_timeout: Duration,
    /// How often the automatic LB wait reads `/drain/status`.
    pub lb_poll_interval: Duration,
    /// Extra wait after every checker let go.
    pub lb_margin: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hc_url: "http://127.0.0.1:18180".into(),
            envoy_admin: "http://127.0.0.1:15000".into(),
            drain_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_secs(2),
            lb_buffer: None,
            lb_buffer_max: Duration::from_secs(10),
            lb_fall: None,
            order: DrainOrder::Seed,
            zero_on_stats_error: false,
            active_stat: ActiveStat::Rq,
            min_drain: Duration::ZERO,
            call_timeout: Duration::from_secs(5),
            lb_poll_interval: Duration::from_millis(50),
            lb_margin: Duration::from_millis(100),
        }
    }
}

impl Config {
    /// The LB wait this run uses.
    pub fn effective_lb_buffer(&self) -> LbBuffer {
        self.lb_buffer.unwrap_or(match self.order {
            DrainOrder::Seed => LbBuffer::Fixed(Duration::from_secs(10)),
            DrainOrder::LbFirst => LbBuffer::Auto,
        })
    }

    /// The longest the LB wait can take.
    pub fn lb_wait_bound(&self) -> Duration {
        match self.effective_lb_buffer() {
            LbBuffer::Fixed(d) => d,
            LbBuffer::Auto => self.lb_buffer_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lb_buffer_default_follows_order() {
        let mut c = Config::default();
        assert_eq!(
            c.effective_lb_buffer(),
            LbBuffer::Fixed(Duration::from_secs(10))
        );
        c.order = DrainOrder::LbFirst;
        assert_eq!(c.effective_lb_buffer(), LbBuffer::Auto);
        c.lb_buffer = Some(LbBuffer::Fixed(Duration::from_secs(3)));
        assert_eq!(c.lb_wait_bound(), Duration::from_secs(3));
    }
}
