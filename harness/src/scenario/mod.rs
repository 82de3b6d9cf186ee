//! Scenario files: the TOML schema (serde, `deny_unknown_fields`), loading by
//! id or path, and the checks that reject an impossible file before anything
//! starts.
//!
//! Parsing and validation only; it must never start a process or touch the
//! network.

pub mod coverage;
mod dur;
mod expect;
mod faults;
mod schema;
mod validate;
mod values;
mod warnings;

use std::path::{Path, PathBuf};

pub use expect::EventPattern;
pub use schema::*;
pub use validate::{pod_names, validate};
pub use values::{Container, DrainHook, FaultSignal};
pub use warnings::warnings;

/// Why a scenario could not be used; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario {0:?} not found (looked for {1})")]
    NotFound(String, String),
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// A scenario id (`s1`) or a path to a `.toml` file, resolved against `scenarios_dir`.
pub fn resolve(id_or_path: &str, scenarios_dir: &Path) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(id_or_path);
    if id_or_path.ends_with(".toml") || id_or_path.contains('/') {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(ScenarioError::NotFound(
            id_or_path.to_string(),
            as_path.display().to_string(),
        ));
    }
    if !id_or_path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || id_or_path.is_empty()
    {
        return Err(ScenarioError::NotFound(
            id_or_path.to_string(),
            "an id made of letters, digits, - and _".to_string(),
        ));
    }
    let p = scenarios_dir.join(format!("{id_or_path}.toml"));
    if p.is_file() {
        Ok(p)
    } else {
        Err(ScenarioError::NotFound(
            id_or_path.to_string(),
            p.display().to_string(),
        ))
    }
}

/// Reads, parses and validates one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ScenarioError::Parse {
        path: shown.clone(),
        message: not_utf8(e.as_bytes(), e.utf8_error().valid_up_to()),
    })?;
    parse(&text, &shown)
}

/// `line N, column M: not UTF-8 (byte 0xNN)` for the first invalid byte at `at`.
fn not_utf8(bytes: &[u8], at: usize) -> String {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    match bytes.get(at) {
        Some(b) => format!("line {line}, column {col}: not UTF-8 (byte 0x{b:02x})"),
        None => format!("line {line}, column {col}: not UTF-8"),
    }
}

/// Parses and validates scenario text; `shown` names the file in errors.
pub fn parse(text: &str, shown: &str) -> Result<Scenario, ScenarioError> {
    // The path tracker names the key a bad value sits at (toml's own error
    // gives the line but, with a line to show, not the key).
    let sc: Scenario =
        serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
            // A bad map key (an unknown outcome or container name) shows as a
            // trailing `?` segment: name the map; the message names the entry.
            let path = e.path().to_string();
            let key = path.strip_suffix(".?").unwrap_or(&path).to_string();
            ScenarioError::Parse {
                path: shown.to_string(),
                message: one_line_toml_error(e.inner(), text, &key),
            }
        })?;
    validate(&sc).map_err(|message| ScenarioError::Invalid {
        path: shown.to_string(),
        message,
    })?;
    Ok(sc)
}

/// toml's errors span several lines with a caret; keep
/// `line N, column M (at "..."), key `a.b`: message` (no key part at the top level).
fn one_line_toml_error(e: &toml::de::Error, text: &str, key: &str) -> String {
    // One line, and bounded: a message may quote the (hostile) input.
    let msg: String = e
        .message()
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    let span = e.span().unwrap_or(0..0);
    // Spans are byte offsets; never slice inside a character.
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let upto = &text[..start];
    let line = upto.matches('\n').count() + 1;
    let col = upto[upto.rfind('\n').map(|i| i + 1).unwrap_or(0)..]
        .chars()
        .count()
        + 1;
    let snippet: String = text[start..]
        .chars()
        .take(span.end.saturating_sub(span.start).min(40))
        .collect();
    let key: String = key.chars().filter(|c| !c.is_control()).take(120).collect();
    if key.is_empty() || key == "." {
        format!("line {line}, column {col} (at {snippet:?}): {msg}")
    } else {
        format!("line {line}, column {col} (at {snippet:?}), key `{key}`: {msg}")
    }
}

/// Every scenario file in `dir`, sorted by id (s1, s2, ..., s10 in numeric order).
pub fn catalogue(dir: &Path) -> Vec<(String, Result<Scenario, ScenarioError>)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) == Some("toml") {
                let id = p
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                out.push((id, load(&p)));
            }
        }
    }
    out.sort_by_key(|(id, _)| sort_key(id));
    out
}

fn sort_key(id: &str) -> (String, u64, String) {
    let prefix: String = id.chars().take_while(|c| !c.is_ascii_digit()).collect();
    let num: String = id[prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (prefix, num.parse().unwrap_or(u64::MAX), id.to_string())
}
