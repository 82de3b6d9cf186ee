//! The FSM's tests: which action is legal from which state, the refusal
//! messages, per-client LB refusal counts, and proptest runs of random
//! action sequences against its rules.

use super::*;
use proptest::prelude::*;
use rstest::rstest;
use State::*;

fn fsm_in(state: State) -> Fsm {
    let f = Fsm::new(Naming::Gate);
    let path: &[Action] = match state {
        Open => &[],
        Draining => &[Action::Drain],
        Closing => &[Action::Drain, Action::CloseLb],
        Closed => &[Action::Drain, Action::CloseLb, Action::Close],
        Fault => &[Action::Fault],
    };
    for a in path {
        f.apply(*a, "setup").unwrap();
    }
    assert_eq!(f.current(), state);
    f
}

/// The full legality table: (action, from) -> allowed.
#[rstest]
#[case(Action::Drain, Open, true)]
#[case(Action::Drain, Draining, false)]
#[case(Action::Drain, Closing, false)]
#[case(Action::Drain, Closed, false)]
#[case(Action::Drain, Fault, false)]
#[case(Action::CloseLb, Open, false)]
#[case(Action::CloseLb, Draining, true)]
#[case(Action::CloseLb, Closing, false)]
#[case(Action::CloseLb, Closed, false)]
#[case(Action::CloseLb, Fault, false)]
#[case(Action::Close, Open, false)]
#[case(Action::Close, Draining, false)]
#[case(Action::Close, Closing, true)]
#[case(Action::Close, Closed, false)]
#[case(Action::Close, Fault, false)]
#[case(Action::Reopen, Open, false)]
#[case(Action::Reopen, Draining, true)]
#[case(Action::Reopen, Closing, true)]
#[case(Action::Reopen, Closed, false)]
#[case(Action::Reopen, Fault, false)]
#[case(Action::Fault, Open, true)]
#[case(Action::Fault, Draining, true)]
#[case(Action::Fault, Closing, true)]
#[case(Action::Fault, Closed, true)]
#[case(Action::Fault, Fault, true)]
fn legality(#[case] action: Action, #[case] from: State, #[case] ok: bool) {
    let f = fsm_in(from);
    let before = f.snapshot().history.len();
    let r = f.apply(action, "test");
    if ok {
        assert_eq!(r, Ok(from));
        assert_eq!(f.current(), action.target());
        let snap = f.snapshot();
        assert_eq!(snap.history.len(), before + 1);
        let last = snap.history.last().unwrap();
        assert_eq!(
            (last.from, last.to, last.reason.as_str()),
            (from, action.target(), "test")
        );
    } else {
        assert_eq!(
            r,
            Err(Refused {
                action,
                current: from
            })
        );
        assert_eq!(f.current(), from);
        assert_eq!(f.snapshot().history.len(), before);
    }
}

#[rstest]
#[case(
    Naming::Gate,
    Action::Close,
    Draining,
    "/close needs CLOSING, hc is DRAINING"
)]
#[case(
    Naming::Legacy,
    Action::Close,
    Draining,
    "/close needs DRAINED_WAIT_LB, hc is DRAINING"
)]
#[case(
    Naming::Gate,
    Action::Reopen,
    Open,
    "/reopen needs DRAINING or CLOSING, hc is OPEN"
)]
#[case(
    Naming::Gate,
    Action::Reopen,
    Closed,
    "CLOSED is unrecoverable: /reopen is refused"
)]
#[case(
    Naming::Legacy,
    Action::Reopen,
    Closed,
    "TERMINATING is unrecoverable: /reopen is refused"
)]
fn refusal_messages(
    #[case] naming: Naming,
    #[case] action: Action,
    #[case] current: State,
    #[case] want: &str,
) {
    assert_eq!(Refused { action, current }.message(naming), want);
}

#[test]
fn lb_refusals_count_per_client_and_reset() {
    let f = Fsm::new(Naming::Gate);
    let a: IpAddr = "127.0.0.1".parse().unwrap();
    let b: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
    assert_eq!(f.lb_check(a), Open);
    f.apply(Action::Drain, "d").unwrap();
    assert!(f.snapshot().lb_refusals.is_empty(), "drain clears the map");
    f.lb_check(a);
    f.apply(Action::CloseLb, "c").unwrap();
    f.lb_check(a);
    f.lb_check(a);
    f.lb_check(b);
    let m = f.snapshot().lb_refusals;
    assert_eq!(m.get("127.0.0.1"), Some(&2));
    assert_eq!(
        m.get("127.0.0.2"),
        Some(&1),
        "v4-mapped address is shown as v4"
    );
    f.apply(Action::Reopen, "r").unwrap();
    f.lb_check(a);
    assert_eq!(f.snapshot().lb_refusals.get("127.0.0.1"), Some(&0));
    assert_eq!(f.snapshot().lb_refusals.get("127.0.0.2"), Some(&1));
}

#[test]
fn reason_is_cut() {
    let f = Fsm::new(Naming::Gate);
    f.apply(Action::Fault, &"x".repeat(1000)).unwrap();
    assert_eq!(f.snapshot().history[0].reason.len(), MAX_REASON_CHARS);
}

proptest! {
    /// Random sequences never break the rules: refusals change nothing,
    /// CLOSED is left only to FAULT, the history is the last 100 in order.
    #[test]
    fn random_sequences_keep_the_rules(
        actions in proptest::collection::vec(
            (proptest::sample::select(Action::ALL.to_vec()), any::<bool>()),
            0..300,
        )
    ) {
        let f = Fsm::new(Naming::Gate);
        let mut model = Open;
        let mut want_hist: Vec<(State, State, String)> = Vec::new();
        for (i, (a, checker)) in actions.iter().enumerate() {
            let reason = format!("r{i}");
            let r = f.apply(*a, &reason);
            if a.allowed_from(model) {
                prop_assert_eq!(r, Ok(model));
                if model == Closed {
                    prop_assert_eq!(a.target(), Fault);
                }
                want_hist.push((model, a.target(), reason));
                model = a.target();
            } else {
                prop_assert!(r.is_err());
            }
            prop_assert_eq!(f.current(), model);
            if *checker {
                prop_assert_eq!(f.lb_check("127.0.0.1".parse().unwrap()), model);
            }
        }
        let snap = f.snapshot();
        let tail = &want_hist[want_hist.len().saturating_sub(HISTORY_LEN)..];
        let got: Vec<(State, State, String)> =
            snap.history.iter().map(|r| (r.from, r.to, r.reason.clone())).collect();
        prop_assert_eq!(got, tail.to_vec());
        prop_assert!(snap.history.windows(2).all(|w| w[0].at <= w[1].at));
    }
}
