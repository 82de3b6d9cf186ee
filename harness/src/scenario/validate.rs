//! Semantic checks of a parsed scenario: names that must exist, values that
//! must be in range, schedules that must be possible, and the warnings a
//! careful SRE wants (grace period shorter than the drain can take).
//!
//! Pure functions; never touches the system.

use super::schema::{Load, PreStop, Scenario};

/// Pod names in order: pod-a, pod-b, ...
pub fn pod_names(n: u32) -> Vec<String> {
    (0..n)
        .map(|i| format!("pod-{}", (b'a' + i as u8) as char))
        .collect()
}

/// The hard errors; `Err` holds one line naming the key.
pub fn validate(sc: &Scenario) -> Result<(), String> {
    if sc.id.is_empty()
        || !sc
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "key `id`: {:?} must be letters, digits, - or _",
            sc.id
        ));
    }
    let t = &sc.topology;
    if !(1..=8).contains(&t.pods) {
        return Err(format!("key `topology.pods`: {} is not in 1..=8", t.pods));
    }
    let h = &t.haproxy;
    if h.inter.0.is_zero() {
        return Err("key `topology.haproxy.inter`: must be > 0".into());
    }
    if h.fall == 0 || h.rise == 0 {
        return Err("key `topology.haproxy.fall`/`rise`: must be >= 1".into());
    }
    if h.lb_signal != 503 && h.lb_signal != 404 {
        return Err(format!(
            "key `topology.haproxy.lb_signal`: {} (expected 503 or 404)",
            h.lb_signal
        ));
    }
    if !["gradual", "immediate"].contains(&t.envoy.drain_strategy.as_str()) {
        return Err(format!(
            "key `topology.envoy.drain_strategy`: {:?} (expected gradual or immediate)",
            t.envoy.drain_strategy
        ));
    }
    let pods = pod_names(t.pods);
    let k = &sc.kubelet;
    if k.grace_period.0.is_zero() || k.readiness_period.0.is_zero() || k.liveness_period.0.is_zero()
    {
        return Err("key `kubelet`: grace_period and prober periods must be > 0".into());
    }
    if sc.load.is_empty() {
        return Err("key `load`: a scenario needs at least one [[load]]".into());
    }
    for (i, l) in sc.load.iter().enumerate() {
        let at = format!("load[{i}]");
        match l {
            Load::Long {
                count,
                seconds,
                pin,
                ..
            } => {
                check_count(&at, *count)?;
                if *seconds > 600 {
                    return Err(format!(
                        "key `{at}.seconds`: {seconds} is over 600 (backend's limit)"
                    ));
                }
                check_pin(&at, pin, &pods)?;
            }
            Load::Stream {
                count,
                seconds,
                interval_ms,
                pin,
                ..
            } => {
                check_count(&at, *count)?;
                if *seconds > 600 || *interval_ms == 0 {
                    return Err(format!(
                        "key `{at}`: seconds must be <= 600 and interval_ms >= 1"
                    ));
                }
                check_pin(&at, pin, &pods)?;
            }
            Load::Steady {
                rate,
                duration,
                keepalive,
                max_conns,
                path,
                ..
            } => {
                if !(rate.is_finite() && *rate > 0.0 && *rate <= 20_000.0) {
                    return Err(format!("key `{at}.rate`: {rate} is not in (0, 20000]"));
                }
                let n = rate * duration.0.as_secs_f64();
                if n > 5_000_000.0 {
                    return Err(format!(
                        "key `{at}`: rate x duration = {n:.0} requests, over the 5,000,000 bound"
                    ));
                }
                if !(0.0..=1.0).contains(keepalive) {
                    return Err(format!("key `{at}.keepalive`: {keepalive} is not in 0..=1"));
                }
                if *max_conns == 0 || *max_conns > 4096 {
                    return Err(format!(
                        "key `{at}.max_conns`: {max_conns} is not in 1..=4096"
                    ));
                }
                if !path.starts_with('/') {
                    return Err(format!("key `{at}.path`: {path:?} must start with /"));
                }
            }
        }
    }
    for (i, f) in sc.faults.iter().enumerate() {
        if !pods.contains(&f.terminate) {
            return Err(format!(
                "key `faults[{i}].terminate`: no pod {:?} (pods: {})",
                f.terminate,
                pods.join(", ")
            ));
        }
    }
    if sc.modes.is_empty() {
        return Err("key `modes`: a scenario needs at least one mode".into());
    }
    for name in &sc.mode_order {
        if !sc.modes.contains_key(name) {
            return Err(format!("key `mode_order`: no mode {name:?}"));
        }
    }
    for (name, m) in &sc.modes {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "key `modes.{name}`: a mode name must be letters, digits, - or _"
            ));
        }
        let d = &m.drain;
        if d.lb_buffer != "auto" && gate::duration::parse_duration(&d.lb_buffer).is_err() {
            return Err(format!(
                "key `modes.{name}.drain.lb_buffer`: {:?} (expected a duration or \"auto\")",
                d.lb_buffer
            ));
        }
        if !["seed", "lb-first"].contains(&d.order.as_str()) {
            return Err(format!(
                "key `modes.{name}.drain.order`: {:?} (expected seed or lb-first)",
                d.order
            ));
        }
        if !["rq", "cx"].contains(&d.active_stat.as_str()) {
            return Err(format!(
                "key `modes.{name}.drain.active_stat`: {:?} (expected rq or cx)",
                d.active_stat
            ));
        }
        if d.poll_interval.0.is_zero() {
            return Err(format!(
                "key `modes.{name}.drain.poll_interval`: must be > 0"
            ));
        }
        if let (Some(a), Some(b)) = (m.expect.disruptions_min, m.expect.disruptions_max) {
            if a > b {
                return Err(format!(
                    "key `modes.{name}.expect`: disruptions_min {a} > disruptions_max {b}"
                ));
            }
        }
    }
    Ok(())
}

fn check_count(at: &str, count: u32) -> Result<(), String> {
    if count == 0 || count > 10_000 {
        return Err(format!("key `{at}.count`: {count} is not in 1..=10000"));
    }
    Ok(())
}

fn check_pin(at: &str, pin: &Option<String>, pods: &[String]) -> Result<(), String> {
    match pin {
        Some(p) if !pods.contains(p) => Err(format!(
            "key `{at}.pin`: no pod {p:?} (pods: {})",
            pods.join(", ")
        )),
        _ => Ok(()),
    }
}

/// Warnings that do not stop a run (DESIGN §3.3: grace shorter than the drain can take).
pub fn warnings(sc: &Scenario) -> Vec<String> {
    let mut w = Vec::new();
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
        let buffer = if m.drain.lb_buffer == "auto" {
            m.drain.lb_buffer_max.0
        } else {
            gate::duration::parse_duration(&m.drain.lb_buffer).unwrap_or_default()
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
