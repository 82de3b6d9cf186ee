//! The exported pod: backend, hc and Envoy containers with the mode's preStop
//! (the same [`crate::prestop::command`] the lab's kubelet runs), the
//! scenario's grace period and probes, and the ConfigMaps they read.
//!
//! Builds typed objects only; it must never write a file or format YAML.

use std::collections::BTreeMap;

use super::k8s::*;
use super::{ExportError, Resolved};
use crate::prestop::PreStopCommand;
use crate::runtime::images::paths;
use crate::scenario::{Dur, PreStop};
use crate::topology::{
    self, BACKEND_PORT, ENVOY_ADMIN_PORT, ENVOY_INBOUND_PORT, HC_ADMIN_PORT, HC_AGENT_PORT, HC_PORT,
};

/// Where the Envoy ConfigMap is mounted in the Envoy container.
pub const ENVOY_CONFIG_DIR: &str = "/etc/envoy";
/// hc's health port's name (probes, Service, HAProxy's check port).
pub const HC_PORT_NAME: &str = "hc-health";
pub const ENVOY_PORT_NAME: &str = "envoy-http";
pub const AGENT_PORT_NAME: &str = "hc-agent";

/// Whole seconds of a scenario duration, or an error naming the setting.
pub(super) fn whole_secs(setting: &'static str, d: Dur) -> Result<u64, ExportError> {
    if d.0.subsec_nanos() != 0 || d.0.is_zero() {
        return Err(ExportError::NotWholeSeconds {
            setting,
            value: d.to_string(),
        });
    }
    Ok(d.0.as_secs())
}

fn meta(r: &Resolved, name: String) -> ObjectMeta {
    ObjectMeta {
        name,
        namespace: r.opts.namespace.clone(),
        labels: r.labels(),
        annotations: BTreeMap::new(),
    }
}

fn env_value(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn pod_name_env() -> EnvVar {
    EnvVar {
        name: "POD_NAME".into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: ObjectFieldSelector {
                field_path: "metadata.name".into(),
            },
        }),
    }
}

fn port(name: &str, p: u16) -> ContainerPort {
    ContainerPort {
        name: name.into(),
        container_port: p,
        protocol: "TCP".into(),
    }
}

/// The ConfigMaps: Envoy's config (rendered from `envoy/` by the lab's
/// renderer), hc's env and, for a drain-based mode, drain's env.
pub(super) fn config_maps(r: &Resolved) -> Result<Vec<ConfigMap>, ExportError> {
    let local = topology::PodAddrs::new(r.name(), std::net::Ipv4Addr::LOCALHOST);
    let envoy = topology::render_envoy_at(&r.settings, &local, std::net::Ipv4Addr::UNSPECIFIED)?;
    let cm = |suffix: &str, data: BTreeMap<String, String>| ConfigMap {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        metadata: meta(r, format!("{}-{suffix}", r.name())),
        data,
    };
    let mut out = vec![
        cm("envoy", BTreeMap::from([("envoy.yaml".to_string(), envoy)])),
        cm("hc", hc_env(r).into_iter().collect()),
    ];
    if r.prestop.kind != PreStop::Sleep {
        out.push(cm("drain", drain_env(r).into_iter().collect()));
    }
    Ok(out)
}

/// hc's settings: its health port for the LB and kubelet, the transitions on
/// loopback only (only the preStop in the pod may drain it), the LB signal.
pub fn hc_env(r: &Resolved) -> Vec<(String, String)> {
    let h = &r.settings.haproxy;
    let mut env = vec![
        ("HC_ADDR".to_string(), format!("0.0.0.0:{HC_PORT}")),
        ("HC_ADMIN_ADDR".into(), format!("127.0.0.1:{HC_ADMIN_PORT}")),
        ("HC_NAMING".into(), "gate".into()),
        ("HC_LB_SIGNAL".into(), h.lb_signal.to_string()),
    ];
    if h.agent_check {
        env.push(("HC_AGENT_ADDR".into(), format!("0.0.0.0:{HC_AGENT_PORT}")));
    }
    env
}

/// drain's settings: where hc and Envoy's admin are inside the pod, then the
/// mode's own (the lab's [`crate::prestop::command`] env).
pub fn drain_env(r: &Resolved) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "HC_URL".to_string(),
            format!("http://127.0.0.1:{HC_ADMIN_PORT}"),
        ),
        (
            "ENVOY_ADMIN".into(),
            format!("http://127.0.0.1:{ENVOY_ADMIN_PORT}"),
        ),
    ];
    env.extend(r.prestop.env.iter().cloned());
    env
}

/// hc's preStop: the mode's program at its image path with the mode's flags.
pub fn prestop_exec(cmd: &PreStopCommand) -> Vec<String> {
    let program = match cmd.kind {
        PreStop::Sleep => "sleep",
        PreStop::Drain => paths::DRAIN,
        PreStop::Script => paths::DRAIN_SCRIPT,
    };
    std::iter::once(program.to_string())
        .chain(cmd.args.iter().cloned())
        .collect()
}

/// The other containers' preStop: the lab's kubelet sends SIGTERM to every
/// container when the one hook ends; Kubernetes runs a hook per container,
/// so backend and Envoy wait as long (the same sleep, or until hc's
/// `/health` stops answering 200, i.e. drain's `/close`, at most the grace
/// period).
fn wait_exec(r: &Resolved) -> Result<Vec<String>, ExportError> {
    if r.prestop.kind == PreStop::Sleep {
        return Ok(prestop_exec(&r.prestop));
    }
    let grace = whole_secs("kubelet.grace_period", r.sc.kubelet.grace_period)?;
    Ok(vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "i=0; while [ $i -lt {grace} ] && wget -q -T 1 -O /dev/null http://127.0.0.1:{HC_PORT}/health; do i=$((i+1)); sleep 1; done"
        ),
    ])
}

fn probe(
    path: &str,
    period: Dur,
    setting: &'static str,
    threshold: u32,
) -> Result<Probe, ExportError> {
    Ok(Probe {
        http_get: HttpGetAction {
            path: path.into(),
            port: HC_PORT_NAME.into(),
        },
        period_seconds: whole_secs(setting, period)?,
        failure_threshold: threshold,
        // The lab's probers give up on an answer after 1 s.
        timeout_seconds: 1,
    })
}

fn pre_stop(command: Vec<String>) -> Option<Lifecycle> {
    Some(Lifecycle {
        pre_stop: LifecycleHandler {
            exec: ExecAction { command },
        },
    })
}

fn env_from(r: &Resolved, suffixes: &[&str]) -> Vec<EnvFromSource> {
    suffixes
        .iter()
        .map(|s| EnvFromSource {
            config_map_ref: NameRef {
                name: format!("{}-{s}", r.name()),
            },
        })
        .collect()
}

fn containers(r: &Resolved) -> Result<Vec<Container>, ExportError> {
    let k = &r.sc.kubelet;
    let wait = wait_exec(r)?;
    let mut hc_ports = vec![port(HC_PORT_NAME, HC_PORT)];
    if r.settings.haproxy.agent_check {
        hc_ports.push(port(AGENT_PORT_NAME, HC_AGENT_PORT));
    }
    let hc_cms: &[&str] = if r.prestop.kind == PreStop::Sleep {
        &["hc"]
    } else {
        &["hc", "drain"]
    };
    let backend = Container {
        name: "backend".into(),
        image: r.image("backend"),
        command: vec![paths::BACKEND.into()],
        env: vec![
            pod_name_env(),
            env_value("BACKEND_ADDR", format!("127.0.0.1:{BACKEND_PORT}")),
        ],
        env_from: vec![],
        ports: vec![],
        readiness_probe: None,
        liveness_probe: None,
        lifecycle: pre_stop(wait.clone()),
        volume_mounts: vec![],
    };
    let hc = Container {
        name: "hc".into(),
        image: r.image("hc"),
        command: vec![paths::HC.into()],
        env: vec![pod_name_env()],
        env_from: env_from(r, hc_cms),
        ports: hc_ports,
        readiness_probe: Some(probe(
            "/health",
            k.readiness_period,
            "kubelet.readiness_period",
            k.readiness_failure_threshold,
        )?),
        liveness_probe: Some(probe(
            "/live",
            k.liveness_period,
            "kubelet.liveness_period",
            k.liveness_failure_threshold,
        )?),
        lifecycle: pre_stop(prestop_exec(&r.prestop)),
        volume_mounts: vec![],
    };
    let config = format!("{ENVOY_CONFIG_DIR}/envoy.yaml");
    let envoy = Container {
        name: "envoy".into(),
        image: r.image("envoy"),
        command: [paths::ENVOY, "-c", config.as_str()]
            .into_iter()
            .map(String::from)
            .chain(topology::envoy_args(&r.settings))
            .collect(),
        env: vec![],
        env_from: vec![],
        ports: vec![port(ENVOY_PORT_NAME, ENVOY_INBOUND_PORT)],
        readiness_probe: None,
        liveness_probe: None,
        lifecycle: pre_stop(wait),
        volume_mounts: vec![VolumeMount {
            name: "envoy-config".into(),
            mount_path: ENVOY_CONFIG_DIR.into(),
            read_only: true,
        }],
    };
    Ok(vec![backend, hc, envoy])
}

/// The Deployment: `pods` replicas of the three containers.
pub(super) fn deployment(r: &Resolved) -> Result<Deployment, ExportError> {
    let mut m = meta(r, r.name());
    m.annotations = r.annotations();
    Ok(Deployment {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        metadata: m,
        spec: DeploymentSpec {
            replicas: r.sc.topology.pods,
            selector: LabelSelector {
                match_labels: r.selector(),
            },
            template: PodTemplateSpec {
                metadata: ObjectMeta {
                    name: String::new(),
                    namespace: None,
                    labels: r.labels(),
                    annotations: r.annotations(),
                },
                spec: PodSpec {
                    termination_grace_period_seconds: whole_secs(
                        "kubelet.grace_period",
                        r.sc.kubelet.grace_period,
                    )?,
                    containers: containers(r)?,
                    volumes: vec![Volume {
                        name: "envoy-config".into(),
                        config_map: NameRef {
                            name: format!("{}-envoy", r.name()),
                        },
                    }],
                },
            },
        },
    })
}

/// The Service: in-cluster clients reach Envoy's inbound port.
pub(super) fn service(r: &Resolved) -> Service {
    Service {
        api_version: "v1".into(),
        kind: "Service".into(),
        metadata: meta(r, r.name()),
        spec: ServiceSpec {
            type_: "ClusterIP".into(),
            selector: r.selector(),
            ports: vec![ServicePort {
                name: "http".into(),
                port: ENVOY_INBOUND_PORT,
                target_port: ENVOY_PORT_NAME.into(),
                protocol: "TCP".into(),
            }],
        },
    }
}
