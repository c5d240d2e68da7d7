//! Record types: what the emulator remembers about each resource. Field names follow the AWS
//! members they back; values are stored in the form the API reports (lower-cased identifiers,
//! full engine versions).

use std::collections::BTreeMap;
use std::net::IpAddr;

use time::OffsetDateTime;

use super::lifecycle::{ClusterStatus, NodeStatus, ParameterStatus, UserGroupStatus, UserStatus};

/// Where a node (or configuration endpoint) can be reached.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointRecord {
    /// Reported `Address`.
    pub address: String,
    /// Bound IP.
    pub ip: IpAddr,
    /// Reported `Port`.
    pub port: u16,
}

/// One cache node of a cluster.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CacheNodeRecord {
    /// `0001` ...
    pub id: String,
    /// Node status.
    pub status: NodeStatus,
    /// Creation time.
    #[serde(with = "super::timestamp")]
    pub create_time: OffsetDateTime,
    /// Endpoint once the engine listens.
    pub endpoint: Option<EndpointRecord>,
    /// `CustomerAvailabilityZone`.
    pub availability_zone: String,
    /// `in-sync` or `pending-reboot`.
    pub parameter_group_status: ParameterStatus,
}

/// Changes parked until the next maintenance window (`ApplyImmediately=false`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingModifications {
    /// New node count.
    pub num_cache_nodes: Option<u32>,
    /// Nodes to remove with it.
    pub cache_node_ids_to_remove: Vec<String>,
    /// New engine (the Redis OSS → Valkey switch).
    pub engine: Option<String>,
    /// New engine version (full).
    pub engine_version: Option<String>,
    /// New node type.
    pub cache_node_type: Option<String>,
    /// `ROTATING` / `SETTING` while an AUTH token change is applied.
    pub auth_token_status: Option<String>,
    /// How a Memcached node type change restarts the nodes (batches and their spacing).
    #[serde(default)]
    pub scale_config: Option<ScaleSetting>,
}

/// ModifyCacheCluster's `ScaleConfig` as applied: the share of the nodes restarted together
/// and the minutes AWS waits between batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScaleSetting {
    /// `ScalePercentage` (10–100).
    pub percentage: u32,
    /// `ScaleIntervalMinutes` (2–30).
    pub interval_minutes: u32,
}

impl PendingModifications {
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        *self == PendingModifications::default()
    }
}

/// What a ROTATE of the AUTH token leaves valid next to the new token, until a SET.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PreviousAuth {
    /// The token that was current before the rotation.
    Token(String),
    /// The cluster had no token: clients that do not authenticate are still served.
    Open,
}

/// A cache cluster (standalone or, in later issues, a replication-group member).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CacheClusterRecord {
    /// Lower-cased id.
    pub id: String,
    /// `redis`, `valkey`, `memcached`.
    pub engine: String,
    /// Full engine version reported (`7.1.0`).
    pub engine_version: String,
    /// Parameter-group family of the version.
    pub family: String,
    /// Node type.
    pub node_type: String,
    /// Status.
    pub status: ClusterStatus,
    /// Nodes, ordered by id.
    pub nodes: Vec<CacheNodeRecord>,
    /// `single-az` or `cross-az` (memcached).
    pub az_mode: String,
    /// `PreferredAvailabilityZone` (`Multiple` when nodes span zones).
    pub preferred_availability_zone: String,
    /// Port requested (or the engine default).
    pub port: u16,
    /// Parameter group name.
    pub parameter_group: String,
    /// `in-sync` / `pending-reboot` / `applying`.
    pub parameter_apply_status: ParameterStatus,
    /// Subnet group name.
    pub subnet_group: String,
    /// VPC security group ids.
    pub security_group_ids: Vec<String>,
    /// EC2-Classic cache security group names.
    pub cache_security_groups: Vec<String>,
    /// Auto minor version upgrade flag.
    pub auto_minor_version_upgrade: bool,
    /// Snapshot retention days (redis/valkey).
    pub snapshot_retention_limit: Option<i32>,
    /// Snapshot window (redis/valkey).
    pub snapshot_window: Option<String>,
    /// Maintenance window (lower case).
    pub maintenance_window: String,
    /// SNS topic.
    pub notification_topic_arn: Option<String>,
    /// SNS topic status.
    pub notification_topic_status: Option<String>,
    /// Redis AUTH token.
    pub auth_token: Option<String>,
    /// What stays valid next to `auth_token` after a ROTATE, until a SET.
    pub auth_token_previous: Option<PreviousAuth>,
    /// When the token last changed.
    #[serde(with = "super::timestamp::option")]
    pub auth_token_last_modified: Option<OffsetDateTime>,
    /// In-transit encryption flag.
    pub transit_encryption_enabled: bool,
    /// `preferred`/`required` when transit encryption is on.
    pub transit_encryption_mode: Option<String>,
    /// At-rest encryption flag.
    pub at_rest_encryption_enabled: bool,
    /// `ipv4` / `ipv6` / `dual_stack`.
    pub network_type: String,
    /// `ipv4` / `ipv6`.
    pub ip_discovery: String,
    /// Creation time.
    #[serde(with = "super::timestamp")]
    pub create_time: OffsetDateTime,
    /// Replication group, for members (later issues).
    pub replication_group_id: Option<String>,
    /// Memcached configuration endpoint.
    pub configuration_endpoint: Option<EndpointRecord>,
    /// Modifications waiting for the maintenance window.
    pub pending: PendingModifications,
    /// Auto discovery configuration version (memcached): +1 per node added or removed.
    pub config_version: u64,
    /// Bumped by every operation that starts a transition; a background task finishing a
    /// transition only applies if the counter is unchanged (a later operation won).
    pub generation: u64,
}

impl CacheClusterRecord {
    /// The next node id after the highest existing one (`0001`, `0002`, ...).
    pub fn next_node_id(&self) -> String {
        let max = self
            .nodes
            .iter()
            .filter_map(|n| n.id.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        format!("{:04}", max + 1)
    }

    /// Whether the cluster can take a new operation.
    pub fn is_available(&self) -> bool {
        self.status == ClusterStatus::Available
    }
}

/// A cache parameter group.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ParameterGroupRecord {
    /// Name as given (parameter group names keep their case in AWS output only for defaults;
    /// user names are stored lower-cased).
    pub name: String,
    /// Family.
    pub family: String,
    /// Description.
    pub description: String,
    /// Pre-created `default.*` group (cannot be modified or deleted).
    pub is_default: bool,
    /// Values fixed by the group kind rather than the user (`cluster-enabled=yes` in
    /// `.cluster.on` defaults).
    pub system_values: BTreeMap<String, String>,
    /// Values the user changed (name → value); reported with `Source=user`.
    pub user_values: BTreeMap<String, String>,
}

/// One subnet of a subnet group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubnetRecord {
    /// `subnet-...`.
    pub id: String,
    /// Synthetic availability zone.
    pub availability_zone: String,
}

/// A cache subnet group.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SubnetGroupRecord {
    /// Lower-cased name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Synthetic VPC id.
    pub vpc_id: String,
    /// Subnets in request order.
    pub subnets: Vec<SubnetRecord>,
}

/// An EC2 security group authorised in a cache security group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ec2GroupRecord {
    /// EC2 group name.
    pub name: String,
    /// Owner account.
    pub owner_id: String,
}

/// A cache security group (EC2-Classic legacy).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SecurityGroupRecord {
    /// Lower-cased name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Authorised EC2 groups.
    pub ec2_groups: Vec<Ec2GroupRecord>,
}

/// How an RBAC user authenticates (`Authentication.Type` on the wire).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserAuth {
    /// `password`: one or two passwords (two while rotating).
    Password(Vec<String>),
    /// `no-password`: any password is accepted.
    NoPassword,
    /// `iam`: IAM tokens, which the emulator cannot check (see README).
    Iam,
}

impl UserAuth {
    /// The wire `Authentication.Type`.
    pub fn type_str(&self) -> &'static str {
        match self {
            UserAuth::Password(_) => "password",
            UserAuth::NoPassword => "no-password",
            UserAuth::Iam => "iam",
        }
    }
}

/// An RBAC user: the pre-created `default` user and those made by CreateUser.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct UserRecord {
    /// Lower-cased user id.
    pub user_id: String,
    /// User name (the name clients AUTH with).
    pub user_name: String,
    /// `redis` or `valkey`.
    pub engine: String,
    /// Access string, as given.
    pub access_string: String,
    /// How the user authenticates.
    pub auth: UserAuth,
    /// Status.
    pub status: UserStatus,
    /// Minimum engine version.
    pub minimum_engine_version: String,
    /// Bumped by each operation that starts a transition (see `CacheClusterRecord`).
    pub generation: u64,
}

/// An RBAC user group.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct UserGroupRecord {
    /// Lower-cased id.
    pub id: String,
    /// `redis` or `valkey`.
    pub engine: String,
    /// Member user ids, in the order they joined.
    pub user_ids: Vec<String>,
    /// Status.
    pub status: UserGroupStatus,
    /// Membership changes being applied (`PendingChanges`): (to add, to remove).
    pub pending: Option<(Vec<String>, Vec<String>)>,
    /// Bumped by each operation that starts a transition.
    pub generation: u64,
}

/// A tag.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Kinds of taggable resource, as they appear in ARNs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ResourceKind {
    /// `cluster`
    Cluster,
    /// `replicationgroup`
    ReplicationGroup,
    /// `snapshot`
    Snapshot,
    /// `parametergroup`
    ParameterGroup,
    /// `subnetgroup`
    SubnetGroup,
    /// `securitygroup`
    SecurityGroup,
    /// `user`
    User,
    /// `usergroup`
    UserGroup,
    /// `serverlesscache`
    ServerlessCache,
    /// `serverlesscachesnapshot`
    ServerlessCacheSnapshot,
    /// `reserved-instance`
    ReservedInstance,
}

impl ResourceKind {
    /// The ARN resource-type segment.
    pub fn arn_type(self) -> &'static str {
        match self {
            ResourceKind::Cluster => "cluster",
            ResourceKind::ReplicationGroup => "replicationgroup",
            ResourceKind::Snapshot => "snapshot",
            ResourceKind::ParameterGroup => "parametergroup",
            ResourceKind::SubnetGroup => "subnetgroup",
            ResourceKind::SecurityGroup => "securitygroup",
            ResourceKind::User => "user",
            ResourceKind::UserGroup => "usergroup",
            ResourceKind::ServerlessCache => "serverlesscache",
            ResourceKind::ServerlessCacheSnapshot => "serverlesscachesnapshot",
            ResourceKind::ReservedInstance => "reserved-instance",
        }
    }

    /// Parses an ARN resource-type segment.
    pub fn from_arn_type(s: &str) -> Option<ResourceKind> {
        use ResourceKind::*;
        [
            Cluster,
            ReplicationGroup,
            Snapshot,
            ParameterGroup,
            SubnetGroup,
            SecurityGroup,
            User,
            UserGroup,
            ServerlessCache,
            ServerlessCacheSnapshot,
            ReservedInstance,
        ]
        .into_iter()
        .find(|k| k.arn_type() == s)
    }
}
