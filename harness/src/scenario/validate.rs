//! Semantic checks of a parsed scenario: names that must exist, values that
//! must be in range, schedules that must be possible, and the warnings a
//! careful SRE wants (grace period shorter than the drain can take).
//!
//! Pure functions; never touches the system.

use std::time::Duration;

use super::expect::EventPattern;
use super::schema::{
    DrainOrder, Expect, LbBuffer, Load, PreStop, Scenario, OBSERVE_PERIOD_MAX, OBSERVE_PERIOD_MIN,
};

/// Pod names in order: pod-a, pod-b, ...
pub fn pod_names(n: u32) -> Vec<String> {
    (0..n)
        .map(|i| format!("pod-{}", (b'a' + i as u8) as char))
        .collect()
}

/// The longest scenario id or mode name: both end up in a run folder's
/// name, which must stay well under the filesystem's 255 bytes.
pub const MAX_NAME: usize = 64;

/// An id or mode name that can name a run folder and nothing else:
/// 1..=MAX_NAME of `[A-Za-z0-9_-]` (no `.`, `/`, spaces or control characters).
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// At most 80 characters of a hostile value, for an error message.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The hard errors; `Err` holds one line naming the key.
pub fn validate(sc: &Scenario) -> Result<(), String> {
    if !is_name(&sc.id) {
        return Err(format!(
            "key `id`: {:?} must be 1 to {MAX_NAME} letters, digits, - or _",
            shorten(&sc.id)
        ));
    }
    validate_topology(sc)?;
    let period = sc.observe.period;
    if !(OBSERVE_PERIOD_MIN..=OBSERVE_PERIOD_MAX).contains(&period) {
        return Err(format!(
            "key `observe.period`: {period} is not in {OBSERVE_PERIOD_MIN}..={OBSERVE_PERIOD_MAX}"
        ));
    }
    if sc.load.is_empty() {
        return Err("key `load`: a scenario needs at least one [[load]]".into());
    }
    let pods = pod_names(sc.topology.pods);
    check_loads(sc, &pods)?;
    check_faults(sc, &pods, "faults")?;
    check_modes(sc, &pods)?;
    for name in sc.modes.keys() {
        super::coverage::check(sc, name)?;
    }
    Ok(())
}

fn validate_topology(sc: &Scenario) -> Result<(), String> {
    let t = &sc.topology;
    if !(1..=4).contains(&t.haproxies) {
        return Err(format!(
            "key `topology.haproxies`: {} is not in 1..=4",
            t.haproxies
        ));
    }
    if t.extra_haproxy_inter.is_some_and(|d| d.0.is_zero()) {
        return Err("key `topology.extra_haproxy_inter`: must be > 0".into());
    }
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
    if h.agent_inter.0.is_zero() {
        return Err("key `topology.haproxy.agent_inter`: must be > 0".into());
    }
    if t.envoy.slow_delay.0 > std::time::Duration::from_secs(60) {
        return Err(format!(
            "key `topology.envoy.slow_delay`: {} is over 60s",
            t.envoy.slow_delay
        ));
    }
    let k = &sc.kubelet;
    if k.grace_period.0.is_zero() || k.readiness_period.0.is_zero() || k.liveness_period.0.is_zero()
    {
        return Err("key `kubelet`: grace_period and prober periods must be > 0".into());
    }
    Ok(())
}

fn check_loads(sc: &Scenario, pods: &[String]) -> Result<(), String> {
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
                check_pin(&at, pin, pods)?;
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
                check_pin(&at, pin, pods)?;
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
    Ok(())
}

fn check_modes(sc: &Scenario, pods: &[String]) -> Result<(), String> {
    if sc.modes.is_empty() {
        return Err("key `modes`: a scenario needs at least one mode".into());
    }
    for name in &sc.mode_order {
        if !sc.modes.contains_key(name) {
            return Err(format!("key `mode_order`: no mode {name:?}"));
        }
    }
    for (name, m) in &sc.modes {
        if !is_name(name) {
            return Err(format!(
                "key `modes.{:?}`: a mode name must be 1 to {MAX_NAME} letters, digits, - or _",
                shorten(name)
            ));
        }
        let d = &m.drain;
        if d.poll_interval.0.is_zero() {
            return Err(format!(
                "key `modes.{name}.drain.poll_interval`: must be > 0"
            ));
        }
        if m.prestop == PreStop::Script && d.lb_buffer == LbBuffer::Auto {
            return Err(format!(
                "key `modes.{name}.drain.lb_buffer`: the seed's script only sleeps a fixed buffer, not \"auto\""
            ));
        }
        if m.prestop == PreStop::Script && d.order != DrainOrder::Seed {
            return Err(format!(
                "key `modes.{name}.drain.order`: the seed's script only knows the seed order"
            ));
        }
        if m.haproxy.is_some() || m.envoy.is_some() {
            validate_topology(&sc.for_mode(name))
                .map_err(|e| e.replace("key `topology.", &format!("key `modes.{name}.")))?;
        }
        if m.faults.is_some() || m.load.is_some() {
            let own = sc.for_mode(name);
            if own.load.is_empty() {
                return Err(format!(
                    "key `modes.{name}.load`: a mode needs at least one [[load]]"
                ));
            }
            check_loads(&own, pods)
                .map_err(|e| e.replace("key `load[", &format!("key `modes.{name}.load[")))?;
            check_faults(&own, pods, &format!("modes.{name}.faults"))?;
        }
        check_expect(name, &m.expect, pods)?;
    }
    Ok(())
}

fn check_faults(sc: &Scenario, pods: &[String], key: &str) -> Result<(), String> {
    let load_end = load_end(sc);
    let mut terminated: Vec<&str> = Vec::new();
    for (i, f) in sc.faults.iter().enumerate() {
        f.action(i)
            .map_err(|e| e.replace("key `faults[", &format!("key `{key}[")))?;
        for p in f.pods() {
            if !pods.contains(&p.to_string()) {
                return Err(format!(
                    "key `{key}[{i}]`: no pod {p:?} (pods: {})",
                    pods.join(", ")
                ));
            }
        }
        for p in f.terminated_pods() {
            if terminated.contains(&p) {
                return Err(format!(
                    "key `{key}[{i}]`: pod {p:?} is terminated twice (impossible schedule)"
                ));
            }
            terminated.push(p);
        }
        if f.at.0 >= load_end {
            return Err(format!(
                "key `{key}[{i}].at`: {} is at or after the end of the load (+{}s): nothing would observe it (impossible schedule)",
                f.at,
                load_end.as_secs_f64()
            ));
        }
    }
    Ok(())
}

/// When the last load generator ends, from the start of the load.
fn load_end(sc: &Scenario) -> Duration {
    sc.load
        .iter()
        .map(|l| match l {
            Load::Long { start, seconds, .. } | Load::Stream { start, seconds, .. } => {
                start.0 + Duration::from_secs(*seconds)
            }
            Load::Steady {
                start, duration, ..
            } => start.0 + duration.0,
        })
        .max()
        .unwrap_or_default()
}

fn check_expect(mode: &str, e: &Expect, pods: &[String]) -> Result<(), String> {
    let at = format!("modes.{mode}.expect");
    if let (Some(a), Some(b)) = (e.disruptions_min, e.disruptions_max) {
        if a > b {
            return Err(format!(
                "key `{at}`: disruptions_min {a} > disruptions_max {b}"
            ));
        }
    }
    if let Some([a, b]) = e.lb_down_after_close_lb {
        if a > b {
            return Err(format!(
                "key `{at}.lb_down_after_close_lb`: [{a}, {b}] is empty"
            ));
        }
    }
    if let (Some(a), Some(b)) = (e.prestop_min, e.prestop_max) {
        if a > b {
            return Err(format!("key `{at}`: prestop_min {a} > prestop_max {b}"));
        }
    }
    for (key, list) in [
        ("timeline_has", &e.timeline_has),
        ("timeline_lacks", &e.timeline_lacks),
    ] {
        for p in list {
            if EventPattern::parse(p).is_none() {
                return Err(format!(
                    "key `{at}.{key}`: {p:?} must be \"<source> <event>[ <detail>]\""
                ));
            }
        }
    }
    for (i, g) in e.gaps.iter().enumerate() {
        for (k, p) in [("from", &g.from), ("to", &g.to)] {
            if EventPattern::parse(p).is_none() {
                return Err(format!(
                    "key `{at}.gaps[{i}].{k}`: {p:?} must be \"<source> <event>[ <detail>]\""
                ));
            }
        }
        if let Some(p) = &g.pod {
            if !pods.contains(p) {
                return Err(format!("key `{at}.gaps[{i}].pod`: no pod {p:?}"));
            }
        }
        if let (Some(a), Some(b)) = (g.min, g.max) {
            if a > b {
                return Err(format!("key `{at}.gaps[{i}]`: min {a} > max {b}"));
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

#[cfg(test)]
mod observe_tests {
    use rstest::rstest;

    const QUICK: &str = include_str!("../../tests/fixtures/quick.toml");

    fn with_observe(table: &str) -> Result<super::Scenario, String> {
        let text = format!("{QUICK}\n{table}");
        let sc: super::Scenario = toml::from_str(&text).map_err(|e| e.to_string())?;
        super::validate(&sc).map(|()| sc)
    }

    #[rstest]
    #[case::default("", 200)]
    #[case::fast("[observe]\nperiod = \"20ms\"", 20)]
    #[case::slow("[observe]\nperiod = \"250ms\"", 250)]
    #[case::whole_seconds("[observe]\nperiod = 10", 10_000)]
    fn observe_period_is_read(#[case] table: &str, #[case] ms: u64) {
        assert_eq!(with_observe(table).unwrap().observe.period.ms(), ms);
    }

    #[rstest]
    #[case::too_fast("[observe]\nperiod = \"19ms\"")]
    #[case::zero("[observe]\nperiod = 0")]
    #[case::too_slow("[observe]\nperiod = \"11s\"")]
    fn observe_period_out_of_range_names_the_key(#[case] table: &str) {
        let e = with_observe(table).unwrap_err();
        assert!(e.starts_with("key `observe.period`: "), "{e}");
        assert!(e.contains("20ms..=10s"), "{e}");
    }

    #[test]
    fn observe_rejects_unknown_keys() {
        let e = with_observe("[observe]\nperiodd = \"1s\"").unwrap_err();
        assert!(e.contains("periodd"), "{e}");
    }
}
