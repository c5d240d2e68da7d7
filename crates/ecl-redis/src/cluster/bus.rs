//! The cluster bus, reduced to what clients can observe: Pub/Sub messages.
//!
//! Place in the flow: in cluster mode Redis broadcasts `PUBLISH` to every node of the cluster
//! and `SPUBLISH` to every node of the channel's shard over its cluster bus (instead of the
//! replication stream). All our nodes live in this process, so the bus is a registry of nodes
//! by id and one delivery task per publishing node: the dispatcher hands each message to
//! [`Bus::send`] (no lock of another node is ever taken while holding one's own), and the task
//! delivers messages in order, taking each target node's lock briefly.

use crate::conn::Shared;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::mpsc;
use tracing::Instrument;

fn registry() -> &'static Mutex<HashMap<String, Weak<Shared>>> {
    static R: OnceLock<Mutex<HashMap<String, Weak<Shared>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Makes a node reachable by id.
pub fn register(node_id: &str, shared: &Arc<Shared>) {
    if let Ok(mut m) = registry().lock() {
        m.retain(|_, w| w.strong_count() > 0);
        m.insert(node_id.to_string(), Arc::downgrade(shared));
    }
}

fn lookup(node_id: &str) -> Option<Arc<Shared>> {
    registry().lock().ok()?.get(node_id)?.upgrade()
}

/// One message on the bus.
#[derive(Debug)]
pub struct Message {
    /// Nodes to deliver to.
    pub targets: Vec<String>,
    /// Sharded (SPUBLISH) or classic channel.
    pub shard: bool,
    /// Channel.
    pub channel: Vec<u8>,
    /// Payload.
    pub payload: Vec<u8>,
}

/// A node's sending side of the bus.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: mpsc::UnboundedSender<Message>,
}

impl Bus {
    /// Starts the delivery task of one node.
    pub fn start(runtime: &tokio::runtime::Handle, span: &tracing::Span) -> Bus {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        runtime.spawn(
            async move {
                while let Some(m) = rx.recv().await {
                    for id in &m.targets {
                        if let Some(node) = lookup(id) {
                            let eng = node.lock();
                            eng.pubsub
                                .publish(&eng.clients, m.shard, &m.channel, &m.payload, None);
                        }
                    }
                }
            }
            .instrument(span.clone()),
        );
        Bus { tx }
    }

    /// Queues a message for delivery.
    pub fn send(&self, m: Message) {
        let _ = self.tx.send(m);
    }
}
