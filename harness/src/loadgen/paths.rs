//! The request paths the load generator sends, and what each one promises
//! (how long it should take, what a complete answer looks like).
//!
//! Pure string work: never does I/O.

use std::time::Duration;

use super::classify::Expect;

/// The backend's defaults (DESIGN §2.1).
const SLEEP_DEFAULT_S: u64 = 1;
const STREAM_DEFAULT_S: u64 = 30;
const STREAM_DEFAULT_INTERVAL_MS: u64 = 1000;

/// `/sleep?seconds=S`, pinned to `pod` when given.
pub fn sleep(seconds: u32, pod: Option<&str>) -> String {
    pin(&format!("/sleep?seconds={seconds}"), pod)
}

/// `/stream?seconds=S&interval_ms=M`, pinned to `pod` when given.
pub fn stream(seconds: u32, interval_ms: u32, pod: Option<&str>) -> String {
    pin(
        &format!("/stream?seconds={seconds}&interval_ms={interval_ms}"),
        pod,
    )
}

/// Appends `pod=<name>` (HAProxy routes on `urlp(pod)`).
pub fn pin(path: &str, pod: Option<&str>) -> String {
    match pod {
        None => path.to_string(),
        Some(pod) if path.contains('?') => format!("{path}&pod={pod}"),
        Some(pod) => format!("{path}?pod={pod}"),
    }
}

/// The path without its query.
pub fn route(path: &str) -> &str {
    path.split_once('?').map_or(path, |(r, _)| r)
}

/// The value of query parameter `key`, when present.
pub fn query_param<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn query_u64(path: &str, key: &str, default: u64) -> u64 {
    query_param(path, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How long the backend takes to answer `path` completely (0 for short paths).
pub fn expected_duration(path: &str) -> Duration {
    match route(path) {
        "/sleep" => Duration::from_secs(query_u64(path, "seconds", SLEEP_DEFAULT_S)),
        "/stream" => Duration::from_secs(query_u64(path, "seconds", STREAM_DEFAULT_S)),
        _ => Duration::ZERO,
    }
}

/// What a complete answer to `path` looks like: `slept Ns` for `/sleep`, `ok`
/// for `/`, ceil(S × 1000 / M) lines for `/stream`, any body otherwise.
pub fn expect(path: &str) -> Expect {
    match route(path) {
        "/sleep" => {
            let s = query_u64(path, "seconds", SLEEP_DEFAULT_S);
            Expect::Body {
                min_bytes: format!("slept {s}s").len() as u64,
            }
        }
        "/" => Expect::Body { min_bytes: 2 },
        "/stream" => {
            let s = query_u64(path, "seconds", STREAM_DEFAULT_S);
            let m = query_u64(path, "interval_ms", STREAM_DEFAULT_INTERVAL_MS).max(1);
            let lines = (s * 1000).div_ceil(m);
            Expect::Stream {
                lines: u32::try_from(lines).unwrap_or(u32::MAX),
            }
        }
        _ => Expect::Body { min_bytes: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(sleep(60, None), "/sleep?seconds=60")]
    #[case(sleep(60, Some("pod-a")), "/sleep?seconds=60&pod=pod-a")]
    #[case(
        stream(5, 250, Some("pod-b")),
        "/stream?seconds=5&interval_ms=250&pod=pod-b"
    )]
    #[case(pin("/", Some("pod-a")), "/?pod=pod-a")]
    fn builds_paths(#[case] got: String, #[case] want: &str) {
        assert_eq!(got, want);
    }

    #[rstest]
    #[case("/sleep?seconds=60&pod=pod-a", 60_000, Expect::Body { min_bytes: 9 })]
    #[case("/sleep", 1_000, Expect::Body { min_bytes: 8 })]
    #[case("/", 0, Expect::Body { min_bytes: 2 })]
    #[case("/stream?seconds=2&interval_ms=300", 2_000, Expect::Stream { lines: 7 })]
    #[case("/stream?seconds=3&interval_ms=1000", 3_000, Expect::Stream { lines: 3 })]
    #[case("/stream?interval_ms=0&seconds=1", 1_000, Expect::Stream { lines: 1000 })]
    #[case("/health", 0, Expect::Body { min_bytes: 0 })]
    fn knows_what_a_path_promises(#[case] path: &str, #[case] ms: u64, #[case] want: Expect) {
        assert_eq!(expected_duration(path), Duration::from_millis(ms));
        assert_eq!(expect(path), want);
    }
}
