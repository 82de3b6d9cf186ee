//! graceful-lab's harness: starts HAProxy, Envoy and the apps, emulates
//! kubelet's termination, drives load, observes, and writes the artifacts.
//!
//! Data flows one way: scenario -> runtime + topology -> kubelet + loadgen +
//! observers -> timeline -> artifacts.

pub mod artifacts;
pub mod loadgen;
pub mod model;
pub mod scenario;
pub mod apps;
pub mod runtime;
pub mod tools;
pub mod topology;
pub mod timeline;
pub mod observe;
pub mod kubelet;
pub mod progress;
pub mod run;
pub mod cli;
