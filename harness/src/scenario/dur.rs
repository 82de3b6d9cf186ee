//! A scenario file's duration: `"90s"`, `"500ms"`, `"2m"` or whole
//! seconds, written back the same way.
//!
//! Parsing and formatting only; no I/O.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `"90s"`, `"500ms"`, `"2m"` or a whole number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }
    pub const fn millis(ms: u64) -> Dur {
        Dur(Duration::from_millis(ms))
    }
    pub fn ms(self) -> u64 {
        self.0.as_millis() as u64
    }
    pub fn as_f64_ms(self) -> f64 {
        self.0.as_secs_f64() * 1000.0
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&gate::duration::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) if n >= 0 => Ok(Dur(Duration::from_secs(n as u64))),
            Raw::Int(n) => Err(serde::de::Error::custom(format!(
                "negative duration {n}: a duration is whole seconds (90) or a string like \"90s\" or \"500ms\""
            ))),
            Raw::Float(x) => Err(serde::de::Error::custom(format!(
                "duration {x} must be whole seconds or a string like \"1.5s\""
            ))),
            Raw::Str(s) => gate::duration::parse_duration(&s)
                .map(Dur)
                .map_err(serde::de::Error::custom),
        }
    }
}
