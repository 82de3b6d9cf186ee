//! The docker runtime's tests, one test binary (each of these modules linked
//! on its own cost a minute of build: bollard and testcontainers are
//! instantiated once here). Every test needs a Docker Engine and fails, not
//! skips, without one; images are built locally, nothing is pulled.

#[path = "../run_support/mod.rs"]
mod run_support;
mod support;

mod contract;
mod e2e;
mod images;
mod interrupt;
mod reliability;
mod runtime;
