//! Kubelet's part of a pod's life, emulated: the termination sequence
//! (terminating -> preStop -> SIGTERM -> grace -> SIGKILL, with the one-time
//! 2 s extension), the sidecar's own shutdown (Istio's pilot-agent or plain
//! Envoy), the readiness and liveness probers, and the EndpointSlice
//! conditions that follow from them.
//!
//! It drives processes only through the `Runtime` trait and records what it
//! does on the timeline; it must never decide a run's verdict.

mod probe;
mod terminate;

pub use probe::{run_prober, Endpoint, EndpointState, ProbeKind, Prober};
pub use terminate::{
    terminate, PodContainers, PreStopHook, Termination, TerminationReport, PRESTOP_EXTENSION,
};
