//! Durations as the design writes them: whole seconds (`90`) or with a unit
//! (`90s`, `500ms`, `2m`). Used by every flag and env var that takes a time.
//!
//! Parsing only; never reads the clock.

use std::time::Duration;

/// A duration string that is not `N`, `Ns`, `Nms` or `Nm` with N a non-negative number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected whole seconds (90) or a number with a unit (90s, 500ms, 2m)"
)]
pub struct BadDuration(pub String);

/// Parses `90`, `90s`, `1.5s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, BadDuration> {
    let t = s.trim();
    let bad = || BadDuration(s.to_string());
    let (num, scale_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (t, 1000.0)
    };
    let num = num.trim();
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let v: f64 = num.parse().map_err(|_| bad())?;
    let ms = v * scale_ms;
    if !ms.is_finite() || ms > 1e12 {
        return Err(bad());
    }
    Ok(Duration::from_micros((ms * 1000.0).round() as u64))
}

/// Formats a duration the way [`parse_duration`] reads it back (`1500ms`, `90s`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("90", 90_000)]
    #[case("90s", 90_000)]
    #[case("500ms", 500)]
    #[case("1.5s", 1_500)]
    #[case("2m", 120_000)]
    #[case(" 0 ", 0)]
    fn parses(#[case] s: &str, #[case] ms: u64) {
        assert_eq!(parse_duration(s).unwrap(), Duration::from_millis(ms));
    }

    #[rstest]
    #[case("")]
    #[case("-1")]
    #[case("ten")]
    #[case("5h")]
    #[case("1e9")]
    #[case("s")]
    #[case("1.2.3s")]
    fn rejects(#[case] s: &str) {
        assert!(parse_duration(s).is_err(), "{s:?} accepted");
    }

    proptest! {
        #[test]
        fn format_round_trips(ms in 0u64..10_000_000) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_duration(&s);
        }
    }
}
