use super::*;
use proptest::prelude::*;
use rstest::rstest;

fn head(text: &str) -> Head {
    match parse_head(text.as_bytes()) {
        Ok(Parsed::Final(len, head)) => {
            assert_eq!(len, text.len());
            head
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn writes_a_get_with_its_id() {
    let mut out = Vec::new();
    write_get(&mut out, "/sleep?seconds=1", "127.0.0.1:80", "steady-7");
    assert_eq!(
        out,
        b"GET /sleep?seconds=1 HTTP/1.1\r\nhost: 127.0.0.1:80\r\nx-request-id: steady-7\r\n\r\n"
    );
}

#[rstest]
#[case(
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n",
    200,
    Framing::Length(2),
    true
)]
#[case(
    "HTTP/1.1 200 OK\r\nContent-Length:  7 \r\nConnection: close\r\n\r\n",
    200,
    Framing::Length(7),
    false
)]
#[case(
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
    200,
    Framing::Chunked,
    true
)]
#[case(
    "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n",
    200,
    Framing::Chunked,
    true
)]
#[case(
    "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
    200,
    Framing::Close,
    false
)]
#[case(
    "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n",
    200,
    Framing::Close,
    false
)]
#[case("HTTP/1.1 204 No Content\r\n\r\n", 204, Framing::Length(0), true)]
#[case(
    "HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n",
    304,
    Framing::Length(0),
    true
)]
#[case(
    "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n",
    200,
    Framing::Length(2),
    false
)]
#[case(
    "HTTP/1.0 200 OK\r\ncontent-length: 2\r\nconnection: Keep-Alive\r\n\r\n",
    200,
    Framing::Length(2),
    true
)]
#[case(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\nconnection: upgrade, close\r\n\r\n",
    503,
    Framing::Length(19),
    false
)]
fn reads_status_framing_and_keep_alive(
    #[case] text: &str,
    #[case] status: u16,
    #[case] framing: Framing,
    #[case] keep_alive: bool,
) {
    let h = head(text);
    assert_eq!(
        (h.status, h.framing, h.keep_alive),
        (status, framing, keep_alive)
    );
}

#[test]
fn reads_who_answered() {
    let h = head("HTTP/1.1 200 OK\r\nX-Served-By: pod-a\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(
        (h.served_by.as_deref(), h.server_envoy),
        (Some("pod-a"), false)
    );
    let h = head("HTTP/1.1 503 x\r\nServer: Envoy\r\ncontent-length: 0\r\n\r\n");
    assert_eq!((h.served_by, h.server_envoy), (None, true));
}

#[test]
fn a_partial_head_needs_more_and_an_interim_one_is_skipped() {
    let text = b"HTTP/1.1 200 OK\r\ncontent-len";
    assert_eq!(parse_head(text), Ok(Parsed::Partial));
    assert_eq!(parse_head(b""), Ok(Parsed::Partial));
    let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
    assert_eq!(parse_head(interim), Ok(Parsed::Interim(25)));
}

#[rstest]
#[case(
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n",
    WireError::ContentLength
)]
#[case(
    "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
    WireError::ContentLength
)]
#[case(
    "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
    WireError::ContentLength
)]
#[case("HTTX/1.1 200 OK\r\n\r\n", WireError::Head(httparse::Error::Version))]
#[case("SSH-2.0-OpenSSH\r\n\r\n", WireError::Head(httparse::Error::Version))]
fn rejects_what_is_not_http(#[case] text: &str, #[case] want: WireError) {
    assert_eq!(parse_head(text.as_bytes()), Err(want));
}

/// Feeds `wire` to a body in pieces of `step` bytes as a client would
/// (unused bytes stay for the next read); returns the data and the bytes used.
fn read_body(
    framing: Framing,
    wire: &[u8],
    step: usize,
) -> Result<(Vec<u8>, usize, bool), WireError> {
    let mut body = Body::new(framing);
    let (mut data, mut used, mut have) = (Vec::new(), 0, 0);
    while used < wire.len() && !body.is_done() {
        have = (have + step).min(wire.len()).max(used);
        let fed = body.feed(&wire[used..have], |d| data.extend_from_slice(d))?;
        used += fed.used;
        if have == wire.len() && fed.used == 0 {
            break;
        }
    }
    Ok((data, used, body.is_done()))
}

#[rstest]
#[case(1)]
#[case(2)]
#[case(3)]
#[case(7)]
#[case(1000)]
fn reads_chunked_bodies_in_any_split(#[case] step: usize) {
    let wire = b"6\r\nchunk \r\n13;ext=1\r\n0 @ 0ms\nchunk 1 @ 2\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
    let (data, used, done) = read_body(Framing::Chunked, wire, step).unwrap();
    assert_eq!(data, b"chunk 0 @ 0ms\nchunk 1 @ 2");
    assert_eq!(
        (used, done),
        (wire.len() - 4, true),
        "stops before the next response"
    );
}

#[test]
fn a_content_length_body_stops_at_its_length() {
    let (data, used, done) = read_body(Framing::Length(5), b"hello world", 3).unwrap();
    assert_eq!((data.as_slice(), used, done), (&b"hello"[..], 5, true));
    let (data, _, done) = read_body(Framing::Length(5), b"hel", 3).unwrap();
    assert_eq!(
        (data.as_slice(), done),
        (&b"hel"[..], false),
        "short: not done"
    );
    assert!(Body::new(Framing::Length(0)).is_done());
}

#[test]
fn a_close_delimited_body_takes_everything() {
    let mut body = Body::new(Framing::Close);
    let mut n = 0;
    let fed = body.feed(b"slept", |d| n += d.len()).unwrap();
    assert_eq!((fed.used, fed.done, n), (5, false, 5));
    assert!(body.ends_at_close());
}

#[rstest]
#[case(&b"zz\r\n"[..], WireError::ChunkSize)]
#[case(&b"2\r\nokXX"[..], WireError::ChunkEnd)]
fn rejects_bad_chunks(#[case] wire: &[u8], #[case] want: WireError) {
    assert_eq!(read_body(Framing::Chunked, wire, 100), Err(want));
}

proptest! {
    #[test]
    fn any_chunking_of_any_data_reads_back(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..8),
        step in 1usize..50,
    ) {
        let mut wire = Vec::new();
        for p in &pieces {
            wire.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
            wire.extend_from_slice(p);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let (data, used, done) = read_body(Framing::Chunked, &wire, step).unwrap();
        prop_assert_eq!(data, pieces.concat());
        prop_assert_eq!((used, done), (wire.len(), true));
    }
}
