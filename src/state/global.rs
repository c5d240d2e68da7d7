//! Global datastore records (ElastiCache global replication groups): one primary replication
//! group in one region and up to two secondary groups in other regions of the same account.
//!
//! Where they live, and why: a global datastore belongs to no region (its ARN has an empty
//! region field, and every region of the account can describe, modify or fail it over), so
//! its records are kept per account in [`GlobalStore`], beside the per-(account, region)
//! [`Region`](super::Region)s, under a lock of their own. The member replication groups stay
//! ordinary records of their regions; each carries its [`GlobalMembership`] (id and role) so
//! DescribeReplicationGroups can report `GlobalReplicationGroupInfo` from its region alone.
//!
//! Lock order: a region's lock may be held while taking the global lock, never the reverse
//! (code holding the global lock never locks a region). The global lock is only held for short
//! synchronous reads and updates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GlobalReplicationGroup.Status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GlobalStatus {
    /// `creating`: just created, the primary is being attached.
    Creating,
    /// `primary-only`: no secondary yet.
    PrimaryOnly,
    /// `available`: at least one secondary replicates from the primary.
    Available,
    /// `modifying`: a secondary is joining or leaving, a failover or a modification runs.
    Modifying,
    /// `deleting`: the record disappears afterwards.
    Deleting,
}

impl GlobalStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            GlobalStatus::Creating => "creating",
            GlobalStatus::PrimaryOnly => "primary-only",
            GlobalStatus::Available => "available",
            GlobalStatus::Modifying => "modifying",
            GlobalStatus::Deleting => "deleting",
        }
    }

    /// Whether the datastore takes a new operation (it is not in a transition).
    pub fn is_settled(self) -> bool {
        matches!(self, GlobalStatus::PrimaryOnly | GlobalStatus::Available)
    }
}

/// A member's role (`GlobalReplicationGroupMember.Role`, upper case on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GlobalRole {
    /// `PRIMARY`: takes writes.
    Primary,
    /// `SECONDARY`: read-only, replicates from the primary.
    Secondary,
}

impl GlobalRole {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            GlobalRole::Primary => "PRIMARY",
            GlobalRole::Secondary => "SECONDARY",
        }
    }
}

/// `GlobalReplicationGroupMember.Status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberStatus {
    /// `associating`: a secondary being created and linked.
    Associating,
    /// `associated`: replicating (or, for the primary, serving).
    Associated,
    /// `disassociating`: leaving the datastore.
    Disassociating,
}

impl MemberStatus {
    /// The string the API reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Associating => "associating",
            MemberStatus::Associated => "associated",
            MemberStatus::Disassociating => "disassociating",
        }
    }
}

/// What a member replication group records about its datastore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalMembership {
    /// The global datastore id.
    pub id: String,
    /// This group's role.
    pub role: GlobalRole,
}

/// One member replication group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalMemberRecord {
    /// Replication group id (lower case).
    pub replication_group_id: String,
    /// Its region.
    pub region: String,
    /// Its role.
    pub role: GlobalRole,
    /// Its status.
    pub status: MemberStatus,
    /// `AutomaticFailover` of the member group (`enabled` / `disabled`).
    pub automatic_failover: bool,
}

/// A global datastore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalGroupRecord {
    /// `<region prefix>-<suffix>`.
    pub id: String,
    /// `GlobalReplicationGroupDescription` (may be empty).
    pub description: String,
    /// Status.
    pub status: GlobalStatus,
    /// `redis` / `valkey`.
    pub engine: String,
    /// Full engine version of every member.
    pub engine_version: String,
    /// Node type of every member.
    pub node_type: String,
    /// Cluster mode enabled.
    pub cluster_enabled: bool,
    /// AUTH token on the members.
    pub auth_token_enabled: bool,
    /// In-transit encryption on the members.
    pub transit_encryption_enabled: bool,
    /// At-rest encryption on the members.
    pub at_rest_encryption_enabled: bool,
    /// Shards: (`GlobalNodeGroupId`, slot ranges), in shard order.
    pub node_groups: Vec<(String, Vec<(u16, u16)>)>,
    /// Members, the primary first.
    pub members: Vec<GlobalMemberRecord>,
    /// Bumped by every operation that starts a transition, so a stale task stops.
    pub generation: u64,
}

impl GlobalGroupRecord {
    /// The primary member.
    pub fn primary(&self) -> Option<&GlobalMemberRecord> {
        self.members.iter().find(|m| m.role == GlobalRole::Primary)
    }

    /// The member in `region`, if any.
    pub fn member_in(&self, region: &str) -> Option<&GlobalMemberRecord> {
        self.members.iter().find(|m| m.region == region)
    }

    /// The member in `region`, for an update.
    pub fn member_in_mut(&mut self, region: &str) -> Option<&mut GlobalMemberRecord> {
        self.members.iter_mut().find(|m| m.region == region)
    }

    /// Secondary members.
    pub fn secondaries(&self) -> impl Iterator<Item = &GlobalMemberRecord> {
        self.members
            .iter()
            .filter(|m| m.role == GlobalRole::Secondary)
    }

    /// The settled status for the current members: `available` with a secondary, else
    /// `primary-only`.
    pub fn settled_status(&self) -> GlobalStatus {
        if self.secondaries().next().is_some() {
            GlobalStatus::Available
        } else {
            GlobalStatus::PrimaryOnly
        }
    }
}

/// Every global datastore of every account: account → id → record (id order is the order
/// DescribeGlobalReplicationGroups lists them in).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GlobalStore {
    /// Records by account, then id.
    pub accounts: BTreeMap<String, BTreeMap<String, GlobalGroupRecord>>,
}

impl GlobalStore {
    /// The datastores of one account.
    pub fn of(&self, account: &str) -> impl Iterator<Item = &GlobalGroupRecord> {
        self.accounts
            .get(account)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// One datastore (ids are matched case-insensitively, as AWS does).
    pub fn get(&self, account: &str, id: &str) -> Option<&GlobalGroupRecord> {
        self.accounts
            .get(account)?
            .get(&id.trim().to_ascii_lowercase())
    }

    /// One datastore, for an update.
    pub fn get_mut(&mut self, account: &str, id: &str) -> Option<&mut GlobalGroupRecord> {
        self.accounts
            .get_mut(account)?
            .get_mut(&id.trim().to_ascii_lowercase())
    }

    /// Inserts a datastore (the caller checked the id is free).
    pub fn insert(&mut self, account: &str, g: GlobalGroupRecord) {
        self.accounts
            .entry(account.to_string())
            .or_default()
            .insert(g.id.clone(), g);
    }

    /// Removes a datastore.
    pub fn remove(&mut self, account: &str, id: &str) -> Option<GlobalGroupRecord> {
        self.accounts.get_mut(account)?.remove(id)
    }
}

/// The prefix AWS puts before a global datastore id created in `region` (User Guide, "Using
/// the AWS CLI with global datastores"). Regions the table does not list get a stable
/// five-letter code derived from the region name.
pub fn region_prefix(region: &str) -> String {
    const TABLE: &[(&str, &str)] = &[
        ("us-east-2", "fpkhr"),
        ("us-east-1", "ldgnf"),
        ("us-west-1", "virxk"),
        ("us-west-2", "sgaui"),
        ("ca-central-1", "bxodz"),
        ("ap-south-1", "erpgt"),
        ("ap-northeast-1", "quwsw"),
        ("ap-northeast-2", "lfqnh"),
        ("ap-northeast-3", "nlapn"),
        ("ap-southeast-1", "vlqxn"),
        ("ap-southeast-2", "vbgxd"),
        ("eu-central-1", "iudkw"),
        ("eu-west-1", "gxeiz"),
        ("eu-west-2", "okuqm"),
        ("eu-west-3", "fgjhi"),
        ("sa-east-1", "juxlw"),
        ("cn-north-1", "emvgo"),
        ("cn-northwest-1", "ckbem"),
        ("ap-east-1", "knjmp"),
    ];
    if let Some((_, p)) = TABLE.iter().find(|(r, _)| *r == region) {
        return (*p).to_string();
    }
    // FNV-1a of the region name, spelled in letters: stable, and of AWS's shape.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in region.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..5)
        .map(|i| char::from(b'a' + ((h >> (i * 8)) % 26) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_the_user_guide_and_are_stable_elsewhere() {
        assert_eq!(region_prefix("us-east-1"), "ldgnf");
        assert_eq!(region_prefix("us-west-2"), "sgaui");
        let p = region_prefix("xx-test-9");
        assert_eq!(p.len(), 5);
        assert!(p.bytes().all(|b| b.is_ascii_lowercase()));
        assert_eq!(p, region_prefix("xx-test-9"));
    }
}
