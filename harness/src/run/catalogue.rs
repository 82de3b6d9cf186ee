//! `harness scenario all`: picks the scenarios of the catalogue (`--only`,
//! `--skip`), runs each of their modes one after another, and renders the
//! one table of the whole catalogue (scenario, mode, verdict, disruptions by
//! outcome, p99, drain time, wall time).
//!
//! Sequencing and formatting only; one run at a time (they share the pod net).

use std::fmt::Write as _;
use std::path::Path;

use crate::artifacts::Verdict;
use crate::scenario::{self, Scenario};

use super::{RunEnv, RunResult};

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub mode: String,
    /// PASS, FAIL, ERROR, INTERRUPTED, INVALID.
    pub verdict: String,
    pub pass: bool,
    pub requests: u64,
    pub disruptions: u64,
    /// `reset=1 http_5xx=2` (non-zero disruption outcomes only).
    pub by_outcome: String,
    pub p99_ms: Option<f64>,
    pub prestop_s: Option<f64>,
    pub wall_s: Option<f64>,
    /// The failed expectations, or the error.
    pub why: String,
}

/// A scenario to run, or why it cannot be.
pub type Picked = (String, Result<Scenario, String>);

/// The catalogue of `dir`, filtered: `only` (when not empty) keeps those
/// ids, `skip` drops those. An id in `only` or `skip` that is not in the
/// catalogue is an error (a typo would silently run nothing).
pub fn pick(dir: &Path, only: &[String], skip: &[String]) -> anyhow::Result<Vec<Picked>> {
    let all = scenario::catalogue(dir);
    let ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    for id in only.iter().chain(skip) {
        if !ids.contains(&id.as_str()) {
            anyhow::bail!(
                "no scenario {id:?} in {} (there are: {})",
                dir.display(),
                ids.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|(id, _)| only.is_empty() || only.contains(id))
        .filter(|(id, _)| !skip.contains(id))
        .map(|(id, r)| (id, r.map_err(|e| e.to_string())))
        .collect())
}

/// Runs every picked scenario (every mode, or just `mode` where the
/// scenario has it); `each` sees every scenario's results as they finish.
pub fn run_all(
    env: &RunEnv,
    rt: &tokio::runtime::Runtime,
    picked: &[Picked],
    mode: &crate::scenario::ModeSelect,
    mut each: impl FnMut(&str, &[(String, anyhow::Result<RunResult>)]),
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (id, sc) in picked {
        let sc = match sc {
            Ok(sc) => sc,
            Err(e) => {
                rows.push(invalid(id, e));
                continue;
            }
        };
        let Some(modes) = sc.select_modes(mode) else {
            continue;
        };
        let mut results = Vec::new();
        for m in &modes {
            println!("== {} / {m}: {}", sc.id, sc.modes[m].about);
            let r = rt.block_on(super::run_mode(env, sc, m));
            if let Err(e) = &r {
                eprintln!("harness: {} / {m}: {e:#}", sc.id);
            }
            rows.push(row(&sc.id, m, &r));
            results.push((m.clone(), r));
            if env.interrupts.interrupted().is_some() {
                break;
            }
        }
        each(&sc.id, &results);
        if env.interrupts.interrupted().is_some() {
            break;
        }
    }
    rows
}

fn invalid(id: &str, e: &str) -> Row {
    Row {
        scenario: id.to_string(),
        mode: "-".into(),
        verdict: "INVALID".into(),
        pass: false,
        requests: 0,
        disruptions: 0,
        by_outcome: String::new(),
        p99_ms: None,
        prestop_s: None,
        wall_s: None,
        why: e.to_string(),
    }
}

/// The table row of one run.
pub fn row(id: &str, mode: &str, r: &anyhow::Result<RunResult>) -> Row {
    match r {
        Ok(r) => {
            let s = &r.summary;
            let failed: Vec<String> = s
                .expectations
                .iter()
                .filter(|e| !e.ok)
                .map(|e| format!("{} ({})", e.name, e.detail))
                .collect();
            Row {
                scenario: id.to_string(),
                mode: mode.to_string(),
                verdict: s.verdict.as_str().to_uppercase(),
                pass: s.verdict == Verdict::Pass,
                requests: s.requests,
                disruptions: s.disruptions,
                by_outcome: s.disruptions_text(),
                p99_ms: s.latency_ms.corrected.as_ref().map(|p| p.p99),
                prestop_s: s.drain.prestop_ms.map(|p| p / 1000.0),
                wall_s: s.wall_s,
                why: failed.join("; "),
            }
        }
        Err(e) => {
            let text = format!("{e:#}");
            Row {
                verdict: if e.downcast_ref::<super::Interrupted>().is_some() {
                    "INTERRUPTED".into()
                } else {
                    "ERROR".into()
                },
                ..invalid(id, &text)
            }
            .with_mode(mode)
        }
    }
}

impl Row {
    fn with_mode(mut self, mode: &str) -> Row {
        self.mode = mode.to_string();
        self
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The catalogue table, then one line per row that did not pass.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:<14} {:<11} {:>8} {:>6}  {:<30} {:>9} {:>9} {:>7}",
        "scenario",
        "mode",
        "verdict",
        "requests",
        "disr.",
        "by outcome",
        "p99 ms",
        "drain s",
        "wall s"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<9} {:<14} {:<11} {:>8} {:>6}  {:<30} {:>9} {:>9} {:>7}",
            r.scenario,
            r.mode,
            r.verdict,
            r.requests,
            r.disruptions,
            if r.by_outcome.is_empty() {
                "-"
            } else {
                &r.by_outcome
            },
            opt(r.p99_ms, 1),
            opt(r.prestop_s, 1),
            opt(r.wall_s, 0),
        );
    }
    let passed = rows.iter().filter(|r| r.pass).count();
    let _ = writeln!(out, "{passed}/{} runs passed", rows.len());
    for r in rows.iter().filter(|r| !r.pass) {
        let _ = writeln!(
            out,
            "  {} / {}: {} {}",
            r.scenario, r.mode, r.verdict, r.why
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_failures_after_the_rows() {
        let mut a = invalid("s9", "line 3: unknown field `bogus`");
        a.mode = "-".into();
        let t = table(&[a]);
        assert!(t.contains("s9"), "{t}");
        assert!(t.contains("0/1 runs passed"), "{t}");
        assert!(t.contains("INVALID line 3: unknown field `bogus`"), "{t}");
    }

    #[test]
    fn unknown_ids_in_filters_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s1.toml"), "id = \"s1\"").unwrap();
        let e = pick(dir.path(), &["s2".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("no scenario \"s2\""), "{e}");
        let p = pick(dir.path(), &[], &["s1".into()]).unwrap();
        assert!(p.is_empty());
        let p = pick(dir.path(), &[], &[]).unwrap();
        assert_eq!(p.len(), 1);
        assert!(p[0].1.is_err(), "an invalid file is picked, as invalid");
    }
}
