//! Least privilege in the docker runtime, checked on a real container the
//! product started: not privileged, every capability dropped, no new
//! privileges, as the engine reports it (`docker inspect`) and as the kernel
//! shows it inside (`/proc/1/status`: `CapEff` 0, `NoNewPrivs` 1).

use std::process::Command;

use crate::support::*;
use harness::runtime::docker::RUN_LABEL;
use harness::runtime::{new_run_id, ProcSpec, Runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_run_without_capabilities_or_new_privileges() {
    let run_id = new_run_id();
    let _guard = Guard(run_id.clone());
    let tmp = tempfile::tempdir().unwrap();
    let rt = new_rt(&run_id, &tmp.path().join("logs")).await;
    let p = rt
        .start(ProcSpec::new("sleeper", "sleep").arg("600"))
        .await
        .unwrap();
    let ids = docker_ids("containers", &format!("{RUN_LABEL}={run_id}"));
    assert_eq!(ids.len(), 1, "{ids:?}");
    let out = Command::new("docker")
        .args(["inspect", &ids[0]])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hc = &v[0]["HostConfig"];
    assert_ne!(hc["Privileged"], true, "{hc}");
    assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]), "{hc}");
    assert!(
        hc["CapAdd"].is_null() || hc["CapAdd"] == serde_json::json!([]),
        "{hc}"
    );
    assert!(
        hc["SecurityOpt"]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o == "no-new-privileges")),
        "{hc}"
    );
    let status = Command::new("docker")
        .args(["exec", &ids[0], "cat", "/proc/1/status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    let field = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].trim().to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{k} missing: {text} {}",
                    String::from_utf8_lossy(&status.stderr)
                )
            })
    };
    assert_eq!(field("CapEff:"), "0000000000000000");
    assert_eq!(field("CapPrm:"), "0000000000000000");
    assert_eq!(field("NoNewPrivs:"), "1");
    eprintln!(
        "docker container {}: Privileged false, CapDrop [ALL], no-new-privileges, CapEff 0",
        &ids[0][..12]
    );
    rt.stop(&p, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    rt.teardown().await;
}
