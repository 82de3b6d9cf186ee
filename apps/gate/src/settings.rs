//! The drain settings that `drain`, `hc` and the harness all speak: the
//! drain order, the LB buffer, the active-stat choice and hc's LB signal.
//! One definition each: `drain` and `hc` parse them from flags and env
//! (clap), the harness from scenario files (serde) and renders them back into
//! `drain`'s env and flags with `Display`, the exact spelling both read.
//!
//! Names and parsing only; it must never do I/O.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration::{format_duration, parse_duration, BadDuration};

/// Which signal goes off first in a drain (`DRAIN_ORDER`, scenario `drain.order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DrainOrder {
    /// drain → drain_listeners → poll → close-lb → buffer → close.
    #[default]
    Seed,
    /// drain → close-lb → LB let go → drain_listeners → poll → close.
    #[serde(alias = "lb_first")]
    #[value(alias = "lb_first")]
    LbFirst,
}

impl DrainOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            DrainOrder::Seed => "seed",
            DrainOrder::LbFirst => "lb-first",
        }
    }
}

/// A drain order that is neither `seed` nor `lb-first`.
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
        f.write_str(self.as_str())
    }
}

/// Which Envoy gauges count as "still active" (`ACTIVE_STAT`, scenario `drain.active_stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ActiveStat {
    /// `*.downstream_rq_active` + `*.upstream_rq_active` (the seed's choice).
    #[default]
    Rq,
    /// `listener.<inbound>.downstream_cx_active` (Istio's
    /// `EXIT_ON_ZERO_ACTIVE_CONNECTIONS`).
    Cx,
}

impl ActiveStat {
    pub fn as_str(self) -> &'static str {
        match self {
            ActiveStat::Rq => "rq",
            ActiveStat::Cx => "cx",
        }
    }
}

/// An active stat that is neither `rq` nor `cx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown active stat {0:?} (expected rq or cx)")]
pub struct UnknownActiveStat(pub String);

impl FromStr for ActiveStat {
    type Err = UnknownActiveStat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rq" => Ok(ActiveStat::Rq),
            "cx" => Ok(ActiveStat::Cx),
            _ => Err(UnknownActiveStat(s.to_string())),
        }
    }
}

impl fmt::Display for ActiveStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long to wait between `/close-lb` and `/close` (`LB_BUFFER`, scenario
/// `drain.lb_buffer`): a duration or `auto`. It carries a value, so clap
/// reads it through `FromStr`, not `ValueEnum`.
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

impl Serialize for LbBuffer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for LbBuffer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid lb_buffer {s:?}: expected a duration (10s, 500ms) or \"auto\""
            ))
        })
    }
}

/// How hc tells the LB to let go in CLOSING (`HC_LB_SIGNAL`, scenario
/// `haproxy.lb_signal`): the number 503 or 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LbSignal {
    /// A failed check (HAProxy needs `fall` of them).
    #[default]
    #[value(name = "503")]
    Status503,
    /// Soft stop: HAProxy's `http-check disable-on-404` puts the server in NOLB.
    #[value(name = "404")]
    Status404,
}

impl LbSignal {
    pub fn code(self) -> u16 {
        match self {
            LbSignal::Status503 => 503,
            LbSignal::Status404 => 404,
        }
    }
}

/// An LB signal that is neither 503 nor 404.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LB signal {0:?}: expected 503 or 404")]
pub struct BadLbSignal(pub String);

impl FromStr for LbSignal {
    type Err = BadLbSignal;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "503" => Ok(LbSignal::Status503),
            "404" => Ok(LbSignal::Status404),
            _ => Err(BadLbSignal(s.to_string())),
        }
    }
}

impl fmt::Display for LbSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl Serialize for LbSignal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for LbSignal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        n.to_string()
            .parse()
            .map_err(|e: BadLbSignal| serde::de::Error::custom(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
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
    #[case("lb_first", DrainOrder::LbFirst)]
    fn parses_order(#[case] s: &str, #[case] want: DrainOrder) {
        assert_eq!(s.parse::<DrainOrder>().unwrap(), want);
        assert_eq!(<DrainOrder as ValueEnum>::from_str(s, true).unwrap(), want);
    }

    #[rstest]
    #[case("rq", ActiveStat::Rq)]
    #[case("CX", ActiveStat::Cx)]
    fn parses_active_stat(#[case] s: &str, #[case] want: ActiveStat) {
        assert_eq!(s.parse::<ActiveStat>().unwrap(), want);
    }

    #[test]
    fn rejects_misspellings() {
        assert!("first".parse::<DrainOrder>().is_err());
        assert!("soon".parse::<LbBuffer>().is_err());
        assert!("req".parse::<ActiveStat>().is_err());
        assert!("500".parse::<LbSignal>().is_err());
        assert!(<DrainOrder as ValueEnum>::from_str("first", true).is_err());
    }

    /// What the harness renders (Display) is what drain and hc parse back,
    /// and serde speaks the same spelling.
    #[test]
    fn display_serde_and_parse_agree() {
        for o in DrainOrder::value_variants() {
            assert_eq!(o.to_string().parse::<DrainOrder>().unwrap(), *o);
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for a in ActiveStat::value_variants() {
            assert_eq!(a.to_string().parse::<ActiveStat>().unwrap(), *a);
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for s in LbSignal::value_variants() {
            assert_eq!(s.to_string().parse::<LbSignal>().unwrap(), *s);
            let back: LbSignal = serde_json::from_value(serde_json::to_value(s).unwrap()).unwrap();
            assert_eq!(back, *s);
        }
        for b in [LbBuffer::Auto, LbBuffer::Fixed(Duration::from_millis(1500))] {
            let back: LbBuffer = serde_json::from_value(serde_json::to_value(b).unwrap()).unwrap();
            assert_eq!(back, b);
        }
        assert!(serde_json::from_str::<LbSignal>("500").is_err());
        assert!(serde_json::from_str::<LbBuffer>("\"soon\"").is_err());
    }
}
