//! Response bodies: a fixed text, or the `/stream` ticker that yields
//! `chunk <i> @ <elapsed_ms>ms\n` at i × interval; both wrapped so the request
//! is logged when its body is done or dropped.
//!
//! Bodies only produce frames; they must never buffer ticks or block.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::query::StreamParams;
use crate::request_log::RequestLog;

/// The `/stream` ticker: line i at start + i × interval while i × interval <
/// seconds × 1000, then the end of the body at start + seconds.
#[derive(Debug)]
pub struct Ticks {
    start: Instant,
    interval: Duration,
    next: u64,
    count: u64,
    end: Instant,
    sleep: Pin<Box<Sleep>>,
    done: bool,
}

impl Ticks {
    pub fn new(p: StreamParams) -> Self {
        let start = Instant::now();
        Ticks {
            start,
            interval: Duration::from_millis(p.interval_ms),
            next: 0,
            count: p.line_count(),
            end: start + Duration::from_secs(p.seconds),
            sleep: Box::pin(tokio::time::sleep_until(start)),
            done: false,
        }
    }

    fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.done {
            return Poll::Ready(None);
        }
        let deadline = if self.next < self.count {
            // next < count <= 600_000, so this cannot overflow a u32.
            self.start + self.interval * self.next as u32
        } else {
            self.end
        };
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        ready!(self.sleep.as_mut().poll(cx));
        if self.next < self.count {
            let line = format!(
                "chunk {} @ {}ms\n",
                self.next,
                self.start.elapsed().as_millis()
            );
            self.next += 1;
            Poll::Ready(Some(Bytes::from(line)))
        } else {
            self.done = true;
            Poll::Ready(None)
        }
    }
}

/// A response body: fixed text or a ticker.
#[derive(Debug)]
pub enum Inner {
    Full(Option<Bytes>),
    Ticks(Ticks),
}

impl Inner {
    pub fn text(s: impl Into<String>) -> Self {
        Inner::Full(Some(Bytes::from(s.into())))
    }

    fn is_end(&self) -> bool {
        match self {
            Inner::Full(b) => b.is_none(),
            Inner::Ticks(t) => t.done,
        }
    }
}

/// The body hyper writes: the content plus the request's log record, which is
/// emitted (with `complete=true` only if the body ran to its end) on drop.
#[derive(Debug)]
pub struct LoggedBody {
    inner: Inner,
    log: Option<RequestLog>,
}

impl LoggedBody {
    pub(crate) fn new(inner: Inner, log: RequestLog) -> Self {
        LoggedBody {
            inner,
            log: Some(log),
        }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let out = match &mut this.inner {
            Inner::Full(b) => b.take(),
            Inner::Ticks(t) => ready!(t.poll_tick(cx)),
        };
        Poll::Ready(out.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Inner::Full(None) => SizeHint::with_exact(0),
            Inner::Ticks(_) => SizeHint::default(),
        }
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(log) = self.log.as_mut() {
            if self.inner.is_end() {
                log.set_completed();
            }
        }
        // `log` is dropped right after this, writing the request line.
    }
}
