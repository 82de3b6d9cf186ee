//! `harness list`: the scenarios of the catalogue, one per line (id, then
//! its purpose); an invalid file is listed as such and makes the exit code 1.
//!
//! It only reads scenario files.

use std::process::ExitCode;

use crate::scenario;

/// The flags of `harness list` (none).
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {}

impl ListArgs {
    /// `harness list`
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let mut bad = false;
        for (id, sc) in scenario::catalogue(&super::scenarios_dir()) {
            match sc {
                Ok(sc) => println!("{id:<5} {}", sc.purpose),
                Err(e) => {
                    bad = true;
                    println!("{id:<5} INVALID: {e}");
                }
            }
        }
        Ok(if bad {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
