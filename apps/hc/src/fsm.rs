//! The hc state machine: the current [`State`], when it was entered, the
//! last 100 transitions, and the per-checker refusal counts of
//! `/health_check.html`. Every change happens under one lock; the transition
//! log line is written after the lock is released.
//!
//! No I/O but that log line; it must never hold the lock across an await or a write.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use gate::{Naming, State};
use tokio::time::Instant;

/// How many transitions the history keeps (oldest dropped first).
pub const HISTORY_LEN: usize = 100;
/// At most this many distinct health-check clients are remembered; later ones
/// are answered but not counted (a bound against address spraying).
pub const MAX_CHECKERS: usize = 4096;
/// A `?reason=` longer than this is cut (in characters).
pub const MAX_REASON_CHARS: usize = 256;

/// One transition request, named by its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Drain,
    CloseLb,
    Close,
    Reopen,
    Fault,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Drain,
        Action::CloseLb,
        Action::Close,
        Action::Reopen,
        Action::Fault,
    ];

    /// The endpoint path (`/drain` ...).
    pub fn path(self) -> &'static str {
        match self {
            Action::Drain => "/drain",
            Action::CloseLb => "/close-lb",
            Action::Close => "/close",
            Action::Reopen => "/reopen",
            Action::Fault => "/fault",
        }
    }

    /// The state a successful call leads to.
    pub fn target(self) -> State {
        match self {
            Action::Drain => State::Draining,
            Action::CloseLb => State::Closing,
            Action::Close => State::Closed,
            Action::Reopen => State::Open,
            Action::Fault => State::Fault,
        }
    }

    /// The states this action may leave.
    pub fn sources(self) -> &'static [State] {
        match self {
            Action::Drain => &[State::Open],
            Action::CloseLb => &[State::Draining],
            Action::Close => &[State::Closing],
            Action::Reopen => &[State::Draining, State::Closing],
            Action::Fault => &State::ALL,
        }
    }

    pub fn allowed_from(self, s: State) -> bool {
        self.sources().contains(&s)
    }
}

/// A transition that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: DateTime<Utc>,
    pub from: State,
    pub to: State,
    pub reason: String,
}

/// A transition asked from the wrong state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub action: Action,
    pub current: State,
}

impl Refused {
    /// A one-line reason in the given naming.
    pub fn message(&self, naming: Naming) -> String {
        let cur = self.current.name(naming);
        if self.action == Action::Reopen && self.current == State::Closed {
            return format!("{} is unrecoverable: /reopen is refused", cur);
        }
        let needs: Vec<&str> = self
            .action
            .sources()
            .iter()
            .map(|s| s.name(naming))
            .collect();
        format!(
            "{} needs {}, hc is {}",
            self.action.path(),
            needs.join(" or "),
            cur
        )
    }
}

/// Everything `/drain/status` shows, copied out under the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub state: State,
    pub since: DateTime<Utc>,
    pub elapsed_ms: u64,
    pub history: Vec<Record>,
    pub lb_refusals: BTreeMap<String, u32>,
}

struct Inner {
    state: State,
    since: DateTime<Utc>,
    since_mono: Instant,
    history: VecDeque<Record>,
    refusals: HashMap<IpAddr, u32>,
}

/// The state machine. Cheap to share behind an `Arc`.
pub struct Fsm {
    inner: Mutex<Inner>,
    naming: Naming,
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-04-26T10:00:00.123Z`.
pub fn rfc3339_ms(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Fsm {
    pub fn new(naming: Naming) -> Self {
        Fsm {
            inner: Mutex::new(Inner {
                state: State::Open,
                since: Utc::now(),
                since_mono: Instant::now(),
                history: VecDeque::with_capacity(HISTORY_LEN),
                refusals: HashMap::new(),
            }),
            naming,
        }
    }

    pub fn naming(&self) -> Naming {
        self.naming
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-written
        // (every write is a few plain assignments), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current(&self) -> State {
        self.lock().state
    }

    /// Applies `action`; on success returns the state it left.
    pub fn apply(&self, action: Action, reason: &str) -> Result<State, Refused> {
        let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
        let from = {
            let mut g = self.lock();
            let from = g.state;
            if !action.allowed_from(from) {
                return Err(Refused {
                    action,
                    current: from,
                });
            }
            let to = action.target();
            let now = Utc::now();
            if g.history.len() == HISTORY_LEN {
                g.history.pop_front();
            }
            g.history.push_back(Record {
                at: now,
                from,
                to,
                reason: reason.clone(),
            });
            g.state = to;
            g.since = now;
            g.since_mono = Instant::now();
            if from == State::Open && to == State::Draining {
                g.refusals.clear();
            }
            from
        };
        tracing::info!(
            from = from.name(self.naming),
            to = action.target().name(self.naming),
            reason = reason.as_str(),
            "transition"
        );
        Ok(from)
    }

    /// Answers one `/health_check.html` for `client`: returns the state the
    /// answer is based on and records a refusal (or a reset to 0) for that client.
    pub fn lb_check(&self, client: IpAddr) -> State {
        let client = client.to_canonical();
        let mut g = self.lock();
        let state = g.state;
        let full = g.refusals.len() >= MAX_CHECKERS;
        if state.lb_ready() {
            if let Some(n) = g.refusals.get_mut(&client) {
                *n = 0;
            } else if !full {
                g.refusals.insert(client, 0);
            }
        } else if let Some(n) = g.refusals.get_mut(&client) {
            *n = n.saturating_add(1);
        } else if !full {
            g.refusals.insert(client, 1);
        }
        state
    }

    pub fn snapshot(&self) -> Snapshot {
        let g = self.lock();
        Snapshot {
            state: g.state,
            since: g.since,
            elapsed_ms: u64::try_from(g.since_mono.elapsed().as_millis()).unwrap_or(u64::MAX),
            history: g.history.iter().cloned().collect(),
            lb_refusals: g
                .refusals
                .iter()
                .map(|(ip, n)| (ip.to_string(), *n))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use State::*;

    fn fsm_in(state: State) -> Fsm {
        let f = Fsm::new(Naming::Gate);
        let path: &[Action] = match state {
            Open => &[],
            Draining => &[Action::Drain],
            Closing => &[Action::Drain, Action::CloseLb],
            Closed => &[Action::Drain, Action::CloseLb, Action::Close],
            Fault => &[Action::Fault],
        };
        for a in path {
            f.apply(*a, "setup").unwrap();
        }
        assert_eq!(f.current(), state);
        f
    }

    /// The full legality table: (action, from) -> allowed.
    #[rstest]
    #[case(Action::Drain, Open, true)]
    #[case(Action::Drain, Draining, false)]
    #[case(Action::Drain, Closing, false)]
    #[case(Action::Drain, Closed, false)]
    #[case(Action::Drain, Fault, false)]
    #[case(Action::CloseLb, Open, false)]
    #[case(Action::CloseLb, Draining, true)]
    #[case(Action::CloseLb, Closing, false)]
    #[case(Action::CloseLb, Closed, false)]
    #[case(Action::CloseLb, Fault, false)]
    #[case(Action::Close, Open, false)]
    #[case(Action::Close, Draining, false)]
    #[case(Action::Close, Closing, true)]
    #[case(Action::Close, Closed, false)]
    #[case(Action::Close, Fault, false)]
    #[case(Action::Reopen, Open, false)]
    #[case(Action::Reopen, Draining, true)]
    #[case(Action::Reopen, Closing, true)]
    #[case(Action::Reopen, Closed, false)]
    #[case(Action::Reopen, Fault, false)]
    #[case(Action::Fault, Open, true)]
    #[case(Action::Fault, Draining, true)]
    #[case(Action::Fault, Closing, true)]
    #[case(Action::Fault, Closed, true)]
    #[case(Action::Fault, Fault, true)]
    fn legality(#[case] action: Action, #[case] from: State, #[case] ok: bool) {
        let f = fsm_in(from);
        let before = f.snapshot().history.len();
        let r = f.apply(action, "test");
        if ok {
            assert_eq!(r, Ok(from));
            assert_eq!(f.current(), action.target());
            let snap = f.snapshot();
            assert_eq!(snap.history.len(), before + 1);
            let last = snap.history.last().unwrap();
            assert_eq!(
                (last.from, last.to, last.reason.as_str()),
                (from, action.target(), "test")
            );
        } else {
            assert_eq!(
                r,
                Err(Refused {
                    action,
                    current: from
                })
            );
            assert_eq!(f.current(), from);
            assert_eq!(f.snapshot().history.len(), before);
        }
    }

    #[rstest]
    #[case(
        Naming::Gate,
        Action::Close,
        Draining,
        "/close needs CLOSING, hc is DRAINING"
    )]
    #[case(
        Naming::Legacy,
        Action::Close,
        Draining,
        "/close needs DRAINED_WAIT_LB, hc is DRAINING"
    )]
    #[case(
        Naming::Gate,
        Action::Reopen,
        Open,
        "/reopen needs DRAINING or CLOSING, hc is OPEN"
    )]
    #[case(
        Naming::Gate,
        Action::Reopen,
        Closed,
        "CLOSED is unrecoverable: /reopen is refused"
    )]
    #[case(
        Naming::Legacy,
        Action::Reopen,
        Closed,
        "TERMINATING is unrecoverable: /reopen is refused"
    )]
    fn refusal_messages(
        #[case] naming: Naming,
        #[case] action: Action,
        #[case] current: State,
        #[case] want: &str,
    ) {
        assert_eq!(Refused { action, current }.message(naming), want);
    }

    #[test]
    fn lb_refusals_count_per_client_and_reset() {
        let f = Fsm::new(Naming::Gate);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert_eq!(f.lb_check(a), Open);
        f.apply(Action::Drain, "d").unwrap();
        assert!(f.snapshot().lb_refusals.is_empty(), "drain clears the map");
        f.lb_check(a);
        f.apply(Action::CloseLb, "c").unwrap();
        f.lb_check(a);
        f.lb_check(a);
        f.lb_check(b);
        let m = f.snapshot().lb_refusals;
        assert_eq!(m.get("127.0.0.1"), Some(&2));
        assert_eq!(
            m.get("127.0.0.2"),
            Some(&1),
            "v4-mapped address is shown as v4"
        );
        f.apply(Action::Reopen, "r").unwrap();
        f.lb_check(a);
        assert_eq!(f.snapshot().lb_refusals.get("127.0.0.1"), Some(&0));
        assert_eq!(f.snapshot().lb_refusals.get("127.0.0.2"), Some(&1));
    }

    #[test]
    fn reason_is_cut() {
        let f = Fsm::new(Naming::Gate);
        f.apply(Action::Fault, &"x".repeat(1000)).unwrap();
        assert_eq!(f.snapshot().history[0].reason.len(), MAX_REASON_CHARS);
    }

    proptest! {
        /// Random sequences never break the rules: refusals change nothing,
        /// CLOSED is left only to FAULT, the history is the last 100 in order.
        #[test]
        fn random_sequences_keep_the_rules(
            actions in proptest::collection::vec(
                (proptest::sample::select(Action::ALL.to_vec()), any::<bool>()),
                0..300,
            )
        ) {
            let f = Fsm::new(Naming::Gate);
            let mut model = Open;
            let mut want_hist: Vec<(State, State, String)> = Vec::new();
            for (i, (a, checker)) in actions.iter().enumerate() {
                let reason = format!("r{i}");
                let r = f.apply(*a, &reason);
                if a.allowed_from(model) {
                    prop_assert_eq!(r, Ok(model));
                    if model == Closed {
                        prop_assert_eq!(a.target(), Fault);
                    }
                    want_hist.push((model, a.target(), reason));
                    model = a.target();
                } else {
                    prop_assert!(r.is_err());
                }
                prop_assert_eq!(f.current(), model);
                if *checker {
                    prop_assert_eq!(f.lb_check("127.0.0.1".parse().unwrap()), model);
                }
            }
            let snap = f.snapshot();
            let tail = &want_hist[want_hist.len().saturating_sub(HISTORY_LEN)..];
            let got: Vec<(State, State, String)> =
                snap.history.iter().map(|r| (r.from, r.to, r.reason.clone())).collect();
            prop_assert_eq!(got, tail.to_vec());
            prop_assert!(snap.history.windows(2).all(|w| w[0].at <= w[1].at));
        }
    }
}
