//! Who said a timeline event: kubelet, drain, the `n`th HAProxy, hc, Envoy,
//! ... by the name `timeline.csv` writes (an unknown name read back from an
//! older run folder is `Other`, never an error).
//!
//! Plain data; nothing here does I/O.

use std::fmt;

/// Who produced an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    Kubelet,
    /// drain's (or the preStop script's) step lines.
    Drain,
    /// The `n`th HAProxy (1 is `haproxy`, 2 is `haproxy2`, ...).
    Haproxy(u8),
    Hc,
    Envoy,
    Backend,
    Prober,
    Endpoint,
    Harness,
    Loadgen,
    Fault,
    /// `harness watch --during`'s command: its start, output lines, exit.
    During,
    /// A name this build does not know (read from an older run folder).
    Other(String),
}

impl Source {
    /// The first (or only) HAProxy.
    pub const HAPROXY: Source = Source::Haproxy(1);

    pub fn as_str(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Source::Kubelet => Borrowed("kubelet"),
            Source::Drain => Borrowed("drain"),
            Source::Haproxy(1) => Borrowed("haproxy"),
            Source::Haproxy(n) => Owned(format!("haproxy{n}")),
            Source::Hc => Borrowed("hc"),
            Source::Envoy => Borrowed("envoy"),
            Source::Backend => Borrowed("backend"),
            Source::Prober => Borrowed("prober"),
            Source::Endpoint => Borrowed("endpoint"),
            Source::Harness => Borrowed("harness"),
            Source::Loadgen => Borrowed("loadgen"),
            Source::Fault => Borrowed("fault"),
            Source::During => Borrowed("during"),
            Source::Other(s) => Owned(s.clone()),
        }
    }

    /// The source a name stands for (a container's name, a CSV cell).
    pub fn parse(s: &str) -> Source {
        match s {
            "kubelet" => Source::Kubelet,
            "drain" => Source::Drain,
            "haproxy" => Source::HAPROXY,
            "hc" => Source::Hc,
            "envoy" => Source::Envoy,
            "backend" => Source::Backend,
            "prober" => Source::Prober,
            "endpoint" => Source::Endpoint,
            "harness" => Source::Harness,
            "loadgen" => Source::Loadgen,
            "fault" => Source::Fault,
            "during" => Source::During,
            _ => match s.strip_prefix("haproxy").and_then(|n| n.parse::<u8>().ok()) {
                Some(n) if n >= 2 => Source::Haproxy(n),
                _ => Source::Other(s.to_string()),
            },
        }
    }

    pub fn is_haproxy(&self) -> bool {
        matches!(self, Source::Haproxy(_))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_back_including_numbered_haproxies() {
        for s in [
            "kubelet", "haproxy", "haproxy2", "drain", "fault", "loadgen", "during",
        ] {
            assert_eq!(Source::parse(s).as_str(), s);
        }
        assert_eq!(Source::parse("haproxy3"), Source::Haproxy(3));
        assert_eq!(Source::parse("haproxy1"), Source::Other("haproxy1".into()));
        assert_eq!(Source::parse("istio"), Source::Other("istio".into()));
    }
}
