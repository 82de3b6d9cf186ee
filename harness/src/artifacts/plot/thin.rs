//! Thins a line's points to what a pixel column can show: per column the
//! first, lowest, highest and last point (so every spike stays), then
//! drops the middle of every flat stretch. A gauge sampled at 4 Hz for an
//! hour stays a few thousand points at most, however long the run.
//!
//! Pure: points in, points out; it never draws.

/// `points` in time order; `step` is one pixel column's width in x units.
pub(super) fn thin(points: &[(f64, f64)], step: f64) -> Vec<(f64, f64)> {
    if step <= 0.0 || points.len() <= 4 {
        return points.to_vec();
    }
    let col = |p: &(f64, f64)| (p.0 / step).floor();
    let mut picked = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let c = col(&points[i]);
        let (mut lo, mut hi, mut j) = (i, i, i);
        while j < points.len() && col(&points[j]) == c {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut keep = [i, lo, hi, j - 1];
        keep.sort_unstable();
        for k in keep {
            if picked.last() != Some(&k) {
                picked.push(k);
            }
        }
        i = j;
    }
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(picked.len());
    for (n, &k) in picked.iter().enumerate() {
        let p = points[k];
        let next_same = picked.get(n + 1).is_some_and(|&m| points[m].1 == p.1);
        let prev_same = out.last().is_some_and(|q| q.1 == p.1);
        if !(prev_same && next_same) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thin;

    #[test]
    fn keeps_spikes_and_ends_and_drops_flat_stretches() {
        // 10,000 samples, flat at 3 but one spike to 40 and one dip to 0.
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| {
                let y = match i {
                    5_003 => 40.0,
                    7_001 => 0.0,
                    _ => 3.0,
                };
                (f64::from(i) * 0.25, y)
            })
            .collect();
        let out = thin(&pts, 2.0);
        assert!(out.len() < 20, "{}", out.len());
        assert_eq!(out.first(), pts.first());
        assert_eq!(out.last(), pts.last());
        assert!(
            out.contains(&pts[5_003]) && out.contains(&pts[7_001]),
            "{out:?}"
        );
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        let few = [(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(thin(&few, 5.0), few);
    }
}
