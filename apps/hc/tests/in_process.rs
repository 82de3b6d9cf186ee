//! The library API other crates use to run a real hc in-process:
//! `hc::serve(Listeners, Config, shutdown)`.

mod common;

use std::time::Duration;

use common::*;
use hc::{Config, LbSignal, Listeners};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn serve_runs_until_shutdown_then_drops_everything() {
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pa, aa, ga) = (
        public.local_addr().unwrap(),
        admin.local_addr().unwrap(),
        agent.local_addr().unwrap(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let config = Config {
        naming: gate::Naming::Legacy,
        lb_signal: LbSignal::Status404,
    };
    let server = tokio::spawn(hc::serve(
        Listeners {
            public,
            admin: Some(admin),
            agent: Some(agent),
        },
        config,
        async move {
            let _ = rx.await;
        },
    ));
    assert_eq!(
        post(pa, "/drain").await.status,
        404,
        "public listener has no transitions"
    );
    assert_eq!(post(aa, "/drain").await.status, 200);
    assert_eq!(post(aa, "/close-lb").await.status, 200);
    let r = get(pa, "/health_check.html").await;
    assert_eq!(
        (r.status, r.header("etag")),
        (404, Some("\"DRAINED_WAIT_LB\""))
    );
    let mut s = connect_from(ga, None).await;
    let mut line = String::new();
    s.read_to_string(&mut line).await.unwrap();
    assert_eq!(line, "drain\n");

    // HAProxy's checks are HTTP/1.0 on a fresh connection.
    let mut s = connect_from(pa, None).await;
    s.write_all(b"GET /health HTTP/1.0\r\n\r\n").await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut raw))
        .await
        .expect("HTTP/1.0 closes")
        .unwrap();
    let r = parse(&raw);
    assert_eq!((r.status, r.body.as_str()), (200, "DRAINED_WAIT_LB"));

    // Shutdown: serve returns at once and open connections are dropped.
    let mut idle = connect_from(pa, None).await;
    tx.send(()).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("serve returns on shutdown");
    res.unwrap().unwrap();
    let mut b = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut b))
        .await
        .expect("idle connection closed");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(
        tokio::net::TcpStream::connect(pa).await.is_err(),
        "listener closed after shutdown"
    );
}
