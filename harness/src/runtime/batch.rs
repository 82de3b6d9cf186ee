//! A process's output cut into lines and handed on in batches, shared by
//! both runtimes' pumps: every complete line of one read goes to the log
//! file in one write and to the run's tee in one message ([`LineBatch`]).
//! A process whose lines carry their own times (HAProxy's ISO stamp,
//! Envoy's start time) can be read at most once per [`ProcSpec::batch_every`]
//! (crate::runtime::ProcSpec), so a busy proxy costs the harness a wake-up
//! per interval, not one per line.
//!
//! It must never drop a line it read: a partial line waits for its end, and
//! is flushed when the stream ends.

use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior};

use super::cleanup::lock;
use super::logfile::SharedLog;
use super::LineSink;

/// Lines of a process's output read together, with the instant they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineBatch {
    pub at: Instant,
    pub lines: Vec<String>,
}

/// A pump's pace: at most one read per interval, or no limit.
pub struct Pace(Option<Interval>);

impl Pace {
    pub fn new(every: Option<Duration>) -> Self {
        Pace(every.map(|d| {
            let mut i = tokio::time::interval(d);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        }))
    }

    /// Returns when the next read may start.
    pub async fn ready(&mut self) {
        if let Some(i) = &mut self.0 {
            i.tick().await;
        }
    }
}

/// Cuts a byte stream into lines (`\n`, a trailing `\r` dropped), keeping a
/// partial line until its end arrives.
#[derive(Debug, Default)]
pub struct Splitter {
    partial: Vec<u8>,
}

impl Splitter {
    /// Appends `bytes`; returns the lines they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(pos);
            if self.partial.is_empty() {
                out.push(line_of(head));
            } else {
                self.partial.extend_from_slice(head);
                out.push(line_of(&self.partial));
                self.partial.clear();
            }
            rest = &tail[1..];
        }
        self.partial.extend_from_slice(rest);
        out
    }

    /// The last line, when the stream ended without a newline.
    pub fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| {
            let l = line_of(&self.partial);
            self.partial.clear();
            l
        })
    }
}

fn line_of(mut b: &[u8]) -> String {
    while let Some((b'\r', rest)) = b.split_last() {
        b = rest;
    }
    String::from_utf8_lossy(b).into_owned()
}

/// Writes `lines` to `file` (one write) and sends them to `tee` as one batch.
pub fn deliver(file: &SharedLog, tee: Option<&LineSink>, at: Instant, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    lock(file).write_lines(&lines);
    if let Some(t) = tee {
        // Fails only when the run stopped reading this process's tee; the
        // lines are in its log file all the same.
        if t.send(LineBatch { at, lines }).is_err() {
            tracing::debug!("a tee's reader is gone");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_across_reads_and_a_last_partial() {
        let mut s = Splitter::default();
        assert_eq!(s.push(b"one\r\ntw"), vec!["one"]);
        assert_eq!(s.push(b"o\nthree\n\nfo"), vec!["two", "three", ""]);
        assert_eq!(s.push(b"ur"), Vec::<String>::new());
        assert_eq!(s.finish(), Some("four".into()));
        assert_eq!(s.finish(), None);
    }

    proptest! {
        /// However the bytes are cut into reads, the same lines come out.
        #[test]
        fn cuts_do_not_change_the_lines(
            lines in proptest::collection::vec("[a-z =\\[\\]]{0,12}", 0..12),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let bytes = text.as_bytes();
            let mut at: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            at.sort_unstable();
            let mut s = Splitter::default();
            let mut got = Vec::new();
            let mut from = 0;
            for c in at.into_iter().chain([bytes.len()]) {
                got.extend(s.push(&bytes[from..c]));
                from = c;
            }
            prop_assert_eq!(s.finish(), None);
            prop_assert_eq!(got, lines);
        }
    }
}
