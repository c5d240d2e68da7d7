//! The Query API as the Rust integration tests speak it: an unsigned form POST over a raw socket
//! (no HTTP client crate needed) and a tiny reader of the XML answer, plus a server started on
//! an ephemeral port with engine addresses from a loopback block of its own.

use std::net::SocketAddr;

use elasticache_local::config::Config;
use elasticache_local::server::{self, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Engine addresses from a loopback block of their own, so parallel runs do not compete.
pub fn config() -> Config {
    let mut c = Config::for_tests();
    let b = 2 + (std::process::id() % 200) as u8;
    let c2 = 10 + (rand::random::<u8>() % 200);
    c.loopback_base = format!("127.{b}.{c2}.1").parse().expect("ip");
    c
}

/// One API answer (or a section of one).
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response body (or the text of a section).
    pub body: String,
}

impl Answer {
    /// Text of every `<tag>` element, in document order.
    pub fn all(&self, tag: &str) -> Vec<String> {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            let Some(j) = after.find(&close) else { break };
            out.push(after[..j].to_string());
            rest = &after[j + close.len()..];
        }
        out
    }

    pub fn get(&self, tag: &str) -> Option<String> {
        self.all(tag).into_iter().next()
    }

    /// Every `<tag>` element as its own answer (for nested shapes).
    pub fn sections(&self, tag: &str) -> Vec<Answer> {
        self.all(tag)
            .into_iter()
            .map(|body| Answer {
                status: self.status,
                body,
            })
            .collect()
    }

    pub fn section(&self, tag: &str) -> Answer {
        self.sections(tag).into_iter().next().unwrap_or(Answer {
            status: self.status,
            body: String::new(),
        })
    }

    pub fn code(&self) -> Option<String> {
        self.get("Code")
    }

    /// `Address:Port` of an endpoint section.
    pub fn endpoint(&self, tag: &str) -> (String, u16) {
        let s = self.section(tag);
        (
            s.get("Address").expect("address"),
            s.get("Port").and_then(|p| p.parse().ok()).expect("port"),
        )
    }
}

/// Form-encodes one key or value.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POSTs one Query API request (unsigned: default account and region).
pub async fn call(addr: SocketAddr, action: &str, params: &[(&str, &str)]) -> Answer {
    let mut body = format!("Action={action}&Version=2015-02-02");
    for (k, v) in params {
        body.push_str(&format!("&{}={}", encode(k), encode(v)));
    }
    let mut stream = TcpStream::connect(addr).await.expect("connect to API");
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Answer { status, body }
}

/// Starts the emulator on an ephemeral API port.
pub async fn start() -> RunningServer {
    server::start(config()).await.expect("server starts")
}
