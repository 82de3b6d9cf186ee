//! graceful-lab's harness: starts HAProxy, Envoy and the apps, emulates
//! kubelet's termination, drives load, observes, and writes the artifacts.
//!
//! Data flows one way: scenario -> runtime + topology -> kubelet + loadgen +
//! observers -> timeline -> artifacts.

pub mod apps;
pub mod artifacts;
pub mod commands;
pub mod export;
pub mod kubelet;
pub mod lab;
pub mod loadgen;
pub mod model;
pub mod observe;
pub mod prestop;
pub mod progress;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod timeline;
pub mod tools;
pub mod topology;
