//! The open-loop schedule of the `steady` load: intended send times computed
//! from the start (t0 + i/rate), never from when a timer happened to fire;
//! when the driver wakes to send (at most once per send window); and the
//! seeded keep-alive choices.
//!
//! Pure: never sleeps, never sends.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A send more than this many ms after its intended time is late.
pub const LATE_MS: f64 = 1.0;

/// The open-loop driver wakes at most once per this window (oha's and
/// tokio's timer tick): on this machine a wake-up costs more than the
/// request it sends, so requests due within one window go out together.
/// Each keeps its own intended time: the wait is in its latency (at most
/// the window), never hidden. Schedules sparser than the window (up to
/// 1,000 req/s) are sent at their intended times.
pub const SEND_WINDOW: Duration = Duration::from_millis(1);

/// When the driver wakes to send a request meant at `intended_ms`: at that
/// time, or one `window_ms` after its previous wake target when that is
/// later (targets, not actual wake-ups: a late wake-up never pushes the
/// next one back, so the lag stays under the window).
pub fn wake_ms(intended_ms: f64, prev_wake_ms: Option<f64>, window_ms: f64) -> f64 {
    prev_wake_ms.map_or(intended_ms, |prev| intended_ms.max(prev + window_ms))
}

/// `count` intended send times `start_ms + i × 1000 / rate`, every one inside
/// `[start_ms, start_ms + duration_ms)`: rate × duration requests (rounded
/// up when fractional). A rate that is not a positive finite number sends
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteadySchedule {
    start_ms: f64,
    rate: f64,
    count: u64,
}

impl SteadySchedule {
    pub fn new(start_ms: u64, rate: f64, duration_ms: u64) -> Self {
        let count = if rate.is_finite() && rate > 0.0 {
            // i / rate < duration  <=>  i < rate × duration (the epsilon keeps
            // an exact product such as 200 × 2 from gaining one).
            (rate * duration_ms as f64 / 1000.0 - 1e-9).ceil().max(0.0) as u64
        } else {
            0
        };
        SteadySchedule {
            start_ms: start_ms as f64,
            rate,
            count,
        }
    }
    pub fn len(&self) -> u64 {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The intended send time of request `i`, in run ms.
    pub fn intended_ms(&self, i: u64) -> f64 {
        self.start_ms + i as f64 * 1000.0 / self.rate
    }
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.count).map(|i| self.intended_ms(i))
    }
}

/// Whether a request sent at `sent_ms` missed its intended time.
pub fn is_late(intended_ms: f64, sent_ms: f64) -> bool {
    sent_ms - intended_ms > LATE_MS
}

/// Decides, per request and reproducibly for a seed, whether it may reuse an
/// idle pooled connection (probability `fraction`, clamped to 0..=1).
#[derive(Debug)]
pub struct KeepAliveDice {
    rng: StdRng,
    fraction: f64,
}

impl KeepAliveDice {
    pub fn new(seed: u64, fraction: f64) -> Self {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        KeepAliveDice {
            rng: StdRng::seed_from_u64(seed),
            fraction,
        }
    }
    pub fn reuse(&mut self) -> bool {
        self.rng.gen_bool(self.fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[test]
    fn rate_200_for_2_s_is_400_sends_5_ms_apart() {
        let s = SteadySchedule::new(1_000, 200.0, 2_000);
        assert_eq!(s.len(), 400);
        for (i, t) in s.iter().enumerate() {
            assert_eq!(t, 1_000.0 + i as f64 * 5.0);
        }
    }

    #[rstest]
    #[case(3.3, 1_000, 4)]
    #[case(50.0, 1_000, 50)]
    #[case(0.5, 1_000, 1)]
    #[case(1.0, 1, 1)]
    #[case(0.0, 1_000, 0)]
    #[case(-5.0, 1_000, 0)]
    #[case(f64::NAN, 1_000, 0)]
    #[case(f64::INFINITY, 1_000, 0)]
    #[case(100.0, 0, 0)]
    fn counts(#[case] rate: f64, #[case] duration_ms: u64, #[case] n: u64) {
        assert_eq!(SteadySchedule::new(0, rate, duration_ms).len(), n);
    }

    proptest! {
        #[test]
        fn every_send_is_inside_the_window(rate in 0.1f64..2_000.0, d in 1u64..5_000, t0 in 0u64..10_000) {
            let s = SteadySchedule::new(t0, rate, d);
            prop_assert!(s.len() as f64 <= rate * d as f64 / 1000.0 + 1.0);
            let last = s.intended_ms(s.len() - 1);
            prop_assert!(last < (t0 + d) as f64 + 1e-6);
            prop_assert!(s.intended_ms(s.len()) >= (t0 + d) as f64 - 1e-6);
        }
    }

    #[test]
    fn keepalive_dice_are_seeded() {
        let roll = |seed| {
            let mut d = KeepAliveDice::new(seed, 0.8);
            (0..1_000).map(|_| d.reuse()).collect::<Vec<_>>()
        };
        assert_eq!(roll(7), roll(7));
        assert_ne!(roll(7), roll(8));
        let reused = roll(7).iter().filter(|r| **r).count();
        assert!((720..=880).contains(&reused), "{reused}");
        assert!((0..100).all(|_| KeepAliveDice::new(1, 1.5).reuse()));
        assert!((0..100).all(|_| !KeepAliveDice::new(1, -1.0).reuse()));
    }

    #[test]
    fn wakes_once_per_window_and_never_before_the_intended_time() {
        // 5,000 req/s, a 1 ms window: one wake-up sends five requests.
        // As the driver does: a request already due when it woke is sent
        // without waiting; only a later one sets the next wake-up.
        let s = SteadySchedule::new(0, 5_000.0, 3);
        let (mut prev, mut wakes) = (None::<f64>, Vec::new());
        for t in s.iter() {
            if prev.is_some_and(|p| t <= p) {
                continue;
            }
            let w = wake_ms(t, prev, 1.0);
            assert!(w >= t && w - t <= 1.0, "{t} -> {w}");
            wakes.push(w);
            prev = Some(w);
        }
        assert_eq!(wakes, [0.0, 1.0, 2.0, 3.0]);
        // Sparser than the window: on time.
        assert_eq!(wake_ms(10.0, Some(5.0), 1.0), 10.0);
        // No window: every request at its own time.
        assert_eq!(wake_ms(0.2, Some(0.0), 0.0), 0.2);
    }

    #[test]
    fn late_means_more_than_one_ms() {
        assert!(!is_late(10.0, 11.0));
        assert!(is_late(10.0, 11.01));
    }
}
