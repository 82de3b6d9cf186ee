//! `drain`: the preStop orchestrator (DESIGN §2.3). It walks hc's gate and
//! Envoy's admin in order — drain, drain_listeners, wait for active == 0,
//! close-lb, wait for the LB, close — and says how it ended by exit code.
//!
//! The library holds all logic; `main.rs` only parses flags and exits. It must
//! never treat an unreadable stats answer as 0 (unless told to, as the seed did).

pub mod call;
pub mod config;
pub mod envoy_admin;
pub mod hc_api;
pub mod lb_wait;
pub mod outcome;
pub mod sequence;
pub mod stats;

pub use config::{Config, DrainOrder, LbBuffer};
pub use outcome::Outcome;
pub use sequence::{run, worst_case};
pub use stats::ActiveStat;
