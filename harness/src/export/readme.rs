//! The README.md written beside the exported manifests: what each file is
//! for, the values it carries (from the mode's resolved settings), where it
//! differs from the lab, and how to verify a rollout with `harness watch`.
//!
//! Text only: it must never decide a value the manifests do not carry.

use super::pod::{drain_env, hc_env, prestop_exec};
use super::{names, Resolved};
use crate::scenario::PreStop;

fn env_lines(env: &[(String, String)]) -> Vec<String> {
    env.iter()
        .map(|(k, v)| format!("    - `{k}={v}`"))
        .collect()
}

/// The files: what each is and the values it carries.
fn files(r: &Resolved) -> Vec<String> {
    let mut out = configmap_lines(r);
    out.extend(deployment_lines(r));
    out.push(format!(
        "- `{}`: the Service `{}` (ClusterIP, port 15006 to Envoy) for in-cluster \
         clients; kube-proxy sends them to ready endpoints.",
        names::SERVICE,
        r.name()
    ));
    out.push(haproxy_line(r));
    out
}

/// The ConfigMaps: Envoy's config, hc's env, drain's env (drain-based modes).
fn configmap_lines(r: &Resolved) -> Vec<String> {
    let app = r.name();
    let mut out = vec![
        format!("- `{}`: the ConfigMaps.", names::CONFIGMAPS),
        format!(
            "  - `{app}-envoy`: `envoy.yaml`, rendered from the lab's `envoy/` template \
             (inbound listener on 0.0.0.0:15006, admin and the backend on 127.0.0.1)."
        ),
        format!("  - `{app}-hc`: hc's env:"),
    ];
    out.extend(env_lines(&hc_env(r)));
    if r.prestop.kind == PreStop::Sleep {
        out.push(
            "  - No drain ConfigMap: this mode's preStop is a fixed sleep, the lab's \
             failure baseline. Export a drain-based mode to fix it."
                .into(),
        );
    } else {
        out.push(format!(
            "  - `{app}-drain`: the env `drain` (or the script) reads in the hc container:"
        ));
        out.extend(env_lines(&drain_env(r)));
    }
    out
}

/// The Deployment and its three containers.
fn deployment_lines(r: &Resolved) -> Vec<String> {
    let (sc, k) = (&r.sc, &r.sc.kubelet);
    let app = r.name();
    vec![
        format!(
            "- `{}`: the Deployment `{app}` ({} replicas), `terminationGracePeriodSeconds: {}`, \
         three containers:",
            names::DEPLOYMENT,
            sc.topology.pods,
            k.grace_period.0.as_secs()
        ),
        format!(
            "  - `hc` (`{}`): readiness GET `/health` on port 18180 every {} (failure \
         threshold {}), liveness GET `/live` every {} (threshold {}); preStop `exec`: `{}`.",
            r.image("hc"),
            k.readiness_period,
            k.readiness_failure_threshold,
            k.liveness_period,
            k.liveness_failure_threshold,
            prestop_exec(&r.prestop).join(" ")
        ),
        format!(
            "  - `backend` (`{}`) and `envoy` (`{}`): a preStop that waits as long as hc's \
         (see below).",
            r.image("backend"),
            r.image("envoy")
        ),
    ]
}

/// The external HAProxy's backend section and its check settings.
fn haproxy_line(r: &Resolved) -> String {
    let h = &r.settings.haproxy;
    format!(
        "- `{}`: the external HAProxy's `backend` section, rendered from the lab's \
         `haproxy/` template: `inter {}ms fall {} rise {}`, checks GET \
         `/health_check.html` on hc's port 18180, {}{}{}. Replace the 192.0.2.N \
         addresses with your pod IPs (the LB must reach pod IPs).",
        names::HAPROXY_BACKEND,
        h.inter_ms,
        h.fall,
        h.rise,
        if h.lb_signal == crate::scenario::LbSignal::Status404 {
            "`http-check disable-on-404` (hc's 404 in CLOSING: NOLB, nothing killed)"
        } else {
            "a 503 from hc fails a check (`fall` of them: DOWN)"
        },
        if h.agent_check {
            format!(
                ", `agent-check` on hc's port 18182 every {} ms",
                h.agent_inter_ms
            )
        } else {
            String::new()
        },
        if h.on_marked_down_shutdown_sessions {
            ", `on-marked-down shutdown-sessions`"
        } else {
            ""
        },
    )
}

/// The README's text.
pub(super) fn text(r: &Resolved) -> String {
    let (id, mode) = (&r.sc.id, &r.mode);
    let about =
        r.sc.modes
            .get(mode)
            .map(|m| m.about.as_str())
            .unwrap_or_default();
    let manifests = names::MANIFESTS.join(" ");
    let app = r.name();
    let sidecar = format!("{:?}", r.sc.topology.envoy.sidecar).to_lowercase();
    let mut out = vec![
        format!("# Scenario {id}, mode {mode}: Kubernetes manifests"),
        String::new(),
        format!("Written by `harness export {id} --mode {mode}`. Mode: {about}"),
        format!("Scenario: {}", r.sc.purpose),
        String::new(),
        format!(
            "Every value below is the lab's resolved setting for this mode (what \
             `harness scenario {id} --mode {mode}` runs)."
        ),
        String::new(),
        "## The files".into(),
        String::new(),
    ];
    out.extend(files(r));
    out.extend([
        String::new(),
        "## Where this differs from the lab".into(),
        String::new(),
        "- The lab's kubelet runs one preStop for the pod, then SIGTERMs every container. \
         Kubernetes runs a preStop per container and SIGTERMs each when its own hook ends, \
         so `backend` and `envoy` wait in theirs until hc's `/health` stops answering 200 \
         (drain's last step, `/close`), at most the grace period (or sleep as long as hc)."
            .into(),
        format!(
            "- `envoy` is a plain Envoy (on SIGTERM it exits at once). The scenario's \
             sidecar setting is `{sidecar}`: under Istio, pilot-agent stops Envoy itself \
             (see the lab's docs/kubernetes.md)."
        ),
        format!(
            "- Images: `{}/<backend|hc|envoy>:{}` must hold the programs at the lab's paths \
             (`/usr/local/bin/...`, busybox `sh`, `wget`, `sleep`), as the lab's docker \
             runtime images (`graceful-lab/<name>:<hash>`) do: retag and push them.",
            r.opts.image_prefix, r.opts.image_tag
        ),
        String::new(),
        "## Verify it on your cluster".into(),
        String::new(),
        "```sh".into(),
        format!("kubernetes-validate --strict {manifests}   # offline: pip install kubernetes-validate"),
        format!("kubectl apply -f {}", names::MANIFESTS.join(" -f ")),
        format!("kubectl rollout status deploy/{app}"),
        "# load through your LB (or the Service) while every pod is replaced:".into(),
        "harness watch --url https://web.example \\".into(),
        format!(
            "  --during \"kubectl rollout restart deploy/{app} && kubectl rollout status deploy/{app}\" \\"
        ),
        "  --max-disruptions 0".into(),
        "```".into(),
        String::new(),
        "`harness watch` exits 1 when the rollout disrupted more requests than \
         `--max-disruptions`; its run folder holds the same requests.csv, timeline and \
         report as a lab run."
            .into(),
    ]);
    out.join("\n") + "\n"
}
