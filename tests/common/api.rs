//! The one HTTP client of the Rust integration tests: the Query API (an unsigned form POST) and
//! plain GETs (`/health`) through hyper-util's client, answers read with quick-xml, plus a server
//! started on an ephemeral port with engine addresses from a loopback block of its own.

use std::net::SocketAddr;

use elasticache_local::config::Config;
use elasticache_local::server::{self, RunningServer};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use quick_xml::Reader;
use quick_xml::events::Event;

/// Engine addresses from a loopback block of their own, so parallel runs do not compete.
pub fn config() -> Config {
    let mut c = Config::for_tests();
    let b = 2 + (std::process::id() % 200) as u8;
    let c2 = 10 + (rand::random::<u8>() % 200);
    c.loopback_base = format!("127.{b}.{c2}.1").parse().expect("ip");
    c
}

/// Sends one request and answers (status code, body). A client per request, without pooled
/// connections: each test runs its own tokio runtime, and a connection pooled in one runtime
/// must not outlive it (nor keep a server's connection open after the answer).
pub async fn http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    form: Option<String>,
) -> std::io::Result<(u16, String)> {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if form.is_some() {
        request = request.header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
    }
    let request = request
        .body(Full::new(Bytes::from(form.unwrap_or_default())))
        .map_err(std::io::Error::other)?;
    let response = client
        .request(request)
        .await
        .map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `GET path` (e.g. `/health`): (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http(addr, Method::GET, path, None).await
}

/// One API answer (or a section of one).
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response body (or the inner XML of a section).
    pub body: String,
}

/// Where one element sits in a document: its content's byte range and whether it has child
/// elements.
struct Element {
    content: std::ops::Range<usize>,
    leaf: bool,
}

/// Every element named `tag`, at any depth, in document order (nested ones included).
/// Panics on malformed XML: the test reading it fails with the document in the message.
fn elements(xml: &str, tag: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(xml);
    let mut found: Vec<Element> = Vec::new();
    // One entry per open element: the index in `found` when it is a `tag`.
    let mut open: Vec<Option<usize>> = Vec::new();
    let position = |r: &Reader<&[u8]>| usize::try_from(r.buffer_position()).expect("offset");
    loop {
        let before = position(&reader);
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML answer ({e}): {xml}"));
        let has_end = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                if let Some(Some(parent)) = open.last() {
                    found[*parent].leaf = false;
                }
                let here = position(&reader);
                let matching = e.name().as_ref() == tag;
                if matching {
                    found.push(Element {
                        content: here..here,
                        leaf: true,
                    });
                }
                if has_end {
                    open.push(matching.then(|| found.len() - 1));
                }
            }
            Event::End(_) => {
                if let Some(Some(index)) = open.pop() {
                    found[index].content.end = before;
                }
            }
            Event::Eof => return found,
            _ => {}
        }
    }
}

impl Answer {
    /// Content of every `<tag>` element, in document order: the unescaped text of a leaf, the
    /// inner XML of an element with children.
    pub fn all(&self, tag: &str) -> Vec<String> {
        elements(&self.body, tag)
            .into_iter()
            .map(|e| {
                let raw = &self.body[e.content];
                if e.leaf {
                    quick_xml::escape::unescape(raw)
                        .unwrap_or_else(|err| panic!("bad escape in <{tag}> ({err}): {raw}"))
                        .into_owned()
                } else {
                    raw.to_string()
                }
            })
            .collect()
    }

    /// Content of the first `<tag>` element.
    pub fn get(&self, tag: &str) -> Option<String> {
        self.all(tag).into_iter().next()
    }

    /// Every `<tag>` element as its own answer (for nested shapes).
    pub fn sections(&self, tag: &str) -> Vec<Answer> {
        elements(&self.body, tag)
            .into_iter()
            .map(|e| Answer {
                status: self.status,
                body: self.body[e.content].to_string(),
            })
            .collect()
    }

    /// The first `<tag>` element as its own answer (empty when there is none).
    pub fn section(&self, tag: &str) -> Answer {
        self.sections(tag).into_iter().next().unwrap_or(Answer {
            status: self.status,
            body: String::new(),
        })
    }

    /// The error code of an error answer.
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
    let mut form = format!("Action={action}&Version=2015-02-02");
    for (k, v) in params {
        form.push_str(&format!("&{}={}", encode(k), encode(v)));
    }
    let (status, body) = http(addr, Method::POST, "/", Some(form))
        .await
        .expect("API answers");
    Answer { status, body }
}

/// Starts the emulator on an ephemeral API port.
pub async fn start() -> RunningServer {
    server::start(config()).await.expect("server starts")
}
