//! The warnings a careful SRE wants about a valid scenario, which do not
//! stop a run: a grace period shorter than preStop can take.
//!
//! Pure; it must never reject a scenario (that is `validate`'s job).

use super::schema::{LbBuffer, PreStop, Scenario};

/// Warnings that do not stop a run (DESIGN §3.3: grace shorter than the drain can take).
pub fn warnings(sc: &Scenario) -> Vec<String> {
    let mut w = Vec::new();
    if sc.kubelet.grace_ok_shorter {
        return w;
    }
    for (name, m) in &sc.modes {
        if m.prestop == PreStop::Sleep {
            if m.sleep > sc.kubelet.grace_period {
                w.push(format!(
                    "mode {name}: preStop sleep {} is longer than the grace period {}",
                    m.sleep, sc.kubelet.grace_period
                ));
            }
            continue;
        }
        let buffer = match m.drain.lb_buffer {
            LbBuffer::Auto => m.drain.lb_buffer_max.0,
            LbBuffer::Fixed(d) => d,
        };
        let worst = m.drain.timeout.0 + buffer + std::time::Duration::from_secs(4 * 5);
        if worst > sc.kubelet.grace_period.0 {
            w.push(format!(
                "mode {name}: the drain can take up to {}s (DRAIN_TIMEOUT + LB_BUFFER + 4 call timeouts) but the grace period is {}",
                worst.as_secs(),
                sc.kubelet.grace_period
            ));
        }
    }
    w
}
