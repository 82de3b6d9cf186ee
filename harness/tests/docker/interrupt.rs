//! Ctrl-C: when the harness is interrupted, every live docker run's
//! containers and network are removed (the interrupt watcher the docker
//! runtime hangs on `install_cleanup_hooks`). Alone in its binary: it
//! sends SIGINT to its own process.

use std::time::Duration;

use crate::support::*;
use harness::runtime::docker::{remove_run_blocking, DockerRuntime, RUN_LABEL};
use harness::runtime::{install_cleanup_hooks, new_run_id, ProcSpec, Runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_removes_the_runs_containers_and_network() {
    let interrupts = install_cleanup_hooks();
    let (imgs, _) = images().await;
    let run_id = new_run_id();
    let tmp = tempfile::tempdir().unwrap();
    let rt = DockerRuntime::new(docker().await, &run_id, "test", tmp.path(), imgs)
        .await
        .expect("the run's network");
    rt.start(ProcSpec::new("sleeper", "sleep").arg("600"))
        .await
        .unwrap();
    let label = format!("{RUN_LABEL}={run_id}");
    assert_eq!(docker_ids("containers", &label).len(), 1);
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGINT).unwrap();
    let gone = poll(Duration::from_secs(8), || async {
        (interrupts.interrupted().is_some()
            && docker_ids("containers", &label).is_empty()
            && docker_ids("networks", &label).is_empty())
        .then_some(())
    })
    .await;
    if gone.is_none() {
        remove_run_blocking(&run_id);
    }
    assert!(
        gone.is_some(),
        "the run's containers/network outlived the SIGINT by 8 s"
    );
    // Finish before the handler's forced exit (about 12 s after the signal).
    std::mem::forget(rt);
}
