//! Network faults one listener's client connections suffer: delayed replies, refused or reset
//! connections. The hook fault injection (the emulator's `/_elasticache_local/faults`) turns.
//!
//! Place in the flow: an engine creates one [`FaultGate`] per node and hands it out (the
//! supervisor keeps a clone and sets faults on it). The accept loop asks [`FaultGate::admit`]
//! whether to keep a new connection (clients partition, every-N-th drop) and wraps the ones it
//! keeps with [`FaultGate::wrap`], so the protocol code reads and writes through
//! [`Conn::Faulty`] without knowing about faults. Why a hook here rather than a proxy in front
//! of the node: the node's advertised port is its listener's, so a proxy would need the port
//! moved; a hook in the transport both engines share costs one atomic load per read or write
//! when no fault is set, and reaches connections that are already open (kill, delay).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::Conn;

/// The faults set on one listener. Cheap to clone (shared state).
#[derive(Clone, Debug, Default)]
pub struct FaultGate(Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    delay_ms: AtomicU64,
    jitter_ms: AtomicU64,
    /// Clients partition: new connections dropped, open ones reset.
    refuse: AtomicBool,
    /// Reset every N-th accepted connection (0: none).
    every_nth: AtomicU64,
    accepted: AtomicU64,
    /// Bumped to reset every connection open at that moment.
    epoch: AtomicU64,
    /// Wakers of connections waiting to read, so a reset reaches idle connections at once.
    waiting: Mutex<Vec<Weak<Mutex<Option<Waker>>>>>,
}

impl FaultGate {
    /// A gate with no fault set.
    pub fn new() -> FaultGate {
        FaultGate::default()
    }

    /// Delays every write (one reply, usually) by `delay` plus a random part up to `jitter`.
    pub fn set_delay(&self, delay: Duration, jitter: Duration) {
        self.0
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Release);
        self.0
            .jitter_ms
            .store(jitter.as_millis() as u64, Ordering::Release);
    }

    /// Refuses clients (`true`: new connections are dropped, open ones reset) or lets them in.
    pub fn set_refuse(&self, refuse: bool) {
        self.0.refuse.store(refuse, Ordering::Release);
        if refuse {
            self.kill_all();
        }
    }

    /// Resets every `n`-th connection from now on (0: none).
    pub fn set_every_nth(&self, n: u64) {
        self.0.accepted.store(0, Ordering::Release);
        self.0.every_nth.store(n, Ordering::Release);
    }

    /// Resets every connection open now (new ones are not affected).
    pub fn kill_all(&self) {
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
        let waiting = std::mem::take(&mut *lock(&self.0.waiting));
        for w in waiting.iter().filter_map(Weak::upgrade) {
            if let Some(waker) = lock(&w).take() {
                waker.wake();
            }
        }
    }

    /// Whether a just-accepted connection may be served (`false`: drop it).
    pub fn admit(&self) -> bool {
        if self.0.refuse.load(Ordering::Acquire) {
            return false;
        }
        let n = self.0.every_nth.load(Ordering::Acquire);
        if n == 0 {
            return true;
        }
        !(self.0.accepted.fetch_add(1, Ordering::AcqRel) + 1).is_multiple_of(n)
    }

    /// The connection as the protocol code should use it: through this gate.
    pub fn wrap(&self, conn: Conn) -> Conn {
        let slot = Arc::new(Mutex::new(None));
        {
            let mut waiting = lock(&self.0.waiting);
            waiting.retain(|w| w.strong_count() > 0);
            waiting.push(Arc::downgrade(&slot));
        }
        Conn::Faulty(Box::new(Faulty {
            inner: conn,
            gate: self.clone(),
            epoch: self.0.epoch.load(Ordering::Acquire),
            slot,
            registered: None,
            sleep: None,
        }))
    }

    fn delay(&self) -> Option<Duration> {
        let base = self.0.delay_ms.load(Ordering::Acquire);
        let jitter = self.0.jitter_ms.load(Ordering::Acquire);
        if base == 0 && jitter == 0 {
            return None;
        }
        let spread = if jitter == 0 {
            0
        } else {
            // A cheap pseudo-random spread; no need for a cryptographic generator here.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as u64)
                .unwrap_or(0);
            nanos % (2 * jitter + 1)
        };
        Some(Duration::from_millis(
            (base + spread).saturating_sub(jitter),
        ))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection read and written through a [`FaultGate`].
#[derive(Debug)]
pub struct Faulty {
    inner: Conn,
    gate: FaultGate,
    epoch: u64,
    slot: Arc<Mutex<Option<Waker>>>,
    /// The waker last put in `slot`.
    registered: Option<Waker>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Faulty {
    /// Whether the connection under the gate is encrypted.
    pub fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }

    /// An error when the gate reset this connection; the socket then closes with a RST.
    fn check(&mut self) -> io::Result<()> {
        let g = &self.gate.0;
        if g.epoch.load(Ordering::Acquire) == self.epoch && !g.refuse.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Conn::Plain(s) = &self.inner {
            // Linger 0: closing sends a RST, as a crashed peer's kernel would.
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
        }
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by fault injection",
        ))
    }
}

impl AsyncRead for Faulty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        // Registered at wrap time; a kill drains the list, but a connection registered before
        // a kill is reset by it, so it never needs registering again.
        // The task's waker rarely changes between polls: the copy kept here spares the lock.
        if !this
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            let waker = cx.waker().clone();
            *lock(&this.slot) = Some(waker.clone());
            this.registered = Some(waker);
        }
        this.check()?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Faulty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        if this.sleep.is_none()
            && let Some(d) = this.gate.delay()
        {
            this.sleep = Some(Box::pin(tokio::time::sleep(d)));
        }
        if let Some(sleep) = this.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_pending()
        {
            return Poll::Pending;
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.sleep = None;
                Poll::Ready(r)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A served connection through `gate` (echoing what it reads) and the client's end.
    async fn pair(gate: &FaultGate) -> (tokio::task::JoinHandle<io::Result<()>>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = gate.wrap(Conn::Plain(stream));
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                let n = conn.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                conn.write_all(&buf[..n]).await?;
            }
        });
        (server, client)
    }

    #[tokio::test]
    async fn replies_are_delayed_and_kill_resets_idle_connections() {
        let gate = FaultGate::new();
        let (server, mut client) = pair(&gate).await;
        gate.set_delay(Duration::from_millis(150), Duration::ZERO);
        let started = std::time::Instant::now();
        client.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        client.read_exact(&mut buf).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(150));
        gate.set_delay(Duration::ZERO, Duration::ZERO);
        // The server task is idle in a read: a kill reaches it at once.
        gate.kill_all();
        let ended = tokio::time::timeout(Duration::from_secs(2), server).await;
        let err = ended.unwrap().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        // Connections wrapped after the kill are not affected.
        let (_server, mut fresh) = pair(&gate).await;
        fresh.write_all(b"ok").await.unwrap();
        fresh.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ok");
    }

    #[test]
    fn every_nth_and_refusal_decide_admission() {
        let gate = FaultGate::new();
        gate.set_every_nth(3);
        let admitted: Vec<bool> = (0..6).map(|_| gate.admit()).collect();
        assert_eq!(admitted, [true, true, false, true, true, false]);
        gate.set_every_nth(0);
        gate.set_refuse(true);
        assert!(!gate.admit());
        gate.set_refuse(false);
        assert!(gate.admit());
    }
}
