//! The classification table (rstest) and its invariants (proptest).

use super::*;
use proptest::prelude::*;
use rstest::rstest;

const BODY: Expect = Expect::Body { min_bytes: 8 };
const STREAM: Expect = Expect::Stream { lines: 3 };
const RST: Break = Break::Io(io::ErrorKind::ConnectionReset);
const EOF: Break = Break::Io(io::ErrorKind::UnexpectedEof);

fn seen(stop: Stop, phase: Phase, status: Option<u16>) -> Seen {
    Seen {
        stop,
        phase,
        status,
        served_by: false,
        server_envoy: false,
        bytes: 8,
        lines: 3,
        error: None,
    }
}
fn done(status: u16) -> Seen {
    seen(Stop::Done, Phase::Body, Some(status))
}
fn app(mut s: Seen) -> Seen {
    s.served_by = true;
    s
}
fn envoy(mut s: Seen) -> Seen {
    s.server_envoy = true;
    s
}
fn lines(mut s: Seen, n: u32) -> Seen {
    s.lines = n;
    s
}
fn bytes(mut s: Seen, n: u64) -> Seen {
    s.bytes = n;
    s
}
fn with_status(mut s: Seen, status: u16) -> Seen {
    s.status = Some(status);
    s
}
fn broke(b: Break, phase: Phase) -> Seen {
    let status = (phase == Phase::Body).then_some(200);
    seen(Stop::Broke(b), phase, status)
}

use Outcome as O;
use Phase as P;

#[rstest]
#[case::ok_body(BODY, app(done(200)), O::Ok, None, None)]
#[case::ok_stream(STREAM, app(done(200)), O::Ok, None, None)]
#[case::refused(
    BODY,
    broke(Break::Io(io::ErrorKind::ConnectionRefused), P::Connect),
    O::Refused,
    Some(P::Connect),
    None
)]
#[case::connect_timeout(
    BODY,
    broke(Break::Io(io::ErrorKind::TimedOut), P::Connect),
    O::Timeout,
    Some(P::Connect),
    None
)]
#[case::connect_reset(BODY, broke(RST, P::Connect), O::Reset, Some(P::Connect), None)]
#[case::connect_unreachable(
    BODY,
    broke(Break::Io(io::ErrorKind::HostUnreachable), P::Connect),
    O::Refused,
    Some(P::Connect),
    None
)]
#[case::rst_before_head(BODY, broke(RST, P::Head), O::Reset, Some(P::Head), None)]
#[case::epipe_writing(
    BODY,
    broke(Break::Io(io::ErrorKind::BrokenPipe), P::Head),
    O::Reset,
    Some(P::Head),
    None
)]
#[case::fin_before_head(BODY, broke(Break::Eof, P::Head), O::Closed, Some(P::Head), None)]
#[case::fin_before_head_stream(STREAM, broke(Break::Eof, P::Head), O::Closed, Some(P::Head), None)]
#[case::malformed_answer(BODY, broke(Break::Other, P::Head), O::Reset, Some(P::Head), None)]
#[case::rst_mid_body(BODY, app(broke(RST, P::Body)), O::Reset, Some(P::Body), None)]
#[case::fin_mid_body(BODY, app(broke(EOF, P::Body)), O::Closed, Some(P::Body), None)]
#[case::rst_mid_stream(STREAM, app(broke(RST, P::Body)), O::Reset, Some(P::Body), None)]
#[case::fin_mid_stream(STREAM, app(broke(EOF, P::Body)), O::Closed, Some(P::Body), None)]
#[case::stream_few_lines(STREAM, lines(app(done(200)), 2), O::Truncated, Some(P::Body), None)]
#[case::short_body(BODY, bytes(app(done(200)), 5), O::Truncated, Some(P::Body), None)]
#[case::no_head_by_deadline(
    BODY,
    seen(Stop::Deadline, P::Head, None),
    O::Timeout,
    Some(P::Head),
    None
)]
#[case::connect_by_deadline(
    BODY,
    seen(Stop::Deadline, P::Connect, None),
    O::Timeout,
    Some(P::Connect),
    None
)]
#[case::stream_stalled(
    STREAM,
    app(seen(Stop::Deadline, P::Body, Some(200))),
    O::Timeout,
    Some(P::Body),
    None
)]
#[case::haproxy_502(BODY, done(502), O::Http5xx, None, Some(Origin::Haproxy))]
#[case::envoy_503(BODY, envoy(done(503)), O::Http5xx, None, Some(Origin::Envoy))]
#[case::app_500(BODY, envoy(app(done(500))), O::Http5xx, None, Some(Origin::App))]
#[case::haproxy_504_cut(
    STREAM,
    with_status(broke(RST, P::Body), 504),
    O::Http5xx,
    None,
    Some(Origin::Haproxy)
)]
#[case::app_404(BODY, app(done(404)), O::HttpStatus, None, Some(Origin::App))]
#[case::haproxy_400(BODY, done(400), O::HttpStatus, None, Some(Origin::Haproxy))]
#[case::redirect_302(BODY, app(done(302)), O::HttpStatus, None, Some(Origin::App))]
#[case::cancelled_waiting(
    BODY,
    seen(Stop::Cancelled, P::Head, None),
    O::Timeout,
    Some(P::Head),
    None
)]
#[case::cancelled_mid_stream(
    STREAM,
    app(seen(Stop::Cancelled, P::Body, Some(200))),
    O::Timeout,
    Some(P::Body),
    None
)]
fn classifies(
    #[case] expect: Expect,
    #[case] seen: Seen,
    #[case] outcome: Outcome,
    #[case] phase: Option<Phase>,
    #[case] origin: Option<Origin>,
) {
    let v = classify(expect, &seen);
    assert_eq!(
        (v.outcome, v.phase, v.origin),
        (outcome, phase, origin),
        "{seen:?}"
    );
    assert_eq!(v.outcome == Outcome::Ok, v.error.is_none(), "{v:?}");
    if seen.stop == Stop::Cancelled {
        assert_eq!(v.error.as_deref(), Some(CANCELLED));
    }
}

#[test]
fn keeps_the_error_text_seen() {
    let mut s = broke(Break::Eof, Phase::Head);
    s.error = Some("connection closed before message completed".into());
    let v = classify(BODY, &s);
    assert_eq!(v.error, s.error);
    let v = classify(BODY, &app(done(404)));
    assert_eq!(v.error.as_deref(), Some("status 404"));
}

fn any_break() -> impl Strategy<Value = Break> {
    use io::ErrorKind as K;
    prop_oneof![
        Just(Break::Eof),
        Just(Break::Other),
        prop::sample::select(vec![
            K::ConnectionReset,
            K::ConnectionAborted,
            K::BrokenPipe,
            K::UnexpectedEof,
            K::ConnectionRefused,
            K::TimedOut,
            K::HostUnreachable,
            K::Other,
        ])
        .prop_map(Break::Io),
    ]
}

/// Any exchange the client can report: `Done` only after a head (phase
/// body); a status only from the head phase on.
fn any_seen() -> impl Strategy<Value = Seen> {
    let stop = prop_oneof![
        Just(Stop::Done),
        Just(Stop::Deadline),
        Just(Stop::Cancelled),
        any_break().prop_map(Stop::Broke),
    ];
    let phase = prop::sample::select(Phase::ALL.to_vec());
    let status = prop::option::of(100u16..600);
    (stop, phase, status, any::<[bool; 2]>(), 0u64..20, 0u32..6).prop_map(
        |(stop, phase, status, [served_by, server_envoy], bytes, lines)| {
            let (phase, status) = match (stop, phase) {
                (Stop::Done, _) => (Phase::Body, Some(status.unwrap_or(200))),
                (_, Phase::Body) => (Phase::Body, Some(status.unwrap_or(200))),
                (_, p) => (p, None),
            };
            Seen {
                stop,
                phase,
                status,
                served_by,
                server_envoy,
                bytes,
                lines,
                error: None,
            }
        },
    )
}

proptest! {
    #[test]
    fn every_exchange_gets_one_consistent_verdict(
        seen in any_seen(),
        stream in any::<bool>(),
    ) {
        let expect = if stream { STREAM } else { BODY };
        let v = classify(expect, &seen);
        let two_xx = seen.status.is_some_and(|s| (200..300).contains(&s));
        let complete = match expect {
            Expect::Stream { lines } => seen.lines >= lines,
            Expect::Body { min_bytes } => seen.bytes >= min_bytes,
        };
        // ok exactly when a complete 2xx ended cleanly.
        prop_assert_eq!(v.outcome == Outcome::Ok, seen.stop == Stop::Done && two_xx && complete);
        prop_assert_eq!(v.error.is_none(), v.outcome == Outcome::Ok);
        // An HTTP outcome exactly when the head had a non-2xx status; it
        // names its origin, has no phase, and 5xx is told from the rest.
        let non_2xx = seen.status.filter(|_| !two_xx);
        prop_assert_eq!(v.outcome.is_http(), non_2xx.is_some());
        prop_assert_eq!(v.origin.is_some(), v.outcome.is_http());
        if let Some(s) = non_2xx {
            prop_assert_eq!(v.outcome == Outcome::Http5xx, s >= 500);
        }
        // Every socket-level disruption says where, and it is where it was.
        let socket = v.outcome.is_disruption() && !v.outcome.is_http();
        prop_assert_eq!(v.phase, socket.then_some(seen.phase));
        // A break is only reset/closed/refused/timeout, never truncated;
        // truncated only when the framing completed.
        if v.outcome == Outcome::Truncated {
            prop_assert_eq!(seen.stop, Stop::Done);
        }
        if let (Stop::Broke(b), false) = (seen.stop, v.outcome.is_http()) {
            prop_assert_eq!(v.outcome, outcome_of_break(b, seen.phase));
        }
    }
}
