//! The cluster bus, reduced to what clients can observe: Pub/Sub messages.
//!
//! Place in the flow: in cluster mode Redis broadcasts `PUBLISH` to every node of the cluster
//! and `SPUBLISH` to every node of the channel's shard over its cluster bus (instead of the
//! replication stream). All our nodes live in this process, so the bus is a registry of nodes
//! by id and one delivery task per publishing node: the dispatcher hands each message to
//! [`Bus::send`]; the task and the registry live with the node (`node::cluster`) (no lock of another node is ever taken while holding one's own), and the task
//! delivers messages in order, taking each target node's lock briefly.

use tokio::sync::mpsc;

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
    /// The sending side of a delivery task started by the node (`node::cluster`).
    pub(crate) fn from_sender(tx: mpsc::UnboundedSender<Message>) -> Bus {
        Bus { tx }
    }

    /// Queues a message for delivery.
    pub fn send(&self, m: Message) {
        let _ = self.tx.send(m);
    }
}
