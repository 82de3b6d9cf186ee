//! graceful-lab's harness: starts HAProxy, Envoy and the apps, emulates
//! kubelet's termination, drives load, observes, and writes the artifacts.
//!
//! Data flows one way: scenario -> runtime + topology -> kubelet + loadgen +
//! observers -> timeline -> artifacts.

pub mod model;
