//! Which runtime a run used: `local` or `docker`, as summary.json, the
//! report and `harness gate --runtime` name it.
//!
//! A name only; it must never know how a runtime starts anything.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The runtime a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Every process a child of the harness.
    Local,
    /// Every process a container on the run's own docker network.
    Docker,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Local => "local",
            RuntimeKind::Docker => "docker",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// serde for an `Option<RuntimeKind>` written as `""` when unknown (a
/// summary rebuilt from CSVs, or one from before the runtime was chosen), so
/// every summary.json reads and writes as it always has.
pub mod or_empty {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::RuntimeKind;

    pub fn serialize<S: Serializer>(v: &Option<RuntimeKind>, s: S) -> Result<S::Ok, S::Error> {
        v.map_or("", RuntimeKind::as_str).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RuntimeKind>, D::Error> {
        match String::deserialize(d)?.as_str() {
            "" => Ok(None),
            "local" => Ok(Some(RuntimeKind::Local)),
            "docker" => Ok(Some(RuntimeKind::Docker)),
            other => Err(serde::de::Error::custom(format!(
                "unknown runtime {other:?} (local or docker)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct S {
        #[serde(with = "or_empty")]
        runtime: Option<RuntimeKind>,
    }

    #[test]
    fn the_json_text_is_the_old_string() {
        for (v, text) in [
            (None, r#"{"runtime":""}"#),
            (Some(RuntimeKind::Local), r#"{"runtime":"local"}"#),
            (Some(RuntimeKind::Docker), r#"{"runtime":"docker"}"#),
        ] {
            let s = S { runtime: v };
            assert_eq!(serde_json::to_string(&s).unwrap(), text);
            assert_eq!(serde_json::from_str::<S>(text).unwrap(), s);
        }
        assert!(serde_json::from_str::<S>(r#"{"runtime":"k8s"}"#).is_err());
    }
}
