//! `harness`: the command line. Parses flags and calls the library; every
//! error is reported as one line naming the culprit.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "graceful-lab: reproduce, measure and gate graceful pod termination behind real HAProxy and Envoy"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum RuntimeArg {
    Local,
    Docker,
    Auto,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario (an id from scenarios/ or a path to a .toml file).
    Scenario {
        scenario: String,
        /// A mode of the scenario (current, graceful, ...) or `both`/`all` for every mode.
        #[arg(long, default_value = "both")]
        mode: String,
        #[arg(long, value_enum, default_value = "auto", env = "LAB_RUNTIME")]
        runtime: RuntimeArg,
        /// Which state names every hc of the run speaks (default: HC_NAMING, else gate).
        #[arg(long, env = "HC_NAMING", default_value = "gate")]
        naming: gate::Naming,
        /// preStop of drain-based modes: the Rust `drain` or the seed's script.
        #[arg(long, value_parser = ["drain", "script"])]
        prestop: Option<String>,
        /// Where run folders go.
        #[arg(long, env = "LAB_ARTIFACTS")]
        artifacts: Option<PathBuf>,
    },
    /// List the scenarios, one per line: id, then its purpose.
    List,
    /// Parse and validate a scenario file; print warnings.
    Check { file: PathBuf },
    /// Kill processes left behind by earlier runs (found by their run id).
    Gc,
}

fn main() -> ExitCode {
    gate::log::init_with_default("warn");
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Scenario {
            scenario,
            mode,
            runtime,
            naming,
            prestop,
            artifacts,
        } => harness::cli::scenario(harness::cli::ScenarioArgs {
            scenario,
            mode,
            runtime: match runtime {
                RuntimeArg::Local => harness::cli::RuntimeChoice::Local,
                RuntimeArg::Docker => harness::cli::RuntimeChoice::Docker,
                RuntimeArg::Auto => harness::cli::RuntimeChoice::Auto,
            },
            naming,
            prestop,
            artifacts,
        }),
        Cmd::List => harness::cli::list(),
        Cmd::Check { file } => harness::cli::check(&file),
        Cmd::Gc => harness::cli::gc(),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("harness: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
