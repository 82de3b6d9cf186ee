//! A server's state as HAProxy names it, in its runtime API's `show stat`
//! and in its log lines, and whether HAProxy has let the server go.
//!
//! Plain data; nothing here does I/O.

/// A server's state as HAProxy names it (`show stat` status or log line),
/// by its first word: `DOWN 1/2` is `Down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    Up,
    Down,
    Nolb,
    Drain,
    Maint,
    /// `no check` and anything else.
    Other,
}

impl ServerState {
    pub fn parse(status: &str) -> ServerState {
        let first = status.split_whitespace().next().unwrap_or("");
        match first.to_ascii_uppercase().as_str() {
            "UP" => ServerState::Up,
            "DOWN" => ServerState::Down,
            "NOLB" => ServerState::Nolb,
            "DRAIN" => ServerState::Drain,
            "MAINT" => ServerState::Maint,
            _ => ServerState::Other,
        }
    }

    /// The state a HAProxy log line's `state` announces (`DOWN`, `going
    /// DOWN for maintenance`, `UP`, `stopping`, ...).
    pub fn of_log(state: &str) -> ServerState {
        let s = state.to_ascii_lowercase();
        if s.starts_with("down") || s.contains("going down") {
            ServerState::Down
        } else if s.starts_with("up") {
            ServerState::Up
        } else if s.contains("stopping") || s.contains("nolb") || s.contains("drain") {
            ServerState::Nolb
        } else {
            ServerState::Other
        }
    }

    /// HAProxy sends this server no new requests.
    pub fn is_released(self) -> bool {
        matches!(
            self,
            ServerState::Down | ServerState::Nolb | ServerState::Drain | ServerState::Maint
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_states() {
        assert_eq!(ServerState::of_log("DOWN"), ServerState::Down);
        assert_eq!(
            ServerState::of_log("going DOWN for maintenance"),
            ServerState::Down
        );
        assert_eq!(ServerState::of_log("UP"), ServerState::Up);
        assert_eq!(ServerState::of_log("stopping"), ServerState::Nolb);
        assert_eq!(ServerState::of_log("weird"), ServerState::Other);
    }
}
