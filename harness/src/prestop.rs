//! What a mode's preStop hook runs, as data: the program (a fixed `sleep`,
//! `drain` or the seed's script), its flags and the env it reads, exactly as
//! `apps/drain` (and `graceful-drain.sh`) read them. One implementation for
//! the lab's kubelet (`run/hooks.rs` turns it into a process) and for the
//! exported Kubernetes manifests (`export/` turns it into an exec hook).
//!
//! Pure data: it must never start a process, and it says nothing about where
//! a program lives (each runtime or manifest names its own path).

use crate::scenario::{Dur, Haproxy, LbBuffer, LbSignal, Mode, PreStop};

/// The preStop's program, its flags and env, for one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreStopCommand {
    /// Which program: `sleep`, `drain` or the script.
    pub kind: PreStop,
    pub args: Vec<String>,
    /// `DRAIN_TIMEOUT`, `POLL_INTERVAL`, ... (empty for `sleep`).
    pub env: Vec<(String, String)>,
}

/// The kind that runs for `mode`: the mode's own, or `override_` (the CLI's
/// `--prestop drain|script`) for a drain-based mode; `sleep` stays `sleep`.
pub fn kind(mode: &Mode, override_: Option<PreStop>) -> PreStop {
    match (mode.prestop, override_) {
        (PreStop::Sleep, _) => PreStop::Sleep,
        (k, None) => k,
        (_, Some(o)) => o,
    }
}

/// The command of a `kind` preStop with `mode`'s drain settings, behind an
/// HAProxy set up as `haproxy` (its `fall` is drain's `LB_FALL` for the 503
/// signal). Pod-specific env (`HC_URL`, `ENVOY_ADMIN`) is the caller's.
pub fn command(kind: PreStop, mode: &Mode, haproxy: &Haproxy) -> PreStopCommand {
    if kind == PreStop::Sleep {
        return PreStopCommand {
            kind,
            args: vec![format!("{}", mode.sleep.0.as_secs_f64())],
            env: vec![],
        };
    }
    let d = &mode.drain;
    // The seed's script does shell arithmetic on its durations: whole seconds.
    let script = kind == PreStop::Script;
    let dur = |x: Dur| {
        if script {
            x.0.as_secs_f64().ceil().to_string()
        } else {
            x.to_string()
        }
    };
    let lb_buffer = match (script, d.lb_buffer) {
        (true, LbBuffer::Auto) => dur(d.lb_buffer_max),
        (true, LbBuffer::Fixed(x)) => dur(Dur(x)),
        (false, b) => b.to_string(),
    };
    let mut env = vec![
        ("DRAIN_TIMEOUT".to_string(), dur(d.timeout)),
        ("POLL_INTERVAL".to_string(), dur(d.poll_interval)),
        ("LB_BUFFER".to_string(), lb_buffer),
        ("LB_BUFFER_MAX".to_string(), d.lb_buffer_max.to_string()),
        ("DRAIN_ORDER".to_string(), d.order.to_string()),
    ];
    // With the 404 soft stop one refusal lets the LB go: drain's own default.
    if haproxy.lb_signal == LbSignal::Status503 {
        env.push(("LB_FALL".to_string(), haproxy.fall.to_string()));
    }
    let mut args = Vec::new();
    if d.zero_on_stats_error && !script {
        args.push("--zero-on-stats-error".to_string());
    }
    if kind == PreStop::Drain {
        args.extend(["--active-stat".to_string(), d.active_stat.to_string()]);
        if let Some(m) = d.min_drain {
            args.extend(["--min-drain".to_string(), m.to_string()]);
        }
    }
    PreStopCommand { kind, args, env }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(toml_text: &str) -> Mode {
        toml::from_str(toml_text).unwrap()
    }

    fn env<'a>(c: &'a PreStopCommand, k: &str) -> Option<&'a str> {
        c.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn drain_gets_the_modes_settings_as_env_and_flags() {
        let m = mode(
            "prestop = \"drain\"\n[drain]\ntimeout = \"8s\"\nlb_buffer = \"auto\"\norder = \"lb-first\"\nactive_stat = \"cx\"\nmin_drain = \"3s\"",
        );
        let c = command(kind(&m, None), &m, &Haproxy::default());
        assert_eq!(c.kind, PreStop::Drain);
        assert_eq!(env(&c, "DRAIN_TIMEOUT"), Some("8s"));
        assert_eq!(env(&c, "LB_BUFFER"), Some("auto"));
        assert_eq!(env(&c, "DRAIN_ORDER"), Some("lb-first"));
        assert_eq!(env(&c, "LB_FALL"), Some("2"));
        assert_eq!(c.args, ["--active-stat", "cx", "--min-drain", "3s"]);
        let soft = Haproxy {
            lb_signal: LbSignal::Status404,
            ..Haproxy::default()
        };
        assert_eq!(env(&command(PreStop::Drain, &m, &soft), "LB_FALL"), None);
    }

    #[test]
    fn the_script_gets_whole_seconds_and_sleep_gets_its_seconds() {
        let m = mode(
            "prestop = \"drain\"\n[drain]\ntimeout = \"2500ms\"\nlb_buffer = \"auto\"\nlb_buffer_max = \"4s\"\nzero_on_stats_error = true",
        );
        let c = command(kind(&m, Some(PreStop::Script)), &m, &Haproxy::default());
        assert_eq!(c.kind, PreStop::Script);
        assert_eq!(env(&c, "DRAIN_TIMEOUT"), Some("3"));
        assert_eq!(env(&c, "LB_BUFFER"), Some("4"));
        assert!(c.args.is_empty(), "{:?}", c.args);
        let s = mode("prestop = \"sleep\"\nsleep = \"15s\"");
        let c = command(kind(&s, Some(PreStop::Drain)), &s, &Haproxy::default());
        assert_eq!(
            (c.kind, c.args, c.env),
            (PreStop::Sleep, vec!["15".into()], vec![])
        );
    }
}
