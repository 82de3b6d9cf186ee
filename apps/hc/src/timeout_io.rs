//! A socket wrapper that enforces hc's connection timeouts, the way Go's
//! `http.Server` does: a request must arrive within `read` of its first byte
//! (or of the accept), the answer must be written within `write`, and an idle
//! keep-alive connection is dropped after `idle`. An expired timeout surfaces
//! as an `io::ErrorKind::TimedOut` error, which makes hyper close the connection.
//!
//! (hyper's own `header_read_timeout` also runs while a keep-alive connection
//! is idle, so it cannot give a 60 s idle with a 5 s read limit.)
//!
//! It only measures time around the wrapped socket; it must never buffer data.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The three limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub read: Duration,
    pub write: Duration,
    pub idle: Duration,
}

impl Default for Limits {
    /// hc's: read 5 s, write 10 s, idle 60 s.
    fn default() -> Self {
        Limits {
            read: Duration::from_secs(5),
            write: Duration::from_secs(10),
            idle: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between the first byte of a request (or the accept) and the answer.
    Reading,
    /// Writing an answer, until it is flushed.
    Writing,
    /// Waiting for the next request on a keep-alive connection.
    Idle,
}

/// The wrapper. The timer is armed lazily: it is only moved when it would
/// fire too late, and re-armed when it fires early, so a busy keep-alive
/// connection does not touch the timer wheel on every request.
pub struct TimeoutIo<T> {
    inner: T,
    limits: Limits,
    phase: Phase,
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> TimeoutIo<T> {
    pub fn new(inner: T, limits: Limits) -> Self {
        let deadline = Instant::now() + limits.read;
        TimeoutIo {
            inner,
            limits,
            phase: Phase::Reading,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn enter(&mut self, phase: Phase) {
        let limit = match phase {
            Phase::Reading => self.limits.read,
            Phase::Writing => self.limits.write,
            Phase::Idle => self.limits.idle,
        };
        self.phase = phase;
        self.deadline = Instant::now() + limit;
    }

    /// Ready when the current deadline has passed; otherwise registers the waker.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        if self.timer.deadline() > self.deadline {
            self.timer.as_mut().reset(self.deadline);
        }
        loop {
            match self.timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= self.deadline => return Poll::Ready(()),
                Poll::Ready(()) => self.timer.as_mut().reset(self.deadline),
            }
        }
    }

    fn timed_out(&self) -> io::Error {
        let what = match self.phase {
            Phase::Reading => "read",
            Phase::Writing => "write",
            Phase::Idle => "idle",
        };
        io::Error::new(io::ErrorKind::TimedOut, format!("{what} timeout"))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimeoutIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase == Phase::Idle && buf.filled().len() > before {
                    this.enter(Phase::Reading);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // While an answer is being written, the write side owns the clock.
                if this.phase != Phase::Writing && this.poll_expired(cx).is_ready() {
                    return Poll::Ready(Err(this.timed_out()));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> TimeoutIo<T> {
    fn after_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending if self.poll_expired(cx).is_ready() => Poll::Ready(Err(self.timed_out())),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimeoutIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.phase != Phase::Writing {
            this.enter(Phase::Writing);
        }
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.phase != Phase::Writing {
            this.enter(Phase::Writing);
        }
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = r {
            if this.phase == Phase::Writing {
                this.enter(Phase::Idle);
            }
            return r;
        }
        if this.phase == Phase::Writing {
            return this.after_write(cx, r);
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after_write(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits() -> Limits {
        Limits {
            read: Duration::from_secs(5),
            write: Duration::from_secs(10),
            idle: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silent_client_times_out_after_read_limit() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = TimeoutIo::new(a, limits());
        let start = Instant::now();
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_after_answer_lasts_idle_limit_then_read_limit_applies() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = TimeoutIo::new(a, limits());
        let mut buf = [0u8; 8];
        b.write_all(b"GET").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        io.write_all(b"answer").await.unwrap();
        io.flush().await.unwrap();
        let idle_start = Instant::now();
        // A byte after 59 s of idle is fine and starts a 5 s read window.
        tokio::time::sleep(Duration::from_secs(59)).await;
        b.write_all(b"G").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        assert!(idle_start.elapsed() >= Duration::from_secs(59));
        let read_start = Instant::now();
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(read_start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connection_dropped_after_idle_limit() {
        let (a, _b) = tokio::io::duplex(64);
        let mut io = TimeoutIo::new(a, limits());
        io.write_all(b"x").await.unwrap();
        io.flush().await.unwrap();
        let start = Instant::now();
        let err = io.read(&mut [0u8; 4]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn stalled_writer_times_out_after_write_limit() {
        let (a, _b) = tokio::io::duplex(4);
        let mut io = TimeoutIo::new(a, limits());
        let start = Instant::now();
        let err = io.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }
}
