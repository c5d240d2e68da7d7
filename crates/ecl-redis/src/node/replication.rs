//! The replication side of a node handle: following another node of this process or a
//! Redis server over the network, promotion, role and offset, announced endpoint, and
//! cutting a link (fault injection).
//!
//! Place in the flow: the supervisor calls these [`RedisNode`] methods; the link tasks are
//! `crate::replication`, the state they change is `crate::engine::replication`.

use super::RedisNode;
use crate::engine::replication::own_endpoint;
use crate::engine::replication::{
    LinkState, RemoteState, RemoteStatus, RemoteUpstream, ReplicationRole, Upstream,
};
use crate::engine::wall_ms;
use crate::ids::random_hex40;
use crate::replication::{apply_loop, attach, remote};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tracing::Instrument;

impl RedisNode {
    /// Become a replica of `primary` (in-process link, both nodes live in this process):
    /// full copy of the primary's data, then its write stream, asynchronously as in Redis.
    /// `announced` is the primary's endpoint as clients see it (INFO master_host/master_port).
    /// Calling it again re-targets the node (the previous link is dropped); calling it with the
    /// node itself is ignored.
    pub fn replicate_from(&self, primary: &RedisNode, announced: (String, u16)) {
        if Arc::ptr_eq(&self.shared, &primary.shared) {
            return;
        }
        let link = Arc::new(LinkState::new(wall_ms()));
        // Leave the old primary and stop accepting writes before the copy is taken.
        let (me, generation) = {
            let mut eng = self.shared.lock();
            eng.repl.detach();
            eng.release_waiters();
            eng.repl.resync_downstream();
            eng.repl.upstream = Some(Upstream {
                primary: announced.clone(),
                link: link.clone(),
                task: None,
            });
            for db in &mut eng.dbs {
                db.keep_expired = true;
            }
            (own_endpoint(&eng), eng.repl.generation)
        };
        let first = attach(&primary.shared, &link, me.clone());
        let task = self.runtime.spawn(
            apply_loop(
                self.shared.clone(),
                primary.shared.clone(),
                link,
                generation,
                me,
                first,
            )
            .instrument(self.span.clone()),
        );
        let mut eng = self.shared.lock();
        let current = eng.repl.generation == generation;
        match eng.repl.upstream.as_mut() {
            Some(up) if current => up.task = Some(task.abort_handle()),
            _ => task.abort(),
        }
    }

    /// Stop replicating and serve writes as a primary, keeping the data.
    pub fn promote(&self) {
        let mut eng = self.shared.lock();
        if !eng.repl.is_replica() {
            return;
        }
        eng.repl.detach();
        // As a primary the node expires keys itself again (and propagates the DELs).
        for db in &mut eng.dbs {
            db.keep_expired = false;
        }
        let r = &mut eng.repl;
        r.replid2 = std::mem::replace(&mut r.replid, random_hex40());
        r.second_offset = r.offset as i64 + 1;
        r.last_db = None;
        tracing::info!(addr = %self.local_addr(), offset = r.offset, "replica promoted to primary");
    }

    /// Holds clients' writes for at most `longest` (as CLIENT PAUSE WRITE does) so a graceful
    /// failover can let a replica catch up with a final offset: a write the node acknowledges
    /// after the offset was read would be lost when the replica takes over. Reads go on. The
    /// held writes run when [`RedisNode::resume_writes`] lifts the pause, by then on a replica,
    /// which refuses them with READONLY, as redis-server's FAILOVER does.
    pub fn hold_writes(&self, longest: std::time::Duration) {
        let mut eng = self.shared.lock();
        let until = eng.now_ms().saturating_add(longest.as_millis() as i64);
        let pause = match eng.pause() {
            // A client's own CLIENT PAUSE that reaches further, or pauses reads too, stays.
            Some((u, w)) => (u.max(until), w),
            None => (until, true),
        };
        eng.set_pause(Some(pause));
    }

    /// Lifts the pause of [`RedisNode::hold_writes`] (and any CLIENT PAUSE, as CLIENT UNPAUSE).
    pub fn resume_writes(&self) {
        self.shared.lock().set_pause(None);
    }

    /// Replication offset: master_repl_offset on a primary, processed offset on a replica.
    pub fn replication_offset(&self) -> u64 {
        self.shared.lock().repl.offset
    }

    /// Current role.
    pub fn role(&self) -> ReplicationRole {
        let eng = self.shared.lock();
        match &eng.repl.upstream {
            None => ReplicationRole::Primary,
            Some(up) => ReplicationRole::Replica {
                primary: up.primary.clone(),
                link_up: up.link.online.load(Ordering::Acquire)
                    && !up.link.closed.load(Ordering::Acquire),
            },
        }
    }

    /// Sets the endpoint this node reports for itself to its primary (INFO `slaveN:ip,port`,
    /// ROLE), like Redis' `replica-announce-ip`/`replica-announce-port` (which can also be
    /// given in [`crate::RedisConfig::parameters`]). Applies to links made afterwards.
    pub fn set_announce(&self, endpoint: (String, u16)) {
        let mut eng = self.shared.lock();
        let _ = eng.cfg.set("replica-announce-ip", &endpoint.0);
        let _ = eng
            .cfg
            .set("replica-announce-port", &endpoint.1.to_string());
    }

    /// Cuts this replica's link to its primary as a network partition would (fault
    /// injection): the replica keeps its data and role, stops applying the stream, and reports
    /// the link down; the primary forgets it (WAIT no longer counts it). Re-linking takes a
    /// new [`RedisNode::replicate_from`]. `false` when the node is not a replica.
    pub fn cut_replication_link(&self) -> bool {
        let eng = self.shared.lock();
        let Some(up) = &eng.repl.upstream else {
            return false;
        };
        up.link.closed.store(true, Ordering::Release);
        up.link.online.store(false, Ordering::Release);
        up.link.down_since_ms.store(wall_ms(), Ordering::Release);
        if let Some(task) = &up.task {
            task.abort();
        }
        true
    }
}

impl RedisNode {
    /// Replicates the Redis server at `source` over the network until
    /// [`RedisNode::stop_remote_replication`]: clients' writes are refused meanwhile; the
    /// node's own replicas keep following it. Re-targets a link already running.
    pub fn replicate_from_remote(&self, source: (String, u16)) {
        let state = Arc::new(RemoteState::default());
        let generation = {
            let mut eng = self.shared.lock();
            eng.repl.generation += 1;
            if let Some(old) = eng.repl.remote.take()
                && let Some(t) = old.task
            {
                t.abort();
            }
            eng.repl.remote = Some(RemoteUpstream {
                source: source.clone(),
                state: state.clone(),
                task: None,
            });
            for db in &mut eng.dbs {
                db.keep_expired = true;
            }
            eng.repl.generation
        };
        let task = self.runtime.spawn(
            remote::run(self.shared.clone(), state, source, generation)
                .instrument(self.span.clone()),
        );
        let mut eng = self.shared.lock();
        let current = eng.repl.generation == generation;
        match eng.repl.remote.as_mut() {
            Some(r) if current => r.task = Some(task.abort_handle()),
            _ => task.abort(),
        }
    }

    /// Ends a network replication link, keeping the data: the node serves writes again.
    pub fn stop_remote_replication(&self) {
        let mut eng = self.shared.lock();
        let Some(old) = eng.repl.remote.take() else {
            return;
        };
        eng.repl.generation += 1;
        if let Some(t) = old.task {
            t.abort();
        }
        for db in &mut eng.dbs {
            db.keep_expired = false;
        }
        tracing::info!(source = ?old.source, "network replication stopped; node writable");
    }

    /// The network link's status, if the node has one.
    pub fn remote_status(&self) -> Option<RemoteStatus> {
        let eng = self.shared.lock();
        eng.repl.remote.as_ref().map(|r| r.state.status())
    }
}
