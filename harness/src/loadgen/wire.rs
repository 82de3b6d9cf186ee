//! HTTP/1.1 on the wire for the load generator's client: the request's
//! bytes, the response head (parsed by `httparse`) and where the body ends
//! (`content-length`, `chunked`, or the connection's close), fed bytes as
//! they arrive.
//!
//! Pure: never does I/O, never keeps a body (only hands each piece of data
//! to the caller, who counts it), never guesses: a head or chunk it cannot
//! parse is a [`WireError`].

use thiserror::Error;

/// The most header lines a response head may have.
const MAX_HEADERS: usize = 64;

/// A response the client cannot read as HTTP/1.1.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("invalid response head: {0}")]
    Head(httparse::Error),
    #[error("invalid content-length")]
    ContentLength,
    #[error("invalid chunk size line")]
    ChunkSize,
    #[error("invalid chunk end (no CRLF after the data)")]
    ChunkEnd,
    #[error("a response head or chunk line over {0} bytes")]
    TooLong(usize),
}

/// Appends `GET path HTTP/1.1` with `host` and `x-request-id` to `out`.
pub fn write_get(out: &mut Vec<u8>, path: &str, host: &str, id: &str) {
    for part in [
        "GET ",
        path,
        " HTTP/1.1\r\nhost: ",
        host,
        "\r\nx-request-id: ",
        id,
        "\r\n\r\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
}

/// Where a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes.
    Length(u64),
    /// `transfer-encoding: chunked`, up to the zero-size chunk and trailers.
    Chunked,
    /// Everything until the server closes the connection.
    Close,
}

/// The facts of a final (non-1xx) response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// `x-served-by`, when present.
    pub served_by: Option<String>,
    /// `server: envoy`.
    pub server_envoy: bool,
    pub framing: Framing,
    /// The connection may carry another request after this response.
    pub keep_alive: bool,
}

/// What [`parse_head`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A 1xx head of this many bytes, to skip.
    Interim(usize),
    /// The final head, of this many bytes.
    Final(usize, Head),
}

/// Parses the response head at the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Result<Parsed, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let len = match res.parse(buf).map_err(WireError::Head)? {
        httparse::Status::Partial => return Ok(Parsed::Partial),
        httparse::Status::Complete(len) => len,
    };
    let status = res.code.unwrap_or_default();
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Interim(len));
    }
    let mut head = Head {
        status,
        served_by: None,
        server_envoy: false,
        framing: Framing::Close,
        keep_alive: res.version == Some(1),
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut encoded = false;
    for h in res.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("x-served-by") {
            head.served_by = Some(String::from_utf8_lossy(h.value).into_owned());
        } else if name.eq_ignore_ascii_case("server") {
            head.server_envoy = h.value.eq_ignore_ascii_case(b"envoy");
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(h.value)?;
            if length.is_some_and(|l| l != n) {
                return Err(WireError::ContentLength);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            // Chunked only counts as the last coding.
            chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            if has_token(h.value, b"close") {
                head.keep_alive = false;
            } else if has_token(h.value, b"keep-alive") {
                head.keep_alive = true;
            }
        }
    }
    head.framing = if status == 204 || status == 304 || status == 101 {
        Framing::Length(0)
    } else if encoded {
        // RFC 9112 §6.3: transfer-encoding wins over content-length.
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        length.map_or(Framing::Close, Framing::Length)
    };
    if head.framing == Framing::Close || status == 101 {
        head.keep_alive = false;
    }
    Ok(Parsed::Final(len, head))
}

fn parse_length(v: &[u8]) -> Result<u64, WireError> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(WireError::ContentLength);
    }
    Ok(v.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

fn has_token(v: &[u8], token: &[u8]) -> bool {
    tokens(v).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token(v: &[u8]) -> &[u8] {
    tokens(v).last().unwrap_or_default()
}

/// Reads a body to its end, one buffer at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Data bytes left (of a content-length body or of one chunk).
    Data {
        left: u64,
        chunked: bool,
    },
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// A chunk size line.
    Size,
    /// Trailer lines after the last chunk, up to an empty one.
    Trailers,
    /// Until the connection closes.
    UntilClose,
    Done,
}

/// What [`Body::feed`] did with a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Bytes of the buffer used (framing and data).
    pub used: usize,
    /// The body is complete.
    pub done: bool,
}

impl Body {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(left) => State::Data {
                left,
                chunked: false,
            },
            Framing::Chunked => State::Size,
            Framing::Close => State::UntilClose,
        };
        Body { state }
    }

    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The body ends with the connection (a close then completes it).
    pub fn ends_at_close(&self) -> bool {
        self.state == State::UntilClose
    }

    /// Uses what it can of `buf`, handing every piece of body data to
    /// `data`; stops at the end of the body (bytes after it are not used).
    pub fn feed(&mut self, buf: &[u8], mut data: impl FnMut(&[u8])) -> Result<Fed, WireError> {
        let mut used = 0;
        while used < buf.len() && self.state != State::Done {
            let rest = &buf[used..];
            let step = match self.state {
                State::UntilClose => {
                    data(rest);
                    rest.len()
                }
                State::Data { left, chunked } => {
                    let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    data(&rest[..n]);
                    let left = left - n as u64;
                    self.state = match (left, chunked) {
                        (0, true) => State::ChunkEnd,
                        (0, false) => State::Done,
                        _ => State::Data { left, chunked },
                    };
                    n
                }
                State::ChunkEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        self.state = State::Size;
                        2
                    }
                    [b'\r'] => 0,
                    _ => return Err(WireError::ChunkEnd),
                },
                State::Size => match httparse::parse_chunk_size(rest) {
                    Err(_) => return Err(WireError::ChunkSize),
                    Ok(httparse::Status::Partial) => 0,
                    Ok(httparse::Status::Complete((n, 0))) => {
                        self.state = State::Trailers;
                        n
                    }
                    Ok(httparse::Status::Complete((n, left))) => {
                        self.state = State::Data {
                            left,
                            chunked: true,
                        };
                        n
                    }
                },
                State::Trailers => match rest.windows(2).position(|w| w == b"\r\n") {
                    None => 0,
                    Some(0) => {
                        self.state = State::Done;
                        2
                    }
                    Some(i) => i + 2,
                },
                State::Done => 0,
            };
            if step == 0 {
                break;
            }
            used += step;
        }
        Ok(Fed {
            used,
            done: self.state == State::Done,
        })
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
