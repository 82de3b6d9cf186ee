//! What the harness tells the person at the terminal while a run goes on:
//! a spinner per phase (indicatif) on a terminal, plain lines otherwise.
//!
//! Output only; it must never decide anything or fail a run.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// One run's progress display.
pub struct Progress {
    prefix: String,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} [{prefix}] {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(prefix.clone());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress { prefix, bar }
    }

    /// A new phase: a spinner message on a terminal, a line otherwise.
    pub fn phase(&self, msg: impl AsRef<str>) {
        match &self.bar {
            Some(b) => {
                b.println(format!("[{}] {}", self.prefix, msg.as_ref()));
                b.set_message(msg.as_ref().to_string());
            }
            None => eprintln!("[{}] {}", self.prefix, msg.as_ref()),
        }
    }

    /// A status update within a phase (terminal only: plain output stays quiet).
    pub fn tick(&self, msg: impl AsRef<str>) {
        if let Some(b) = &self.bar {
            b.set_message(msg.as_ref().to_string());
        }
    }

    /// A cloneable handle for a task that updates the status line.
    pub fn bar_handle(&self) -> Ticker {
        Ticker(self.bar.clone())
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Updates the status line from another task.
#[derive(Clone)]
pub struct Ticker(Option<ProgressBar>);

impl Ticker {
    pub fn tick(&self, msg: impl AsRef<str>) {
        if let Some(b) = &self.0 {
            b.set_message(msg.as_ref().to_string());
        }
    }
}
