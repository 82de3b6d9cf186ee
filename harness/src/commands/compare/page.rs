//! The page `harness compare --html` writes: the comparison table, each
//! run's regression verdict and each run's plot (inline SVG).
//!
//! Rendering only; it reads each run's `plot.svg` (or its CSVs when the
//! plot is missing) and writes nothing itself.

use std::fmt::Write as _;

use super::{rows, RunFacts};
use crate::artifacts::names;
use crate::artifacts::report::esc;

/// The comparison page: the table, each run's regression verdict, and each
/// run's plot (its `plot.svg`, inline).
pub fn html(runs: &[RunFacts], verdicts: &[(String, Vec<String>)]) -> String {
    let mut o = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>harness compare</title><style>\
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-size:.92em}\
th{background:#f3f3f3}.bad{color:#c62828;font-weight:bold}.good{color:#2e7d32}.plot svg{max-width:100%;height:auto}\
</style></head><body>\n<h1>Comparison of ",
    );
    let _ = writeln!(o, "{} runs</h1>", runs.len());
    o.push_str("<p>hc states are shown with gate names (legacy names mapped: READY→OPEN, DRAINED_WAIT_LB→CLOSING, TERMINATING→CLOSED, FAILED→FAULT). Latency is corrected (from the intended send time), ok requests only.</p>\n<table>\n");
    for (i, (label, cells)) in rows(runs).iter().enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        let _ = write!(o, "<tr><th>{}</th>", esc(label));
        for c in cells {
            let _ = write!(o, "<{tag}>{}</{tag}>", esc(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n<h2>Regression check (each run against the first)</h2><ul>\n");
    for (name, why) in verdicts {
        if why.is_empty() {
            let _ = writeln!(o, "<li class=\"good\">{}: no regression</li>", esc(name));
        } else {
            let _ = writeln!(
                o,
                "<li class=\"bad\">{}: REGRESSION: {}</li>",
                esc(name),
                esc(&why.join("; "))
            );
        }
    }
    o.push_str("</ul>\n");
    for r in runs {
        let _ = writeln!(
            o,
            "<h2>{}</h2><p><a href=\"{}\">report.html</a></p>",
            esc(&r.name),
            esc(&r.dir.join(names::REPORT).display().to_string())
        );
        let svg = std::fs::read_to_string(r.dir.join(names::PLOT_SVG))
            .ok()
            .or_else(|| {
                crate::artifacts::plot::PlotData::load(&r.dir)
                    .ok()
                    .and_then(|d| crate::artifacts::plot::render_svg(&d).ok())
            });
        match svg {
            Some(svg) => {
                let _ = writeln!(o, "<div class=\"plot\">{svg}</div>");
            }
            None => o.push_str("<p>no plot could be drawn for this run</p>\n"),
        }
    }
    o.push_str("</body></html>\n");
    o
}
