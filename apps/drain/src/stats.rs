//! Reads Envoy's `/stats` text answer (`name: value` lines) into the one
//! number the drain waits on: the sum of the active-request (or inbound
//! active-connection) gauges, leaving out the admin listener's own.
//!
//! Pure parsing: it must never do I/O, and it must never turn an answer it
//! cannot read into 0 — anything doubtful is an error (the caller's "unknown").

pub use gate::settings::ActiveStat;

/// What an [`ActiveStat`] means in Envoy's `/stats`: the filter to ask for
/// and the gauges to sum (drain's knowledge; the enum itself is shared).
pub trait Gauges {
    /// The `filter=` regex for `/stats`, already URL-encoded (`|` is `%7C`).
    fn query(self) -> &'static str;
    /// Whether the gauge `name` is one this stat sums.
    fn counts(self, name: &str) -> bool;
}

impl Gauges for ActiveStat {
    fn query(self) -> &'static str {
        match self {
            ActiveStat::Rq => "downstream_rq_active%7Cupstream_rq_active",
            ActiveStat::Cx => "downstream_cx_active",
        }
    }

    fn counts(self, name: &str) -> bool {
        match self {
            ActiveStat::Rq => {
                let last = name.rsplit('.').next().unwrap_or(name);
                (last == "downstream_rq_active" || last == "upstream_rq_active")
                    && !name.starts_with("http.admin.")
            }
            ActiveStat::Cx => {
                let Some(inner) = name
                    .strip_prefix("listener.")
                    .and_then(|n| n.strip_suffix(".downstream_cx_active"))
                else {
                    return false;
                };
                // `listener.<l>.worker_N.*` and `listener.<l>.main_thread.*`
                // repeat the listener's total per thread: count it once.
                let per_thread = inner.ends_with(".main_thread")
                    || inner.rsplit_once(".worker_").is_some_and(|(_, n)| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                    });
                inner != "admin" && !inner.is_empty() && !per_thread
            }
        }
    }
}

/// Why an answer could not be read as an active count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("answer is not UTF-8 text")]
    NotText,
    #[error("line {line} is not `name: value`: {text:?}")]
    Garbage { line: usize, text: String },
    #[error("gauge {name} has a value that is not a count: {value:?}")]
    BadValue { name: String, value: String },
    #[error("no matching gauge in the answer")]
    NoMatch,
    #[error("sum overflows")]
    Overflow,
}

/// Sums the gauges `stat` counts in an Envoy `/stats` text answer.
///
/// Every non-empty line must be `name: value` with a name without spaces;
/// every counted gauge must be a non-negative integer; at least one gauge must
/// be counted. Anything else is an error, never 0.
pub fn sum_active(body: &[u8], stat: ActiveStat) -> Result<u64, StatsError> {
    let text = std::str::from_utf8(body).map_err(|_| StatsError::NotText)?;
    let mut sum: u64 = 0;
    let mut matched = 0usize;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let garbage = || StatsError::Garbage {
            line: i + 1,
            text: line.chars().take(80).collect(),
        };
        let (name, value) = line.split_once(": ").ok_or_else(garbage)?;
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(garbage());
        }
        if !stat.counts(name) {
            continue;
        }
        let v = value.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StatsError::BadValue {
                name: name.to_string(),
                value: v.chars().take(40).collect(),
            });
        }
        let n: u64 = v.parse().map_err(|_| StatsError::Overflow)?;
        sum = sum.checked_add(n).ok_or(StatsError::Overflow)?;
        matched += 1;
    }
    if matched == 0 {
        return Err(StatsError::NoMatch);
    }
    Ok(sum)
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
