//! Status transitions of the records: each record's `begin` / `complete` / `set_status`
//! methods, every move checked against the tables of [`super::lifecycle`].
//!
//! Place in the flow: handlers and background lifecycle tasks call these methods on the
//! records of the region; an illegal move is refused (an error at the start of an operation,
//! a warning when a task completes), never assigned silently.

use super::lifecycle::*;
use super::records::{CacheClusterRecord, CacheNodeRecord, UserGroupRecord, UserRecord};
use super::replication_groups::{NodeGroupRecord, ReplicationGroupRecord};
use super::snapshots::SnapshotRecord;

/// Moves `status` to `to` when the table allows it.
pub(super) fn step<S: Lifecycle>(status: &mut S, to: S) -> bool {
    let legal = status.can_become(to);
    if legal {
        *status = to;
    }
    legal
}

/// Moves `status` to `to` at the end of a transition: nothing to do when it is there already
/// (parts an operation did not touch), refused with a warning when the table disagrees.
pub(super) fn settle<S: Lifecycle>(status: &mut S, to: S, what: &str, id: &str) {
    if *status != to && !step(status, to) {
        tracing::warn!(
            resource = what,
            %id,
            from = status.as_str(),
            to = to.as_str(),
            "illegal status transition refused"
        );
    }
}

impl SnapshotRecord {
    /// Moves the snapshot to `to` (checked against the table); the error is
    /// `InvalidSnapshotState`'s reason.
    pub fn begin(&mut self, to: SnapshotStatus) -> Result<(), String> {
        if self.status.can_become(to) {
            self.status = to;
            Ok(())
        } else {
            Err(format!(
                "Snapshot {} is not in available state (current state: {}).",
                self.name,
                self.status.as_str()
            ))
        }
    }

    /// Completes a snapshot transition (background tasks).
    pub fn complete(&mut self, to: SnapshotStatus) {
        settle(&mut self.status, to, "snapshot", &self.name);
    }
}

impl CacheNodeRecord {
    /// Starts a node transition (reboot, restart, delete).
    pub fn begin(&mut self, to: NodeStatus) {
        settle(&mut self.status, to, "cache node", &self.id);
    }

    /// Completes a node transition (usually to `available`).
    pub fn complete(&mut self, to: NodeStatus) {
        settle(&mut self.status, to, "cache node", &self.id);
    }
}

impl CacheClusterRecord {
    /// Whether the cluster can take an operation moving it to `to`; the error is the one
    /// AWS answers (`InvalidCacheClusterState`).
    pub fn check(&self, to: ClusterStatus) -> Result<(), StateError> {
        if self.status.can_become(to) {
            Ok(())
        } else {
            Err(StateError::ClusterState {
                id: self.id.clone(),
                status: self.status,
            })
        }
    }

    /// Starts an operation: moves to `to` (checked) and bumps the generation, so tasks of
    /// earlier operations stop touching the record.
    pub fn begin(&mut self, to: ClusterStatus) -> Result<(), StateError> {
        self.check(to)?;
        self.status = to;
        self.generation += 1;
        Ok(())
    }

    /// Completes a transition (background tasks): `available` or `incompatible-network`.
    pub fn complete(&mut self, to: ClusterStatus) {
        settle(&mut self.status, to, "cache cluster", &self.id);
    }

    /// A replication group member takes its group's transition whatever its own status
    /// (`modifying` for a restart, `available` when the group's task ends).
    pub fn follow_group(&mut self, to: ClusterStatus) {
        self.status = to;
    }

    /// A member removed by its group (DecreaseReplicaCount, DeleteCacheCluster of a replica,
    /// DeleteReplicationGroup): it and its nodes go `deleting` whatever their status.
    pub fn retire(&mut self) {
        self.status = ClusterStatus::Deleting;
        for n in &mut self.nodes {
            n.status = NodeStatus::Deleting;
        }
        self.generation += 1;
    }

    /// Sets the parameter status of the cluster and every node.
    pub fn set_parameter_status(&mut self, s: ParameterStatus) {
        self.parameter_apply_status = s;
        for n in &mut self.nodes {
            n.parameter_group_status = s;
        }
    }
}

impl NodeGroupRecord {
    /// Starts or completes a shard transition; shards an operation did not touch are already
    /// where the group goes.
    pub fn settle(&mut self, to: GroupStatus) {
        settle(&mut self.status, to, "node group", &self.id);
    }
}

impl ReplicationGroupRecord {
    /// Whether the group can take an operation moving it to `to`; the error is the one AWS
    /// answers (`InvalidReplicationGroupState`).
    pub fn check(&self, to: GroupStatus) -> Result<(), StateError> {
        if self.status.can_become(to) {
            Ok(())
        } else {
            Err(StateError::GroupState {
                id: self.id.clone(),
                status: self.status,
            })
        }
    }

    /// Starts an operation on the group: moves it to `to` (checked), bumps the generation,
    /// and moves the listed shards (`None`: every shard) along.
    pub fn begin(&mut self, to: GroupStatus, shards: Option<&[String]>) -> Result<(), StateError> {
        self.check(to)?;
        self.status = to;
        self.generation += 1;
        for ng in &mut self.node_groups {
            if shards.is_none_or(|s| s.contains(&ng.id)) {
                ng.settle(to);
            }
        }
        Ok(())
    }

    /// Completes the group's transition, every shard with it.
    pub fn complete(&mut self, to: GroupStatus) {
        settle(&mut self.status, to, "replication group", &self.id);
        for ng in &mut self.node_groups {
            ng.settle(to);
        }
    }
}

impl UserRecord {
    /// Starts an operation on the user (`modifying`, `deleting`): `Err` with the current
    /// status when the table refuses (AWS answers `InvalidUserState`); bumps the generation.
    pub fn begin(&mut self, to: UserStatus) -> Result<(), UserStatus> {
        if !step(&mut self.status, to) {
            return Err(self.status);
        }
        self.generation += 1;
        Ok(())
    }

    /// Completes the user's transition (background task).
    pub fn complete(&mut self, to: UserStatus) {
        settle(&mut self.status, to, "user", &self.user_id);
    }
}

impl UserGroupRecord {
    /// Starts an operation on the user group: `Err` with the current status when the table
    /// refuses (AWS answers `InvalidUserGroupState`); bumps the generation.
    pub fn begin(&mut self, to: UserGroupStatus) -> Result<(), UserGroupStatus> {
        if !step(&mut self.status, to) {
            return Err(self.status);
        }
        self.generation += 1;
        Ok(())
    }

    /// Completes the group's transition (background task).
    pub fn complete(&mut self, to: UserGroupStatus) {
        settle(&mut self.status, to, "user group", &self.id);
    }
}
