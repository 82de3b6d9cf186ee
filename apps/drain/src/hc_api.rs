//! Calls to hc: the transitions (`/drain`, `/close-lb`, `/close`) and
//! `/drain/status`, each read into what the drain decides on.
//!
//! It must never retry or wait on its own: one call, one answer.

use gate::{DrainStatus, State, TransitionReply};

use crate::call::Caller;

/// What a transition call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// 2xx: hc is now in `state` (as hc named it).
    Done { status: u16, state: String },
    /// 409: hc refused; `state` is its current state when the body said so.
    Refused { state: Option<String> },
    /// No usable answer (connection error, timeout, other status).
    Failed(String),
}

impl Transition {
    /// Whether a 409 only says hc is already at or past `target` in the drain
    /// order (a re-run, not an operator's reopen).
    pub fn already_past(&self, target: State) -> bool {
        let Transition::Refused { state: Some(s) } = self else {
            return false;
        };
        match State::parse_any(s) {
            Ok(st) => st != State::Fault && st >= target,
            Err(_) => false,
        }
    }
}

fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// `POST <hc>/<path>`.
pub async fn transition(caller: &Caller, hc_url: &str, path: &str) -> Transition {
    match caller.post(&url(hc_url, path)).await {
        Ok(a) if (200..300).contains(&a.status) => {
            let state = serde_json::from_slice::<TransitionReply>(&a.body)
                .map(|r| r.state)
                .unwrap_or_else(|_| {
                    String::from_utf8_lossy(&a.body)
                        .trim()
                        .chars()
                        .take(40)
                        .collect()
                });
            Transition::Done {
                status: a.status,
                state,
            }
        }
        Ok(a) if a.status == 409 => Transition::Refused {
            state: serde_json::from_slice::<TransitionReply>(&a.body)
                .ok()
                .map(|r| r.state),
        },
        Ok(a) => Transition::Failed(format!(
            "HTTP {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
                .trim()
                .chars()
                .take(80)
                .collect::<String>()
        )),
        Err(e) => Transition::Failed(e.to_string()),
    }
}

/// `GET <hc>/drain/status`.
pub async fn status(caller: &Caller, hc_url: &str) -> Result<DrainStatus, String> {
    let a = caller
        .get(&url(hc_url, "/drain/status"))
        .await
        .map_err(|e| e.to_string())?;
    if a.status != 200 {
        return Err(format!("HTTP {}", a.status));
    }
    serde_json::from_slice(&a.body).map_err(|e| format!("bad /drain/status JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Some("CLOSING"), State::Closing, true)]
    #[case(Some("CLOSED"), State::Closing, true)]
    #[case(Some("TERMINATING"), State::Closing, true)]
    #[case(Some("OPEN"), State::Closing, false)]
    #[case(Some("READY"), State::Closed, false)]
    #[case(Some("FAULT"), State::Closed, false)]
    #[case(Some("DRAINING"), State::Draining, true)]
    #[case(Some("bogus"), State::Closing, false)]
    #[case(None, State::Closing, false)]
    fn already_past(#[case] state: Option<&str>, #[case] target: State, #[case] want: bool) {
        let t = Transition::Refused {
            state: state.map(str::to_string),
        };
        assert_eq!(t.already_past(target), want);
    }
}
