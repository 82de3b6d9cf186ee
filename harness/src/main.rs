//! `harness`: the command line. Parses flags and calls the library; every
//! error is reported as one line naming the culprit.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use harness::commands::{self, compare::Tolerance};

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
    /// Run a scenario (an id from scenarios/, a path to a .toml file, or
    /// `all` for the whole catalogue with one summary table).
    Scenario {
        scenario: String,
        /// With `all`: only these ids (comma-separated, e.g. s2,s5).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// With `all`: leave these ids out (comma-separated).
        #[arg(long, value_delimiter = ',')]
        skip: Vec<String>,
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
    /// Rebuild plot.svg, plot.png, report.html and junit.xml (and latency.hgrm
    /// when missing) of a run folder from its CSVs, also of a killed run.
    Report {
        /// The run folder (or its name inside the artifacts folder).
        run: PathBuf,
        #[arg(long, env = "LAB_ARTIFACTS")]
        artifacts: Option<PathBuf>,
    },
    /// Compare two or more runs side by side (legacy and gate naming alike).
    /// With --fail-on-regression, exits 1 when a later run regresses on the
    /// first: more disruptions, or p99 above first's p99 × (1 + pct/100) + ms.
    Compare {
        /// Run folders (or names inside the artifacts folder); the first is the baseline.
        #[arg(num_args = 2.., required = true)]
        runs: Vec<PathBuf>,
        /// Exit 1 when a later run regresses on the first.
        #[arg(long)]
        fail_on_regression: bool,
        /// Relative p99 tolerance, percent of the baseline's p99.
        #[arg(long, default_value_t = 50.0)]
        p99_tolerance_pct: f64,
        /// Absolute p99 tolerance, ms.
        #[arg(long, default_value_t = 5.0)]
        p99_tolerance_ms: f64,
        /// Also write a comparison page (the table and every run's plot) here.
        #[arg(long)]
        html: Option<PathBuf>,
        #[arg(long, env = "LAB_ARTIFACTS")]
        artifacts: Option<PathBuf>,
    },
    /// The load generator alone against a loopback URL (benchmarks): closed
    /// loop, or open loop with --rate; prints req/s, percentiles, errors.
    Load {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value = "10s", value_parser = gate::duration::parse_duration)]
        duration: std::time::Duration,
        /// Open loop at this many req/s (closed loop when absent).
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Request deadline beyond its expected duration.
        #[arg(long, default_value = "10s", value_parser = gate::duration::parse_duration)]
        timeout: std::time::Duration,
        #[arg(long)]
        json: bool,
    },
    /// List the runs of the artifacts folder, newest first.
    Runs {
        #[arg(long, env = "LAB_ARTIFACTS")]
        artifacts: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    gate::log::init_with_default("warn");
    // A write past RLIMIT_FSIZE fails with EFBIG instead of killing us.
    harness::runtime::survive_file_size_limit();
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Scenario {
            scenario,
            only,
            skip,
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
            only,
            skip,
        }),
        Cmd::List => harness::cli::list(),
        Cmd::Check { file } => harness::cli::check(&file),
        Cmd::Gc => harness::cli::gc(),
        Cmd::Report { run, artifacts } => {
            commands::report::cli(&run, artifacts).map_err(Into::into)
        }
        Cmd::Compare {
            runs,
            fail_on_regression,
            p99_tolerance_pct,
            p99_tolerance_ms,
            html,
            artifacts,
        } => commands::compare::cli(
            &runs,
            fail_on_regression,
            Tolerance {
                p99_pct: p99_tolerance_pct,
                p99_ms: p99_tolerance_ms,
            },
            html,
            artifacts,
        )
        .map_err(Into::into),
        Cmd::Load {
            url,
            connections,
            duration,
            rate,
            threads,
            timeout,
            json,
        } => commands::load::cli(&commands::load::LoadArgs {
            url,
            connections,
            duration,
            rate,
            threads,
            timeout,
            json,
        })
        .map_err(Into::into),
        Cmd::Runs { artifacts } => commands::runs::cli(artifacts).map_err(Into::into),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("harness: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause once: our error types
/// put their source in their own message too, so a cause the line already
/// holds is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}
