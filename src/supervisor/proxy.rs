//! Cluster-level endpoints that forward TCP connections to nodes: a replication group's primary
//! endpoint (to the current primary), reader endpoint (spread over the replicas) and a cluster
//! mode configuration endpoint (to any node).
//!
//! Place in the flow: in ElastiCache these endpoints are DNS names that resolve to a node; a
//! local emulator cannot rely on DNS, so each gets its own address from the allocator (reported
//! truthfully by the API) and this forwarder relays every accepted connection to one of its
//! targets. When the targets change (failover, replicas added or removed), connections to a
//! target that is no longer listed are closed, as a DNS-based endpoint's clients are disconnected
//! from a demoted primary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// TLS of a forwarding endpoint whose nodes serve TLS: the endpoint terminates the client's
/// TLS session with a certificate naming its own address (a client verifies the host it dialled,
/// and a node's certificate names the node), then opens its own TLS session to the node. Relaying
/// the encrypted bytes untouched would show clients the node's certificate for the endpoint's
/// address, which every verifying client refuses.
pub struct ProxyTls {
    /// How client connections are accepted (the group's TransitEncryptionMode).
    pub accept: ecl_net::TlsPolicy,
    /// How the endpoint reaches the nodes: TLS trusting the emulator's CA.
    pub upstream: Arc<ecl_net::rustls::ClientConfig>,
}

/// A running forwarding endpoint.
pub struct Forwarder {
    tls: ecl_net::Swap<ProxyTls>,
    /// Whether plaintext clients may stay connected (false once TLS is required).
    plaintext_ok: watch::Sender<bool>,
    targets: watch::Sender<Arc<Vec<SocketAddr>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    local: SocketAddr,
}

impl Forwarder {
    /// Binds `bind` and starts relaying connections to `targets` (round robin per connection);
    /// `name` (the endpoint's key) labels the `node` span its tasks log in.
    pub async fn start(
        name: &str,
        bind: SocketAddr,
        targets: Vec<SocketAddr>,
        tls: Option<ProxyTls>,
    ) -> std::io::Result<Forwarder> {
        let listener = TcpListener::bind(bind).await?;
        let local = listener.local_addr()?;
        let (targets_tx, targets_rx) = watch::channel(Arc::new(targets));
        let (stop_tx, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("node", node = %name, addr = %local);
        let (plaintext_ok, plaintext_rx) = watch::channel(plaintext_allowed(tls.as_ref()));
        let tls = ecl_net::Swap::new(tls);
        let watches = Watches {
            targets: targets_rx,
            stop: stop_rx,
            plaintext_ok: plaintext_rx,
        };
        let task = tokio::spawn(accept_loop(listener, watches, tls.clone()).instrument(span));
        Ok(Forwarder {
            tls,
            plaintext_ok,
            targets: targets_tx,
            stop: stop_tx,
            task,
            local,
        })
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Replaces the targets; open connections to a target no longer listed are closed.
    pub fn set_targets(&self, targets: Vec<SocketAddr>) {
        self.targets.send_replace(Arc::new(targets));
    }

    /// Replaces the TLS of connections accepted from now on (in-place TransitEncryptionMode
    /// migration). Open TLS connections stay; once TLS is required, open plaintext ones are
    /// closed, as ElastiCache drops them when a group reaches `required`.
    pub fn set_tls(&self, tls: Option<ProxyTls>) {
        self.plaintext_ok
            .send_replace(plaintext_allowed(tls.as_ref()));
        self.tls.set(tls);
    }

    /// Closes the listener and every relayed connection.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

/// Whether a policy lets plaintext clients in (no TLS, or `preferred`).
fn plaintext_allowed(tls: Option<&ProxyTls>) -> bool {
    tls.is_none_or(|t| !t.accept.required)
}

/// What every relayed connection watches: the endpoint's targets, its stop signal, and whether
/// plaintext is still allowed.
#[derive(Clone)]
struct Watches {
    targets: watch::Receiver<Arc<Vec<SocketAddr>>>,
    stop: watch::Receiver<bool>,
    plaintext_ok: watch::Receiver<bool>,
}

async fn accept_loop(listener: TcpListener, watches: Watches, tls: ecl_net::Swap<ProxyTls>) {
    let mut stop = watches.stop.clone();
    let next = AtomicUsize::new(0);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let current = watches.targets.borrow().clone();
                if current.is_empty() {
                    // No node to relay to (all down): close at once so clients retry.
                    continue;
                }
                let target = current[next.fetch_add(1, Ordering::Relaxed) % current.len()];
                connections.spawn(
                    relay(client, target, watches.clone(), tls.current()).in_current_span(),
                );
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// Relays one client connection to `target` until either side closes, the target is removed
/// from the endpoint, the endpoint stops, or (a plaintext client) TLS becomes required.
async fn relay(
    client: TcpStream,
    target: SocketAddr,
    watches: Watches,
    tls: Option<Arc<ProxyTls>>,
) {
    let Watches {
        mut targets,
        mut stop,
        mut plaintext_ok,
    } = watches;
    let Some(mut client) = ecl_net::accept(tls.as_ref().map(|t| &t.accept), client).await else {
        return;
    };
    let upstream = ecl_net::connect(target, tls.as_ref().map(|t| &t.upstream)).await;
    let Ok(mut upstream) = upstream else {
        tracing::debug!(%target, "target unreachable: closing the client connection");
        return;
    };
    tracing::debug!(%target, tls = client.is_tls(), "relaying a connection");
    let retargeted = async {
        loop {
            if targets.changed().await.is_err() {
                return;
            }
            if !targets.borrow().contains(&target) {
                return;
            }
        }
    };
    let encrypted = client.is_tls();
    let refused = async {
        while encrypted || *plaintext_ok.borrow_and_update() {
            if plaintext_ok.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tracing::debug!("plaintext connection closed: TLS is now required");
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = retargeted => {}
        _ = refused => {}
        _ = stop.changed() => {}
    }
}
