//! `harness compare <A> <B> [...]`: runs side by side (verdict, disruptions
//! by outcome, p50/p99/p99.9/max, drain time, LB detection time, wall time,
//! hc states of the terminated pod), old legacy-naming runs and new
//! gate-naming runs alike: every hc state read from `samples.csv` and
//! `timeline.csv` is mapped to its gate name with [`gate::to_gate_name`].
//!
//! Regression (for `--fail-on-regression`): every run after the first is
//! compared with the first (the baseline). A run regresses when it has
//! more disruptions than the baseline, or when its corrected p99 exceeds
//! `baseline p99 × (1 + pct/100) + ms` (default 50 % + 5 ms: loopback
//! latencies are a few ms and jitter by whole ms between identical runs),
//! or when it has no latency figure (no `ok` request) while the baseline
//! has one.
//!
//! It reads run folders only; `--html` writes the one page it is asked for.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{load_run, CommandError};
use crate::artifacts::{read_samples, read_timeline, write_atomic};
use crate::model::{EventKind, Outcome, Source};

mod page;
pub use page::html;

/// The p99 tolerance of the regression check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative slack, in percent of the baseline's p99.
    pub p99_pct: f64,
    /// Absolute slack, in ms.
    pub p99_ms: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            p99_pct: 50.0,
            p99_ms: 5.0,
        }
    }
}

/// The gate states whose first entry is shown, in drain order.
const SHOWN_STATES: [gate::State; 3] = [
    gate::State::Draining,
    gate::State::Closing,
    gate::State::Closed,
];

/// One run's comparable facts.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub dir: PathBuf,
    pub name: String,
    pub scenario: String,
    pub mode: String,
    pub naming: String,
    pub verdict: String,
    pub requests: u64,
    pub disruptions: u64,
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Corrected latency (ms): p50, p99, p99.9, max.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
    /// The preStop hook's duration (ms).
    pub drain_ms: Option<f64>,
    /// summary.drain.close_lb_to_down_ms.
    pub lb_detect_ms: Option<f64>,
    pub wall_s: Option<f64>,
    /// The pod that was terminated (first `terminating` on the timeline).
    pub pod: Option<String>,
    /// The hc states of that pod in the order seen, gate names.
    pub states: Vec<String>,
    /// Seconds from `terminating` to the first entry into each shown state.
    pub state_entry_s: BTreeMap<String, f64>,
}

fn push_state(states: &mut Vec<String>, s: &str) {
    if states.last().map(String::as_str) != Some(s) {
        states.push(s.to_string());
    }
}

/// Reads a run folder's facts (a killed run's counts are recomputed).
pub fn facts(dir: &Path) -> Result<RunFacts, CommandError> {
    let run = load_run(dir)?;
    let s = &run.summary;
    let timeline = read_timeline(dir).unwrap_or_default();
    let samples = read_samples(dir).unwrap_or_default();
    let term = timeline.iter().find(|e| e.kind == EventKind::Terminating);
    let pod = term
        .and_then(|e| e.pod.clone())
        .or_else(|| s.attributions.iter().find_map(|a| a.pod.clone()));
    let t0 = term.map_or(0.0, |e| e.t_ms);
    // (t_ms, gate name) from both sources, then in time order.
    let mut seen: Vec<(f64, String)> = Vec::new();
    if let Some(p) = &pod {
        for e in timeline.iter().filter(|e| {
            e.source == Source::Hc && e.kind == EventKind::State && e.pod.as_ref() == Some(p)
        }) {
            if let Some((_, to)) = e.detail.split_once("->") {
                let to = to.split_whitespace().next().unwrap_or("");
                if !to.is_empty() && to != "?" {
                    seen.push((e.t_ms, gate::to_gate_name(to)));
                }
            }
        }
        for smp in samples.iter().filter(|x| &x.pod == p) {
            if let Some(st) = smp.hc_state.as_deref().filter(|x| !x.is_empty()) {
                seen.push((smp.t_ms, gate::to_gate_name(st)));
            }
        }
    }
    seen.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut states = Vec::new();
    let mut state_entry_s = BTreeMap::new();
    for (t, st) in &seen {
        push_state(&mut states, st);
        if term.is_some() {
            state_entry_s.entry(st.clone()).or_insert((t - t0) / 1000.0);
        }
    }
    let c = s.latency_ms.corrected;
    Ok(RunFacts {
        dir: dir.to_path_buf(),
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        scenario: s.scenario.clone(),
        mode: s.mode.clone(),
        naming: s.naming.to_string(),
        verdict: s.verdict.as_str().to_string(),
        requests: s.requests,
        disruptions: s.disruptions,
        outcomes: s.outcomes.clone(),
        p50: c.map(|p| p.p50),
        p99: c.map(|p| p.p99),
        p999: c.map(|p| p.p999),
        max: c.map(|p| p.max),
        drain_ms: s.drain.prestop_ms,
        lb_detect_ms: s.drain.close_lb_to_down_ms,
        wall_s: s.wall_s,
        pod,
        states,
        state_entry_s,
    })
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// The table's rows: a label, then one cell per run.
pub fn rows(runs: &[RunFacts]) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, cell: &dyn Fn(&RunFacts) -> String| {
        rows.push((label.to_string(), runs.iter().map(cell).collect()));
    };
    row("run", &|r| r.name.clone());
    row("scenario / mode", &|r| {
        format!("{} / {}", r.scenario, r.mode)
    });
    row("naming (as recorded)", &|r| r.naming.clone());
    row("verdict", &|r| r.verdict.to_uppercase());
    row("requests", &|r| r.requests.to_string());
    row("disruptions", &|r| r.disruptions.to_string());
    for o in Outcome::ALL.iter().filter(|o| o.is_disruption()) {
        row(&format!("  {o}"), &|r| {
            r.outcomes.get(o).copied().unwrap_or(0).to_string()
        });
    }
    row("p50 ms", &|r| f(r.p50, 2));
    row("p99 ms", &|r| f(r.p99, 2));
    row("p99.9 ms", &|r| f(r.p999, 2));
    row("max ms", &|r| f(r.max, 2));
    row("drain (preStop) s", &|r| {
        f(r.drain_ms.map(|v| v / 1000.0), 2)
    });
    row("LB detection (close-lb -> DOWN) s", &|r| {
        f(r.lb_detect_ms.map(|v| v / 1000.0), 2)
    });
    row("wall time s", &|r| f(r.wall_s, 1));
    row("terminated pod", &|r| {
        r.pod.clone().unwrap_or_else(|| "-".into())
    });
    row("hc states (gate names)", &|r| {
        if r.states.is_empty() {
            "-".into()
        } else {
            r.states.join(">")
        }
    });
    for st in SHOWN_STATES {
        let name = st.gate_name();
        row(&format!("  {name} after terminating s"), &|r| {
            f(r.state_entry_s.get(name).copied(), 2)
        });
    }
    rows
}

/// The side-by-side table as text (one column per run).
pub fn table(runs: &[RunFacts]) -> String {
    let rows = rows(runs);
    let lw = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..runs.len())
        .map(|i| {
            rows.iter()
                .map(|(_, c)| c[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut o = String::new();
    for (label, cells) in &rows {
        let _ = write!(o, "{label:<lw$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(o, "  {c:<w$}");
        }
        o.push('\n');
    }
    o
}

/// Why `run` regresses on `base` (empty: it does not).
pub fn regressions(base: &RunFacts, run: &RunFacts, tol: Tolerance) -> Vec<String> {
    let mut why = Vec::new();
    if run.disruptions > base.disruptions {
        why.push(format!(
            "disruptions {} > {}",
            run.disruptions, base.disruptions
        ));
    }
    match (base.p99, run.p99) {
        (Some(a), Some(b)) => {
            let limit = a * (1.0 + tol.p99_pct / 100.0) + tol.p99_ms;
            if b > limit {
                why.push(format!(
                    "p99 {b:.2} ms > {limit:.2} ms (baseline {a:.2} ms + {}% + {} ms)",
                    tol.p99_pct, tol.p99_ms
                ));
            }
        }
        (Some(a), None) => why.push(format!(
            "no p99 (no ok request) where the baseline had {a:.2} ms"
        )),
        _ => {}
    }
    why
}

/// What `compare` found.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub runs: Vec<RunFacts>,
    pub table: String,
    /// Per run after the first: its name and why it regresses.
    pub verdicts: Vec<(String, Vec<String>)>,
    pub warnings: Vec<String>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.verdicts.iter().any(|(_, w)| !w.is_empty())
    }
}

/// Compares the runs in `dirs` (at least two); writes the page to `html_out`
/// when given.
pub fn compare(
    dirs: &[PathBuf],
    tol: Tolerance,
    html_out: Option<&Path>,
) -> Result<Comparison, CommandError> {
    if dirs.len() < 2 {
        return Err(CommandError::Usage(
            "compare needs at least two run folders".into(),
        ));
    }
    let runs = dirs
        .iter()
        .map(|d| facts(d))
        .collect::<Result<Vec<_>, _>>()?;
    let base = &runs[0];
    let mut warnings = Vec::new();
    for r in &runs[1..] {
        if (r.scenario.as_str(), r.mode.as_str()) != (base.scenario.as_str(), base.mode.as_str()) {
            warnings.push(format!(
                "{} is {} / {}, the baseline {} is {} / {}: the runs measure different things",
                r.name, r.scenario, r.mode, base.name, base.scenario, base.mode
            ));
        }
    }
    let verdicts: Vec<(String, Vec<String>)> = runs[1..]
        .iter()
        .map(|r| (r.name.clone(), regressions(base, r, tol)))
        .collect();
    if let Some(out) = html_out {
        write_atomic(out, html(&runs, &verdicts).as_bytes())?;
    }
    Ok(Comparison {
        table: table(&runs),
        runs,
        verdicts,
        warnings,
    })
}

/// The flags of `harness compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Run folders (or names inside the artifacts folder); the first is the baseline.
    #[arg(num_args = 2.., required = true)]
    pub runs: Vec<PathBuf>,
    /// Exit 1 when a later run regresses on the first.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Relative p99 tolerance, percent of the baseline's p99.
    #[arg(long, default_value_t = 50.0)]
    pub p99_tolerance_pct: f64,
    /// Absolute p99 tolerance, ms.
    #[arg(long, default_value_t = 5.0)]
    pub p99_tolerance_ms: f64,
    /// Also write a comparison page (the table and every run's plot) here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    #[arg(long, env = "LAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
}

impl CompareArgs {
    /// `harness compare`: prints the table and the regression verdicts;
    /// exit code 1 when `--fail-on-regression` and a later run regresses
    /// on the first.
    pub fn run(&self) -> Result<ExitCode, CommandError> {
        let tol = Tolerance {
            p99_pct: self.p99_tolerance_pct,
            p99_ms: self.p99_tolerance_ms,
        };
        let root = super::artifacts_root(self.artifacts.clone());
        let dirs: Vec<PathBuf> = self
            .runs
            .iter()
            .map(|r| super::resolve_run(r, &root))
            .collect();
        let c = compare(&dirs, tol, self.html.as_deref())?;
        print_comparison(&c, self.html.as_deref());
        Ok(if self.fail_on_regression && c.regressed() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn print_comparison(c: &Comparison, html_out: Option<&Path>) {
    for w in &c.warnings {
        println!("warning: {w}");
    }
    println!("{}", c.table);
    let base = &c.runs[0].name;
    for (name, why) in &c.verdicts {
        if why.is_empty() {
            println!("{name}: no regression against {base}");
        } else {
            println!("{name}: REGRESSION against {base}: {}", why.join("; "));
        }
    }
    if let Some(h) = html_out {
        println!("wrote {}", h.display());
    }
}
