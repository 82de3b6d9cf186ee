//! The OpenAPI document of hc, assembled from the handlers' `#[utoipa::path]`
//! attributes and gate's `ToSchema` types. `api/openapi.yaml` is this
//! document, checked in (`hc --print-openapi > apps/hc/api/openapi.yaml`).
//!
//! Documentation only; it must never change what a handler answers.

use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hc",
        description = "The graceful-lab health-check sidecar: a 5-state gate (OPEN DRAINING CLOSING CLOSED FAULT; legacy READY DRAINING DRAINED_WAIT_LB TERMINATING FAILED with HC_NAMING=legacy) that decides what HAProxy's check, K8s readiness and liveness answer. Unknown paths answer 404. With HC_ADMIN_ADDR set, the POST endpoints exist only on the admin listener."
    ),
    paths(
        routes::health_check,
        routes::health,
        routes::live,
        routes::drain_status,
        routes::drain,
        routes::close_lb,
        routes::close,
        routes::reopen,
        routes::fault,
    ),
    components(schemas(gate::DrainStatus, gate::Progress, gate::Transition, gate::TransitionReply)),
    tags(
        (name = "health", description = "Answers for the LB and the kubelet probes"),
        (name = "drain", description = "The drain's transitions and progress"),
    )
)]
pub struct ApiDoc;

/// The document as YAML (what `api/openapi.yaml` holds).
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .expect("the OpenAPI document always serializes")
}
