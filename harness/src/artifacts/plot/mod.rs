//! `plot.svg` and `plot.png` of a run, rebuilt from its CSVs alone (so
//! `harness report` can redraw an old or killed run): latency over the
//! intended send time (every disrupted request as a point coloured by its
//! outcome, the ok requests as a p50/p99/max band per time bucket), the
//! timeline's events as labelled marks, hc and HAProxy state bands per pod,
//! and Envoy's active requests per pod. Its size grows with the disruptions
//! and the run's length, never with the number of ok requests; the
//! disruption points are the plot's only circles.
//!
//! Text uses the bundled DejaVu Sans, so rendering needs no system font. It
//! never changes the CSVs it reads.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::csv::{read_samples, read_timeline};
use super::digest::RequestsDigest;
use super::rundir::{persist_rename, write_atomic};
use super::{names, ArtifactsError};
use crate::model::{Event, Outcome, Sample, Source};

mod bands;
mod latency;
mod panels;
mod thin;
use bands::draw_bands;
use latency::draw_latency;
use panels::{draw_active, draw_event_labels};

const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
const WIDTH: u32 = 1600;
/// Left label area, the same for every panel so their x axes line up.
pub(super) const Y_LABEL_AREA: u32 = 90;
pub(super) const MARGIN: u32 = 12;

/// Registers the bundled font as `sans-serif` (once per process).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled file is a valid TrueType font; a failure here would be
        // a build defect, and text would simply not render.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Everything a plot is drawn from.
#[derive(Debug, Default, Clone)]
pub struct PlotData {
    pub title: String,
    /// The requests' aggregates (band, disruptions, pods, ranges).
    pub requests: RequestsDigest,
    pub timeline: Vec<Event>,
    pub samples: Vec<Sample>,
}

impl PlotData {
    /// Reads a run folder's CSVs (final or `.part`, requests streamed); a
    /// missing file is empty.
    pub fn load(dir: &Path) -> Result<Self, ArtifactsError> {
        let requests = RequestsDigest::read_if_any(dir)?.unwrap_or_default();
        Self::with_requests(dir, requests)
    }

    /// Like [`PlotData::load`], with the requests already digested.
    pub fn with_requests(dir: &Path, requests: RequestsDigest) -> Result<Self, ArtifactsError> {
        fn or_empty<T>(r: Result<Vec<T>, ArtifactsError>) -> Result<Vec<T>, ArtifactsError> {
            match r {
                Err(ArtifactsError::Missing { .. }) => Ok(Vec::new()),
                other => other,
            }
        }
        let title = match super::summary::Summary::read(dir) {
            Ok(s) => format!("{}: {} / {}", s.run_id, s.scenario, s.mode),
            Err(_) => dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        Ok(PlotData {
            title,
            requests,
            timeline: or_empty(read_timeline(dir))?,
            samples: or_empty(read_samples(dir))?,
        })
    }
}

/// Renders the run's plot as an SVG document.
pub fn render_svg(data: &PlotData) -> Result<String, String> {
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height(data))).into_drawing_area();
        draw(&root, data)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Writes `<dir>/plot.svg` from the CSVs in `dir`; returns its path.
pub fn plot_svg(dir: &Path) -> Result<PathBuf, ArtifactsError> {
    write_svg(dir, &PlotData::load(dir)?)
}

/// Writes `<dir>/plot.svg` from `data`; returns its path.
pub fn write_svg(dir: &Path, data: &PlotData) -> Result<PathBuf, ArtifactsError> {
    let path = dir.join(names::PLOT_SVG);
    let svg = render_svg(data).map_err(|detail| ArtifactsError::Plot {
        path: path.clone(),
        detail,
    })?;
    write_atomic(&path, svg.as_bytes())?;
    Ok(path)
}

/// Writes `<dir>/plot.png` from the CSVs in `dir`; returns its path.
pub fn plot_png(dir: &Path) -> Result<PathBuf, ArtifactsError> {
    write_png(dir, &PlotData::load(dir)?)
}

/// Writes `<dir>/plot.png` from `data`; returns its path.
pub fn write_png(dir: &Path, data: &PlotData) -> Result<PathBuf, ArtifactsError> {
    let path = dir.join(names::PLOT_PNG);
    let tmp = dir.join(".plot.tmp.png");
    register_fonts();
    let plot_err = |detail: String| ArtifactsError::Plot {
        path: path.clone(),
        detail,
    };
    let drawn = (|| {
        let root = BitMapBackend::new(&tmp, (WIDTH, height(data))).into_drawing_area();
        draw(&root, data).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(e.to_string()))?;
        persist_rename(&tmp, &path)
    })();
    if drawn.is_err() {
        // A full disk or a size limit must not leave half a picture behind.
        let _ = std::fs::remove_file(&tmp);
    }
    drawn.map(|()| path)
}

pub(super) fn pods(data: &PlotData) -> Vec<String> {
    let mut p: Vec<String> = data.samples.iter().map(|s| s.pod.clone()).collect();
    p.extend(data.requests.pods.iter().cloned());
    p.sort();
    p.dedup();
    p
}

const TITLE_H: u32 = 36;
const EVENTS_H: u32 = 150;
const TOP_H: u32 = 460;
pub(super) const BAND_ROW_H: u32 = 22;
const BOTTOM_H: u32 = 240;

fn bands_h(data: &PlotData) -> u32 {
    2 * BAND_ROW_H * pods(data).len().max(1) as u32 + 70
}

fn height(data: &PlotData) -> u32 {
    TITLE_H + EVENTS_H + TOP_H + bands_h(data) + BOTTOM_H
}

pub fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => RGBColor(90, 130, 190),
        Outcome::Reset => RGBColor(220, 20, 20),
        Outcome::Closed => RGBColor(240, 200, 0),
        Outcome::Refused => RGBColor(150, 40, 200),
        Outcome::Timeout => RGBColor(120, 70, 20),
        Outcome::Http5xx => RGBColor(230, 0, 150),
        Outcome::HttpStatus => RGBColor(0, 160, 160),
        Outcome::Truncated => RGBColor(255, 140, 0),
    }
}

/// Colour of an hc state (gate or legacy name) or HAProxy status.
pub fn state_color(state: Option<&str>) -> RGBColor {
    match state.map(|s| s.to_ascii_uppercase()).as_deref() {
        Some("OPEN" | "READY" | "UP") => RGBColor(80, 180, 90),
        Some("DRAINING" | "NOLB" | "DRAIN") => RGBColor(240, 200, 40),
        Some("CLOSING" | "DRAINED_WAIT_LB") => RGBColor(245, 130, 40),
        Some("CLOSED" | "TERMINATING" | "DOWN") => RGBColor(120, 120, 120),
        Some("FAULT" | "FAILED") => RGBColor(200, 30, 30),
        Some("MAINT") => RGBColor(60, 90, 200),
        Some(_) => RGBColor(170, 140, 200),
        None => RGBColor(230, 230, 230),
    }
}

pub(super) const POD_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

pub(super) fn source_color(source: &Source) -> RGBColor {
    match source {
        Source::Kubelet => RGBColor(170, 0, 0),
        Source::Drain => RGBColor(0, 90, 200),
        Source::Haproxy(1) => RGBColor(120, 0, 160),
        _ => RGBColor(60, 60, 60),
    }
}

/// The events drawn as vertical marks, in time order.
pub fn marked_events(timeline: &[Event]) -> Vec<&Event> {
    let mut v: Vec<&Event> = timeline.iter().filter(|e| e.is_marked()).collect();
    v.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    v
}

pub(super) fn event_label(e: &Event) -> String {
    match &e.pod {
        Some(p) => format!("{} {}", p, e.kind),
        None => format!("{} {}", e.source, e.kind),
    }
}

/// The x range in seconds covering every request, event and sample.
fn x_range(data: &PlotData) -> Range<f64> {
    let mut max = data.requests.t_max_ms.max(1.0);
    for e in &data.timeline {
        max = max.max(e.t_ms);
    }
    for s in &data.samples {
        max = max.max(s.t_ms);
    }
    0.0..(max / 1000.0) * 1.02
}

pub(super) type DrawResult = Result<(), String>;

pub(super) fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A panel's chart: the plot's side margins and y label area, its caption.
pub(super) fn panel<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin_left(MARGIN)
        .margin_right(MARGIN)
        .y_label_area_size(Y_LABEL_AREA)
        .caption(caption, ("sans-serif", 16));
    b
}

/// A panel's series legend, top right.
pub(super) fn series_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e2s)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &PlotData) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(e2s)?;
    let (title, rest) = root.split_vertically(TITLE_H);
    title
        .draw(&Text::new(
            data.title.clone(),
            (MARGIN as i32, 8),
            ("sans-serif", 20).into_font(),
        ))
        .map_err(e2s)?;
    let (events_area, rest) = rest.split_vertically(EVENTS_H);
    let (top, rest) = rest.split_vertically(TOP_H);
    let (bands, bottom) = rest.split_vertically(bands_h(data));
    let xr = x_range(data);
    let marks = marked_events(&data.timeline);
    let xs = draw_latency(&top, data, xr.clone(), &marks)?;
    draw_event_labels(&events_area, &marks, &xs)?;
    draw_bands(&bands, data, xr.clone(), &marks)?;
    draw_active(&bottom, data, xr, &marks)?;
    Ok(())
}
