//! The harness-only value names a scenario (or the command line) may use:
//! Envoy's drain strategy, the sidecar flavour and the preStop kind. The
//! names `drain`, `hc` and the harness all speak (order, LB buffer, active
//! stat, LB signal) live in `gate::settings` instead.
//!
//! Names and parsing only; it must never do I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Envoy's `--drain-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DrainStrategy {
    #[default]
    Gradual,
    Immediate,
}

impl DrainStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            DrainStrategy::Gradual => "gradual",
            DrainStrategy::Immediate => "immediate",
        }
    }
}

impl fmt::Display for DrainStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When the steady load stops scheduling requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadEnd {
    /// At each entry's own `duration`.
    #[default]
    Duration,
    /// As soon as the terminated pod's coverage window closed (its last
    /// container exited and HAProxy let it go, plus one check interval) and
    /// one more check interval passed; each entry's `duration` is then the
    /// longest it may run. For modes whose termination takes a varying time
    /// (a drain that may end early or run to its deadline).
    Covered,
}

/// What stops Envoy when the pod terminates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Sidecar {
    /// pilot-agent: on SIGTERM drain Envoy's listeners, stop Envoy after `termination_drain`.
    Istio,
    /// Envoy gets SIGTERM and exits at once.
    Plain,
}

/// What runs as preStop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PreStop {
    /// A fixed `sleep` (the homelab's old way).
    Sleep,
    /// The Rust `drain` orchestrator.
    Drain,
    /// `apps/hc/graceful-drain.sh`.
    Script,
}

/// `--prestop`: which drain-based preStop runs a drain-based mode (a `sleep`
/// mode stays a sleep, so `sleep` is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrainHook {
    /// The Rust `drain` orchestrator.
    Drain,
    /// The seed's `graceful-drain.sh`.
    Script,
}

impl From<DrainHook> for PreStop {
    fn from(h: DrainHook) -> PreStop {
        match h {
            DrainHook::Drain => PreStop::Drain,
            DrainHook::Script => PreStop::Script,
        }
    }
}

/// A container of a pod a `kill` fault (or an `exit_codes` expectation) names.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Backend,
    Hc,
    Envoy,
}

impl Container {
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Backend => "backend",
            Container::Hc => "hc",
            Container::Envoy => "envoy",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signals a `kill` fault may send. A scenario writes `SIGSTOP`,
/// `sigstop` or `stop` alike; it is shown as `SIGSTOP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultSignal {
    #[default]
    Kill,
    Term,
    Stop,
    Cont,
    Int,
}

impl FaultSignal {
    pub const ALL: [FaultSignal; 5] = [
        FaultSignal::Kill,
        FaultSignal::Term,
        FaultSignal::Stop,
        FaultSignal::Cont,
        FaultSignal::Int,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultSignal::Kill => "SIGKILL",
            FaultSignal::Term => "SIGTERM",
            FaultSignal::Stop => "SIGSTOP",
            FaultSignal::Cont => "SIGCONT",
            FaultSignal::Int => "SIGINT",
        }
    }
}

impl fmt::Display for FaultSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FaultSignal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.trim().to_ascii_uppercase();
        let full = if up.starts_with("SIG") {
            up
        } else {
            format!("SIG{up}")
        };
        FaultSignal::ALL
            .into_iter()
            .find(|x| x.name() == full)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultSignal::ALL.iter().map(|x| x.name()).collect();
                format!(
                    "unknown signal {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

impl Serialize for FaultSignal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FaultSignal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `--mode`: every mode of the scenario (`both` or `all`) or one by name.
/// Mode names are each scenario's own, so `Named` stays a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeSelect {
    Every,
    Named(String),
}

impl std::str::FromStr for ModeSelect {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "both" | "all" => ModeSelect::Every,
            m => ModeSelect::Named(m.to_string()),
        })
    }
}

impl fmt::Display for ModeSelect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModeSelect::Every => f.write_str("all"),
            ModeSelect::Named(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_in_every_spelling_and_show_full() {
        for (s, want) in [
            ("SIGSTOP", FaultSignal::Stop),
            ("sigterm", FaultSignal::Term),
            ("kill", FaultSignal::Kill),
            (" int ", FaultSignal::Int),
        ] {
            assert_eq!(s.parse::<FaultSignal>().unwrap(), want);
        }
        for x in FaultSignal::ALL {
            assert_eq!(x.to_string().parse::<FaultSignal>().unwrap(), x);
        }
        let e = "SIGHUP".parse::<FaultSignal>().unwrap_err();
        assert!(e.contains("SIGKILL, SIGTERM"), "{e}");
    }
}
