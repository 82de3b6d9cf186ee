//! Property test through the library's real handler (`hc::routes::handle`,
//! no sockets): random request sequences never break the rules. CLOSED is
//! left only to FAULT, refusals change nothing, the history is the last 100
//! transitions in order, and every health answer matches the state.

use std::net::IpAddr;

use gate::{Naming, State};
use hc::routes::{handle, App, Listener};
use hc::{Config, LbSignal};
use http::{Request, StatusCode};
use proptest::prelude::*;

const POSTS: [(&str, State); 5] = [
    ("/drain", State::Draining),
    ("/close-lb", State::Closing),
    ("/close", State::Closed),
    ("/reopen", State::Open),
    ("/fault", State::Fault),
];

fn legal(path: &str, from: State) -> bool {
    matches!(
        (path, from),
        ("/drain", State::Open)
            | ("/close-lb", State::Draining)
            | ("/close", State::Closing)
            | ("/reopen", State::Draining | State::Closing)
            | ("/fault", _)
    )
}

fn body(r: http::Response<hc::reply::Body>) -> (StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    let status = r.status();
    let bytes = futures::executor::block_on(r.into_body().collect())
        .unwrap()
        .to_bytes();
    (status, bytes.to_vec())
}

#[derive(Debug, Clone)]
enum Op {
    Post(usize),
    Check(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![(0..5usize).prop_map(Op::Post), (1..4u8).prop_map(Op::Check)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_keep_the_rules(
        ops in proptest::collection::vec(op(), 0..400),
        legacy in any::<bool>(),
        soft in any::<bool>(),
    ) {
        let naming = if legacy { Naming::Legacy } else { Naming::Gate };
        let signal = if soft { LbSignal::Status404 } else { LbSignal::Status503 };
        let app = App::new(Config { naming, lb_signal: signal });
        let mut state = State::Open;
        let mut hist: Vec<(State, State, String)> = Vec::new();
        let mut refused: std::collections::BTreeMap<String, u32> = Default::default();
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Post(k) => {
                    let (path, to) = POSTS[*k];
                    let req = Request::post(format!("{path}?reason=n{i}")).body(()).unwrap();
                    let (status, b) = body(handle(&app, &req, "127.0.0.1".parse().unwrap(), Listener::All));
                    let reply: gate::TransitionReply = serde_json::from_slice(&b).unwrap();
                    if legal(path, state) {
                        prop_assert_eq!(status, StatusCode::OK);
                        if state == State::Closed { prop_assert_eq!(to, State::Fault); }
                        if state == State::Open && to == State::Draining { refused.clear(); }
                        hist.push((state, to, format!("n{i}")));
                        state = to;
                    } else {
                        prop_assert_eq!(status, StatusCode::CONFLICT);
                    }
                    prop_assert_eq!(reply.state.as_str(), state.name(naming));
                }
                Op::Check(last_octet) => {
                    let ip: IpAddr = format!("127.0.0.{last_octet}").parse().unwrap();
                    let req = Request::get("/health_check.html").body(()).unwrap();
                    let (status, b) = body(handle(&app, &req, ip, Listener::All));
                    let want = match state {
                        State::Open | State::Draining => 200,
                        State::Closing if soft => 404,
                        _ => 503,
                    };
                    prop_assert_eq!(status.as_u16(), want);
                    prop_assert_eq!(&b[..], if want == 200 { &b"OK"[..] } else { &b"DRAIN"[..] });
                    let n = refused.entry(ip.to_string()).or_default();
                    *n = if want == 200 { 0 } else { *n + 1 };
                }
            }
            for (path, ok, code) in [("/health", state.readiness_ok(), 503u16), ("/live", state != State::Fault, 500)] {
                let (status, b) = body(handle(&app, &Request::get(path).body(()).unwrap(), "127.0.0.9".parse().unwrap(), Listener::All));
                prop_assert_eq!(status.as_u16(), if ok { 200 } else { code });
                prop_assert_eq!(&b[..], state.name(naming).as_bytes());
            }
        }
        let (_, b) = body(handle(&app, &Request::get("/drain/status").body(()).unwrap(), "127.0.0.9".parse().unwrap(), Listener::All));
        let st: gate::DrainStatus = serde_json::from_slice(&b).unwrap();
        prop_assert_eq!(st.state.as_str(), state.name(naming));
        let tail = &hist[hist.len().saturating_sub(100)..];
        let got: Vec<(State, State, String)> = st.progress.transitions.iter()
            .map(|t| (State::parse_any(&t.from).unwrap(), State::parse_any(&t.to).unwrap(), t.reason.clone()))
            .collect();
        prop_assert_eq!(got, tail.to_vec());
        prop_assert_eq!(st.progress.lb_refusals, refused);
    }
}
