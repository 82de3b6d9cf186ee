//! `harness export` end to end: the real binary writes the manifests; PyPI's
//! `kubernetes-validate --strict` (a real validator, offline, with the
//! Kubernetes OpenAPI schemas it ships) accepts them for two Kubernetes
//! minor versions and rejects a misspelled field (the validator is the one
//! `harness tools --fetch` found or fetched: `KUBERNETES_VALIDATE_BIN`, which
//! scripts/test.sh exports, else `PATH`); the exported settings are
//! the scenario's resolved ones (read back from the YAML and compared with
//! the scenario file's values); real Envoy and HAProxy accept the exported
//! Envoy config and backend lines. No validator installed is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::export::k8s::{ConfigMap, Container, Deployment};
use harness::scenario::{self, LbSignal, PreStop, Scenario};

const OLDEST: &str = "1.30.0";
const INSTALL: &str =
    "run scripts/test.sh (it fetches it with `harness tools --fetch`), or pip install kubernetes-validate";

/// The validator: `KUBERNETES_VALIDATE_BIN`, else `kubernetes-validate` on `PATH`.
fn validator() -> Command {
    Command::new(
        std::env::var_os("KUBERNETES_VALIDATE_BIN")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "kubernetes-validate".into()),
    )
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenario(id: &str) -> Scenario {
    let dir = workspace().join("scenarios");
    scenario::load(&scenario::resolve(id, &dir).unwrap()).unwrap()
}

fn output(cmd: &mut Command, what: &str) -> (Output, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e} (install it: {INSTALL})"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// `harness export <id> --mode <mode> --out <tmp>`; the folder.
fn export(id: &str, mode: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = output(
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["export", id, "--mode", mode, "--namespace", "lab", "--out"])
            .arg(dir.path()),
        "harness export",
    );
    assert!(out.status.success(), "harness export {id} {mode}: {text}");
    dir
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    harness::export::names::MANIFESTS
        .iter()
        .map(|n| dir.join(n))
        .collect()
}

/// The newest Kubernetes version the installed validator ships (its default).
fn newest() -> String {
    let (out, text) = output(validator().arg("--help"), "kubernetes-validate");
    assert!(out.status.success(), "kubernetes-validate --help: {text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let v = flat
        .split("Defaults to ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no default version in kubernetes-validate --help: {text}"));
    v.to_string()
}

/// `kubernetes-validate --strict -k <version> <files>`: success and output.
fn validate(version: &str, files: &[PathBuf]) -> (bool, String) {
    let (out, text) = output(
        validator().args(["--strict", "-k", version]).args(files),
        "kubernetes-validate",
    );
    (out.status.success(), text)
}

#[test]
fn exports_pass_the_strict_validator_on_two_kubernetes_versions() {
    let newest = newest();
    assert_ne!(newest, OLDEST, "the validator ships only {OLDEST}");
    for (id, mode) in [
        ("s1", "graceful"),
        ("s1", "current"),
        ("s15", "lb-first-404"),
        ("s16", "agent"),
    ] {
        let dir = export(id, mode);
        for v in [OLDEST, newest.as_str()] {
            let (ok, text) = validate(v, &manifests(dir.path()));
            assert!(ok, "{id} {mode} on Kubernetes {v}:\n{text}");
            // One line per object: 3 ConfigMaps (2 for a sleep preStop), a
            // Deployment, a Service.
            let objects = if mode == "current" { 4 } else { 5 };
            assert_eq!(
                text.matches(" passed for resource ").count(),
                objects,
                "{text}"
            );
            let minor = v.rsplit_once('.').map_or(v, |(m, _)| m);
            assert!(text.contains(&format!("against version {minor}")), "{text}");
        }
    }
}

#[test]
fn a_misspelled_field_is_caught_by_the_validator() {
    let dir = export("s1", "graceful");
    let dep = dir.path().join("deployment.yaml");
    let (ok, text) = validate(OLDEST, std::slice::from_ref(&dep));
    assert!(ok, "the export itself must pass: {text}");
    let good = std::fs::read_to_string(&dep).unwrap();
    let bad = good.replace(
        "terminationGracePeriodSeconds",
        "terminationGracePeriodSecond",
    );
    assert_ne!(good, bad);
    std::fs::write(&dep, bad).unwrap();
    for v in [OLDEST, newest().as_str()] {
        let (ok, text) = validate(v, std::slice::from_ref(&dep));
        assert!(!ok, "a misspelled field passed on {v}: {text}");
        assert!(text.contains("terminationGracePeriodSecond"), "{text}");
    }
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config_maps(dir: &Path) -> Vec<ConfigMap> {
    let text = std::fs::read_to_string(dir.join("configmaps.yaml")).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn data<'a>(cms: &'a [ConfigMap], name: &str) -> &'a std::collections::BTreeMap<String, String> {
    &cms.iter()
        .find(|c| c.metadata.name == name)
        .unwrap_or_else(|| panic!("no ConfigMap {name}"))
        .data
}

fn container<'a>(d: &'a Deployment, name: &str) -> &'a Container {
    d.spec
        .template
        .spec
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn prestop(c: &Container) -> Vec<String> {
    c.lifecycle.as_ref().unwrap().pre_stop.exec.command.clone()
}

#[rstest::rstest]
#[case("s1", "current")]
#[case("s1", "graceful")]
#[case("s15", "seed-503")]
#[case("s15", "lb-first-404")]
fn exported_settings_are_the_scenarios_resolved_settings(#[case] id: &str, #[case] mode: &str) {
    let dir = export(id, mode);
    let sc = scenario(id).for_mode(mode);
    let m = &sc.modes[mode];
    let (k, h, e) = (&sc.kubelet, &sc.topology.haproxy, &sc.topology.envoy);
    let dep: Deployment = read(&dir.path().join("deployment.yaml"));
    let pod = &dep.spec.template.spec;
    assert_eq!(dep.metadata.namespace.as_deref(), Some("lab"));
    assert_eq!(dep.spec.replicas, sc.topology.pods);
    assert_eq!(
        pod.termination_grace_period_seconds,
        k.grace_period.0.as_secs()
    );

    let hc = container(&dep, "hc");
    let ready = hc.readiness_probe.as_ref().unwrap();
    assert_eq!(ready.http_get.path, "/health");
    assert_eq!(ready.period_seconds, k.readiness_period.0.as_secs());
    assert_eq!(ready.failure_threshold, k.readiness_failure_threshold);
    let live = hc.liveness_probe.as_ref().unwrap();
    assert_eq!(live.http_get.path, "/live");
    assert_eq!(live.period_seconds, k.liveness_period.0.as_secs());
    assert_eq!(live.failure_threshold, k.liveness_failure_threshold);

    let cms = config_maps(dir.path());
    assert_eq!(
        data(&cms, "web-hc")["HC_LB_SIGNAL"],
        h.lb_signal.to_string()
    );
    let envoy_cmd = container(&dep, "envoy").command.join(" ");
    assert!(
        envoy_cmd.contains(&format!(
            "--drain-strategy {} --drain-time-s {}",
            e.drain_strategy,
            e.drain_time.0.as_secs()
        )),
        "{envoy_cmd}"
    );

    let cmd = prestop(hc);
    match m.prestop {
        PreStop::Sleep => {
            assert_eq!(cmd, ["sleep".to_string(), m.sleep.0.as_secs().to_string()]);
            assert!(cms.iter().all(|c| c.metadata.name != "web-drain"));
        }
        _ => {
            let d = &m.drain;
            assert_eq!(cmd[0], "/usr/local/bin/drain");
            let flags = cmd[1..].join(" ");
            assert!(
                flags.contains(&format!("--active-stat {}", d.active_stat)),
                "{flags}"
            );
            assert_eq!(
                flags.contains("--zero-on-stats-error"),
                d.zero_on_stats_error
            );
            assert_eq!(flags.contains("--min-drain"), d.min_drain.is_some());
            let env = data(&cms, "web-drain");
            assert_eq!(env["DRAIN_TIMEOUT"], d.timeout.to_string());
            assert_eq!(env["POLL_INTERVAL"], d.poll_interval.to_string());
            assert_eq!(env["LB_BUFFER"], d.lb_buffer.to_string());
            assert_eq!(env["LB_BUFFER_MAX"], d.lb_buffer_max.to_string());
            assert_eq!(env["DRAIN_ORDER"], d.order.to_string());
            assert_eq!(env["HC_URL"], "http://127.0.0.1:18181");
            assert_eq!(env["ENVOY_ADMIN"], "http://127.0.0.1:15000");
            // drain's LB_FALL is HAProxy's fall for the 503 signal; with the
            // 404 soft stop one refusal lets go (drain's own default).
            let fall = (h.lb_signal == LbSignal::Status503).then(|| h.fall.to_string());
            assert_eq!(env.get("LB_FALL"), fall.as_ref());
        }
    }
    // Backend and Envoy get SIGTERM no earlier than hc: their hook waits as long.
    for c in ["backend", "envoy"] {
        let wait = prestop(container(&dep, c)).join(" ");
        match m.prestop {
            PreStop::Sleep => assert_eq!(wait, cmd.join(" ")),
            _ => assert!(
                wait.contains("127.0.0.1:18180/health")
                    && wait.contains(&format!("-lt {}", k.grace_period.0.as_secs())),
                "{c}: {wait}"
            ),
        }
    }

    let lb = std::fs::read_to_string(dir.path().join("haproxy-backend.cfg")).unwrap();
    let mut default_server = format!(
        "default-server inter {}ms fall {} rise {}",
        h.inter.ms(),
        h.fall,
        h.rise
    );
    if h.shutdown_sessions {
        default_server.push_str(" on-marked-down shutdown-sessions");
    }
    assert!(lb.contains(&format!("{default_server}\n")), "{lb}");
    assert!(lb.contains("option httpchk GET /health_check.html"), "{lb}");
    assert_eq!(
        lb.contains("http-check disable-on-404"),
        h.lb_signal == LbSignal::Status404,
        "{lb}"
    );
    assert_eq!(lb.contains("agent-check"), h.agent_check, "{lb}");
    assert!(lb.contains(&format!("retries {}", h.retries)), "{lb}");
    assert_eq!(
        lb.matches("    server ").count(),
        sc.topology.pods as usize,
        "{lb}"
    );
}

#[test]
fn exported_envoy_config_and_backend_lines_pass_real_envoy_and_haproxy() {
    let tools = harness::tools::locate().unwrap_or_else(|e| panic!("{e}"));
    for (id, mode) in [
        ("s1", "graceful"),
        ("s16", "agent"),
        ("s15", "lb-first-404"),
    ] {
        let dir = export(id, mode);
        let cms = config_maps(dir.path());
        let envoy_yaml = dir.path().join("envoy.yaml");
        std::fs::write(&envoy_yaml, &data(&cms, "web-envoy")["envoy.yaml"]).unwrap();
        let (out, text) = output(
            Command::new(&tools.envoy)
                .args(["--mode", "validate", "--disable-hot-restart", "-c"])
                .arg(&envoy_yaml),
            "envoy",
        );
        assert!(out.status.success(), "{id} {mode}: envoy: {text}");
        let backend = std::fs::read_to_string(dir.path().join("haproxy-backend.cfg")).unwrap();
        let cfg = dir.path().join("haproxy.cfg");
        let whole = format!(
            "defaults\n    mode http\n    timeout client 5s\n\
             frontend fe\n    bind 127.0.0.1:18080\n    default_backend be_app\n{backend}"
        );
        std::fs::write(&cfg, whole).unwrap();
        let (out, text) = output(
            Command::new(&tools.haproxy).arg("-c").arg("-f").arg(&cfg),
            "haproxy",
        );
        assert!(out.status.success(), "{id} {mode}: haproxy -c: {text}");
        assert!(!text.contains("WARNING"), "{id} {mode}: haproxy -c: {text}");
    }
}

#[test]
fn settings_kubernetes_cannot_take_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(workspace().join("scenarios/s1.toml"))
        .unwrap()
        .replace("readiness_period = \"1s\"", "readiness_period = \"500ms\"");
    let path = dir.path().join("sub-second.toml");
    std::fs::write(&path, text).unwrap();
    for (args, needle) in [
        (
            vec![path.to_str().unwrap(), "--mode", "graceful"],
            "kubelet.readiness_period = 500ms",
        ),
        (vec!["s1", "--mode", "nope"], "no mode \"nope\""),
        (vec!["s12", "--mode", "drain"], "envoy_admin_unreachable"),
    ] {
        let (out, err) = output(
            Command::new(env!("CARGO_BIN_EXE_harness"))
                .arg("export")
                .args(&args)
                .arg("--out")
                .arg(dir.path().join("out")),
            "harness export",
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
