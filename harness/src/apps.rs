//! Finds the apps the lab runs (`backend`, `hc`, `drain` and the reference
//! preStop script `graceful-drain.sh`) and the workspace they come from.
//!
//! Inside the workspace it builds them with the harness's own profile
//! (`cargo build`, said aloud: the workspace has one build profile, cargo's
//! dev profile, optimised) so a run never uses stale binaries; elsewhere it looks in `LAB_BIN_DIR` or
//! beside the harness's own executable. It must never build anything outside
//! the workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths of the system under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apps {
    pub backend: PathBuf,
    pub hc: PathBuf,
    pub drain: PathBuf,
    /// `apps/hc/graceful-drain.sh` (the POSIX reference preStop).
    pub drain_script: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("building the apps failed: `{cmd}` exited with {status}")]
    Build { cmd: String, status: String },
    #[error("could not run cargo: {0}")]
    Cargo(std::io::Error),
    #[error("{what} not found (looked in {where_}); build the workspace (cargo build -p backend -p hc -p drain) or set LAB_BIN_DIR")]
    NotFound { what: String, where_: String },
}

/// The workspace root: walks up from this crate's manifest dir (compile time),
/// then from the current dir, to a `Cargo.toml` holding `[workspace]`.
pub fn workspace_root() -> Option<PathBuf> {
    let from_build = Path::new(env!("CARGO_MANIFEST_DIR"));
    find_workspace_from(from_build).or_else(|| {
        std::env::current_dir()
            .ok()
            .and_then(|d| find_workspace_from(&d))
    })
}

fn find_workspace_from(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let toml = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        toml.lines()
            .any(|l| l.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

/// The folder of cargo's profile this harness was built with: `debug` for
/// the dev profile (`cargo run`, `cargo test`; the workspace's one profile),
/// `release` for `--release`.
pub const PROFILE_DIR: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

/// The directory cargo writes this profile's binaries to in `workspace`.
pub fn profile_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_relative() {
                workspace.join(t)
            } else {
                t
            }
        })
        .unwrap_or_else(|| workspace.join("target"))
        .join(PROFILE_DIR)
}

/// Finds the apps: `LAB_BIN_DIR` when set; inside the workspace, builds them
/// (`cargo build -p backend -p hc -p drain`, printed to stderr) and uses
/// `target/debug/` (`target/release/` for a release harness) (`LAB_NO_BUILD=1` skips the build: CI runs the
/// binaries its test build just made, whose features a plain build would
/// not reuse); otherwise beside the harness's own executable.
pub fn find_apps() -> Result<Apps, AppsError> {
    if let Some(dir) = std::env::var_os("LAB_BIN_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return apps_in(&dir, &dir);
    }
    if let Some(ws) = workspace_root() {
        if std::env::var("LAB_NO_BUILD").as_deref() != Ok("1") {
            build_in(&ws)?;
        }
        return apps_in(&profile_dir(&ws), &ws.join("apps/hc"));
    }
    let exe = std::env::current_exe().map_err(|e| AppsError::NotFound {
        what: "the harness's own executable".into(),
        where_: e.to_string(),
    })?;
    let dir = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    apps_in(&dir, &dir)
}

/// Runs `cargo build -p backend -p hc -p drain` in `workspace`, with
/// `--release` only when this harness is a release build.
pub fn build_in(workspace: &Path) -> Result<(), AppsError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let release = (PROFILE_DIR == "release").then_some("--release");
    let args: Vec<&str> = ["build"]
        .into_iter()
        .chain(release)
        .chain(["-p", "backend", "-p", "hc", "-p", "drain"])
        .collect();
    eprintln!("harness: building the apps: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(workspace)
        .status()
        .map_err(AppsError::Cargo)?;
    if !status.success() {
        return Err(AppsError::Build {
            cmd: format!("cargo {}", args.join(" ")),
            status: status.to_string(),
        });
    }
    Ok(())
}

/// The apps in `bin_dir` and the script in `script_dir`; every one must exist.
pub fn apps_in(bin_dir: &Path, script_dir: &Path) -> Result<Apps, AppsError> {
    let need = |dir: &Path, name: &str| {
        let p = dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(AppsError::NotFound {
                what: name.to_string(),
                where_: dir.display().to_string(),
            })
        }
    };
    Ok(Apps {
        backend: need(bin_dir, "backend")?,
        hc: need(bin_dir, "hc")?,
        drain: need(bin_dir, "drain")?,
        // The script is a source file: beside the binaries when they were
        // copied with it, else where the workspace keeps it.
        drain_script: need(script_dir, "graceful-drain.sh").or_else(|e| {
            match workspace_root().map(|w| w.join("apps/hc/graceful-drain.sh")) {
                Some(p) if p.is_file() => Ok(p),
                _ => Err(e),
            }
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let ws = workspace_root().expect("tests run inside the workspace");
        let toml = std::fs::read_to_string(ws.join("Cargo.toml")).unwrap();
        assert!(toml.contains("[workspace]"));
        assert!(ws.join("harness").is_dir());
    }

    #[test]
    fn apps_in_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = apps_in(dir.path(), dir.path()).unwrap_err().to_string();
        assert!(err.contains("backend not found"), "{err}");
        assert!(err.contains("LAB_BIN_DIR"), "{err}");
    }
}
