//! The plot's top panel: latency over the intended send time, log scale.
//! Ok requests are a band per time bucket (p50 line, p50-p99 and p99-max
//! shaded); every disrupted request is one circle in its outcome's colour
//! (the plot's only circles: legends use squares). Drawing only; nothing
//! here reads or writes files.

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::panels::mark_lines;
use super::{e2s, outcome_color, panel, series_legend, DrawResult, PlotData};
use crate::artifacts::band::BandBucket;
use crate::model::{Event, Outcome};

/// The radius of a disruption's point.
pub const POINT_RADIUS: u32 = 4;
/// Opacity of the p50-p99 shade (the p99-max shade is lighter).
const P99_SHADE: f64 = 0.45;
const MAX_SHADE: f64 = 0.18;
/// Latencies below this (ms) are drawn at it: the axis is logarithmic.
const FLOOR_MS: f64 = 0.01;
/// A longer stretch without an ok request breaks the p50 line (shorter
/// ones are the spacing of a low request rate, joined so it reads as a line).
const GAP_MS: f64 = 1000.0;

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, LogCoord<f64>>>;

fn square(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x + 3, y - 5), (x + 13, y + 5)], color.filled())
}

/// Top panel; returns the pixel x of every mark (for the labels above it).
pub(super) fn draw_latency<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &PlotData,
    xr: Range<f64>,
    marks: &[&Event],
) -> Result<Vec<i32>, String>
where
    DB::ErrorType: 'static,
{
    let (lo, hi) = data.requests.latency_range_ms.unwrap_or((1.0, 1.0));
    let ymax = hi.max(FLOOR_MS).max(1.0) * 2.0;
    let ymin = lo.clamp(FLOOR_MS, 1.0) / 2.0;
    let mut chart = panel(
        area,
        "latency (ms, from intended send time, log scale): ok requests as a band per time bucket, every disruption as a point",
    )
    .x_label_area_size(36)
    .build_cartesian_2d(xr, (ymin..ymax).log_scale())
    .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("intended send time (s)")
        .y_desc("latency (ms)")
        .y_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        })
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e2s)?;
    mark_lines(&mut chart, marks, ymin..ymax)?;
    draw_band(&mut chart, data)?;
    draw_points(&mut chart, data)?;
    series_legend(&mut chart)?;
    Ok(marks
        .iter()
        .map(|e| chart.backend_coord(&(e.t_ms / 1000.0, ymin)).0)
        .collect())
}

/// Runs of buckets no more than [`GAP_MS`] apart: a longer gap (no ok
/// request) breaks the p50 line.
fn contiguous(band: &[BandBucket]) -> Vec<&[BandBucket]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=band.len() {
        if i == band.len() || band[i].t0_ms - band[i - 1].t1_ms > GAP_MS {
            runs.push(&band[start..i]);
            start = i;
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

fn draw_band<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, data: &PlotData) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let band = data.requests.band.buckets();
    let c = outcome_color(Outcome::Ok);
    let s = |ms: f64| ms / 1000.0;
    let y = |ms: f64| ms.max(FLOOR_MS);
    let n_ok = data
        .requests
        .tally
        .outcomes
        .get(&Outcome::Ok)
        .copied()
        .unwrap_or(0);
    for (label, shade, lo, hi) in [
        (
            "ok p99-max".to_string(),
            MAX_SHADE,
            (|b: &BandBucket| b.p99_ms) as fn(&BandBucket) -> f64,
            (|b: &BandBucket| b.max_ms) as fn(&BandBucket) -> f64,
        ),
        (
            "ok p50-p99".to_string(),
            P99_SHADE,
            |b| b.p50_ms,
            |b| b.p99_ms,
        ),
    ] {
        let color = c.mix(shade);
        chart
            .draw_series(band.iter().map(|b| {
                Rectangle::new(
                    [(s(b.t0_ms), y(lo(b))), (s(b.t1_ms), y(hi(b)))],
                    color.filled(),
                )
            }))
            .map_err(e2s)?
            .label(label)
            .legend(move |(x, y)| {
                Rectangle::new([(x + 3, y - 5), (x + 13, y + 5)], color.filled())
            });
    }
    let mut first = true;
    for run in contiguous(&band) {
        let pts = run
            .iter()
            .flat_map(|b| [(s(b.t0_ms), y(b.p50_ms)), (s(b.t1_ms), y(b.p50_ms))]);
        let anno = chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(e2s)?;
        if first {
            anno.label(format!("ok ({n_ok}): p50"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            first = false;
        }
    }
    Ok(())
}

fn draw_points<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, data: &PlotData) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let disrupted = &data.requests.disrupted;
    for o in Outcome::ALL.into_iter().filter(|o| o.is_disruption()) {
        let color = outcome_color(o);
        let pts: Vec<(f64, f64)> = disrupted
            .iter()
            .filter(|r| r.outcome == o)
            .map(|r| (r.intended_ms / 1000.0, r.latency_ms().max(FLOOR_MS)))
            .collect();
        let n = pts.len();
        chart
            .draw_series(
                pts.into_iter()
                    .map(move |p| Circle::new(p, POINT_RADIUS, color.filled())),
            )
            .map_err(e2s)?
            .label(format!("{o} ({n})"))
            .legend(square(color));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(t0: f64, t1: f64) -> BandBucket {
        BandBucket {
            t0_ms: t0,
            t1_ms: t1,
            count: 1,
            p50_ms: 1.0,
            p99_ms: 1.0,
            max_ms: 1.0,
        }
    }

    #[test]
    fn a_gap_breaks_the_line() {
        let band = [
            b(0.0, 10.0),
            b(10.0, 20.0),
            b(400.0, 410.0),
            b(1500.0, 1510.0),
        ];
        let runs = contiguous(&band);
        assert_eq!(runs.iter().map(|r| r.len()).collect::<Vec<_>>(), [3, 1]);
        assert!(contiguous(&[]).is_empty());
    }
}
