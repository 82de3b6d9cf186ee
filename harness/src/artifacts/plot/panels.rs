//! The plot's lower panels and marks: the event marks and their labels,
//! the state bands and Envoy's active gauges (the latency panel is in
//! `latency.rs`). Drawing only; the data comes from `PlotData` and nothing
//! here reads or writes files.

use std::collections::BTreeMap;
use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::thin::thin;
use super::{
    e2s, event_label, pods, source_color, state_color, DrawResult, PlotData, MARGIN, POD_COLORS,
    Y_LABEL_AREA,
};
use crate::model::{Event, Sample};

pub(super) fn mark_lines<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    marks: &[&Event],
    y: Range<f64>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for e in marks {
        let x = e.t_ms / 1000.0;
        let c = source_color(&e.source).mix(0.55);
        chart
            .draw_series(LineSeries::new(
                [(x, y.start), (x, y.end)],
                c.stroke_width(1),
            ))
            .map_err(e2s)?;
    }
    Ok(())
}

/// Rotated labels above the top panel; labels that would overlap are pushed
/// right and joined to their mark by a short leader.
pub(super) fn draw_event_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marks: &[&Event],
    xs: &[i32],
) -> DrawResult {
    let base_x = area.get_base_pixel().0;
    let (w, h) = area.dim_in_pixel();
    let bottom = h as i32 - 2;
    let mut next_free = i32::MIN;
    for (e, &x) in marks.iter().zip(xs) {
        let x = x - base_x;
        let lx = x.max(next_free);
        next_free = lx + 15;
        if lx > w as i32 - 4 {
            break;
        }
        let c = source_color(&e.source);
        area.draw(&PathElement::new(
            vec![(x, bottom), (lx, bottom - 12)],
            c.stroke_width(1),
        ))
        .map_err(e2s)?;
        let style = TextStyle::from(("sans-serif", 12).into_font())
            .transform(FontTransform::Rotate270)
            .color(&c)
            .pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(event_label(e), (lx, bottom - 14), style))
            .map_err(e2s)?;
    }
    Ok(())
}

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
    let mut chart = ChartBuilder::on(&strips)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .y_label_area_size(Y_LABEL_AREA)
        .caption(
            "hc state and HAProxy server status per pod",
            ("sans-serif", 16),
        )
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
            for (t0, t1, st) in segments(&states) {
                let c = state_color(st);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(t0 / 1000.0, top - 0.9), (t1 / 1000.0, top - 0.1)],
                        c.filled(),
                    )))
                    .map_err(e2s)?;
            }
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

/// Bottom panel: Envoy's active requests (and connections, lighter) per
/// pod, each line thinned to the pixel columns (`thin.rs`).
pub(super) fn draw_active<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &PlotData,
    xr: Range<f64>,
    marks: &[&Event],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let ymax = data
        .samples
        .iter()
        .flat_map(|s| [s.envoy_rq_active, s.envoy_cx_active])
        .flatten()
        .max()
        .unwrap_or(0) as f64
        + 1.0;
    let mut chart = ChartBuilder::on(area)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .margin_bottom(MARGIN)
        .x_label_area_size(36)
        .y_label_area_size(Y_LABEL_AREA)
        .caption(
            "Envoy active requests (rq) and connections (cx) per pod",
            ("sans-serif", 16),
        )
        .build_cartesian_2d(xr.clone(), 0.0..ymax * 1.1)
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("active")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e2s)?;
    mark_lines(&mut chart, marks, 0.0..ymax * 1.1)?;
    // One pixel column's width in seconds: the lines are thinned to it.
    let step = (xr.end - xr.start) / f64::from(area.dim_in_pixel().0.max(1));
    for (i, pod) in pods(data).iter().enumerate() {
        let color = POD_COLORS[i % POD_COLORS.len()];
        let mut samples: Vec<&Sample> = data.samples.iter().filter(|s| &s.pod == pod).collect();
        samples.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        for (what, pick, style) in [
            (
                "rq",
                (|s: &Sample| s.envoy_rq_active) as fn(&Sample) -> Option<i64>,
                color.stroke_width(2),
            ),
            (
                "cx",
                |s: &Sample| s.envoy_cx_active,
                color.mix(0.4).stroke_width(1),
            ),
        ] {
            // A gap where Envoy did not answer breaks the line.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for s in &samples {
                match pick(s) {
                    Some(v) => runs.last_mut().map(|r| r.push((s.t_ms / 1000.0, v as f64))),
                    None => {
                        runs.push(Vec::new());
                        None
                    }
                };
            }
            let mut first = true;
            for run in runs.iter().filter(|r| !r.is_empty()) {
                let run = thin(run, step);
                let anno = chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(e2s)?;
                if first {
                    anno.label(format!("{pod} {what}"))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
                    first = false;
                }
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e2s)?;
    Ok(())
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
