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
#[path = "fsm_tests.rs"]
mod tests;
