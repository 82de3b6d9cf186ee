//! Finds the lab's processes in `/proc` by the env every one of them carries
//! (`GRACEFUL_LAB_RUN_ID`, `GRACEFUL_LAB_OWNER`), and tells whether the
//! harness that started them is still alive.
//!
//! Read-only: it must never signal anything itself.

use super::{OWNER_ENV, RUN_ID_ENV};

/// One process of some run, as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabProcess {
    pub pid: i32,
    pub pgid: i32,
    pub run_id: String,
    /// `<pid>:<start time>` of the harness that started it.
    pub owner: Option<String>,
}

/// `(pgid, start time in clock ticks)` of `pid`, from `/proc/<pid>/stat`.
pub fn stat_of(pid: i32) -> Option<(i32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parens: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): pgid is field 5, starttime field 22.
    let pgid = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((pgid, start))
}

/// This harness as an owner token: `<pid>:<start time>`.
pub fn own_token() -> String {
    let pid = std::process::id() as i32;
    let start = stat_of(pid).map(|(_, s)| s).unwrap_or(0);
    format!("{pid}:{start}")
}

/// Whether the harness named by `token` still runs (same pid, same start time).
pub fn owner_alive(token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) else {
        return false;
    };
    stat_of(pid).is_some_and(|(_, s)| s == start)
}

/// Every live process carrying `GRACEFUL_LAB_RUN_ID` (any run), but this one.
pub fn lab_processes() -> Vec<LabProcess> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Zombies and processes of other users read as empty or fail: skipped.
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let mut run_id = None;
        let mut owner = None;
        for var in environ.split(|b| *b == 0) {
            let var = String::from_utf8_lossy(var);
            if let Some(v) = var
                .strip_prefix(RUN_ID_ENV)
                .and_then(|r| r.strip_prefix('='))
            {
                run_id = Some(v.to_string());
            } else if let Some(v) = var
                .strip_prefix(OWNER_ENV)
                .and_then(|r| r.strip_prefix('='))
            {
                owner = Some(v.to_string());
            }
        }
        let (Some(run_id), Some((pgid, _))) = (run_id, stat_of(pid)) else {
            continue;
        };
        out.push(LabProcess {
            pid,
            pgid,
            run_id,
            owner,
        });
    }
    out
}

/// The live processes of one run.
pub fn processes_of_run(run_id: &str) -> Vec<LabProcess> {
    lab_processes()
        .into_iter()
        .filter(|p| p.run_id == run_id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_token_names_a_live_owner() {
        assert!(owner_alive(&own_token()));
        assert!(!owner_alive("999999999:0"), "no such pid");
        assert!(!owner_alive("garbage"));
    }
}
