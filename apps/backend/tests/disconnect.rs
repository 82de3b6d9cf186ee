//! A client that goes away stops its handler: `/sleep` and `/stream` notice
//! the closed socket while waiting (not only when they next write) and log
//! `msg=client_disconnected` long before the request would have ended.
//!
//! Both requests would write nothing for 30 s more (the sleep's end, the
//! stream's next tick): a handler that only noticed on its next write fails
//! the 15 s bound, which a busy machine does not come near.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::{field, Backend};
use rstest::rstest;

#[rstest]
#[case::sleep("/sleep?seconds=30", "/sleep", "499", false)]
#[case::stream("/stream?seconds=60&interval_ms=30000", "/stream", "200", true)]
fn client_disconnect_stops_the_handler(
    #[case] target: &str,
    #[case] path: &str,
    #[case] logged_status: &str,
    #[case] read_first: bool,
) {
    let mut b = Backend::start(&["--shutdown-timeout", "20s"]);
    let mut s = b.connect();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: t\r\nx-request-id: rid-{path}\r\n\r\n"
    )
    .unwrap();
    b.logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("msg=request_started")
        })
        .unwrap();
    if read_first {
        // The headers and chunk 0 arrive at once; the next tick is 30 s away.
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("chunk 0 @") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
    }
    let gone = Instant::now();
    s.shutdown(Shutdown::Both).unwrap();
    drop(s);

    // Half of the 30 s until the handler's next write.
    let bound = Duration::from_secs(15);
    let line = b
        .logs
        .wait_for(bound, |l| l.contains("msg=client_disconnected"))
        .expect("handler did not notice the client leaving");
    assert!(gone.elapsed() < bound, "noticed after {:?}", gone.elapsed());
    assert_eq!(field(&line, "path"), Some(path));
    assert_eq!(
        field(&line, "request_id"),
        Some(format!("rid-{path}").as_str())
    );
    let req = b
        .logs
        .wait_for(Duration::from_secs(1), |l| l.contains("msg=request "))
        .unwrap();
    assert_eq!(field(&req, "status"), Some(logged_status), "{req}");
    assert_eq!(field(&req, "complete"), Some("false"), "{req}");

    // Nothing is left in flight: shutdown waits for nobody and exits at once
    // (well before the 20 s shutdown timeout it would otherwise wait out).
    b.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(b.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let done = b.shutdown_complete();
    assert_eq!(field(&done, "waited_for"), Some("0"), "{done}");
    assert_eq!(field(&done, "timed_out"), Some("false"), "{done}");
}
