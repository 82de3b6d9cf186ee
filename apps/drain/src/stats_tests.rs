//! Unit and property tests of the `/stats` parser.

use super::*;
use proptest::prelude::*;
use rstest::rstest;

const ENVOY_RQ: &str = "cluster.app.upstream_rq_active: 1\n\
cluster.app.upstream_rq_active_overflow: 0\n\
http.admin.downstream_rq_active: 1\n\
http.inbound_http.downstream_rq_active: 1\n";

const ENVOY_CX: &str = "cluster.app.upstream_cx_active: 1\n\
http.admin.downstream_cx_active: 1\n\
http.inbound_http.downstream_cx_active: 1\n\
listener.127.0.0.1_19902.downstream_cx_active: 3\n\
listener.127.0.0.1_19902.downstream_pre_cx_active: 0\n\
listener.127.0.0.1_19902.worker_0.downstream_cx_active: 3\n\
listener.admin.downstream_cx_active: 1\n\
listener.admin.downstream_pre_cx_active: 0\n\
listener.admin.main_thread.downstream_cx_active: 1\n";

#[rstest]
#[case::real_envoy_rq(ENVOY_RQ, ActiveStat::Rq, 2)]
#[case::idle_admin_only_counted_out("http.admin.downstream_rq_active: 1\ncluster.app.upstream_rq_active: 0\nhttp.in.downstream_rq_active: 0\n", ActiveStat::Rq, 0)]
#[case::crlf("cluster.a.upstream_rq_active: 4\r\n", ActiveStat::Rq, 4)]
#[case::no_trailing_newline("cluster.a.upstream_rq_active: 4", ActiveStat::Rq, 4)]
#[case::real_envoy_cx(ENVOY_CX, ActiveStat::Cx, 3)]
#[case::two_listeners(
    "listener.a.downstream_cx_active: 2\nlistener.b.downstream_cx_active: 5\n",
    ActiveStat::Cx,
    7
)]
fn sums(#[case] body: &str, #[case] stat: ActiveStat, #[case] want: u64) {
    assert_eq!(sum_active(body.as_bytes(), stat), Ok(want));
}

#[rstest]
#[case::empty("")]
#[case::only_admin("http.admin.downstream_rq_active: 1\n")]
#[case::html("<html><body>cluster.app.upstream_rq_active: 0</body></html>\n")]
#[case::html_after_valid("cluster.app.upstream_rq_active: 0\n<html>\n")]
#[case::negative("cluster.app.upstream_rq_active: -1\n")]
#[case::float("cluster.app.upstream_rq_active: 0.5\n")]
#[case::no_value("cluster.app.upstream_rq_active: \n")]
#[case::no_colon("cluster.app.upstream_rq_active 0\n")]
#[case::json("{\"stats\":[{\"name\":\"cluster.app.upstream_rq_active\",\"value\":0}]}")]
#[case::overflow(
    "cluster.a.upstream_rq_active: 18446744073709551615\ncluster.b.upstream_rq_active: 1\n"
)]
#[case::too_big("cluster.a.upstream_rq_active: 99999999999999999999999\n")]
fn unknown_never_zero(#[case] body: &str) {
    assert!(
        sum_active(body.as_bytes(), ActiveStat::Rq).is_err(),
        "{body:?} read as a count"
    );
}

#[test]
fn not_utf8_is_unknown() {
    assert_eq!(
        sum_active(b"cluster.a.upstream_rq_active: 0\n\xff\xfe", ActiveStat::Rq),
        Err(StatsError::NotText)
    );
}

#[derive(Debug, Clone)]
struct Gauge {
    name: String,
    value: u32,
    counted: bool,
}

fn gauge() -> impl Strategy<Value = Gauge> {
    let prefix = "[a-z][a-z0-9_]{0,8}";
    (0..5usize, prefix, 0u32..1000).prop_map(|(kind, p, value)| {
        let (name, counted) = match kind {
            0 => (format!("cluster.{p}.upstream_rq_active"), true),
            1 => (format!("http.{p}x.downstream_rq_active"), true),
            2 => ("http.admin.downstream_rq_active".to_string(), false),
            3 => (format!("cluster.{p}.upstream_rq_active_overflow"), false),
            _ => (format!("cluster.{p}.upstream_rq_total"), false),
        };
        Gauge {
            name,
            value,
            counted,
        }
    })
}

proptest! {
    /// Whatever Envoy lists, the sum is exactly the counted gauges' sum.
    #[test]
    fn sum_is_counted_gauges(gauges in prop::collection::vec(gauge(), 0..20), crlf in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let body: String = gauges.iter().map(|g| format!("{}: {}{eol}", g.name, g.value)).collect();
        let counted: Vec<_> = gauges.iter().filter(|g| g.counted).collect();
        let got = sum_active(body.as_bytes(), ActiveStat::Rq);
        if counted.is_empty() {
            prop_assert_eq!(got, Err(StatsError::NoMatch));
        } else {
            prop_assert_eq!(got, Ok(counted.iter().map(|g| u64::from(g.value)).sum::<u64>()));
        }
    }

    /// A line that is not `name: value` anywhere makes the whole answer unknown.
    #[test]
    fn one_bad_line_spoils_the_answer(
        gauges in prop::collection::vec(gauge(), 1..10),
        at in 0usize..10,
        junk in "[<{ ]{0,2}[<{a-z][^\n:]{0,30}",
    ) {
        let mut lines: Vec<String> = gauges.iter().map(|g| format!("{}: {}", g.name, g.value)).collect();
        lines.insert(at.min(lines.len()), junk);
        let body = lines.join("\n");
        prop_assert!(sum_active(body.as_bytes(), ActiveStat::Rq).is_err());
    }

    /// Arbitrary bytes never panic, and a count is only ever read from a
    /// body holding a counted gauge line.
    #[test]
    fn arbitrary_bytes_are_never_a_free_zero(body in prop::collection::vec(any::<u8>(), 0..300)) {
        for stat in [ActiveStat::Rq, ActiveStat::Cx] {
            if sum_active(&body, stat).is_ok() {
                let text = String::from_utf8_lossy(&body);
                prop_assert!(text.lines().any(|l| l.split_once(": ").is_some_and(|(n, _)| stat.counts(n))));
            }
        }
    }
}
