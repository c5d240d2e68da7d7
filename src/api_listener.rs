//! The Query API's accept loop: serves the axum router over HTTP/1.1 connections that hostile or
//! slow clients cannot use to exhaust the process.
//!
//! `server.rs` binds the listener and hands it here with the router. Each connection holds one
//! permit of a fixed pool ([`ServeOptions::max_connections`]), so the API never takes more file
//! handles than that and engine nodes keep theirs; past the cap, new clients wait in the kernel's
//! listen backlog. hyper's header read timeout closes connections that do not complete a request
//! head in time (slowloris), and since hyper starts that clock whenever a connection waits for
//! its next request, it is also the idle keep-alive timeout. The body deadline is the router's
//! business (`control::http`), which can still answer. An accept error never ends the loop:
//! running out of descriptors or memory backs off briefly instead of spinning.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Pause after an accept error that says the process or system is out of a resource, so the
/// loop does not spin while connections close and free it.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

/// Connection-level bounds of the API listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time to receive a complete request head, counted from when the connection starts waiting
    /// for a request (so it bounds idle keep-alive time too).
    pub header_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    /// 30 s (hyper's own default) and 512 connections, far above what any test suite or
    /// Terraform run opens, well below a default 1024-descriptor limit.
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` until `stop` resolves, then stops accepting, lets in-flight
/// requests finish and closes idle connections. Dropping the returned future (aborting its task)
/// drops every connection at once.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    // Set while accepts fail for lack of resources, so the warning is logged once per episode.
    let mut exhausted = false;
    tokio::pin!(stop);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut stop => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    exhausted = false;
                    stream
                }
                Err(err) => {
                    exhausted = accept_failed(&err, exhausted).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(%err, "API connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Logs an accept error (a resource shortage as a warning the first time in a row) and waits
/// when retrying at once would fail the same way. Returns whether resources are short.
async fn accept_failed(err: &io::Error, already_exhausted: bool) -> bool {
    if is_resource_exhaustion(err) {
        if already_exhausted {
            tracing::debug!(%err, "API accept still failing");
        } else {
            tracing::warn!(%err, "cannot accept API connections now; retrying shortly");
        }
        tokio::time::sleep(RESOURCE_BACKOFF).await;
        true
    } else {
        // The peer went away between SYN and accept (ECONNABORTED, ECONNRESET...): nothing
        // to wait for.
        tracing::debug!(%err, "API accept failed");
        already_exhausted
    }
}

/// ENOBUFS, whose number differs between Linux and the BSDs (EMFILE, ENFILE, ENOMEM do not).
const ENOBUFS: i32 = if cfg!(target_os = "linux") { 105 } else { 55 };

/// Out of descriptors (EMFILE 24, ENFILE 23), buffers (ENOBUFS) or memory (ENOMEM 12).
fn is_resource_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(23 | 24 | 12))
        || err.raw_os_error() == Some(ENOBUFS)
        || err.kind() == io::ErrorKind::OutOfMemory
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Reads until EOF; true when the server closed the connection within `within`.
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut sink = Vec::new();
        tokio::time::timeout(within, s.read_to_end(&mut sink))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn slow_heads_are_cut_off_the_cap_holds_and_stop_ends_serving() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let options = ServeOptions {
            header_timeout: Duration::from_millis(300),
            max_connections: 1,
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, options, async move {
            let _ = stop_rx.await;
        }));
        // A head that never completes holds the only slot until the header timeout.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut next = TcpStream::connect(addr).await.unwrap();
        next.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut answer = String::new();
        next.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(closed_within(&mut slow, Duration::from_secs(5)).await);
        stop_tx.send(()).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))));
    }

    #[test]
    fn resource_errors_are_told_apart_from_peer_errors() {
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(24)));
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(23)));
        assert!(!is_resource_exhaustion(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }
}
