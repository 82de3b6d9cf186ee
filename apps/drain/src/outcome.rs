//! How a drain ended and the exit code it maps to (DESIGN §2.3 step 7).
//!
//! Plain data; it must never do I/O.

use std::time::Duration;

/// The result of one drain run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The active count was read as 0 before the deadline.
    pub drained: bool,
    /// At least one hc call failed (the sequence went on).
    pub hc_failed: bool,
    /// Stopped because hc was reopened (a 409 from `/close-lb` or `/close`).
    pub aborted: bool,
    pub elapsed: Duration,
}

impl Outcome {
    /// 5 aborted, else 3 not drained, else 4 an hc call failed, else 0.
    /// (Requests possibly lost outrank a failed hc call.)
    pub fn exit_code(&self) -> i32 {
        if self.aborted {
            5
        } else if !self.drained {
            3
        } else if self.hc_failed {
            4
        } else {
            0
        }
    }

    /// The seed's last line, `[done] preStop completed in Ns` (whole seconds).
    pub fn done_line(&self) -> String {
        format!("[done] preStop completed in {}s", self.elapsed.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(true, false, false, 0)]
    #[case(true, true, false, 4)]
    #[case(false, false, false, 3)]
    #[case(false, true, false, 3)]
    #[case(true, false, true, 5)]
    #[case(false, true, true, 5)]
    fn exit_codes(
        #[case] drained: bool,
        #[case] hc_failed: bool,
        #[case] aborted: bool,
        #[case] code: i32,
    ) {
        let o = Outcome {
            drained,
            hc_failed,
            aborted,
            elapsed: Duration::from_millis(2_900),
        };
        assert_eq!(o.exit_code(), code);
        assert_eq!(o.done_line(), "[done] preStop completed in 2s");
    }
}
