//! Cluster mode: hash slots, this node's view of the cluster, and request routing.
//!
//! Place in the flow: the supervisor gives every cluster-mode node the whole topology with
//! [`RedisNode::set_cluster_topology`] (there is no gossip bus: the control plane is the source
//! of truth, as ElastiCache's is). The dispatcher calls [`route`] for every keyed command
//! before it runs (or is queued in MULTI): keys of one command must share a slot (`CROSSSLOT`),
//! the slot must belong to this node's shard (`MOVED <slot> <ip>:<port>` otherwise), and a
//! replica serves reads only to clients that sent `READONLY`. The `CLUSTER` command family in
//! [`commands`] renders the same topology; every address it prints is the announced endpoint
//! from the topology.

pub mod bus;
pub mod commands;
pub mod migrate;
pub mod slots;

use crate::client::Client;
use crate::command::{Argv, CommandSpec, flags};
use crate::engine::Engine;
use crate::errors::CmdError;
use crate::node::RedisNode;

pub use migrate::{MigrateStep, SlotMove};
pub use slots::{SLOTS, key_slot};

/// One node as the cluster announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNodeInfo {
    /// Node id (40 hex chars, [`RedisNode::node_id`]).
    pub node_id: String,
    /// Announced IP (MOVED, CLUSTER SLOTS/SHARDS/NODES).
    pub ip: String,
    /// Announced port.
    pub port: u16,
    /// Announced hostname, if any (CLUSTER SLOTS metadata, SHARDS `hostname`, NODES).
    pub hostname: Option<String>,
}

/// One shard (ElastiCache node group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterShard {
    /// Shard id (40 hex chars, CLUSTER MYSHARDID).
    pub shard_id: String,
    /// Inclusive slot ranges served by the shard.
    pub slots: Vec<(u16, u16)>,
    /// The shard's primary.
    pub primary: ClusterNodeInfo,
    /// Its replicas.
    pub replicas: Vec<ClusterNodeInfo>,
}

/// The whole cluster as one node sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterTopology {
    /// Every shard.
    pub shards: Vec<ClusterShard>,
}

/// Cluster state behind the node lock.
#[derive(Debug)]
pub struct ClusterState {
    /// This node's id.
    pub node_id: String,
    /// The topology last set.
    pub topology: ClusterTopology,
    /// Shard index owning each slot (`u16::MAX` = unassigned); empty until a topology is set.
    pub owner: Vec<u16>,
    /// This node's shard index, if the topology lists it.
    pub my_shard: Option<usize>,
    /// Topology changes so far (reported as the config epoch).
    pub epoch: u64,
    /// When the topology was last set (Unix ms), for CLUSTER LINKS.
    pub since_ms: i64,
    /// This node's sending side of the Pub/Sub bus (set with the first topology).
    pub bus: Option<bus::Bus>,
    /// This node's replication offset, published for other nodes' CLUSTER SHARDS.
    pub offset_cell: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Slot moves in progress ([`migrate`]), by shard index of `topology`.
    pub moves: Vec<SlotMove>,
    /// Index into `moves` of each slot (`u16::MAX` = not moving); empty when none move.
    pub moving: Vec<u16>,
}

impl Default for ClusterState {
    fn default() -> Self {
        let node_id = crate::replication::random_hex40();
        let offset_cell = std::sync::Arc::default();
        commands::offsets::register(&node_id, &offset_cell);
        ClusterState {
            node_id,
            topology: ClusterTopology::default(),
            owner: Vec::new(),
            my_shard: None,
            epoch: 0,
            since_ms: 0,
            offset_cell,
            bus: None,
            moves: Vec::new(),
            moving: Vec::new(),
        }
    }
}

impl ClusterState {
    /// Replaces the topology and rebuilds the slot map.
    pub fn set(&mut self, topology: ClusterTopology) {
        let mut owner = vec![u16::MAX; SLOTS];
        for (i, s) in topology.shards.iter().enumerate() {
            for &(a, b) in &s.slots {
                for slot in a..=b.min(SLOTS as u16 - 1) {
                    owner[slot as usize] = i as u16;
                }
            }
        }
        self.my_shard = topology.shards.iter().position(|s| {
            s.primary.node_id == self.node_id
                || s.replicas.iter().any(|r| r.node_id == self.node_id)
        });
        self.owner = owner;
        self.topology = topology;
        // Moves name shards of the previous topology: a new slot map ends them.
        self.set_moves(Vec::new());
        self.epoch += 1;
        self.since_ms = crate::engine::wall_ms();
    }

    /// Whether routing applies (a topology has been set).
    pub fn active(&self) -> bool {
        !self.owner.is_empty()
    }

    /// This node's entry in the topology.
    pub fn me(&self) -> Option<(&ClusterShard, &ClusterNodeInfo, bool)> {
        let s = &self.topology.shards[self.my_shard?];
        if s.primary.node_id == self.node_id {
            return Some((s, &s.primary, true));
        }
        s.replicas
            .iter()
            .find(|r| r.node_id == self.node_id)
            .map(|r| (s, r, false))
    }

    /// Slots assigned to any shard.
    pub fn assigned(&self) -> usize {
        self.owner.iter().filter(|&&o| o != u16::MAX).count()
    }
}

/// Checks that this node may serve a keyed command (see the module docs); `asking`: the
/// client sent `ASKING` just before (a moving slot's target then serves it).
pub fn route(
    eng: &Engine,
    client: &Client,
    spec: &CommandSpec,
    argv: &Argv<'_>,
    asking: bool,
) -> Result<(), CmdError> {
    let positions = spec.key_positions(argv);
    let Some(&first) = positions.first() else {
        return Ok(());
    };
    let slot = key_slot(argv.get(first));
    for &p in &positions[1..] {
        if p < argv.len() && key_slot(argv.get(p)) != slot {
            return Err(crate::errors::CROSSSLOT.into());
        }
    }
    if !eng.cluster.moving.is_empty() {
        let keys: Vec<&[u8]> = positions
            .iter()
            .filter(|&&p| p < argv.len())
            .map(|&p| argv.get(p))
            .collect();
        if let Some(r) = migrate::route_moving(eng, client, spec, &keys, slot, asking) {
            return r;
        }
    }
    let st = &eng.cluster;
    let owner = st.owner[slot as usize];
    let Some(shard) = st.topology.shards.get(owner as usize) else {
        return Err(crate::errors::CLUSTERDOWN_UNBOUND.into());
    };
    if Some(owner as usize) == st.my_shard {
        if shard.primary.node_id == st.node_id {
            return Ok(());
        }
        let read = spec.has(flags::READONLY) && !spec.has(flags::WRITE);
        // Sharded Pub/Sub is served by every node of the shard, READONLY or not.
        if (read && client.readonly) || spec.has(flags::PUBSUB) {
            return Ok(());
        }
    }
    Err(format!("MOVED {slot} {}:{}", shard.primary.ip, shard.primary.port).into())
}

/// Broadcasts a message this node published: `PUBLISH` to every other node of the cluster,
/// `SPUBLISH` to the other nodes of the channel's shard (as Redis' cluster bus does).
pub fn broadcast_publish(eng: &Engine, shard: bool, channel: &[u8], payload: &[u8]) {
    let st = &eng.cluster;
    let Some(bus) = &st.bus else { return };
    let shards: Vec<&ClusterShard> = if shard {
        let owner = st.owner.get(key_slot(channel) as usize).copied();
        owner
            .and_then(|o| st.topology.shards.get(o as usize))
            .into_iter()
            .collect()
    } else {
        st.topology.shards.iter().collect()
    };
    let targets: Vec<String> = shards
        .iter()
        .flat_map(|s| std::iter::once(&s.primary).chain(&s.replicas))
        .map(|n| n.node_id.clone())
        .filter(|id| *id != st.node_id)
        .collect();
    if !targets.is_empty() {
        bus.send(bus::Message {
            targets,
            shard,
            channel: channel.to_vec(),
            payload: payload.to_vec(),
        });
    }
}

impl RedisNode {
    /// Cluster mode: this node's view of the cluster (replaces the previous one).
    pub fn set_cluster_topology(&self, topology: ClusterTopology) {
        let mut eng = self.shared.lock();
        if eng.cluster.bus.is_none() {
            bus::register(&eng.cluster.node_id, &self.shared);
            eng.cluster.bus = Some(bus::Bus::start(&self.runtime, &self.span));
        }
        eng.cluster.set(topology);
    }

    /// Cluster-mode node id (40 hex chars, stable for the node's life).
    pub fn node_id(&self) -> String {
        self.shared.lock().cluster.node_id.clone()
    }
}
