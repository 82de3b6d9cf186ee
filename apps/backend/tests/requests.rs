//! The endpoint table of the real binary: statuses, bodies, `x-served-by`
//! on every answer, `Allow` on 405, one-line 400 reasons naming the
//! parameter, unknown parameters ignored, and the per-request log line.

mod common;

use std::time::Duration;

use common::{field, get, parse, raw_exchange, Backend, POD};
use rstest::rstest;

#[rstest]
#[case::root("GET", "/", 200, "ok")]
#[case::root_with_query("GET", "/?pod=pod-a", 200, "ok")]
#[case::sleep_zero("GET", "/sleep?seconds=0", 200, "slept 0s")]
#[case::sleep_unknown_params("GET", "/sleep?pod=pod-a&seconds=1&x=%zz", 200, "slept 1s")]
#[case::sleep_default("GET", "/sleep", 200, "slept 1s")]
#[case::not_found("GET", "/nope", 404, "not found\n")]
#[case::not_found_post("POST", "/nope", 404, "not found\n")]
#[case::trailing_slash("GET", "/sleep/", 404, "not found\n")]
#[case::post("POST", "/sleep", 405, "method POST not allowed; allowed: GET\n")]
#[case::delete("DELETE", "/", 405, "method DELETE not allowed; allowed: GET\n")]
#[case::custom("FROB", "/stream", 405, "method FROB not allowed; allowed: GET\n")]
#[case::head("HEAD", "/", 405, "")]
#[case::bad_seconds(
    "GET",
    "/sleep?seconds=abc",
    400,
    "bad query parameter seconds=\"abc\": expected an integer in 0..=600\n"
)]
fn endpoint_table(
    #[case] method: &str,
    #[case] path: &str,
    #[case] status: u16,
    #[case] body: &str,
) {
    let b = Backend::start(&[]);
    let raw = raw_exchange(
        b.addr,
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let r = parse(&raw).expect("no response");
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.text(), body);
    assert_eq!(r.header("x-served-by"), Some(POD));
    if status == 405 {
        assert_eq!(r.header("allow"), Some("GET"));
    }
}

#[rstest]
#[case("/sleep?seconds=-1", "seconds")]
#[case("/sleep?seconds=601", "seconds")]
#[case("/sleep?seconds=1.5", "seconds")]
#[case("/sleep?seconds=", "seconds")]
#[case("/sleep?seconds=1&seconds=2", "seconds")]
#[case("/sleep?seconds=99999999999999999999999999", "seconds")]
#[case("/stream?seconds=x", "seconds")]
#[case("/stream?seconds=601&interval_ms=10", "seconds")]
#[case("/stream?interval_ms=0", "interval_ms")]
#[case("/stream?interval_ms=-5", "interval_ms")]
#[case("/stream?interval_ms=1e3", "interval_ms")]
#[case("/stream?seconds=1&interval_ms=600001", "interval_ms")]
fn bad_parameters_get_400_naming_them(#[case] path: &str, #[case] param: &str) {
    let b = Backend::start(&[]);
    let r = get(b.addr, path, "");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-served-by"), Some(POD));
    let text = r.text();
    assert!(
        text.starts_with(&format!("bad query parameter {param}=")),
        "{text:?}"
    );
    assert_eq!(text.matches('\n').count(), 1, "not one line: {text:?}");
    assert!(text.ends_with('\n'));
}

#[test]
fn each_request_is_logged_once_with_its_fields() {
    let b = Backend::start(&[]);
    let r = get(
        b.addr,
        "/sleep?seconds=1&pod=pod-a",
        "x-request-id: req-42\r\n",
    );
    assert_eq!(r.status, 200);
    let r = get(b.addr, "/missing", "");
    assert_eq!(r.status, 404);
    let line = b
        .logs
        .wait_for(Duration::from_secs(2), |l| l.contains("request_id=req-42"))
        .unwrap();
    assert!(line.starts_with("ts="), "{line}");
    assert!(
        line.contains(" level=info msg=request method=GET path=/sleep remote=127.0.0.1:"),
        "{line}"
    );
    assert_eq!(field(&line, "hostname"), Some(POD));
    assert_eq!(field(&line, "status"), Some("200"));
    let ms: u64 = field(&line, "duration_ms").unwrap().parse().unwrap();
    assert!((1000..1500).contains(&ms), "{line}");
    let miss = b
        .logs
        .wait_for(Duration::from_secs(2), |l| {
            l.contains("msg=request ") && l.contains("path=/missing")
        })
        .unwrap();
    assert_eq!(field(&miss, "status"), Some("404"));
    assert_eq!(field(&miss, "request_id"), None, "{miss}");
    let sleeps = b
        .logs
        .lines()
        .iter()
        .filter(|l| l.contains("msg=request ") && l.contains("path=/sleep"))
        .count();
    assert_eq!(sleeps, 1);
}

#[test]
fn keep_alive_connection_serves_several_requests() {
    use std::io::{Read, Write};
    let b = Backend::start(&[]);
    let mut s = b.connect();
    for _ in 0..3 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        let r = parse(&buf[..n]).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    }
}
