//! The endpoint table: `/` (ok), `/sleep` (wait N seconds), `/stream`
//! (chunked ticks); 404 for other paths, 405 with `Allow` for other methods,
//! 400 with a one-line reason for a bad parameter. Every answer carries
//! `x-served-by`.
//!
//! Routing and responses only; it must never hold a request past its own
//! sleep or stream, nor touch the listener.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};

use crate::body::{Inner, LoggedBody, Ticks};
use crate::query::{sleep_params, stream_params};
use crate::request_log::{RequestLog, Shared};

/// The header that names the pod on every response.
pub const SERVED_BY: &str = "x-served-by";
/// The request header whose value is logged as `request_id`.
pub const REQUEST_ID: &str = "x-request-id";

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// Longest request id and path kept for the log line.
const MAX_LOGGED: usize = 256;

enum Route {
    Root,
    Sleep,
    Stream,
}

/// Serves one request. The request itself is dropped before any waiting, so
/// a sleeping request holds only its log record and a timer.
pub(crate) async fn handle<B>(
    req: Request<B>,
    remote: SocketAddr,
    shared: Arc<Shared>,
) -> Result<Response<LoggedBody>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path();
    let query = req.uri().query().map(str::to_owned);
    let route = match path {
        "/" => Some(Route::Root),
        "/sleep" => Some(Route::Sleep),
        "/stream" => Some(Route::Stream),
        _ => None,
    };
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .map(|v| truncate(&String::from_utf8_lossy(v.as_bytes())));
    let path = truncate(path);
    tracing::debug!(target: "request", method = %method, path, remote = %remote, "request_started");
    let mut log = RequestLog::begin(shared.clone(), method.clone(), path, remote, request_id);
    drop(req);

    let (status, inner) = match route {
        None => (StatusCode::NOT_FOUND, Inner::text("not found\n")),
        Some(_) if method != Method::GET => (
            StatusCode::METHOD_NOT_ALLOWED,
            Inner::text(format!("method {method} not allowed; allowed: GET\n")),
        ),
        Some(Route::Root) => (StatusCode::OK, Inner::text("ok")),
        Some(Route::Sleep) => match sleep_params(query.as_deref()) {
            Err(e) => (StatusCode::BAD_REQUEST, Inner::text(format!("{e}\n"))),
            Ok(p) => {
                tokio::time::sleep(Duration::from_secs(p.seconds)).await;
                (StatusCode::OK, Inner::text(format!("slept {}s", p.seconds)))
            }
        },
        Some(Route::Stream) => match stream_params(query.as_deref()) {
            Err(e) => (StatusCode::BAD_REQUEST, Inner::text(format!("{e}\n"))),
            Ok(p) => (StatusCode::OK, Inner::Ticks(Ticks::new(p))),
        },
    };
    log.set_status(status.as_u16());
    let mut resp = Response::new(LoggedBody::new(inner, log));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(SERVED_BY, shared.served_by.clone());
    h.insert(CONTENT_TYPE, TEXT);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(ALLOW, HeaderValue::from_static("GET"));
    }
    Ok(resp)
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_LOGGED) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
