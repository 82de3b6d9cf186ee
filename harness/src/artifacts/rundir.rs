//! The run folder `artifacts/<YYYYMMDDTHHMMSSZ>-<scenario>-<mode>[-N]/`: its
//! name written ([`RunDir::create`]) and read back ([`parse_run_name`]) here
//! and nowhere else, and atomic file writes (bytes or JSON).
//!
//! It must never write outside the run folder: scenario ids and modes that
//! could escape it are refused, and existing folders are never reused.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{names, ArtifactsError};

/// The UTC timestamp that starts a run folder's name (and a scenario's
/// JUnit file name).
pub const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// How many `-N` suffixes are tried before giving up on a name.
const MAX_SUFFIX: u32 = 1000;

/// One run's folder, with its `config/` and `logs/` subfolders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `<artifacts_root>/<UTC now>-<scenario_id>-<mode>/` (with a
    /// `-2`, `-3`, … suffix when the name is taken) and its `config/` and
    /// `logs/` subfolders. `artifacts_root` is created when missing.
    pub fn create(
        artifacts_root: &Path,
        scenario_id: &str,
        mode: &str,
    ) -> Result<RunDir, ArtifactsError> {
        Self::create_at(artifacts_root, scenario_id, mode, Utc::now())
    }

    /// As [`RunDir::create`], with the timestamp given (tests, replays).
    pub fn create_at(
        artifacts_root: &Path,
        scenario_id: &str,
        mode: &str,
        now: DateTime<Utc>,
    ) -> Result<RunDir, ArtifactsError> {
        check_name("scenario id", scenario_id)?;
        check_name("mode", mode)?;
        fs::create_dir_all(artifacts_root).map_err(|source| ArtifactsError::NotWritable {
            path: artifacts_root.to_path_buf(),
            source,
        })?;
        let base = format!("{}-{scenario_id}-{mode}", now.format(STAMP));
        for n in 1..=MAX_SUFFIX {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let path = artifacts_root.join(name);
            match fs::create_dir(&path) {
                Ok(()) => {
                    let dir = RunDir { path };
                    for sub in [dir.config_dir(), dir.logs_dir()] {
                        fs::create_dir(&sub)
                            .map_err(|e| ArtifactsError::io("creating folder", &sub, e))?;
                    }
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(ArtifactsError::NotWritable {
                        path: artifacts_root.to_path_buf(),
                        source,
                    })
                }
            }
        }
        Err(ArtifactsError::NoFreeName {
            base: artifacts_root.join(base),
            tries: MAX_SUFFIX,
        })
    }

    /// An existing run folder (for `harness report`, `compare`).
    pub fn open(path: &Path) -> Result<RunDir, ArtifactsError> {
        let meta = fs::metadata(path).map_err(|e| ArtifactsError::io("run folder", path, e))?;
        if !meta.is_dir() {
            return Err(ArtifactsError::io(
                "run folder",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a folder"),
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder's name, used as the run id.
    pub fn run_id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.path.join(names::LOGS_DIR)
    }

    pub fn config_dir(&self) -> PathBuf {
        self.path.join(names::CONFIG_DIR)
    }

    /// `<run>/<name>`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// A run folder name's parts, `(start, scenario, mode)`, from
/// `YYYYMMDDTHHMMSSZ-<scenario>-<mode>[-N]`; `None` for any other name.
pub fn parse_run_name(name: &str) -> Option<(DateTime<Utc>, String, String)> {
    let (ts, rest) = (name.get(..16)?, name.get(17..)?);
    if name.as_bytes().get(16) != Some(&b'-') {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(ts, STAMP).ok()?;
    // Drop a collision suffix (`-2`) when what precedes it still has a mode.
    let rest = match rest.rsplit_once('-') {
        Some((head, n)) if n.bytes().all(|b| b.is_ascii_digit()) && head.contains('-') => head,
        _ => rest,
    };
    let (scenario, mode) = rest.rsplit_once('-')?;
    (!scenario.is_empty() && !mode.is_empty())
        .then(|| (t.and_utc(), scenario.to_string(), mode.to_string()))
}

/// The longest scenario id or mode accepted in a folder name (the name
/// must stay under the filesystem's 255 bytes with the timestamp and suffix).
pub const MAX_NAME_LEN: usize = 100;

/// Refuses anything but `[A-Za-z0-9_.-]{1,100}` not starting with '.'.
pub fn check_name(what: &'static str, value: &str) -> Result<(), ArtifactsError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ArtifactsError::InvalidName {
            what,
            value: value.chars().take(120).collect(),
        })
    }
}

/// Writes `value` to `path` as pretty JSON and a final newline, atomically
/// ([`write_atomic`]).
pub fn write_json_atomic<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
) -> Result<(), ArtifactsError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| ArtifactsError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads the JSON file at `path`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ArtifactsError> {
    let bytes = fs::read(path).map_err(|e| ArtifactsError::io("reading", path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| ArtifactsError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` atomically: a temporary name in the same folder,
/// fsync, rename, then fsync of the folder. A reader sees the old file or
/// the new one, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArtifactsError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{seq}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Persist the rename; some filesystems refuse to fsync a folder.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e: io::Error| {
        let _ = fs::remove_file(&tmp);
        ArtifactsError::io("writing", path, e)
    })
}

/// Renames `<path>.part` (or any `from`) to `to` after an fsync of `from`.
pub(crate) fn persist_rename(from: &Path, to: &Path) -> Result<(), ArtifactsError> {
    if let Ok(f) = fs::OpenOptions::new().read(true).open(from) {
        let _ = f.sync_all();
    }
    fs::rename(from, to).map_err(|e| ArtifactsError::io("renaming", from, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, 26, 9, 5, 7).unwrap()
    }

    #[test]
    fn names_the_folder_and_suffixes_collisions() {
        let root = tempfile::tempdir().unwrap();
        let a = RunDir::create_at(root.path(), "s1", "graceful", t0()).unwrap();
        let b = RunDir::create_at(root.path(), "s1", "graceful", t0()).unwrap();
        let c = RunDir::create_at(root.path(), "s1", "graceful", t0()).unwrap();
        assert_eq!(a.run_id(), "20260426T090507Z-s1-graceful");
        assert_eq!(b.run_id(), "20260426T090507Z-s1-graceful-2");
        assert_eq!(c.run_id(), "20260426T090507Z-s1-graceful-3");
        for d in [&a, &b, &c] {
            assert!(d.config_dir().is_dir());
            assert!(d.logs_dir().is_dir());
            assert_eq!(d.path().parent().unwrap(), root.path());
        }
    }

    #[test]
    fn reads_back_the_names_it_writes() {
        let root = tempfile::tempdir().unwrap();
        let a = RunDir::create_at(root.path(), "s15_lb-first", "graceful", t0()).unwrap();
        let b = RunDir::create_at(root.path(), "s15_lb-first", "graceful", t0()).unwrap();
        for d in [&a, &b] {
            let (t, s, m) = parse_run_name(&d.run_id()).unwrap();
            assert_eq!(
                (t, s.as_str(), m.as_str()),
                (t0(), "s15_lb-first", "graceful")
            );
        }
        let (t, s, m) = parse_run_name("20261125T122930Z-s1-current").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T12:29:30+00:00");
        assert_eq!((s.as_str(), m.as_str()), ("s1", "current"));
        for bad in [
            "",
            "x",
            "20261125T122930Z",
            "20261125T122930Z-s1",
            "2026112XT122930Z-s1-c",
        ] {
            assert!(parse_run_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn refuses_names_that_could_escape() {
        let root = tempfile::tempdir().unwrap();
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "../x", "a/b", "", ".hidden", "..", "s1 x", "a\\b", "é", "/abs", "a\0b", "a\nb", &long,
        ] {
            let err = RunDir::create_at(root.path(), bad, "current", t0()).unwrap_err();
            assert!(
                matches!(err, ArtifactsError::InvalidName { .. }),
                "{bad}: {err}"
            );
            let err = RunDir::create_at(root.path(), "s1", bad, t0()).unwrap_err();
            assert!(
                matches!(err, ArtifactsError::InvalidName { .. }),
                "{bad}: {err}"
            );
        }
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
        RunDir::create_at(root.path(), "s15_lb-first.v2", "current", t0()).unwrap();
    }

    #[test]
    fn unwritable_root_is_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        fs::write(&file, b"x").unwrap();
        let root = file.join("artifacts");
        let err = RunDir::create(&root, "s1", "current").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&root.display().to_string()), "{msg}");
        assert!(msg.contains("not writable"), "{msg}");
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("summary.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("summary.json")]);
        let err = write_atomic(&tmp.path().join("no/such/dir/x"), b"x").unwrap_err();
        assert!(err.to_string().contains("no/such/dir/x"), "{err}");
    }
}
