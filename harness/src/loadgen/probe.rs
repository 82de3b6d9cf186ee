//! The one request `harness watch` sends before it starts anything: does
//! the URL answer, and with which status. It goes through the load's own
//! connection code (and TLS), so a URL the load could not use fails here,
//! before the command under watch runs.
//!
//! One connection, one request, its head only, within a deadline; never a retry.

use std::time::{Duration, Instant};

use super::client::Connector;
use super::target::HttpTarget;
use super::tls::TlsClient;

/// The status of `GET target.path`, or why there was none within `deadline`.
pub async fn probe(
    target: &HttpTarget,
    tls: Option<TlsClient>,
    deadline: Duration,
) -> Result<u16, String> {
    let t = Instant::now();
    let connector = Connector::new(target.addr, Some(target.host.clone()), tls);
    let answer = async {
        let mut conn = connector.connect(None).await.map_err(|e| e.text)?;
        conn.head(&target.host, &target.path, "probe-0").await
    };
    match tokio::time::timeout(deadline, answer).await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(why)) => Err(format!(
            "no answer ({why}) after {:.1} s",
            t.elapsed().as_secs_f64()
        )),
        Err(_) => Err(format!("no answer within {:.1} s", deadline.as_secs_f64())),
    }
}
