//! The library API other crates' tests use: `backend::serve` on a listener
//! they bound, stopped by a future they own, reporting what it waited for.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn serve_drains_in_flight_request_and_reports_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = backend::Config {
        pod_name: "pod-lib".into(),
        shutdown_timeout: Duration::from_secs(10),
    };
    let server = tokio::spawn(backend::serve(listener, config, async {
        let _ = stop_rx.await;
    }));

    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /stream?seconds=1&interval_ms=250 HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // Chunk 0 arrives at once: the request is in flight.
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&raw).contains("chunk 0 @") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        raw.extend_from_slice(&buf[..n]);
    }
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw))
        .await
        .expect("connection not closed after the stream")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("x-served-by: pod-lib"), "{text}");
    assert!(text.contains("chunk 3 @"), "{text}");
    assert!(text.ends_with("0\r\n\r\n"), "no terminator: {text:?}");

    let report = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve did not return")
        .unwrap()
        .unwrap();
    assert_eq!(
        report,
        backend::ShutdownReport {
            waited_for: 1,
            timed_out: false
        }
    );
    // The listener is closed.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_pod_name_that_is_not_a_header_value_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = backend::Config {
        pod_name: "bad\nname".into(),
        shutdown_timeout: Duration::from_secs(1),
    };
    let err = backend::serve(listener, config, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, backend::Error::BadPodName(_)), "{err}");
}
