//! The drain's settings (DESIGN §2.3) and their small value types.
//!
//! Plain data with parsing; it must never do I/O.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use gate::duration::{format_duration, parse_duration, BadDuration};

use crate::stats::ActiveStat;

/// How long to wait between `/close-lb` and `/close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbBuffer {
    /// Sleep this long (the seed's `LB_BUFFER=10`).
    Fixed(Duration),
    /// Wait until hc's `lb_refusals` says every checker let go
    /// (bounded by `LB_BUFFER_MAX`).
    Auto,
}

impl FromStr for LbBuffer {
    type Err = BadDuration;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("auto") {
            Ok(LbBuffer::Auto)
        } else {
            parse_duration(s).map(LbBuffer::Fixed)
        }
    }
}

impl fmt::Display for LbBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LbBuffer::Fixed(d) => f.write_str(&format_duration(*d)),
            LbBuffer::Auto => f.write_str("auto"),
        }
    }
}

/// Which signal goes off first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrainOrder {
    /// drain → drain_listeners → poll → close-lb → buffer → close.
    #[default]
    Seed,
    /// drain → close-lb → LB let go → drain_listeners → poll → close.
    LbFirst,
}

/// A `DRAIN_ORDER` that is neither `seed` nor `lb-first`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown drain order {0:?} (expected seed or lb-first)")]
pub struct UnknownOrder(pub String);

impl FromStr for DrainOrder {
    type Err = UnknownOrder;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "seed" => Ok(DrainOrder::Seed),
            "lb-first" | "lb_first" => Ok(DrainOrder::LbFirst),
            _ => Err(UnknownOrder(s.to_string())),
        }
    }
}

impl fmt::Display for DrainOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DrainOrder::Seed => "seed",
            DrainOrder::LbFirst => "lb-first",
        })
    }
}

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
    use rstest::rstest;

    #[rstest]
    #[case("auto", LbBuffer::Auto)]
    #[case("AUTO", LbBuffer::Auto)]
    #[case("10", LbBuffer::Fixed(Duration::from_secs(10)))]
    #[case("500ms", LbBuffer::Fixed(Duration::from_millis(500)))]
    fn parses_lb_buffer(#[case] s: &str, #[case] want: LbBuffer) {
        assert_eq!(s.parse::<LbBuffer>().unwrap(), want);
    }

    #[rstest]
    #[case("seed", DrainOrder::Seed)]
    #[case("lb-first", DrainOrder::LbFirst)]
    fn parses_order(#[case] s: &str, #[case] want: DrainOrder) {
        assert_eq!(s.parse::<DrainOrder>().unwrap(), want);
        assert!("first".parse::<DrainOrder>().is_err());
        assert!("soon".parse::<LbBuffer>().is_err());
    }

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
