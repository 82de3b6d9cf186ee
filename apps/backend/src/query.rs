//! Query-string parameters of `/sleep` and `/stream`: parsing and range
//! checks, with a one-line reason naming the parameter when one is bad.
//!
//! Pure functions only; it must never touch the network or the clock.

use std::fmt;

/// Longest and shortest `seconds` a request may ask for.
pub const MAX_SECONDS: u64 = 600;
/// Longest `interval_ms` a stream may ask for (10 minutes).
pub const MAX_INTERVAL_MS: u64 = 600_000;

/// A parameter that is present but not an integer in its range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for BadParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep the reason one line, whatever the client sent.
        let shown: String = self
            .value
            .chars()
            .take(64)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        write!(
            f,
            "bad query parameter {}={:?}: expected {}",
            self.name, shown, self.expected
        )
    }
}

impl std::error::Error for BadParam {}

/// What `/sleep` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SleepParams {
    pub seconds: u64,
}

/// What `/stream` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    pub seconds: u64,
    pub interval_ms: u64,
}

impl StreamParams {
    /// How many lines a complete stream has: ceil(seconds × 1000 / interval_ms).
    pub fn line_count(&self) -> u64 {
        (self.seconds * 1000).div_ceil(self.interval_ms)
    }
}

/// Parses `/sleep`'s query (`seconds`, default 1); other parameters are ignored.
pub fn sleep_params(query: Option<&str>) -> Result<SleepParams, BadParam> {
    let seconds = int_param(query, "seconds", 1, 0, MAX_SECONDS, "an integer in 0..=600")?;
    Ok(SleepParams { seconds })
}

/// Parses `/stream`'s query (`seconds` default 30, `interval_ms` default 1000).
pub fn stream_params(query: Option<&str>) -> Result<StreamParams, BadParam> {
    let seconds = int_param(
        query,
        "seconds",
        30,
        0,
        MAX_SECONDS,
        "an integer in 0..=600",
    )?;
    let interval_ms = int_param(
        query,
        "interval_ms",
        1000,
        1,
        MAX_INTERVAL_MS,
        "an integer in 1..=600000",
    )?;
    Ok(StreamParams {
        seconds,
        interval_ms,
    })
}

/// One integer parameter: absent → `default`; present more than once, empty,
/// not all ASCII digits, or outside `min..=max` → [`BadParam`].
fn int_param(
    query: Option<&str>,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
    expected: &'static str,
) -> Result<u64, BadParam> {
    let mut values = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    let Some(raw) = values.next() else {
        return Ok(default);
    };
    let bad = |value: String, expected: &'static str| BadParam {
        name,
        value,
        expected,
    };
    if values.next().is_some() {
        return Err(bad(raw, "the parameter once, not repeated"));
    }
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(raw, expected));
    }
    match raw.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(bad(raw, expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case(None, 1)]
    #[case(Some(""), 1)]
    #[case(Some("seconds=0"), 0)]
    #[case(Some("seconds=600"), 600)]
    #[case(Some("pod=pod-a&seconds=7"), 7)]
    #[case(Some("seconds=%31%32"), 12)]
    #[case(Some("seconds=007"), 7)]
    #[case(Some("other=x&&=&seconds=3&"), 3)]
    fn sleep_accepts(#[case] q: Option<&str>, #[case] want: u64) {
        assert_eq!(sleep_params(q).unwrap().seconds, want);
    }

    #[rstest]
    #[case("seconds=")]
    #[case("seconds=-1")]
    #[case("seconds=601")]
    #[case("seconds=1.5")]
    #[case("seconds=+5")]
    #[case("seconds=abc")]
    #[case("seconds=1e3")]
    #[case("seconds=%FF")]
    #[case("seconds=99999999999999999999999")]
    #[case("seconds=1&seconds=2")]
    fn sleep_rejects(#[case] q: &str) {
        let e = sleep_params(Some(q)).unwrap_err();
        assert_eq!(e.name, "seconds");
        let line = e.to_string();
        assert!(line.contains("seconds"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[rstest]
    #[case(None, 30, 1000, 30)]
    #[case(Some("seconds=1&interval_ms=300"), 1, 300, 4)]
    #[case(Some("seconds=0&interval_ms=5"), 0, 5, 0)]
    #[case(Some("seconds=2&interval_ms=1000"), 2, 1000, 2)]
    #[case(Some("seconds=1&interval_ms=1"), 1, 1, 1000)]
    #[case(Some("seconds=1&interval_ms=600000"), 1, 600_000, 1)]
    fn stream_accepts(#[case] q: Option<&str>, #[case] s: u64, #[case] m: u64, #[case] lines: u64) {
        let p = stream_params(q).unwrap();
        assert_eq!((p.seconds, p.interval_ms, p.line_count()), (s, m, lines));
    }

    #[rstest]
    #[case("interval_ms=0", "interval_ms")]
    #[case("interval_ms=600001", "interval_ms")]
    #[case("interval_ms=x", "interval_ms")]
    #[case("seconds=700", "seconds")]
    fn stream_rejects(#[case] q: &str, #[case] name: &str) {
        assert_eq!(stream_params(Some(q)).unwrap_err().name, name);
    }

    proptest! {
        #[test]
        fn never_panics_and_reason_is_one_line(q in "\\PC*") {
            if let Err(e) = stream_params(Some(&q)) {
                prop_assert!(!e.to_string().contains('\n'));
            }
            let _ = sleep_params(Some(&q));
        }

        #[test]
        fn in_range_round_trips(s in 0u64..=600, m in 1u64..=600_000) {
            let q = format!("interval_ms={m}&x=y&seconds={s}");
            let p = stream_params(Some(&q)).unwrap();
            prop_assert_eq!((p.seconds, p.interval_ms), (s, m));
            // Every line is sent strictly before the end, and one more would not be.
            let n = p.line_count();
            prop_assert!(n == 0 || (n - 1) * m < s * 1000);
            prop_assert!(n * m >= s * 1000);
        }
    }
}
