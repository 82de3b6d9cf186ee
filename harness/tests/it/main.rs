//! The harness's integration tests, one test binary (each file linked on
//! its own cost about 40 s of CPU at opt-level 3: tokio, serde and the
//! harness library instantiated once per binary). Each module is what was
//! `tests/<module>.rs`; nextest still runs every test in its own process,
//! and its filters name a module by test path (`test(/^e2e::/)`). The docker
//! runtime's tests are the other binary (`tests/docker/`).

#[path = "../loadgen/drive.rs"]
mod drive;
#[path = "../run_support/mod.rs"]
mod run_support;
#[path = "../loadgen/test_server.rs"]
mod test_server;

mod artifacts;
mod artifacts_render;
mod artifacts_scale;
mod e2e;
mod export;
mod gate;
mod gate_e2e;
mod hostile_scenario;
mod layers;
mod load_cmd;
mod loadgen;
mod loadgen_proxies;
mod loadgen_schedule;
mod reliability_access;
mod reliability_disk;
mod reliability_interrupt;
mod reliability_observer;
mod reports;
mod runtime_local;
mod scenarios;
mod topology;
mod watch;
mod watch_tls;
