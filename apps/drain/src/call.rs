//! One HTTP call with the drain's limits: a hard per-call timeout that covers
//! connecting, the headers and the whole body (a body that drips is cut), and
//! a cap on how many body bytes are read.
//!
//! It must never wait past its timeout nor buffer more than its cap; it does
//! not interpret answers (the callers do).

use std::time::Duration;

/// A completed call: status and the (capped) body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body longer than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Http(String),
}

/// Flattens reqwest's error chain into one line (the top level alone says
/// little: "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Makes calls with one timeout and one body cap.
#[derive(Debug, Clone)]
pub struct Caller {
    client: reqwest::Client,
    timeout: Duration,
    cap: usize,
}

impl Caller {
    pub fn new(timeout: Duration, cap: usize) -> Caller {
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .expect("a plain HTTP client always builds");
        Caller {
            client,
            timeout,
            cap,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub async fn get(&self, url: &str) -> Result<Answer, CallError> {
        self.send(self.client.get(url), self.timeout).await
    }

    /// A GET with a shorter timeout than the caller's (never a longer one).
    pub async fn get_within(&self, url: &str, timeout: Duration) -> Result<Answer, CallError> {
        let timeout = timeout.min(self.timeout);
        self.send(self.client.get(url).timeout(timeout), timeout)
            .await
    }

    pub async fn post(&self, url: &str) -> Result<Answer, CallError> {
        self.send(self.client.post(url), self.timeout).await
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        let whole = async {
            let mut resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    CallError::Timeout(timeout)
                } else {
                    CallError::Http(describe(&e))
                }
            })?;
            let status = resp.status().as_u16();
            if resp.content_length().is_some_and(|n| n > self.cap as u64) {
                return Err(CallError::TooLarge(self.cap));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| {
                if e.is_timeout() {
                    CallError::Timeout(timeout)
                } else {
                    CallError::Http(describe(&e))
                }
            })? {
                if body.len() + chunk.len() > self.cap {
                    return Err(CallError::TooLarge(self.cap));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer { status, body })
        };
        // reqwest's own timeout covers the body too; this is the belt to its braces.
        match tokio::time::timeout(timeout, whole).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(timeout)),
        }
    }
}
