//! TLS for `https://` targets (`harness watch` against a real cluster's
//! ingress): which certificates are trusted (the system's roots, plus the
//! `--cacert` file) and the handshake that turns a socket into a TLS
//! stream. HTTP/1.1 only (ALPN `http/1.1`).
//!
//! It never skips verification (there is no "insecure" mode: a watch that
//! proves anything talks to the server its URL names), never connects by
//! itself, and reads no file but the one it is given.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How to speak TLS to one server: its name and the roots it is checked against.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
}

/// Why a TLS client cannot be set up (the caller names the flag).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--cacert {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    #[error("no trusted root certificate: the system has none readable ({0}); give the server's CA with --cacert")]
    NoRoots(String),
    #[error("TLS set-up: {0}")]
    Config(#[from] rustls::Error),
}

impl TlsClient {
    /// Checks `server_name`'s certificate against the system's roots and
    /// the PEM certificates of `cacert`.
    pub fn new(server_name: &str, cacert: Option<&Path>) -> Result<Self, TlsError> {
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TlsError::ServerName(server_name.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = cacert {
            add_pem_file(&mut roots, path)?;
        }
        if roots.is_empty() {
            let why = native
                .errors
                .first()
                .map_or_else(|| "no certificate found".to_string(), |e| e.to_string());
            return Err(TlsError::NoRoots(why));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The TLS handshake over an open socket.
    pub async fn handshake(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(self.server_name.clone(), tcp)
            .await
    }
}

/// Adds every certificate of a PEM file; a file without one is an error.
fn add_pem_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), TlsError> {
    let bad = |reason: String| TlsError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Two clients are the same when they share one configuration.
impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn takes_a_ca_file_and_names() {
        assert!(TlsClient::new("localhost", Some(&fixture("ca.pem"))).is_ok());
        assert!(TlsClient::new("127.0.0.1", Some(&fixture("ca.pem"))).is_ok());
    }

    #[test]
    fn refusals_name_the_culprit() {
        let e = TlsClient::new("localhost", Some(&fixture("README.md"))).unwrap_err();
        assert!(
            e.to_string().starts_with("--cacert ") && e.to_string().contains("no PEM certificate"),
            "{e}"
        );
        let e = TlsClient::new("localhost", Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let e = TlsClient::new("bad name!", None).unwrap_err();
        assert!(matches!(e, TlsError::ServerName(_)), "{e}");
    }
}
