//! A process's log file under the run's `logs/`, shared by both runtimes'
//! output pumps: appends one line at a time; the first write that fails
//! (a full disk, a file size limit) is reported once, naming the file and
//! why, since every later line of that log is lost.
//!
//! It must never stop the pump nor panic on a write error: the process's
//! output still reaches the run's tee (the timeline).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::RuntimeError;

/// One log file (see the module doc).
#[derive(Debug)]
pub struct LogFile {
    file: File,
    path: PathBuf,
    failed: bool,
}

/// A log file shared by a process's stdout and stderr pumps.
pub type SharedLog = Arc<Mutex<LogFile>>;

impl LogFile {
    /// Opens (appending, creating) the log at `path`.
    pub fn open(path: &Path) -> Result<SharedLog, RuntimeError> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|file| {
                Arc::new(Mutex::new(LogFile {
                    file,
                    path: path.to_path_buf(),
                    failed: false,
                }))
            })
            .map_err(|source| RuntimeError::Log {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Appends `line` and a newline; returns false when the write failed.
    pub fn write_line(&mut self, line: &str) -> bool {
        self.write_lines(std::slice::from_ref(&line))
    }

    /// Appends each of `lines` and a newline, in one write; returns false
    /// when the write failed.
    pub fn write_lines<S: AsRef<str>>(&mut self, lines: &[S]) -> bool {
        let mut buf = String::with_capacity(lines.iter().map(|l| l.as_ref().len() + 1).sum());
        for l in lines {
            buf.push_str(l.as_ref());
            buf.push('\n');
        }
        match self.file.write_all(buf.as_bytes()) {
            Ok(()) => true,
            Err(e) => {
                if !self.failed {
                    self.failed = true;
                    tracing::warn!(log = %self.path.display(), error = %e, "log write failed");
                    eprintln!(
                        "harness: warning: log {}: {e}; its later lines are lost",
                        self.path.display()
                    );
                }
                false
            }
        }
    }

    /// Whether a write has failed.
    pub fn failed(&self) -> bool {
        self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let log = LogFile::open(&p).unwrap();
        assert!(log.lock().unwrap().write_line("one"));
        assert!(log.lock().unwrap().write_line("two"));
        assert!(log.lock().unwrap().write_lines(&["three", "", "four"]));
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "one\ntwo\nthree\n\nfour\n"
        );
    }

    /// /dev/full fails every write with ENOSPC: the failure is seen and
    /// remembered, and writing on does not panic.
    #[test]
    fn a_full_disk_is_reported_not_fatal() {
        let log = LogFile::open(Path::new("/dev/full")).unwrap();
        let mut l = log.lock().unwrap();
        assert!(!l.write_line("lost"));
        assert!(l.failed());
        assert!(!l.write_line("lost too"));
    }

    #[test]
    fn an_unopenable_log_names_its_path() {
        let e = LogFile::open(Path::new("/nonexistent/dir/x.log")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/x.log"), "{e}");
    }
}
