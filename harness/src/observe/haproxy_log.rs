//! Reads HAProxy's log lines (stdout, `log stdout format raw`): server state
//! changes (`Server be_app/pod-a is DOWN, reason: ...`) and request lines of
//! `option httplog` with the captured `x-request-id` in braces.
//!
//! Parsing only; never blocks and never panics on a line it does not know.

/// What one HAProxy log line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    /// `Server <backend>/<server> is <state>...`.
    ServerState {
        server: String,
        state: String,
        detail: String,
    },
    /// An `option httplog` request line.
    Request(RequestLog),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub request_id: Option<String>,
    pub backend: String,
    pub server: String,
    pub status: Option<u16>,
    /// The 4-char termination state, e.g. `----`, `SH--`, `DH--`, `SC--`.
    pub termination: String,
}

pub fn parse(line: &str) -> LogLine {
    let line = line.trim();
    if let Some(pos) = line.find("Server ") {
        let rest = &line[pos + 7..];
        if let Some((name, after)) = rest.split_once(" is ") {
            if let Some((_, server)) = name.split_once('/') {
                let (state, detail) = match after.split_once(", ") {
                    Some((s, d)) => (s, d),
                    None => (after.trim_end_matches('.'), ""),
                };
                return LogLine::ServerState {
                    server: server.to_string(),
                    state: state.trim_end_matches('.').to_string(),
                    detail: detail.chars().take(160).collect(),
                };
            }
        }
    }
    if line.starts_with("http ") && line.contains(" srv=") {
        return LogLine::Request(parse_keyed(line));
    }
    let toks: Vec<&str> = line.split_whitespace().collect();
    let Some(bi) = toks.iter().position(|t| {
        t.contains('/')
            && !t.starts_with('"')
            && !t.contains(':')
            && t.split('/').count() == 2
            && !t
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '-')
    }) else {
        return LogLine::Other;
    };
    let (backend, server) = toks[bi].split_once('/').unwrap_or_default();
    // After backend/server: timers, status, bytes, cookies x2, termination state.
    let status = toks.get(bi + 2).and_then(|s| s.parse::<u16>().ok());
    let termination = toks
        .iter()
        .skip(bi + 3)
        .find(|t| t.len() == 4 && t.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
        .map(|s| s.to_string())
        .unwrap_or_default();
    let request_id = toks
        .iter()
        .find(|t| t.starts_with('{') && t.ends_with('}'))
        .map(|t| t.trim_matches(|c| c == '{' || c == '}').to_string())
        .filter(|s| !s.is_empty());
    if status.is_none() && termination.is_empty() {
        return LogLine::Other;
    }
    LogLine::Request(RequestLog {
        request_id,
        backend: backend.to_string(),
        server: server.to_string(),
        status,
        termination,
    })
}

/// The harness's own `log-format` (haproxy/haproxy.cfg.tmpl):
/// `http rid=<id> srv=<server> status=<code> tsc=<state> ... be=<backend> ...`.
fn parse_keyed(line: &str) -> RequestLog {
    let mut r = RequestLog {
        request_id: None,
        backend: String::new(),
        server: String::new(),
        status: None,
        termination: String::new(),
    };
    for tok in line.split_whitespace() {
        let Some((k, v)) = tok.split_once('=') else {
            continue;
        };
        match k {
            "rid" if v != "-" && !v.is_empty() => r.request_id = Some(v.to_string()),
            "srv" => r.server = v.to_string(),
            "status" => r.status = v.parse().ok(),
            "tsc" => r.termination = v.to_string(),
            "be" => r.backend = v.to_string(),
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_down_line() {
        let l = "Server be_app/pod-a is DOWN, reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: 0ms. 1 active and 0 backup servers left.";
        match parse(l) {
            LogLine::ServerState { server, state, .. } => {
                assert_eq!(server, "pod-a");
                assert_eq!(state, "DOWN");
                assert_eq!(
                    crate::model::ServerState::of_log(&state),
                    crate::model::ServerState::Down
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn httplog_request_line() {
        let l = "127.0.0.1:40000 [25/Nov/2026:12:00:00.123] fe be_app/pod-a 0/0/0/-1/23990 502 209 - - DH-- 2/2/1/0/0 0/0 {long-0} \"GET /sleep?seconds=60&pod=pod-a HTTP/1.1\"";
        match parse(l) {
            LogLine::Request(r) => {
                assert_eq!(r.server, "pod-a");
                assert_eq!(r.status, Some(502));
                assert_eq!(r.termination, "DH--");
                assert_eq!(r.request_id.as_deref(), Some("long-0"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keyed_request_line() {
        let l = "http rid=long-0 srv=pod-a status=502 tsc=SH-- bytes=0 TR=0 Tw=0 Tc=0 Tr=-1 Ta=24000 Tt=24000 retries=0 conn=1/1/0/0 queue=0/0 client=127.0.0.1:4000 be=be_app method=GET uri=/sleep accept=1.2";
        match parse(l) {
            LogLine::Request(r) => {
                assert_eq!(r.server, "pod-a");
                assert_eq!(r.status, Some(502));
                assert_eq!(r.termination, "SH--");
                assert_eq!(r.backend, "be_app");
                assert_eq!(r.request_id.as_deref(), Some("long-0"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_other() {
        assert_eq!(parse(""), LogLine::Other);
        assert_eq!(
            parse("[NOTICE] (1) : haproxy version is 2.6"),
            LogLine::Other
        );
    }
}
