//! An `http(s)://HOST[:PORT]/PATH` URL as the load generator aims at it:
//! the address it resolves to, the `Host` header it sends, the path (with
//! its query), and for `https://` the name its certificate must carry.
//! Shared by `harness load` (plain http, loopback only) and `harness watch`
//! (any address, http or https).
//!
//! Parsing and one name resolution; it never connects.

use std::net::{SocketAddr, ToSocketAddrs};

/// Where the load goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub addr: SocketAddr,
    /// `HOST[:PORT]` as the URL wrote it (the `Host` header).
    pub host: String,
    /// The path and query, `/` when the URL has none.
    pub path: String,
    /// `https://`: the TLS server name (the host without port or brackets).
    pub tls_name: Option<String>,
}

/// Why a URL cannot be a target (the caller names the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("only http:// and https:// URLs are supported")]
    NotHttp,
    #[error("expected http(s)://HOST:PORT/PATH")]
    Malformed,
    #[error("cannot resolve {authority}: {reason}")]
    Resolve { authority: String, reason: String },
}

/// Parses `url` and resolves its host (the first address).
pub fn parse_target(url: &str) -> Result<HttpTarget, TargetError> {
    let (rest, tls, default_port) = if let Some(rest) = url.strip_prefix("http://") {
        (rest, false, 80)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (rest, true, 443)
    } else {
        return Err(TargetError::NotHttp);
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(TargetError::Malformed);
    }
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !authority.ends_with(']')
    });
    let with_port = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    let resolve = |reason: String| TargetError::Resolve {
        authority: authority.to_string(),
        reason,
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| resolve(e.to_string()))?
        .next()
        .ok_or_else(|| resolve("no address".into()))?;
    let tls_name = tls.then(|| {
        let host = if has_port {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        } else {
            authority
        };
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    });
    Ok(HttpTarget {
        addr,
        host: authority.to_string(),
        path,
        tls_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_and_path() {
        let t = parse_target("http://127.0.0.1:8080/sleep?seconds=1").unwrap();
        assert_eq!(t.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(t.host, "127.0.0.1:8080");
        assert_eq!(t.path, "/sleep?seconds=1");
        let t = parse_target("http://localhost?x=1").unwrap();
        assert_eq!(
            (t.addr.port(), t.host.as_str(), t.path.as_str()),
            (80, "localhost", "/?x=1")
        );
        assert_eq!(t.tls_name, None);
    }

    #[test]
    fn https_names_the_server_and_defaults_to_443() {
        let t = parse_target("https://localhost/health").unwrap();
        assert_eq!(
            (t.addr.port(), t.host.as_str(), t.path.as_str()),
            (443, "localhost", "/health")
        );
        assert_eq!(t.tls_name.as_deref(), Some("localhost"));
        let t = parse_target("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            (t.addr.port(), t.tls_name.as_deref()),
            (8443, Some("127.0.0.1"))
        );
        let t = parse_target("https://[::1]:8443/").unwrap();
        assert_eq!(t.tls_name.as_deref(), Some("::1"));
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(parse_target("ftp://x/"), Err(TargetError::NotHttp));
        assert_eq!(parse_target("https:///x"), Err(TargetError::Malformed));
        assert_eq!(parse_target("http:///x"), Err(TargetError::Malformed));
        assert!(matches!(
            parse_target("http://127.0.0.1:99999/"),
            Err(TargetError::Resolve { .. })
        ));
    }
}
