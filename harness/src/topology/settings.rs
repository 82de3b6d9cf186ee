//! The scenario-facing topology settings (serde, `Default` = the seed's)
//! and their validation.
//!
//! Data only: it must never render or start anything.

use serde::{Deserialize, Serialize};

pub use crate::scenario::{DrainStrategy, LbSignal};

use super::{pod_addrs, PodAddrs, TopologyError};

/// Topology settings of a scenario; `Default` is the seed's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopologySettings {
    /// Number of pods (named pod-a, pod-b, ...).
    pub pods: usize,
    pub haproxy: HaproxySettings,
    pub envoy: EnvoySettings,
}

impl Default for TopologySettings {
    fn default() -> Self {
        TopologySettings {
            pods: 2,
            haproxy: HaproxySettings::default(),
            envoy: EnvoySettings::default(),
        }
    }
}

/// HAProxy's settings. Defaults: the seed (`inter 2s fall 2 rise 2`,
/// `on-marked-down shutdown-sessions`) and, where the seed says nothing,
/// HAProxy's own defaults (`retries 3`, no `option redispatch`, no
/// `retry-on`, i.e. connection failures only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaproxySettings {
    pub inter_ms: u64,
    pub fall: u32,
    pub rise: u32,
    pub on_marked_down_shutdown_sessions: bool,
    pub retries: u32,
    pub redispatch: bool,
    /// `retry-on` keywords, e.g. `"conn-failure empty-response 503"`.
    pub retry_on: Option<String>,
    pub timeout_connect_ms: u64,
    /// Must exceed the scenario's longest request.
    pub timeout_server_s: u64,
    /// Must exceed the scenario's longest request.
    pub timeout_client_s: u64,
    /// What hc answers to let the LB go: 503 (fail `fall` checks) or 404
    /// (`http-check disable-on-404`: NOLB at the first 404).
    pub lb_signal: LbSignal,
    /// Also run HAProxy's `agent-check` against hc's agent port.
    pub agent_check: bool,
    pub agent_inter_ms: u64,
    /// Source address of this HAProxy's connections and checks (`source` on
    /// every server), so several HAProxies are told apart by hc.
    pub source: Option<std::net::Ipv4Addr>,
}

impl Default for HaproxySettings {
    fn default() -> Self {
        HaproxySettings {
            inter_ms: 2000,
            fall: 2,
            rise: 2,
            on_marked_down_shutdown_sessions: true,
            retries: 3,
            redispatch: false,
            retry_on: None,
            timeout_connect_ms: 2000,
            timeout_server_s: 660,
            timeout_client_s: 660,
            lb_signal: LbSignal::Status503,
            agent_check: false,
            agent_inter_ms: 1000,
            source: None,
        }
    }
}

/// Envoy's settings (defaults: Envoy's own drain defaults, stats limited the
/// way the homelab's Istio limited them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvoySettings {
    pub drain_strategy: DrainStrategy,
    /// `--drain-time-s`.
    pub drain_time_s: u64,
    /// Keep only the inbound listener's and cluster's stats (no `http.admin.*`).
    pub limit_stats_like_istio: bool,
    /// How long Envoy holds a `/slow/...` request (fault filter) before it
    /// forwards it upstream as `/...`.
    pub slow_delay_ms: u64,
}

impl Default for EnvoySettings {
    fn default() -> Self {
        EnvoySettings {
            drain_strategy: DrainStrategy::Gradual,
            drain_time_s: 600,
            limit_stats_like_istio: true,
            slow_delay_ms: 20,
        }
    }
}

impl TopologySettings {
    /// Checks what HAProxy or Envoy would reject or what makes no sense.
    pub fn validate(&self) -> Result<(), TopologyError> {
        let bad = |m: String| Err(TopologyError::Invalid(m));
        let h = &self.haproxy;
        if self.pods == 0 || self.pods > 254 {
            return bad(format!("pods = {} (1..=254)", self.pods));
        }
        if h.inter_ms == 0 || h.fall == 0 || h.rise == 0 || h.agent_inter_ms == 0 {
            return bad("haproxy.inter_ms, fall, rise and agent_inter_ms must be > 0".into());
        }
        if h.timeout_server_s == 0 || h.timeout_client_s == 0 || h.timeout_connect_ms == 0 {
            return bad("haproxy timeouts must be > 0".into());
        }
        if let Some(r) = &h.retry_on {
            if r.trim().is_empty() || r.contains(['\n', '#', '"']) {
                return bad(format!("haproxy.retry_on = {r:?}"));
            }
        }
        Ok(())
    }

    /// The pods' addresses on `127.0.<net>.N`.
    pub fn pod_addrs(&self, net: u8) -> Vec<PodAddrs> {
        pod_addrs(self.pods, net)
    }
}
