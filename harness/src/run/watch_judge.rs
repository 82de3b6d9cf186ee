//! Judge of a `harness watch`: the counts, attributions (from the timeline:
//! an outside service's proxies log nowhere the harness reads), the
//! accounting (every scheduled request one row, else `invalid`), and the
//! expectations a watch has: disruptions within `--max-disruptions`, and
//! the command exited 0 by itself within `--duration`.
//!
//! Pure: reads what the watch collected, never does I/O.

use crate::artifacts::{ExpectationResult, Summary};
use crate::observe::evidence::{self, Evidence};

use super::accounting::{account, AccountingFacts};
use super::drive::Driven;
use super::during::CommandEnd;
use super::judge::Judged;

/// What a watch promises beyond the load.
pub struct WatchFacts<'a> {
    pub max_disruptions: u64,
    pub command: &'a CommandEnd,
}

/// Judges the watch `d`, completing `summary`.
pub fn judge(mut summary: Summary, d: &Driven, w: &WatchFacts<'_>) -> Judged {
    let failed = d.outcome.is_err();
    if let Err(e) = &d.outcome {
        summary.notes.push(format!("watch failed: {e:#}"));
    }
    let disruptions = match &d.records {
        Some(r) => {
            r.tally.apply_to(&mut summary);
            r.disruptions.as_slice()
        }
        None => &[][..],
    };
    let none = Evidence::default();
    summary.attributions = disruptions
        .iter()
        .map(|r| evidence::attribute(r, &none, &d.events))
        .collect();
    let facts = d.outcome.as_ref().ok();
    if let Some(l) = facts.and_then(|f| f.load.as_ref()) {
        summary.notes.push(format!(
            "load: {} scheduled, {} sent, {} completed, {} sent more than 1 ms late",
            l.scheduled, l.sent, l.completed, l.late_sends
        ));
    }
    let interrupted = d.interrupted.is_some() || failed;
    if !interrupted {
        summary.expectations = expectations(summary.disruptions, w);
        let (table, mut gaps) = account(&AccountingFacts {
            specs: facts.map(|f| f.specs.as_slice()).unwrap_or_default(),
            stats: facts.and_then(|f| f.load.as_ref()),
            rows: d.records.as_ref().map(|r| r.tally.requests),
            errors: &d.write_errors,
        });
        if summary.requests == 0 {
            gaps.push("no request was recorded: the watch saw nothing".into());
        }
        summary.accounting = table;
        summary.invalid = gaps;
    } else {
        summary.notes.extend(d.write_errors.iter().cloned());
    }
    summary.interrupted = interrupted;
    summary.decide_verdict();
    Judged { summary }
}

/// `disruptions <= max` and `command exited 0`.
fn expectations(disruptions: u64, w: &WatchFacts<'_>) -> Vec<ExpectationResult> {
    let cmd = match w.command {
        CommandEnd::Exited(0) => (true, "it exited 0".to_string()),
        CommandEnd::Exited(c) => (false, format!("it exited {c}")),
        CommandEnd::Stopped => (
            false,
            "it was still running at --duration and was stopped".to_string(),
        ),
        CommandEnd::NotStarted(why) => (false, format!("it did not start: {why}")),
    };
    vec![
        ExpectationResult {
            name: format!("disruptions <= {}", w.max_disruptions),
            ok: disruptions <= w.max_disruptions,
            detail: format!("{disruptions} disruptions"),
        },
        ExpectationResult {
            name: "the --during command exited 0 within --duration".into(),
            ok: cmd.0,
            detail: cmd.1,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_follows_max_disruptions_and_the_command() {
        let ok = CommandEnd::Exited(0);
        let w = |max, command| WatchFacts {
            max_disruptions: max,
            command,
        };
        assert!(expectations(0, &w(0, &ok)).iter().all(|e| e.ok));
        assert!(!expectations(1, &w(0, &ok))[0].ok);
        assert!(expectations(5, &w(5, &ok))[0].ok);
        assert!(!expectations(0, &w(0, &CommandEnd::Exited(3)))[1].ok);
        assert!(!expectations(0, &w(0, &CommandEnd::Stopped))[1].ok);
    }
}
