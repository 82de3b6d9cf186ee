//! The lab's images are built locally from the host binaries (no registry)
//! and cached by content: a second `ensure` builds nothing.

use std::time::Instant;

use crate::support::*;
use harness::runtime::images::{lab_specs, LAB_LABEL};

#[tokio::test(flavor = "multi_thread")]
async fn images_are_built_once_and_carry_the_lab_label() {
    let t = Instant::now();
    let (imgs, first) = images().await;
    let first_s = t.elapsed();
    let t = Instant::now();
    let (again, second) = images().await;
    let warm = t.elapsed();
    for r in &first {
        eprintln!(
            "image {} {} built={} size={:.1} MB in {:?}",
            r.name,
            r.tag,
            r.built,
            r.size_bytes as f64 / 1e6,
            r.took
        );
    }
    eprintln!("first ensure {first_s:?}, second (warm) {warm:?}");
    assert_eq!(imgs, again, "same content, same tags");
    assert!(
        second.iter().all(|r| !r.built),
        "the second run built something: {second:?}"
    );
    let d = docker().await;
    for tag in [
        &imgs.pause,
        &imgs.backend,
        &imgs.hc,
        &imgs.envoy,
        &imgs.haproxy,
    ] {
        assert!(tag.starts_with("graceful-lab/"), "{tag}");
        let i = d.inspect_image(tag).await.expect("the image exists");
        let labels = i.config.and_then(|c| c.labels).unwrap_or_default();
        assert_eq!(
            labels.get(LAB_LABEL).map(String::as_str),
            Some("1"),
            "{tag}"
        );
    }
}

#[test]
fn the_hc_image_holds_drain_the_script_a_shell_curl_and_their_libraries() {
    let specs = lab_specs(&apps(), &tools()).unwrap();
    let hc = specs.iter().find(|s| s.name == "hc").unwrap();
    let paths = hc.paths();
    for want in [
        "/usr/local/bin/hc",
        "/usr/local/bin/drain",
        "/usr/local/bin/graceful-drain.sh",
        "/usr/bin/curl",
        "/bin/sh",
        "/bin/awk",
        "/lib64/ld-linux-x86-64.so.2",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
    assert!(paths.iter().any(|p| p.contains("libcurl.so")), "{paths:?}");
    let haproxy = specs.iter().find(|s| s.name == "haproxy").unwrap();
    assert!(haproxy.paths().iter().any(|p| p.contains("libssl.so")));
}

/// `LAB_IMAGE_HAPROXY` names an image to use instead of building one (here
/// our own haproxy image under another name, since nothing can be pulled):
/// it is used as it is and its program is run by name from its PATH — a
/// real HAProxy container starts from it and answers on its stats socket.
#[tokio::test(flavor = "multi_thread")]
async fn a_named_image_replaces_the_built_one() {
    use harness::runtime::docker::DockerRuntime;
    use harness::runtime::Runtime;
    let (built, _) = images().await;
    let d = docker().await;
    let (repo, tag) = ("graceful-lab-test/haproxy-named", "1");
    d.tag_image(
        &built.haproxy,
        Some(
            bollard::query_parameters::TagImageOptionsBuilder::new()
                .repo(repo)
                .tag(tag)
                .build(),
        ),
    )
    .await
    .unwrap();
    let named = format!("{repo}:{tag}");
    // Each nextest test is its own process: the variable is this test's only.
    std::env::set_var("LAB_IMAGE_HAPROXY", &named);
    let (imgs, reports) = harness::runtime::images::ensure_lab_images(&d, &apps(), &tools())
        .await
        .unwrap();
    std::env::remove_var("LAB_IMAGE_HAPROXY");
    assert_eq!(imgs.haproxy, named);
    assert_eq!(imgs.official, vec![named.clone()]);
    assert_eq!(imgs.envoy, built.envoy, "only the named one changes");
    let r = reports.iter().find(|r| r.name == "haproxy").unwrap();
    assert!(!r.built, "found locally, not built");
    let tmp = tempfile::tempdir().unwrap();
    let run_id = format!("named-{}", std::process::id());
    let rt = DockerRuntime::new(d.clone(), &run_id, "test", tmp.path(), imgs)
        .await
        .unwrap();
    assert_eq!(
        rt.image_for(std::path::Path::new("/usr/sbin/haproxy")),
        (named.clone(), "haproxy".to_string())
    );
    rt.teardown().await;
    let _ = d
        .remove_image(
            &named,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

/// A named image that is neither here nor pullable stops the preflight with
/// an error naming the image and the variable.
#[tokio::test(flavor = "multi_thread")]
async fn a_named_image_that_cannot_be_had_is_named_in_the_error() {
    let d = docker().await;
    let e = harness::runtime::images::ensure_named(
        &d,
        "graceful-lab-test/does-not-exist:0",
        "LAB_IMAGE_ENVOY",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("image graceful-lab-test/does-not-exist:0 (named by LAB_IMAGE_ENVOY): "),
        "{e}"
    );
}
