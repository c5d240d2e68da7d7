//! Cluster mode's state: hash slots, this node's view of the cluster and the slot moves in
//! progress.
//!
//! Place in the flow: below the engine, which holds one [`ClusterState`]. The supervisor gives
//! every cluster-mode node the whole topology through `RedisNode::set_cluster_topology`
//! (`node::cluster`; there is no gossip bus: the control plane is the source of truth, as
//! ElastiCache's is). The dispatcher routes every keyed command by this state
//! (`command::route`: `CROSSSLOT`, `MOVED <slot> <ip>:<port>`, `ASK`, replica reads after
//! `READONLY`), and the `CLUSTER` command family (`command::cluster`) renders it; every
//! address either prints is the announced endpoint from the topology.
pub mod bus;
pub mod moves;
pub mod offsets;
pub mod slots;

pub use moves::{MigrateStep, SlotMove};
pub use slots::{SLOTS, key_slot};

/// One node as the cluster announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNodeInfo {
    /// Node id (40 hex chars, [`crate::RedisNode::node_id`]).
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
    /// Whether this node is its shard's primary (routing asks for every keyed command).
    pub primary_here: bool,
    /// Topology changes so far (reported as the config epoch).
    pub epoch: u64,
    /// When the topology was last set (Unix ms), for CLUSTER LINKS.
    pub since_ms: i64,
    /// This node's sending side of the Pub/Sub bus (set with the first topology).
    pub bus: Option<bus::Bus>,
    /// This node's replication offset, published for other nodes' CLUSTER SHARDS.
    pub offset_cell: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Slot moves in progress ([`moves`]), by shard index of `topology`.
    pub moves: Vec<SlotMove>,
    /// Index into `moves` of each slot (`u16::MAX` = not moving); empty when none move.
    pub moving: Vec<u16>,
}

impl Default for ClusterState {
    fn default() -> Self {
        let node_id = crate::ids::random_hex40();
        let offset_cell = std::sync::Arc::default();
        offsets::register(&node_id, &offset_cell);
        ClusterState {
            node_id,
            topology: ClusterTopology::default(),
            owner: Vec::new(),
            my_shard: None,
            primary_here: false,
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
        self.primary_here =
            (self.my_shard).is_some_and(|i| topology.shards[i].primary.node_id == self.node_id);
        self.owner = owner;
        self.topology = topology;
        // Moves name shards of the previous topology: a new slot map ends them.
        self.set_moves(Vec::new());
        self.epoch += 1;
        self.since_ms = crate::clock::wall_ms();
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
