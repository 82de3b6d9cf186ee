//! `harness`: the command line. Parses the verb and its flags and calls the
//! library ([`harness::commands`]); every error is reported as one line
//! naming the culprit.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "graceful-lab: reproduce, measure and gate graceful pod termination behind real HAProxy and Envoy"
)]
struct Cli {
    #[command(subcommand)]
    cmd: harness::commands::Command,
}

fn main() -> ExitCode {
    gate::log::init_with_default("warn");
    // A write past RLIMIT_FSIZE fails with EFBIG instead of killing us.
    harness::runtime::survive_file_size_limit();
    Cli::parse().cmd.run()
}
