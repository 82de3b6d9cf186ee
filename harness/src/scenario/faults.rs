//! The fault schedule of a scenario: what is done to the system, and when
//! (offsets from the start of the load). One `[[faults]]` entry holds exactly
//! one action key.
//!
//! Types and their checks only; the run carries them out.

use serde::{Deserialize, Serialize};

use super::dur::Dur;
use super::values::{Container, FaultSignal};

/// Something done to the system at a moment of the run. Exactly one of
/// `terminate`, `kill`, `hc_fault`, `hc_reopen`, `rolling_restart`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Offset from the start of the load.
    pub at: Dur,
    /// Delete the pod: kubelet's termination sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate: Option<String>,
    /// Send `signal` to `process` of this pod (no kubelet involved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<String>,
    /// With `kill`: `backend`, `hc` or `envoy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Container>,
    /// With `kill`: `SIGKILL` (default), `SIGTERM`, `SIGSTOP`, `SIGCONT`, `SIGINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<FaultSignal>,
    /// `POST /fault` on this pod's hc (any state -> FAULT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hc_fault: Option<String>,
    /// `POST /reopen` on this pod's hc (operator abort of a drain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hc_reopen: Option<String>,
    /// Terminate these pods one after another; each comes back (same name and
    /// address, like a StatefulSet pod) and the next goes only once HAProxy
    /// has the new one UP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_restart: Option<Vec<String>>,
    /// With `rolling_restart`: pause after a pod is back UP before the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Dur>,
}

/// The one thing a [`Fault`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    Terminate(String),
    Kill {
        pod: String,
        process: Container,
        signal: FaultSignal,
    },
    HcFault(String),
    HcReopen(String),
    Rolling {
        pods: Vec<String>,
        pause: Dur,
    },
}

impl Fault {
    /// The action, or a one-line error naming the key (`faults[i].<key>`).
    pub fn action(&self, i: usize) -> Result<FaultAction, String> {
        let at = format!("faults[{i}]");
        let given: Vec<&str> = [
            ("terminate", self.terminate.is_some()),
            ("kill", self.kill.is_some()),
            ("hc_fault", self.hc_fault.is_some()),
            ("hc_reopen", self.hc_reopen.is_some()),
            ("rolling_restart", self.rolling_restart.is_some()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
        if given.len() != 1 {
            return Err(format!(
                "key `{at}`: exactly one of terminate, kill, hc_fault, hc_reopen, rolling_restart (found {})",
                if given.is_empty() { "none".to_string() } else { given.join(", ") }
            ));
        }
        if self.kill.is_none() && (self.process.is_some() || self.signal.is_some()) {
            return Err(format!(
                "key `{at}.process`/`{at}.signal`: only with `kill`"
            ));
        }
        if self.rolling_restart.is_none() && self.pause.is_some() {
            return Err(format!("key `{at}.pause`: only with `rolling_restart`"));
        }
        Ok(if let Some(p) = &self.terminate {
            FaultAction::Terminate(p.clone())
        } else if let Some(p) = &self.kill {
            let process = self.process.ok_or_else(|| {
                format!("key `{at}.process`: `kill` needs a process (backend, hc or envoy)")
            })?;
            FaultAction::Kill {
                pod: p.clone(),
                process,
                signal: self.signal.unwrap_or_default(),
            }
        } else if let Some(p) = &self.hc_fault {
            FaultAction::HcFault(p.clone())
        } else if let Some(p) = &self.hc_reopen {
            FaultAction::HcReopen(p.clone())
        } else {
            let pods = self.rolling_restart.clone().unwrap_or_default();
            if pods.is_empty() {
                return Err(format!("key `{at}.rolling_restart`: name at least one pod"));
            }
            FaultAction::Rolling {
                pods,
                pause: self.pause.unwrap_or_default(),
            }
        })
    }

    /// Every pod the fault names.
    pub fn pods(&self) -> Vec<&str> {
        let mut v: Vec<&str> = [&self.terminate, &self.kill, &self.hc_fault, &self.hc_reopen]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if let Some(r) = &self.rolling_restart {
            v.extend(r.iter().map(String::as_str));
        }
        v
    }

    /// The pods kubelet terminates because of this fault, in order.
    pub fn terminated_pods(&self) -> Vec<&str> {
        match (&self.terminate, &self.rolling_restart) {
            (Some(p), _) => vec![p.as_str()],
            (None, Some(r)) => r.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(toml_text: &str) -> Fault {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn one_action_each() {
        assert_eq!(
            f("at = 1\nterminate = \"pod-a\"").action(0).unwrap(),
            FaultAction::Terminate("pod-a".into())
        );
        assert_eq!(
            f("at = 1\nkill = \"pod-a\"\nprocess = \"envoy\"\nsignal = \"stop\"")
                .action(0)
                .unwrap(),
            FaultAction::Kill {
                pod: "pod-a".into(),
                process: Container::Envoy,
                signal: FaultSignal::Stop
            }
        );
        let e = f("at = 1\nterminate = \"pod-a\"\nhc_fault = \"pod-a\"")
            .action(3)
            .unwrap_err();
        assert!(
            e.contains("faults[3]") && e.contains("terminate, hc_fault"),
            "{e}"
        );
        let e = f("at = 1").action(0).unwrap_err();
        assert!(e.contains("none"), "{e}");
        let e = toml::from_str::<Fault>("at = 1\nkill = \"pod-a\"\nprocess = \"nginx\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `nginx`"), "{e}");
        let e = f("at = 1\nkill = \"pod-a\"").action(0).unwrap_err();
        assert!(e.contains("faults[0].process"), "{e}");
        let e = f("at = 1\nterminate = \"pod-a\"\nsignal = \"KILL\"")
            .action(0)
            .unwrap_err();
        assert!(e.contains("only with `kill`"), "{e}");
    }
}
