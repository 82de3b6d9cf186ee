//! A µs-precise wait inside the tokio runtime for the open-loop schedule: a
//! Linux `timerfd` (armed relative to now, no timer slack) polled through
//! tokio's `AsyncFd`, so the scheduler sleeps in the runtime's own epoll and
//! sends without a thread hand-off. tokio's own timer only wakes on the next
//! millisecond; it is the fallback when no timerfd can be made.
//!
//! Never returns before `at` (a send is never early).

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// `AsyncFd` wants `AsRawFd`, nix's `TimerFd` gives `AsFd`.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One timer of one scheduler task.
pub struct SendTimer {
    fd: Option<AsyncFd<Fd>>,
}

impl SendTimer {
    /// A timerfd when the kernel gives one (and a tokio reactor is running),
    /// else tokio's millisecond timer.
    pub fn new() -> Self {
        SendTimer { fd: timerfd().ok() }
    }

    /// Waits until `at` (returns at once when it has passed).
    pub async fn wait_until(&self, at: Instant) {
        let Some(fd) = &self.fd else {
            tokio::time::sleep_until(at.into()).await;
            return;
        };
        loop {
            let now = Instant::now();
            if now >= at {
                return;
            }
            // Relative, so `Instant` needs no conversion; never zero (that disarms).
            let after = (at - now).max(Duration::from_nanos(1));
            let armed = fd.get_ref().0.set(
                Expiration::OneShot(TimeSpec::from_duration(after)),
                TimerSetTimeFlags::empty(),
            );
            if armed.is_err() {
                break;
            }
            let Ok(mut guard) = fd.readable().await else {
                break;
            };
            // Non-blocking read of the expiry count: EAGAIN = not yet.
            if fd.get_ref().0.wait().is_err() {
                guard.clear_ready();
            }
        }
        tokio::time::sleep_until(at.into()).await;
    }
}

fn timerfd() -> io::Result<AsyncFd<Fd>> {
    let fd = TimerFd::new(
        ClockId::CLOCK_MONOTONIC,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    )?;
    // `new` is deprecated only because a borrowed fd could be closed while
    // registered; `Fd` owns its fd and AsyncFd deregisters before dropping it.
    // (`register`, its replacement, is `unsafe`, which the workspace denies.)
    #[allow(deprecated)]
    AsyncFd::new(Fd(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn never_wakes_early_and_wakes_within_a_few_ms() {
        let timer = SendTimer::new();
        assert!(timer.fd.is_some(), "timerfd available on Linux");
        for us in [50u64, 300, 2_000] {
            let at = Instant::now() + Duration::from_micros(us);
            timer.wait_until(at).await;
            let now = Instant::now();
            assert!(now >= at);
            assert!(now - at < Duration::from_millis(50), "{:?}", now - at);
        }
        // A time already passed returns at once.
        timer
            .wait_until(Instant::now() - Duration::from_millis(1))
            .await;
    }
}
