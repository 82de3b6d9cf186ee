//! The plot's marks and bottom panel: the event marks and their labels,
//! and Envoy's active gauges (the latency panel is in `latency.rs`, the
//! state bands in `bands.rs`). Drawing only; the data comes from `PlotData` and nothing
//! here reads or writes files.

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::thin::thin;
use super::{
    e2s, event_label, panel, pods, series_legend, source_color, DrawResult, PlotData, MARGIN,
    POD_COLORS,
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
    let mut chart = panel(
        area,
        "Envoy active requests (rq) and connections (cx) per pod",
    )
    .margin_bottom(MARGIN)
    .x_label_area_size(36)
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
            let label = format!("{pod} {what}");
            draw_gauge(&mut chart, &gauge_runs(&samples, pick), step, style, label)?;
        }
    }
    series_legend(&mut chart)
}

/// One gauge's points in seconds, in runs: a gap where Envoy did not answer
/// breaks the line.
fn gauge_runs(samples: &[&Sample], pick: fn(&Sample) -> Option<i64>) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for s in samples {
        match pick(s) {
            Some(v) => runs.last_mut().map(|r| r.push((s.t_ms / 1000.0, v as f64))),
            None => {
                runs.push(Vec::new());
                None
            }
        };
    }
    runs
}

/// A gauge's runs as lines thinned to `step`, labelled once in the legend.
fn draw_gauge<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    runs: &[Vec<(f64, f64)>],
    step: f64,
    style: ShapeStyle,
    label: String,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut label = Some(label);
    for run in runs.iter().filter(|r| !r.is_empty()) {
        let run = thin(run, step);
        let anno = chart
            .draw_series(LineSeries::new(run, style))
            .map_err(e2s)?;
        if let Some(l) = label.take() {
            anno.label(l)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
    }
    Ok(())
}
