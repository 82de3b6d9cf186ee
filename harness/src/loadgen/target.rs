//! An `http://HOST[:PORT]/PATH` URL as the load generator aims at it: the
//! address it resolves to, the `Host` header it sends, and the path (with
//! its query). Shared by `harness load` (loopback only) and `harness watch`
//! (any address).
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
}

/// Why a URL cannot be a target (the caller names the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("https:// is not supported: the load generator speaks plain HTTP/1.1 (aim it at an http:// address: the ingress's or the load balancer's plain port, or a `kubectl port-forward`)")]
    Https,
    #[error("only http:// URLs are supported")]
    NotHttp,
    #[error("expected http://HOST:PORT/PATH")]
    Malformed,
    #[error("cannot resolve {authority}: {reason}")]
    Resolve { authority: String, reason: String },
}

/// Parses `url` and resolves its host (the first address).
pub fn parse_target(url: &str) -> Result<HttpTarget, TargetError> {
    if url.starts_with("https://") {
        return Err(TargetError::Https);
    }
    let rest = url.strip_prefix("http://").ok_or(TargetError::NotHttp)?;
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
        format!("{authority}:80")
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
    Ok(HttpTarget {
        addr,
        host: authority.to_string(),
        path,
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
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            parse_target("https://web.example/"),
            Err(TargetError::Https)
        );
        assert_eq!(parse_target("ftp://x/"), Err(TargetError::NotHttp));
        assert_eq!(parse_target("http:///x"), Err(TargetError::Malformed));
        assert!(matches!(
            parse_target("http://127.0.0.1:99999/"),
            Err(TargetError::Resolve { .. })
        ));
    }
}
