//! Cluster routing of keyed commands: `CROSSSLOT` when a command's keys span slots, `MOVED`
//! to the slot's owner, `ASK` / `TRYAGAIN` while the slot moves, replica reads for clients that
//! sent `READONLY`; and the broadcast of `PUBLISH` / `SPUBLISH` over the cluster bus.
//!
//! Place in the flow: the dispatcher calls [`route`] for every keyed command before it runs
//! (or is queued in MULTI), scripts call it for the keys they declare, and `PUBLISH` calls
//! [`broadcast_publish`]; both read the topology and slot moves the supervisor set in
//! [`crate::cluster::ClusterState`].

use crate::client::Client;
use crate::cluster::{ClusterShard, bus, key_slot};
use crate::command::{Argv, CommandSpec, flags};
use crate::engine::Engine;
use crate::errors::CmdError;

/// Checks that this node may serve a keyed command (see the module docs); `asking`: the
/// client sent `ASKING` just before (a moving slot's target then serves it).
pub fn route(
    eng: &Engine,
    client: &Client,
    spec: &CommandSpec,
    argv: &Argv<'_>,
    asking: bool,
) -> Result<(), CmdError> {
    // The slot of the first key; any other key of another slot is CROSSSLOT.
    let (mut slot, mut cross) = (None, false);
    spec.visit_key_positions(argv, |p| match slot {
        None => {
            slot = Some(key_slot(argv.get(p)));
            true
        }
        Some(s) => {
            cross = p < argv.len() && key_slot(argv.get(p)) != s;
            !cross
        }
    });
    let Some(slot) = slot else {
        return Ok(());
    };
    if cross {
        return Err(crate::errors::CROSSSLOT.into());
    }
    if !eng.cluster.moving.is_empty() {
        let keys: Vec<&[u8]> = (spec.key_positions(argv).iter())
            .filter(|&&p| p < argv.len())
            .map(|&p| argv.get(p))
            .collect();
        if let Some(r) = route_moving(eng, client, spec, &keys, slot, asking) {
            return r;
        }
    }
    let st = &eng.cluster;
    let owner = st.owner[slot as usize];
    let Some(shard) = st.topology.shards.get(owner as usize) else {
        return Err(crate::errors::CLUSTERDOWN_UNBOUND.into());
    };
    if Some(owner as usize) == st.my_shard {
        if st.primary_here {
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

/// Reply to a command touching a key of a slot being moved.
const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

/// Routing of a keyed command whose slot is moving (see the module docs); `None` when the
/// slot is not moving or this node takes no part, so the ordinary owner rule applies.
pub fn route_moving(
    eng: &Engine,
    client: &Client,
    spec: &CommandSpec,
    keys: &[&[u8]],
    slot: u16,
    asking: bool,
) -> Option<Result<(), CmdError>> {
    let st = &eng.cluster;
    let m = st.move_of(slot)?;
    // Sharded Pub/Sub channels are not keys of the keyspace: the owner serves them.
    if spec.has(flags::PUBSUB) {
        return None;
    }
    if st.is_primary_of(m.source) {
        let now = eng.now_ms();
        let db = &eng.dbs[client.db];
        let present = keys
            .iter()
            .filter(|k| {
                db.peek_raw(k)
                    .is_some_and(|e| e.expire_at == 0 || e.expire_at > now)
            })
            .count();
        if present == keys.len() {
            return Some(Ok(()));
        }
        if present > 0 {
            return Some(Err(TRYAGAIN.into()));
        }
        let t = &st.topology.shards.get(m.target)?.primary;
        return Some(Err(format!("ASK {slot} {}:{}", t.ip, t.port).into()));
    }
    if st.is_primary_of(m.target) && asking {
        return Some(Ok(()));
    }
    None
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
