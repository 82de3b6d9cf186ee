//! Scenario text the harness's tests start from (and mutate one key at a
//! time): the smallest scenario the parser accepts with one load phase, one
//! termination and one drain-based mode.

/// A minimal valid scenario: id `t`, steady load, `pod-a` terminated at 2 s,
/// mode `graceful` with the `drain` preStop.
pub const MINIMAL_SCENARIO: &str = r#"
id = "t"
purpose = "test"
[[load]]
kind = "steady"
rate = 5.0
duration = "10s"
[[faults]]
at = "2s"
terminate = "pod-a"
[modes.graceful]
prestop = "drain"
"#;
