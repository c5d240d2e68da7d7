//! A minimal HTTP/1.1 client for talking to a running emulator: the `reset` and `status`
//! subcommands call its admin routes, and the init runner posts `*.json` requests to its own
//! Query API, so they go through exactly the dispatch every HTTP request does.
//!
//! Only what those callers need: plain `http://host:port` endpoints, one request per connection
//! (`Connection: close`), the whole answer read until the server closes.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest answer read (a /health document or a Query API answer is far smaller).
const MAX_ANSWER: u64 = 16 << 20;

/// An answer: status code and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

/// `host:port` of an `http://host:port[/]` endpoint.
pub fn authority(endpoint: &str) -> io::Result<String> {
    let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("endpoint {endpoint:?} must start with http://"),
        )
    })?;
    Ok(rest.trim_end_matches('/').to_string())
}

/// Sends one request to `endpoint` (`http://host:port`) and reads the answer.
pub async fn request(
    endpoint: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> io::Result<Answer> {
    let host = authority(endpoint)?;
    let exchange = async {
        let mut stream = TcpStream::connect(&host).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(t) = content_type {
            head.push_str(&format!("Content-Type: {t}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.take(MAX_ANSWER).read_to_end(&mut raw).await?;
        parse_answer(&raw)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{endpoint}{path} timed out"),
            )
        })?
}

/// Splits a whole HTTP/1.1 answer into status and body (chunked bodies are joined).
fn parse_answer(raw: &[u8]) -> io::Result<Answer> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let split = (raw.windows(4))
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("answer without a complete head"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = (head.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("answer without a status code"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("malformed chunked body"))?
    } else {
        body.to_vec()
    };
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_plain_and_chunked() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, "ok"));
        let raw = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let a = parse_answer(raw).unwrap();
        assert_eq!((a.status, a.body.as_str()), (404, "abcde"));
        assert!(parse_answer(b"HTTP/1.1 200").is_err());
        assert_eq!(
            authority("http://127.0.0.1:4566/").unwrap(),
            "127.0.0.1:4566"
        );
        assert!(authority("https://x").is_err());
    }
}
