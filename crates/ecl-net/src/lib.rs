//! The transport under every listener of elasticache-local: plain TCP, or TLS terminated with
//! rustls (ring provider), chosen per listener by a [`TlsPolicy`].
//!
//! Place in the flow: an engine's accept loop (ecl-redis, ecl-memcached) or a supervisor proxy
//! accepts a `TcpStream` and, inside the connection's own task, calls [`accept`]; the
//! [`Conn`] it returns is what the protocol code reads and writes. Nothing here knows of AWS:
//! the control plane decides the policy (ElastiCache's TransitEncryptionMode) and the
//! certificates; this crate only applies them.
//!
//! ElastiCache's two modes map to [`TlsPolicy::required`]: `required` serves TLS only and
//! closes a connection whose first byte is not a TLS handshake record; `preferred` serves both
//! on the same port, telling them apart by that first byte (0x16, a handshake record, is never
//! the first byte of a RESP, Memcached text or Memcached binary request).
#![forbid(unsafe_code)]

mod fault;
pub use fault::{FaultGate, Faulty};

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
pub use tokio_rustls::rustls;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

/// First byte of a TLS record carrying a handshake message (a ClientHello opens every session).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// How long a client may take to complete the TLS handshake before it is dropped, so a
/// half-open handshake cannot hold a connection slot for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS settings of one listener.
#[derive(Clone)]
pub struct TlsPolicy {
    acceptor: TlsAcceptor,
    /// Plaintext connections are closed (`required`) rather than served (`preferred`).
    pub required: bool,
}

impl std::fmt::Debug for TlsPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPolicy")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl TlsPolicy {
    /// A policy serving `config`'s certificate; `required` refuses plaintext.
    pub fn new(config: Arc<rustls::ServerConfig>, required: bool) -> TlsPolicy {
        TlsPolicy {
            acceptor: TlsAcceptor::from(config),
            required,
        }
    }
}

/// A setting a listener reads for each connection it accepts, replaceable while it runs
/// (ElastiCache migrates a group between plaintext, `preferred` and `required` in place). Open
/// connections keep what they started with.
#[derive(Debug)]
pub struct Swap<T>(Arc<std::sync::RwLock<Option<Arc<T>>>>);

/// The TLS policy of an engine listener.
pub type PolicyCell = Swap<TlsPolicy>;

impl<T> Clone for Swap<T> {
    fn clone(&self) -> Self {
        Swap(self.0.clone())
    }
}

impl<T> Default for Swap<T> {
    fn default() -> Self {
        Swap::new(None)
    }
}

impl<T> Swap<T> {
    /// A cell holding `value`.
    pub fn new(value: Option<T>) -> Swap<T> {
        Swap(Arc::new(std::sync::RwLock::new(value.map(Arc::new))))
    }

    /// The value for a connection accepted now.
    pub fn current(&self) -> Option<Arc<T>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the value for connections accepted from now on.
    pub fn set(&self, value: Option<T>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = value.map(Arc::new);
    }
}

/// One accepted connection: plain TCP, or a TLS session over it (server side), or the client
/// side of a TLS session a proxy opened to a node.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS terminated here.
    Tls(Box<server::TlsStream<TcpStream>>),
    /// TLS opened by us to another listener.
    TlsClient(Box<client::TlsStream<TcpStream>>),
    /// A connection under a [`FaultGate`] (fault injection).
    Faulty(Box<Faulty>),
}

impl Conn {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        match self {
            Conn::Plain(_) => false,
            Conn::Faulty(f) => f.is_tls(),
            _ => true,
        }
    }
}

/// Turns an accepted TCP stream into the connection `policy` allows. `None` means the
/// connection must be dropped: plaintext under a `required` policy, a failed or slow
/// handshake, or a peer that closed before sending anything.
pub async fn accept(policy: Option<&TlsPolicy>, stream: TcpStream) -> Option<Conn> {
    let _ = stream.set_nodelay(true);
    let Some(policy) = policy else {
        return Some(Conn::Plain(stream));
    };
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await.ok()?;
    if n == 0 {
        return None;
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        if policy.required {
            tracing::debug!("plaintext connection refused: TLS is required");
            return None;
        }
        return Some(Conn::Plain(stream));
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, policy.acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(Conn::Tls(Box::new(tls))),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// Opens a connection to `target`, over TLS when `tls` is given (verifying the target's
/// certificate for its IP address with the client configuration's roots).
pub async fn connect(
    target: std::net::SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> io::Result<Conn> {
    let stream = TcpStream::connect(target).await?;
    let _ = stream.set_nodelay(true);
    let Some(config) = tls else {
        return Ok(Conn::Plain(stream));
    };
    let name = rustls::pki_types::ServerName::IpAddress(target.ip().into());
    let tls = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        TlsConnector::from(config.clone()).connect(name, stream),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    Ok(Conn::TlsClient(Box::new(tls)))
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::TlsClient(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Faulty(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::TlsClient(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Faulty(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::TlsClient(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Faulty(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::TlsClient(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Faulty(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Conn::TlsClient(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Conn::Faulty(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
            Conn::TlsClient(s) => s.is_write_vectored(),
            Conn::Faulty(_) => false,
        }
    }
}
