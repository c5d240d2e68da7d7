//! Every status a resource can report, its wire string, and the legal transitions between
//! statuses: one table per kind of resource, all here.
//!
//! Place in the flow: handlers ask a record for a transition when an operation starts
//! (`CacheClusterRecord::begin`, `ReplicationGroupRecord::begin`, in `transitions.rs`, which
//! checks every move against the tables here); a transition the table
//! does not list is refused with a [`StateError`], which the control plane answers as
//! `InvalidCacheClusterState` / `InvalidReplicationGroupState`. Background lifecycle tasks
//! complete transitions the same way (`CacheClusterRecord::complete`). Lookups of the
//! region (`Region::cluster`, `Region::available_group`, ...) return the same error type for
//! missing resources.
//!
//! One exception is written down rather than hidden: a replication group drives its member
//! clusters, so a member follows its group's transition whatever its own status
//! (`CacheClusterRecord::follow_group`), as ElastiCache reports it.

use std::fmt::Debug;

/// A status with a wire string and a table of legal transitions.
pub trait Lifecycle: Copy + Eq + Debug + 'static {
    /// Every legal `(from, to)` pair.
    const TRANSITIONS: &'static [(Self, Self)];

    /// The string the API reports.
    fn as_str(self) -> &'static str;

    /// Whether `self → to` is a legal transition.
    fn can_become(self, to: Self) -> bool {
        Self::TRANSITIONS.contains(&(self, to))
    }
}

/// `CacheClusterStatus` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClusterStatus {
    /// `creating`: nodes are starting.
    Creating,
    /// `available`: every node listens.
    Available,
    /// `modifying`: a modification is being applied.
    Modifying,
    /// `rebooting cluster nodes`.
    Rebooting,
    /// `snapshotting`.
    Snapshotting,
    /// `deleting`: nodes are stopping; the record disappears afterwards.
    Deleting,
    /// `incompatible-network`: a node could not get its endpoint (bind failure).
    IncompatibleNetwork,
}

impl ClusterStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Creating => "creating",
            ClusterStatus::Available => "available",
            ClusterStatus::Modifying => "modifying",
            ClusterStatus::Rebooting => "rebooting cluster nodes",
            ClusterStatus::Snapshotting => "snapshotting",
            ClusterStatus::Deleting => "deleting",
            ClusterStatus::IncompatibleNetwork => "incompatible-network",
        }
    }
}

impl Lifecycle for ClusterStatus {
    const TRANSITIONS: &'static [(Self, Self)] = {
        use ClusterStatus::*;
        &[
            // Operations start from `available` (Delete also from a failed network).
            (Available, Modifying),
            (Available, Rebooting),
            (Available, Snapshotting),
            (Available, Deleting),
            (IncompatibleNetwork, Deleting),
            // Background tasks complete them: `available`, or `incompatible-network` when a
            // node cannot get its endpoint.
            (Creating, Available),
            (Modifying, Available),
            (Rebooting, Available),
            (Snapshotting, Available),
            (Creating, IncompatibleNetwork),
            (Modifying, IncompatibleNetwork),
            (Rebooting, IncompatibleNetwork),
        ]
    };

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }
}

/// `CacheNodeStatus` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NodeStatus {
    /// `creating`
    Creating,
    /// `available`
    Available,
    /// `rebooting`
    Rebooting,
    /// `modifying`
    Modifying,
    /// `deleting`
    Deleting,
}

impl NodeStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Creating => "creating",
            NodeStatus::Available => "available",
            NodeStatus::Rebooting => "rebooting",
            NodeStatus::Modifying => "modifying",
            NodeStatus::Deleting => "deleting",
        }
    }
}

impl Lifecycle for NodeStatus {
    const TRANSITIONS: &'static [(Self, Self)] = {
        use NodeStatus::*;
        &[
            (Creating, Available),
            (Creating, Deleting),
            (Available, Rebooting),
            (Available, Modifying),
            (Available, Deleting),
            // A cluster whose transition failed (`incompatible-network`) can still be deleted.
            (Rebooting, Deleting),
            (Modifying, Deleting),
            (Rebooting, Available),
            (Modifying, Available),
        ]
    };

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }
}

/// `ReplicationGroup.Status` values (node groups report the same values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GroupStatus {
    /// `creating`
    Creating,
    /// `available`
    Available,
    /// `modifying`
    Modifying,
    /// `deleting`
    Deleting,
    /// `create-failed`
    CreateFailed,
    /// `snapshotting`
    Snapshotting,
    /// `migrating`: the primary replicates an outside Redis server (StartMigration).
    Migrating,
}

impl GroupStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Creating => "creating",
            GroupStatus::Available => "available",
            GroupStatus::Modifying => "modifying",
            GroupStatus::Deleting => "deleting",
            GroupStatus::CreateFailed => "create-failed",
            GroupStatus::Snapshotting => "snapshotting",
            GroupStatus::Migrating => "migrating",
        }
    }
}

impl Lifecycle for GroupStatus {
    const TRANSITIONS: &'static [(Self, Self)] = {
        use GroupStatus::*;
        &[
            (Available, Modifying),
            (Available, Snapshotting),
            (Available, Deleting),
            (CreateFailed, Deleting),
            (Creating, Available),
            (Creating, CreateFailed),
            (Modifying, Available),
            (Snapshotting, Available),
            (Available, Migrating),
            (Migrating, Available),
        ]
    };

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }
}

/// `User.Status` values. A new user answers `active` straight away (as AWS does); a
/// modification passes through `modifying`, a deletion through `deleting`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserStatus {
    /// `active`
    Active,
    /// `modifying`: new passwords or access string are being pushed to the engines.
    Modifying,
    /// `deleting`: the record disappears afterwards.
    Deleting,
}

impl Lifecycle for UserStatus {
    const TRANSITIONS: &'static [(Self, Self)] = {
        use UserStatus::*;
        &[(Active, Modifying), (Active, Deleting), (Modifying, Active)]
    };

    fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Modifying => "modifying",
            UserStatus::Deleting => "deleting",
        }
    }
}

/// `UserGroup.Status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserGroupStatus {
    /// `creating`
    Creating,
    /// `active`
    Active,
    /// `modifying`: membership changes are pending (`PendingChanges`).
    Modifying,
    /// `deleting`
    Deleting,
}

impl Lifecycle for UserGroupStatus {
    const TRANSITIONS: &'static [(Self, Self)] = {
        use UserGroupStatus::*;
        &[
            (Creating, Active),
            (Active, Modifying),
            (Modifying, Active),
            (Active, Deleting),
        ]
    };

    fn as_str(self) -> &'static str {
        match self {
            UserGroupStatus::Creating => "creating",
            UserGroupStatus::Active => "active",
            UserGroupStatus::Modifying => "modifying",
            UserGroupStatus::Deleting => "deleting",
        }
    }
}

/// `SnapshotStatus` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SnapshotStatus {
    /// `creating`: the images are being taken.
    Creating,
    /// `available`: restorable, copyable, deletable.
    Available,
    /// `copying`: a CopySnapshot export is being written.
    Copying,
    /// `deleting`: the record disappears afterwards.
    Deleting,
    /// `failed`: no image could be taken (a node was down).
    Failed,
}

impl SnapshotStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Creating => "creating",
            SnapshotStatus::Available => "available",
            SnapshotStatus::Copying => "copying",
            SnapshotStatus::Deleting => "deleting",
            SnapshotStatus::Failed => "failed",
        }
    }
}

impl Lifecycle for SnapshotStatus {
    const TRANSITIONS: &'static [(Self, Self)] = {
        use SnapshotStatus::*;
        &[
            (Creating, Available),
            (Creating, Failed),
            (Available, Copying),
            (Copying, Available),
            (Available, Deleting),
            (Failed, Deleting),
        ]
    };

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }
}

/// `ParameterApplyStatus` of a cluster and `ParameterGroupStatus` of a node. Any value may
/// follow any other (a parameter change sets `pending-reboot` or `in-sync`, a reboot
/// `in-sync`), so there is no transition table, only the wire strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ParameterStatus {
    /// `in-sync`: the nodes run the group's values.
    InSync,
    /// `pending-reboot`: a requires-reboot value changed; a reboot applies it.
    PendingReboot,
    /// `applying`.
    Applying,
}

impl ParameterStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterStatus::InSync => "in-sync",
            ParameterStatus::PendingReboot => "pending-reboot",
            ParameterStatus::Applying => "applying",
        }
    }
}

/// Why a lookup or transition was refused; the control plane maps each variant to the AWS
/// error (`CacheClusterNotFound`, `InvalidCacheClusterState`, ...) with AWS's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// No cache cluster has this id.
    ClusterNotFound(String),
    /// No replication group has this id.
    GroupNotFound(String),
    /// The cluster's status does not allow the requested transition.
    ClusterState {
        /// Cluster id.
        id: String,
        /// Its current status.
        status: ClusterStatus,
    },
    /// The group's status does not allow the requested transition.
    GroupState {
        /// Group id.
        id: String,
        /// Its current status.
        status: GroupStatus,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::transitions::{settle, step};

    const CLUSTER: [ClusterStatus; 7] = {
        use ClusterStatus::*;
        [
            Creating,
            Available,
            Modifying,
            Rebooting,
            Snapshotting,
            Deleting,
            IncompatibleNetwork,
        ]
    };
    const GROUP: [GroupStatus; 7] = {
        use GroupStatus::*;
        [
            Creating,
            Available,
            Modifying,
            Deleting,
            CreateFailed,
            Snapshotting,
            Migrating,
        ]
    };
    const NODE: [NodeStatus; 5] = {
        use NodeStatus::*;
        [Creating, Available, Rebooting, Modifying, Deleting]
    };

    /// Every pair is legal exactly when the table lists it; a status never "becomes" itself.
    fn table_is_exact<S: Lifecycle>(all: &[S]) {
        for &from in all {
            for &to in all {
                let listed = S::TRANSITIONS.contains(&(from, to));
                assert_eq!(from.can_become(to), listed, "{from:?} -> {to:?}");
                let mut s = from;
                assert_eq!(step(&mut s, to), listed);
                assert_eq!(s, if listed { to } else { from });
            }
            assert!(!from.can_become(from), "{from:?} -> itself");
        }
    }

    #[test]
    fn every_listed_transition_is_accepted_and_no_other() {
        table_is_exact(&CLUSTER);
        table_is_exact(&GROUP);
        table_is_exact(&NODE);
        table_is_exact(&[
            UserStatus::Active,
            UserStatus::Modifying,
            UserStatus::Deleting,
        ]);
        table_is_exact(&[
            UserGroupStatus::Creating,
            UserGroupStatus::Active,
            UserGroupStatus::Modifying,
            UserGroupStatus::Deleting,
        ]);
        // Deleting is terminal for clusters, groups and nodes.
        assert!(
            CLUSTER
                .iter()
                .all(|&s| !ClusterStatus::Deleting.can_become(s))
        );
        assert!(GROUP.iter().all(|&s| !GroupStatus::Deleting.can_become(s)));
        assert!(NODE.iter().all(|&s| !NodeStatus::Deleting.can_become(s)));
    }

    #[test]
    fn operations_start_only_from_available() {
        use ClusterStatus::*;
        for to in [Modifying, Rebooting] {
            let from: Vec<_> = CLUSTER.iter().filter(|s| s.can_become(to)).collect();
            assert_eq!(from, vec![&Available]);
        }
        let from: Vec<_> = CLUSTER.iter().filter(|s| s.can_become(Deleting)).collect();
        assert_eq!(from, vec![&Available, &IncompatibleNetwork]);
        let from: Vec<_> = GROUP
            .iter()
            .filter(|s| s.can_become(GroupStatus::Modifying))
            .collect();
        assert_eq!(from, vec![&GroupStatus::Available]);
        let from: Vec<_> = GROUP
            .iter()
            .filter(|s| s.can_become(GroupStatus::Deleting))
            .collect();
        assert_eq!(
            from,
            vec![&GroupStatus::Available, &GroupStatus::CreateFailed]
        );
    }

    #[test]
    fn wire_strings_are_aws_values() {
        assert_eq!(ClusterStatus::Rebooting.as_str(), "rebooting cluster nodes");
        assert_eq!(
            ClusterStatus::IncompatibleNetwork.as_str(),
            "incompatible-network"
        );
        assert_eq!(NodeStatus::Rebooting.as_str(), "rebooting");
        assert_eq!(GroupStatus::CreateFailed.as_str(), "create-failed");
        assert_eq!(ParameterStatus::PendingReboot.as_str(), "pending-reboot");
        assert_eq!(ParameterStatus::InSync.as_str(), "in-sync");
    }

    #[test]
    fn settling_on_the_current_status_is_not_a_transition() {
        let mut s = GroupStatus::Available;
        settle(&mut s, GroupStatus::Available, "node group", "0001");
        assert_eq!(s, GroupStatus::Available);
        settle(&mut s, GroupStatus::CreateFailed, "node group", "0001");
        assert_eq!(s, GroupStatus::Available, "illegal completion refused");
    }
}
