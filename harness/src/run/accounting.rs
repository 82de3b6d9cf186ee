//! Accounting (DESIGN §3.4): every scheduled request ends as exactly one
//! row. Per load entry, what the scenario asks for must equal what the load
//! generator scheduled, started and handed to the sink; the sink must have
//! written every row it got; no writer may have failed. Each gap is one line
//! naming it, and any gap makes the run `invalid`.
//!
//! Pure: compares numbers the run collected, never does I/O.

use crate::artifacts::EntryAccount;
use crate::loadgen::{LoadSpec, LoadStats, SteadySchedule};

/// What the run collected about its requests.
pub struct AccountingFacts<'a> {
    pub specs: &'a [LoadSpec],
    /// `None`: the drive ended before the load finished.
    pub stats: Option<&'a LoadStats>,
    /// Rows the records sink wrote to requests.csv; `None` when the sink
    /// itself failed (its error is in `errors`).
    pub rows: Option<u64>,
    /// Every sink or writer error (requests.csv, timeline.csv, samples.csv),
    /// one line each, naming the file.
    pub errors: &'a [String],
}

/// The most a request may start after its intended time before the run
/// is `invalid`: beyond it the harness itself (a starved CPU) shaped the
/// load, and the timeouts it then records are its own.
pub const MAX_START_LAG_MS: f64 = 1_000.0;

/// How many requests a spec asks for (`None`: closed loop, not known ahead).
pub fn expected(spec: &LoadSpec) -> Option<u64> {
    match spec {
        LoadSpec::Long { count, .. } | LoadSpec::Stream { count, .. } => Some(u64::from(*count)),
        LoadSpec::Steady {
            rate,
            duration_ms,
            start_ms,
            ..
        }
        | LoadSpec::Open {
            rate,
            duration_ms,
            start_ms,
            ..
        } => Some(SteadySchedule::new(*start_ms, *rate, *duration_ms).len()),
        LoadSpec::Closed { .. } => None,
    }
}

fn label(i: usize, spec: &LoadSpec) -> String {
    let kind = match spec {
        LoadSpec::Long { .. } => "long",
        LoadSpec::Stream { .. } => "stream",
        LoadSpec::Steady { .. } => "steady",
        LoadSpec::Open { .. } => "open",
        LoadSpec::Closed { .. } => "closed",
    };
    format!("load[{i}] ({kind})")
}

/// The per-entry table and every gap.
pub fn account(f: &AccountingFacts<'_>) -> (Vec<EntryAccount>, Vec<String>) {
    let mut gaps: Vec<String> = f.errors.to_vec();
    let stats = match f.stats {
        Some(s) if s.ran => s,
        Some(_) => {
            gaps.push("the load generator never ran (no load statistics came back)".into());
            return (Vec::new(), gaps);
        }
        None => {
            gaps.push("the load did not run to its end".into());
            return (Vec::new(), gaps);
        }
    };
    gaps.extend(stats.failures.iter().cloned());
    if stats.max_start_lag_ms > MAX_START_LAG_MS {
        gaps.push(format!(
            "the load generator fell behind its schedule by up to {:.1} s (limit {:.1} s): the load was not the one the scenario asks for",
            stats.max_start_lag_ms / 1000.0,
            MAX_START_LAG_MS / 1000.0
        ));
    }
    let mut table = Vec::new();
    for (i, spec) in f.specs.iter().enumerate() {
        let name = label(i, spec);
        let Some(e) = stats.entries.get(i) else {
            gaps.push(format!("{name}: the load generator has no count for it"));
            continue;
        };
        if let Some(want) = expected(spec) {
            if e.scheduled != want {
                gaps.push(format!(
                    "{name}: the scenario asks for {want} requests, {} were scheduled",
                    e.scheduled
                ));
            }
        }
        if e.started != e.scheduled || e.recorded != e.started {
            gaps.push(format!(
                "{name}: {} scheduled, {} sent, {} recorded",
                e.scheduled, e.started, e.recorded
            ));
        }
        table.push(EntryAccount {
            load: name,
            scheduled: e.scheduled,
            sent: e.started,
            recorded: e.recorded,
        });
    }
    let recorded: u64 = stats.entries.iter().map(|e| e.recorded).sum();
    if let Some(rows) = f.rows {
        if rows != recorded {
            gaps.push(format!(
                "requests.csv has {rows} rows for {recorded} recorded requests"
            ));
        }
    }
    (table, gaps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::EntryStats;

    fn specs() -> Vec<LoadSpec> {
        vec![
            LoadSpec::Long {
                count: 1,
                seconds: 60,
                start_ms: 200,
                pin_pod: None,
            },
            LoadSpec::Steady {
                rate: 100.0,
                duration_ms: 1_000,
                path: "/".into(),
                start_ms: 200,
                keepalive: 0.9,
                max_conns: 8,
                seed: 1,
            },
        ]
    }

    fn stats(entries: Vec<EntryStats>) -> LoadStats {
        LoadStats {
            ran: true,
            entries,
            ..Default::default()
        }
    }

    fn e(scheduled: u64, started: u64, recorded: u64) -> EntryStats {
        EntryStats {
            scheduled,
            started,
            recorded,
        }
    }

    #[test]
    fn every_request_accounted_for_is_no_gap() {
        let sp = specs();
        let n = expected(&sp[1]).unwrap();
        assert_eq!(n, 100);
        let st = stats(vec![e(1, 1, 1), e(n, n, n)]);
        let (table, gaps) = account(&AccountingFacts {
            specs: &sp,
            stats: Some(&st),
            rows: Some(n + 1),
            errors: &[],
        });
        assert!(gaps.is_empty(), "{gaps:?}");
        assert_eq!(table.len(), 2);
        assert_eq!(table[1].load, "load[1] (steady)");
    }

    #[test]
    fn each_gap_is_named() {
        let sp = specs();
        let st = stats(vec![e(1, 1, 0), e(100, 90, 90)]);
        let errors = vec!["timeline.csv: disk full".to_string()];
        let (_, gaps) = account(&AccountingFacts {
            specs: &sp,
            stats: Some(&st),
            rows: Some(80),
            errors: &errors,
        });
        assert_eq!(
            gaps,
            vec![
                "timeline.csv: disk full".to_string(),
                "load[0] (long): 1 scheduled, 1 sent, 0 recorded".into(),
                "load[1] (steady): 100 scheduled, 90 sent, 90 recorded".into(),
                "requests.csv has 80 rows for 90 recorded requests".into(),
            ]
        );
    }

    #[test]
    fn a_load_that_never_ran_or_scheduled_less_is_a_gap() {
        let sp = specs();
        let never = LoadStats::default();
        let (_, gaps) = account(&AccountingFacts {
            specs: &sp,
            stats: Some(&never),
            rows: Some(0),
            errors: &[],
        });
        assert_eq!(
            gaps,
            vec!["the load generator never ran (no load statistics came back)"]
        );
        let mut short = stats(vec![e(1, 1, 1), e(40, 40, 40)]);
        short
            .failures
            .push("a load scheduler ended early: panic".into());
        short.max_start_lag_ms = 2_500.0;
        let (_, gaps) = account(&AccountingFacts {
            specs: &sp,
            stats: Some(&short),
            rows: Some(41),
            errors: &[],
        });
        assert_eq!(
            gaps,
            vec![
                "a load scheduler ended early: panic".to_string(),
                "the load generator fell behind its schedule by up to 2.5 s (limit 1.0 s): the load was not the one the scenario asks for".into(),
                "load[1] (steady): the scenario asks for 100 requests, 40 were scheduled".into(),
            ]
        );
    }
}
