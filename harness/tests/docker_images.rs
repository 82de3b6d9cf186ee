//! The lab's images are built locally from the host binaries (no registry)
//! and cached by content: a second `ensure` builds nothing.

mod docker_support;

use std::time::Instant;

use docker_support::*;
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
