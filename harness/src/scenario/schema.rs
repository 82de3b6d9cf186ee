//! The scenario schema: what a `scenarios/*.toml` file may say. Every table
//! rejects unknown keys; every duration is `"90s"`, `"500ms"` or whole seconds.
//!
//! Types and defaults only; no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::dur::Dur;
pub use super::expect::{Expect, Gap};
pub use super::faults::{Fault, FaultAction};
pub use super::values::{DrainStrategy, LoadEnd, ModeSelect, PreStop, Sidecar};
pub use gate::settings::{ActiveStat, DrainOrder, LbBuffer, LbSignal};

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    /// One line: what the scenario shows.
    pub purpose: String,
    /// Fixes every random choice of the run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub topology: Topology,
    #[serde(default)]
    pub kubelet: Kubelet,
    #[serde(default)]
    pub observe: Observe,
    #[serde(default)]
    pub load: Vec<Load>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// When the steady load stops: at its `duration` (default) or once the
    /// termination is covered ([`LoadEnd::Covered`]).
    #[serde(default)]
    pub load_end: LoadEnd,
    /// The modes, in the order `--mode both` runs them (e.g. current, graceful).
    pub modes: BTreeMap<String, Mode>,
    /// Order in which the modes run (defaults to the table order: current before graceful).
    #[serde(default)]
    pub mode_order: Vec<String>,
}

fn default_seed() -> u64 {
    1
}

impl Scenario {
    /// The modes in run order.
    pub fn ordered_modes(&self) -> Vec<String> {
        if !self.mode_order.is_empty() {
            return self.mode_order.clone();
        }
        let mut names: Vec<String> = self.modes.keys().cloned().collect();
        // current (the failure) before graceful (the fix), then the rest by name.
        names.sort_by_key(|n| match n.as_str() {
            "current" => (0, n.clone()),
            "graceful" => (1, n.clone()),
            _ => (2, n.clone()),
        });
        names
    }

    /// The modes `sel` picks, in run order; `None` when there is no such mode.
    pub fn select_modes(&self, sel: &ModeSelect) -> Option<Vec<String>> {
        match sel {
            ModeSelect::Every => Some(self.ordered_modes()),
            ModeSelect::Named(m) if self.modes.contains_key(m) => Some(vec![m.clone()]),
            ModeSelect::Named(_) => None,
        }
    }

    /// The scenario as `mode` runs it: the mode's `haproxy`, `envoy`,
    /// `faults` and `load` (when given) in place of the scenario's.
    pub fn for_mode(&self, mode: &str) -> Scenario {
        let mut sc = self.clone();
        if let Some(m) = self.modes.get(mode) {
            if let Some(h) = &m.haproxy {
                sc.topology.haproxy = h.clone();
            }
            if let Some(e) = &m.envoy {
                sc.topology.envoy = e.clone();
            }
            if let Some(f) = &m.faults {
                sc.faults = f.clone();
            }
            if let Some(l) = &m.load {
                sc.load = l.clone();
            }
        }
        sc
    }

    /// The longest any single request may take (for HAProxy's timeouts).
    pub fn longest_request(&self) -> Dur {
        self.load
            .iter()
            .map(|l| match l {
                Load::Long { seconds, .. } | Load::Stream { seconds, .. } => Dur::secs(*seconds),
                Load::Steady { .. } => Dur::secs(1),
            })
            .max()
            .unwrap_or(Dur::secs(1))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topology {
    pub pods: u32,
    /// HAProxy instances checking the pods (the load goes through the first);
    /// the extra ones check from `127.0.<net>.<200 + i>`.
    pub haproxies: u32,
    /// Check interval of the extra HAProxies (default: `haproxy.inter`).
    pub extra_haproxy_inter: Option<Dur>,
    pub haproxy: Haproxy,
    pub envoy: Envoy,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            pods: 2,
            haproxies: 1,
            extra_haproxy_inter: None,
            haproxy: Haproxy::default(),
            envoy: Envoy::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Haproxy {
    pub inter: Dur,
    pub fall: u32,
    pub rise: u32,
    /// `on-marked-down shutdown-sessions`.
    pub shutdown_sessions: bool,
    /// HAProxy `retries`.
    pub retries: u32,
    /// `option redispatch`.
    pub redispatch: bool,
    /// `retry-on` value, e.g. "conn-failure empty-response".
    pub retry_on: Option<String>,
    /// How hc tells the LB to let go: 503 or 404 (soft stop, `http-check disable-on-404`).
    pub lb_signal: LbSignal,
    /// Also run HAProxy's `agent-check` against hc's agent port (`up ready`/`drain`/`down`).
    pub agent_check: bool,
    /// `agent-inter`.
    pub agent_inter: Dur,
}

impl Default for Haproxy {
    fn default() -> Self {
        Haproxy {
            inter: Dur::secs(2),
            fall: 2,
            rise: 2,
            shutdown_sessions: true,
            retries: 0,
            redispatch: false,
            retry_on: None,
            lb_signal: LbSignal::Status503,
            agent_check: false,
            agent_inter: Dur::secs(1),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Envoy {
    /// Envoy's `--drain-strategy`.
    pub drain_strategy: DrainStrategy,
    /// Envoy's `--drain-time-s`.
    pub drain_time: Dur,
    pub sidecar: Sidecar,
    /// Istio's `terminationDrainDuration`.
    pub termination_drain: Dur,
    /// Keep only the data-plane rq/cx gauges, as Istio's bootstrap does (§7).
    pub limit_stats_like_istio: bool,
    /// How long Envoy holds a request to `/slow/...` (fault filter) before it
    /// forwards it as `/...`: short requests of a known length (e.g. 20 ms),
    /// which the backend's whole-second `/sleep` cannot give.
    pub slow_delay: Dur,
}

impl Default for Envoy {
    fn default() -> Self {
        Envoy {
            drain_strategy: DrainStrategy::Gradual,
            drain_time: Dur::secs(600),
            sidecar: Sidecar::Istio,
            termination_drain: Dur::secs(5),
            limit_stats_like_istio: false,
            slow_delay: Dur::millis(20),
        }
    }
}

/// `[observe]`: how the harness watches the system under test.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Observe {
    /// Sampling period of the observers (hc `/health`, Envoy admin, HAProxy
    /// stats socket): `OBSERVE_PERIOD_MIN..=OBSERVE_PERIOD_MAX`.
    pub period: Dur,
}

pub const OBSERVE_PERIOD_MIN: Dur = Dur::millis(20);
pub const OBSERVE_PERIOD_MAX: Dur = Dur::secs(10);

impl Default for Observe {
    fn default() -> Self {
        Observe {
            period: Dur::millis(200),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Kubelet {
    /// `terminationGracePeriodSeconds`, counted from `terminating`.
    pub grace_period: Dur,
    pub readiness_period: Dur,
    pub readiness_failure_threshold: u32,
    pub liveness_period: Dur,
    pub liveness_failure_threshold: u32,
    /// The grace period is shorter than the drain can take on purpose (no warning).
    pub grace_ok_shorter: bool,
}

impl Default for Kubelet {
    fn default() -> Self {
        Kubelet {
            grace_period: Dur::secs(120),
            readiness_period: Dur::secs(1),
            readiness_failure_threshold: 1,
            liveness_period: Dur::secs(5),
            liveness_failure_threshold: 3,
            grace_ok_shorter: false,
        }
    }
}

/// One load generator (through HAProxy's frontend).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "lowercase")]
pub enum Load {
    Long {
        #[serde(default = "one")]
        count: u32,
        seconds: u64,
        #[serde(default)]
        start: Dur,
        /// Pin to a pod (HAProxy `use-server` on `?pod=`).
        #[serde(default)]
        pin: Option<String>,
    },
    Stream {
        #[serde(default = "one")]
        count: u32,
        seconds: u64,
        #[serde(default = "default_interval_ms")]
        interval_ms: u32,
        #[serde(default)]
        start: Dur,
        #[serde(default)]
        pin: Option<String>,
    },
    Steady {
        /// Requests per second (open loop).
        rate: f64,
        duration: Dur,
        #[serde(default = "default_path")]
        path: String,
        #[serde(default)]
        start: Dur,
        /// Fraction of requests that may reuse an idle keep-alive connection.
        #[serde(default = "default_keepalive")]
        keepalive: f64,
        #[serde(default = "default_max_conns")]
        max_conns: usize,
    },
}

fn one() -> u32 {
    1
}
fn default_interval_ms() -> u32 {
    1000
}
fn default_path() -> String {
    "/".into()
}
fn default_keepalive() -> f64 {
    0.8
}
fn default_max_conns() -> usize {
    64
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mode {
    /// One line: what this mode is.
    #[serde(default)]
    pub about: String,
    pub prestop: PreStop,
    /// For `prestop = "sleep"`.
    #[serde(default = "default_prestop_sleep")]
    pub sleep: Dur,
    #[serde(default)]
    pub drain: DrainSettings,
    /// Replaces the scenario's `[topology.haproxy]` for this mode (keys left
    /// out take the defaults, not the scenario's values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haproxy: Option<Haproxy>,
    /// Replaces the scenario's `[topology.envoy]` for this mode (same rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy: Option<Envoy>,
    /// Replaces the scenario's `[[faults]]` for this mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<Fault>>,
    /// Replaces the scenario's `[[load]]` for this mode (e.g. the same load
    /// for as long as this mode's termination takes to settle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Vec<Load>>,
    #[serde(default)]
    pub expect: Expect,
}

fn default_prestop_sleep() -> Dur {
    Dur::secs(15)
}

/// Settings handed to `drain` / the script (their env vars).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrainSettings {
    pub timeout: Dur,
    pub poll_interval: Dur,
    /// `"10s"` or `"auto"`.
    pub lb_buffer: LbBuffer,
    pub lb_buffer_max: Dur,
    pub order: DrainOrder,
    pub zero_on_stats_error: bool,
    pub active_stat: ActiveStat,
    pub min_drain: Option<Dur>,
    /// Point the preStop's `ENVOY_ADMIN` at a port where nothing listens
    /// (the pod's IP, port 1): every admin call and stats read fails.
    pub envoy_admin_unreachable: bool,
}

impl Default for DrainSettings {
    fn default() -> Self {
        DrainSettings {
            timeout: Dur::secs(120),
            poll_interval: Dur::secs(2),
            lb_buffer: LbBuffer::Fixed(Duration::from_secs(10)),
            lb_buffer_max: Dur::secs(10),
            order: DrainOrder::Seed,
            zero_on_stats_error: false,
            active_stat: ActiveStat::Rq,
            min_drain: None,
            envoy_admin_unreachable: false,
        }
    }
}
