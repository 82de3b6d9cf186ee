//! The open-loop schedule of the `steady` load: intended send times computed
//! from the start (t0 + i/rate), never from when a timer happened to fire,
//! and the seeded keep-alive choices.
//!
//! Pure: never sleeps, never sends.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A send more than this many ms after its intended time is late.
pub const LATE_MS: f64 = 1.0;

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
    fn late_means_more_than_one_ms() {
        assert!(!is_late(10.0, 11.0));
        assert!(is_late(10.0, 11.01));
    }
}
