//! Settings the binary refuses before doing anything (clap's usage error, 2),
//! each with a message naming the bad value.

mod common;

use std::time::Duration;

use common::*;
use rstest::rstest;

#[rstest]
#[case::bad_timeout(&[("DRAIN_TIMEOUT", "ten")], &[], "ten")]
#[case::bad_lb_buffer(&[("LB_BUFFER", "soon")], &[], "soon")]
#[case::zero_fall(&[("LB_FALL", "0")], &[], "lb-fall")]
#[case::bad_order(&[("DRAIN_ORDER", "random")], &[], "random")]
#[case::bad_stat(&[], &["--active-stat", "req"], "req")]
#[case::bad_min_drain(&[], &["--min-drain=-1s"], "-1s")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused(#[case] env: &[(&str, &str)], #[case] args: &[&str], #[case] names: &str) {
    // hc/Envoy at closed ports: nothing may be called before the refusal.
    let hc = format!("http://127.0.0.1:{}", free_port());
    let mut all = vec![("HC_URL", hc.as_str()), ("ENVOY_ADMIN", hc.as_str())];
    all.extend_from_slice(env);
    let mut d = drain(&all, args);
    let (code, _) = d.finish(Duration::from_secs(10)).await;
    let log = d.text();
    assert_eq!(code, 2, "{log}");
    assert!(log.contains(names), "{log}");
    assert!(!log.contains("drain_start"), "{log}");
}
