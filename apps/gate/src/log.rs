//! One logging setup for the three apps: one logfmt line per event on
//! stderr, `ts=<RFC 3339 UTC, ms> level=<lvl> msg=<message> key=value ...`.
//!
//! Formatting only; it must never block the caller on anything but the write.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::{format::Writer, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Installs the logfmt subscriber (level from `RUST_LOG`, default `info`).
/// Safe to call twice (the second call does nothing).
pub fn init() {
    init_with_default("info");
}

/// As [`init`], with another default level (e.g. `warn` for a CLI whose
/// own output is the report).
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Logfmt)
        .try_init();
}

/// The logfmt event formatter.
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        write!(w, "ts={ts} level={level}")?;
        let mut v = Fields(String::new());
        event.record(&mut v);
        writeln!(w, "{}", v.0)
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        push(&mut self.0, field.name(), value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        push(&mut self.0, field.name(), &format!("{value:?}"));
    }
}

fn push(out: &mut String, key: &str, value: &str) {
    let key = if key == "message" { "msg" } else { key };
    out.push(' ');
    out.push_str(key);
    out.push('=');
    out.push_str(&quote(value));
}

/// Quotes a logfmt value when it holds spaces, quotes, `=` or is empty.
pub fn quote(v: &str) -> String {
    if !v.is_empty() && !v.chars().any(|c| c.is_whitespace() || c == '"' || c == '=') {
        return v.to_string();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("GET"), "GET");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("x=\"y\""), "\"x=\\\"y\\\"\"");
    }
}
