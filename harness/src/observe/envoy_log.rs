//! Reads the Envoy sidecar's access log (its stdout; format in
//! envoy/envoy.yaml.tmpl): `access rid=<x-request-id> status=<code>
//! flags=<%RESPONSE_FLAGS%> details=<..> upstream=<host:port> duration_ms=<n>
//! bytes=<n> start=<epoch s.ms> method=<m> path=<p>`, one line per request,
//! written when the request ends.
//!
//! Parsing only; never blocks and never panics on a line it does not know
//! (proptest below feeds it garbage). Which pod a line belongs to is known
//! by whoever reads that pod's Envoy, not by the line.

/// One access log line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvoyLog {
    pub request_id: Option<String>,
    /// `%RESPONSE_CODE%`; `None` for 0 (no response was sent).
    pub status: Option<u16>,
    /// `%RESPONSE_FLAGS%` (`UC`, `UF`, `UH`, `URX`, `DC`, `LR`, comma
    /// separated); empty when Envoy wrote `-` (no flag).
    pub flags: String,
    /// `%RESPONSE_CODE_DETAILS%`, e.g. `upstream_reset_before_response_started{connection_termination}`.
    pub details: String,
    /// `%UPSTREAM_HOST%`, e.g. `127.0.10.1:8080`; `None` for `-`.
    pub upstream: Option<String>,
    pub duration_ms: Option<u64>,
    /// `%START_TIME%` as Unix epoch ms.
    pub start_epoch_ms: Option<f64>,
}

impl EnvoyLog {
    /// When Envoy ended the request (epoch ms): start + duration.
    pub fn end_epoch_ms(&self) -> Option<f64> {
        self.start_epoch_ms
            .map(|s| s + self.duration_ms.unwrap_or(0) as f64)
    }

    /// The flags as the requests.csv column writes them: Envoy's own `-` for
    /// a line without flags.
    pub fn flags_column(&self) -> &str {
        if self.flags.is_empty() {
            "-"
        } else {
            &self.flags
        }
    }
}

/// `Some` for an access log line, `None` for anything else Envoy prints.
pub fn parse(line: &str) -> Option<EnvoyLog> {
    let rest = line.trim().strip_prefix("access ")?;
    let known = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty() && v != "-");
    let mut r = EnvoyLog::default();
    let mut seen = false;
    for tok in rest.split_whitespace() {
        let Some((k, v)) = tok.split_once('=') else {
            continue;
        };
        match k {
            "rid" => {
                r.request_id = known(v);
                seen = true;
            }
            "status" => r.status = v.parse().ok().filter(|s| *s != 0),
            "flags" => r.flags = known(v).unwrap_or_default(),
            "details" => r.details = known(v).unwrap_or_default(),
            "upstream" => r.upstream = known(v),
            "duration_ms" => r.duration_ms = v.parse().ok(),
            "start" => {
                r.start_epoch_ms = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite())
                    .map(|s| s * 1000.0)
            }
            _ => {}
        }
    }
    seen.then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_upstream_reset_line() {
        let l = "access rid=long-0 status=503 flags=UC details=upstream_reset_before_response_started{connection_termination} upstream=127.0.10.1:8080 duration_ms=21377 bytes=95 start=1796292017.854 method=GET path=/sleep?seconds=60";
        let r = parse(l).expect("an access line");
        assert_eq!(r.request_id.as_deref(), Some("long-0"));
        assert_eq!(r.status, Some(503));
        assert_eq!(r.flags_column(), "UC");
        assert_eq!(r.upstream.as_deref(), Some("127.0.10.1:8080"));
        assert_eq!(r.end_epoch_ms(), Some(1_796_292_017_854.0 + 21_377.0));
    }

    #[test]
    fn a_downstream_close_has_no_status_and_dashes_are_empty() {
        let l = "access rid=steady-3 status=0 flags=DC details=downstream_remote_disconnect upstream=- duration_ms=3 bytes=0 start=1.5 method=GET path=/";
        let r = parse(l).unwrap();
        assert_eq!(r.status, None);
        assert_eq!(r.flags, "DC");
        assert_eq!(r.upstream, None);
        let ok = parse("access rid=- status=200 flags=- upstream=- start=-").unwrap();
        assert_eq!((ok.request_id.as_deref(), ok.flags_column()), (None, "-"));
        assert_eq!(ok.start_epoch_ms, None);
    }

    #[test]
    fn other_lines_are_none() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("[2026-12-03 10:00:00.000][1][warning][main] x"), None);
        assert_eq!(parse("access"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_mangled_access_lines(v in "[ -~]{0,24}") {
            let l = format!("access rid={v} status={v} flags={v} upstream={v} duration_ms={v} start={v}");
            let _ = parse(&l);
        }
    }
}
