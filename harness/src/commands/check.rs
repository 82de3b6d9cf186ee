//! `harness check <file>`: parses and validates one scenario file and
//! prints its warnings; a bad file is one error line naming file, line and key.
//!
//! It only reads the file.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::scenario;

/// The flags of `harness check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    pub file: PathBuf,
}

impl CheckArgs {
    /// `harness check <file>`
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let file = &self.file;
        let sc = scenario::load(file)?;
        for w in scenario::warnings(&sc) {
            println!("warning: {}: {w}", file.display());
        }
        println!(
            "ok: {} ({}): modes {}",
            file.display(),
            sc.id,
            sc.ordered_modes().join(", ")
        );
        Ok(ExitCode::SUCCESS)
    }
}
