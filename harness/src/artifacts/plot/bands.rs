//! The plot's state bands: per pod, a strip of hc's state and one of
//! HAProxy's view of its server, coloured by state, with their legend.
//! Drawing only; nothing here reads or writes files.

use std::collections::BTreeMap;
use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::panels::mark_lines;
use super::{e2s, panel, pods, state_color, DrawResult, PlotData, MARGIN, Y_LABEL_AREA};
use crate::model::{Event, Sample};

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Coloured strips: per pod, hc's state and HAProxy's view of its server.
pub(super) fn draw_bands<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &PlotData,
    xr: Range<f64>,
    marks: &[&Event],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let pods = pods(data);
    let rows = (2 * pods.len()).max(1) as f64;
    let (strips, legend) = area.split_vertically(area.dim_in_pixel().1 - 30);
    let mut chart = panel(&strips, "hc state and HAProxy server status per pod")
        .build_cartesian_2d(xr.clone(), 0.0..rows)
        .map_err(e2s)?;
    let mut by_pod: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in &data.samples {
        by_pod.entry(s.pod.as_str()).or_default().push(s);
    }
    for (i, pod) in pods.iter().enumerate() {
        let mut samples = by_pod.remove(pod.as_str()).unwrap_or_default();
        samples.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        let hc: Vec<(f64, Option<&str>)> = samples
            .iter()
            .map(|s| (s.t_ms, s.hc_state.as_deref()))
            .collect();
        let lb: Vec<(f64, Option<&str>)> = samples
            .iter()
            .map(|s| (s.t_ms, s.haproxy_status.as_deref()))
            .collect();
        for (j, (label, states)) in [("hc", hc), ("lb", lb)].into_iter().enumerate() {
            let top = rows - (2 * i + j) as f64;
            draw_strip(&mut chart, &states, top)?;
            let (px, py) = chart.backend_coord(&(xr.start, top - 0.5));
            let base = strips.get_base_pixel();
            strips
                .draw(&Text::new(
                    format!("{pod} {label}"),
                    (px - base.0 - 6, py - base.1),
                    TextStyle::from(("sans-serif", 13).into_font())
                        .pos(Pos::new(HPos::Right, VPos::Center)),
                ))
                .map_err(e2s)?;
        }
    }
    mark_lines(&mut chart, marks, 0.0..rows)?;
    draw_state_legend(&legend)
}

/// One strip whose top is at `top`: a rectangle per run of equal state.
fn draw_strip<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    states: &[(f64, Option<&str>)],
    top: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for (t0, t1, st) in segments(states) {
        let c = state_color(st);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(t0 / 1000.0, top - 0.9), (t1 / 1000.0, top - 0.1)],
                c.filled(),
            )))
            .map_err(e2s)?;
    }
    Ok(())
}

/// A swatch per state colour, in one row under the strips.
fn draw_state_legend<DB: DrawingBackend>(legend: &DrawingArea<DB, Shift>) -> DrawResult {
    let swatches = [
        ("OPEN/READY/UP", Some("OPEN")),
        ("DRAINING/NOLB", Some("DRAINING")),
        ("CLOSING/DRAINED_WAIT_LB", Some("CLOSING")),
        ("CLOSED/TERMINATING/DOWN", Some("CLOSED")),
        ("FAULT/FAILED", Some("FAULT")),
        ("MAINT", Some("MAINT")),
        ("other", Some("?")),
        ("no answer", None),
    ];
    let mut x = (MARGIN + Y_LABEL_AREA) as i32;
    for (name, st) in swatches {
        legend
            .draw(&Rectangle::new(
                [(x, 8), (x + 14, 22)],
                state_color(st).filled(),
            ))
            .map_err(e2s)?;
        legend
            .draw(&Text::new(
                name,
                (x + 18, 8),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(e2s)?;
        x += 30 + 8 * name.len() as i32;
    }
    Ok(())
}

/// Runs of equal state: (start_ms, end_ms, state); the last run ends at the
/// last sample.
pub(super) fn segments<'a>(states: &[(f64, Option<&'a str>)]) -> Vec<(f64, f64, Option<&'a str>)> {
    let mut out = Vec::new();
    let Some(&(mut start, mut cur)) = states.first() else {
        return out;
    };
    for &(t, st) in &states[1..] {
        if st != cur {
            out.push((start, t, cur));
            start = t;
            cur = st;
        }
    }
    let end = states.last().map_or(start, |s| s.0);
    out.push((start, end.max(start), cur));
    out
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn segments_merge_equal_states() {
        let s = [
            (0.0, Some("OPEN")),
            (250.0, Some("OPEN")),
            (500.0, Some("DRAINING")),
            (750.0, None),
            (1000.0, None),
        ];
        assert_eq!(
            segments(&s),
            vec![
                (0.0, 500.0, Some("OPEN")),
                (500.0, 750.0, Some("DRAINING")),
                (750.0, 1000.0, None)
            ]
        );
        assert!(segments(&[]).is_empty());
    }
}
