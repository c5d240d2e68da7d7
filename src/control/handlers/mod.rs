//! Operation handlers: the control plane's implementation of [`ElastiCacheApi`].
//!
//! Place in the flow: `control::api::dispatch` decodes a request into a typed input and calls
//! the matching method of [`Service`]; the method (in the family file: `cache_clusters`,
//! `parameter_groups`, `subnet_groups`, `security_groups`, `tags`, `events`, `catalog`,
//! `users`, `user_groups`, `snapshots`, `snapshot_restore`; `snapshot_schedule` takes the
//! automatic snapshots; `serverless`, `serverless_snapshots` with `serverless_run` for the
//! serverless caches' nodes and `serverless_schedule` for their daily snapshots; `global_*`
//! the global datastores; `service_updates`, `reserved_nodes`, `migration`)
//! validates it, reads or updates `state` under a short synchronous lock, asks the supervisor
//! to start/stop/reconfigure engine nodes (never while holding a lock), and answers a typed
//! output. Background lifecycle tasks (`lifecycle`) finish `creating`/`modifying`/`rebooting`/
//! `deleting` transitions once the engines are ready and `Config.create_delay` has passed.
//! Operations not implemented here keep the trait's default "not supported" answer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{Region, Store, SystemClock, lock};
use crate::supervisor::Supervisor;

pub(crate) use faults::{FaultNode, FaultTarget};

mod cache_clusters;
mod catalog;
mod ci;
mod cluster_mode;
mod cluster_render;
mod common;
mod events;
mod failover;
mod faults;
mod global_groups;
mod global_members;
mod global_modify;
mod global_shards;
mod lifecycle;
mod memcached_scaling;
mod migration;
mod migration_shards;
mod parameter_groups;
mod rbac_attach;
mod rbac_lifecycle;
mod replica_count;
mod replication_groups;
mod replication_lifecycle;
mod replication_modify;
mod replication_render;
mod reserved_nodes;
mod resharding;
mod restart;
mod security_groups;
mod serverless;
mod serverless_common;
mod serverless_run;
mod serverless_schedule;
mod serverless_snapshots;
mod service_update_run;
mod service_updates;
mod snapshot_restore;
mod snapshot_schedule;
mod snapshots;
mod subnet_groups;
mod tags;
mod user_groups;
mod users;

#[cfg(test)]
mod rbac_tests;
#[cfg(test)]
mod serverless_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;

/// Shared parts of the service; cloned into background lifecycle tasks.
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) supervisor: Arc<Supervisor>,
    pub(crate) create_delay: Duration,
    /// Where snapshot images are also written (`<data-dir>/snapshots`), if anywhere.
    pub(crate) snapshot_dir: Option<PathBuf>,
    /// The directory standing in for S3 (exports and `SnapshotArns` seeds).
    pub(crate) s3_dir: PathBuf,
}

/// The ElastiCache control plane: owns the resource state and drives the supervisor.
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<Inner>,
}

impl Service {
    /// A service with empty state, using `supervisor` for engine nodes.
    pub fn new(config: &Config, supervisor: Arc<Supervisor>) -> Service {
        Service {
            inner: Arc::new(Inner {
                store: Store::new(Arc::new(SystemClock)),
                supervisor,
                create_delay: config.create_delay,
                snapshot_dir: config.data_dir.as_ref().map(|d| d.join("snapshots")),
                s3_dir: config.effective_s3_dir(),
            }),
        }
    }

    /// A service with an injected clock (tests).
    pub fn with_store(config: &Config, supervisor: Arc<Supervisor>, store: Store) -> Service {
        Service {
            inner: Arc::new(Inner {
                store,
                supervisor,
                create_delay: config.create_delay,
                snapshot_dir: config.data_dir.as_ref().map(|d| d.join("snapshots")),
                s3_dir: config.effective_s3_dir(),
            }),
        }
    }

    /// The state of the caller's (account, region).
    pub(crate) fn region(&self, ctx: &RequestContext) -> Arc<Mutex<Region>> {
        self.inner.store.region(&ctx.account, &ctx.region)
    }

    /// Whether the cluster `raw` names is a replication group member (its Create, Delete and
    /// Reboot follow the group's rules); `CacheClusterNotFound` when it does not exist.
    fn is_group_member(&self, ctx: &RequestContext, raw: &str) -> Result<bool, ApiError> {
        let region = self.region(ctx);
        let r = lock(&region);
        Ok(r.cluster(raw)?.replication_group_id.is_some())
    }

    /// Clusters and nodes per engine across every account and region, snapshots, and the
    /// directory standing in for S3, for `/health`: `{"clusters": {"redis": 1}, "nodes":
    /// {"redis": 1}, "snapshots": 0, "s3_dir": "/tmp/elasticache-local-s3"}`.
    pub fn resource_counts(&self) -> serde_json::Value {
        let mut clusters: BTreeMap<String, usize> = BTreeMap::new();
        let mut nodes: BTreeMap<String, usize> = BTreeMap::new();
        for region in self.inner.store.regions() {
            let r = lock(&region);
            for c in r.clusters.values() {
                *clusters.entry(c.engine.clone()).or_default() += 1;
                *nodes.entry(c.engine.clone()).or_default() += c.nodes.len();
            }
        }
        let snapshots: usize = self
            .inner
            .store
            .regions()
            .iter()
            .map(|r| lock(r).snapshots.len())
            .sum();
        serde_json::json!({
            "clusters": clusters,
            "nodes": nodes,
            "snapshots": snapshots,
            "s3_dir": self.inner.s3_dir.display().to_string(),
        })
    }
}

/// One line per operation: each delegates to its family file.
impl ElastiCacheApi for Service {
    async fn create_cache_cluster(
        &self,
        ctx: &RequestContext,
        input: CreateCacheClusterInput,
    ) -> Result<CreateCacheClusterOutput, ApiError> {
        // A cluster created in a replication group is a read replica of that group.
        if input.replication_group_id.is_some() {
            return replica_count::add_replica_cluster(self, ctx, input);
        }
        cache_clusters::create_cache_cluster(self, ctx, input).await
    }

    async fn describe_cache_clusters(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheClustersInput,
    ) -> Result<DescribeCacheClustersOutput, ApiError> {
        cache_clusters::describe_cache_clusters(self, ctx, input)
    }

    async fn modify_cache_cluster(
        &self,
        ctx: &RequestContext,
        input: ModifyCacheClusterInput,
    ) -> Result<ModifyCacheClusterOutput, ApiError> {
        cache_clusters::modify_cache_cluster(self, ctx, input).await
    }

    async fn delete_cache_cluster(
        &self,
        ctx: &RequestContext,
        input: DeleteCacheClusterInput,
    ) -> Result<DeleteCacheClusterOutput, ApiError> {
        if self.is_group_member(ctx, &input.cache_cluster_id)? {
            return replica_count::delete_member_cluster(self, ctx, &input.cache_cluster_id);
        }
        cache_clusters::delete_cache_cluster(self, ctx, input).await
    }

    async fn reboot_cache_cluster(
        &self,
        ctx: &RequestContext,
        input: RebootCacheClusterInput,
    ) -> Result<RebootCacheClusterOutput, ApiError> {
        // An empty node list is refused before the lookup, as AWS does.
        if !input.cache_node_ids_to_reboot.is_empty()
            && self.is_group_member(ctx, &input.cache_cluster_id)?
        {
            let id = input.cache_cluster_id.trim().to_ascii_lowercase();
            return failover::reboot_member_cluster(
                self,
                ctx,
                &id,
                &input.cache_node_ids_to_reboot,
            );
        }
        cache_clusters::reboot_cache_cluster(self, ctx, input).await
    }

    async fn list_allowed_node_type_modifications(
        &self,
        ctx: &RequestContext,
        input: ListAllowedNodeTypeModificationsInput,
    ) -> Result<ListAllowedNodeTypeModificationsOutput, ApiError> {
        cache_clusters::list_allowed_node_type_modifications(self, ctx, input)
    }

    async fn create_cache_subnet_group(
        &self,
        ctx: &RequestContext,
        input: CreateCacheSubnetGroupInput,
    ) -> Result<CreateCacheSubnetGroupOutput, ApiError> {
        subnet_groups::create_cache_subnet_group(self, ctx, input)
    }

    async fn describe_cache_subnet_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheSubnetGroupsInput,
    ) -> Result<DescribeCacheSubnetGroupsOutput, ApiError> {
        subnet_groups::describe_cache_subnet_groups(self, ctx, input)
    }

    async fn modify_cache_subnet_group(
        &self,
        ctx: &RequestContext,
        input: ModifyCacheSubnetGroupInput,
    ) -> Result<ModifyCacheSubnetGroupOutput, ApiError> {
        subnet_groups::modify_cache_subnet_group(self, ctx, input)
    }

    async fn delete_cache_subnet_group(
        &self,
        ctx: &RequestContext,
        input: DeleteCacheSubnetGroupInput,
    ) -> Result<DeleteCacheSubnetGroupOutput, ApiError> {
        subnet_groups::delete_cache_subnet_group(self, ctx, input)
    }

    async fn create_cache_parameter_group(
        &self,
        ctx: &RequestContext,
        input: CreateCacheParameterGroupInput,
    ) -> Result<CreateCacheParameterGroupOutput, ApiError> {
        parameter_groups::create_cache_parameter_group(self, ctx, input)
    }

    async fn describe_cache_parameter_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheParameterGroupsInput,
    ) -> Result<DescribeCacheParameterGroupsOutput, ApiError> {
        parameter_groups::describe_cache_parameter_groups(self, ctx, input)
    }

    async fn describe_cache_parameters(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheParametersInput,
    ) -> Result<DescribeCacheParametersOutput, ApiError> {
        parameter_groups::describe_cache_parameters(self, ctx, input)
    }

    async fn modify_cache_parameter_group(
        &self,
        ctx: &RequestContext,
        input: ModifyCacheParameterGroupInput,
    ) -> Result<ModifyCacheParameterGroupOutput, ApiError> {
        parameter_groups::modify_cache_parameter_group(self, ctx, input).await
    }

    async fn reset_cache_parameter_group(
        &self,
        ctx: &RequestContext,
        input: ResetCacheParameterGroupInput,
    ) -> Result<ResetCacheParameterGroupOutput, ApiError> {
        parameter_groups::reset_cache_parameter_group(self, ctx, input).await
    }

    async fn delete_cache_parameter_group(
        &self,
        ctx: &RequestContext,
        input: DeleteCacheParameterGroupInput,
    ) -> Result<DeleteCacheParameterGroupOutput, ApiError> {
        parameter_groups::delete_cache_parameter_group(self, ctx, input)
    }

    async fn describe_engine_default_parameters(
        &self,
        ctx: &RequestContext,
        input: DescribeEngineDefaultParametersInput,
    ) -> Result<DescribeEngineDefaultParametersOutput, ApiError> {
        parameter_groups::describe_engine_default_parameters(self, ctx, input)
    }

    async fn create_cache_security_group(
        &self,
        ctx: &RequestContext,
        input: CreateCacheSecurityGroupInput,
    ) -> Result<CreateCacheSecurityGroupOutput, ApiError> {
        security_groups::create_cache_security_group(self, ctx, input)
    }

    async fn describe_cache_security_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheSecurityGroupsInput,
    ) -> Result<DescribeCacheSecurityGroupsOutput, ApiError> {
        security_groups::describe_cache_security_groups(self, ctx, input)
    }

    async fn delete_cache_security_group(
        &self,
        ctx: &RequestContext,
        input: DeleteCacheSecurityGroupInput,
    ) -> Result<DeleteCacheSecurityGroupOutput, ApiError> {
        security_groups::delete_cache_security_group(self, ctx, input)
    }

    async fn authorize_cache_security_group_ingress(
        &self,
        ctx: &RequestContext,
        input: AuthorizeCacheSecurityGroupIngressInput,
    ) -> Result<AuthorizeCacheSecurityGroupIngressOutput, ApiError> {
        security_groups::authorize_cache_security_group_ingress(self, ctx, input)
    }

    async fn revoke_cache_security_group_ingress(
        &self,
        ctx: &RequestContext,
        input: RevokeCacheSecurityGroupIngressInput,
    ) -> Result<RevokeCacheSecurityGroupIngressOutput, ApiError> {
        security_groups::revoke_cache_security_group_ingress(self, ctx, input)
    }

    async fn add_tags_to_resource(
        &self,
        ctx: &RequestContext,
        input: AddTagsToResourceInput,
    ) -> Result<AddTagsToResourceOutput, ApiError> {
        tags::add_tags_to_resource(self, ctx, input)
    }

    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, ApiError> {
        tags::list_tags_for_resource(self, ctx, input)
    }

    async fn remove_tags_from_resource(
        &self,
        ctx: &RequestContext,
        input: RemoveTagsFromResourceInput,
    ) -> Result<RemoveTagsFromResourceOutput, ApiError> {
        tags::remove_tags_from_resource(self, ctx, input)
    }

    async fn describe_cache_engine_versions(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheEngineVersionsInput,
    ) -> Result<DescribeCacheEngineVersionsOutput, ApiError> {
        catalog::describe_cache_engine_versions(self, ctx, input)
    }

    async fn describe_events(
        &self,
        ctx: &RequestContext,
        input: DescribeEventsInput,
    ) -> Result<DescribeEventsOutput, ApiError> {
        events::describe_events(self, ctx, input)
    }

    async fn create_replication_group(
        &self,
        ctx: &RequestContext,
        input: CreateReplicationGroupInput,
    ) -> Result<CreateReplicationGroupOutput, ApiError> {
        replication_groups::create_replication_group(self, ctx, input).await
    }

    async fn describe_replication_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeReplicationGroupsInput,
    ) -> Result<DescribeReplicationGroupsOutput, ApiError> {
        replication_groups::describe_replication_groups(self, ctx, input)
    }

    async fn modify_replication_group(
        &self,
        ctx: &RequestContext,
        input: ModifyReplicationGroupInput,
    ) -> Result<ModifyReplicationGroupOutput, ApiError> {
        replication_modify::modify_replication_group(self, ctx, input).await
    }

    async fn delete_replication_group(
        &self,
        ctx: &RequestContext,
        input: DeleteReplicationGroupInput,
    ) -> Result<DeleteReplicationGroupOutput, ApiError> {
        replication_groups::delete_replication_group(self, ctx, input).await
    }

    async fn increase_replica_count(
        &self,
        ctx: &RequestContext,
        input: IncreaseReplicaCountInput,
    ) -> Result<IncreaseReplicaCountOutput, ApiError> {
        replica_count::increase_replica_count(self, ctx, input)
    }

    async fn decrease_replica_count(
        &self,
        ctx: &RequestContext,
        input: DecreaseReplicaCountInput,
    ) -> Result<DecreaseReplicaCountOutput, ApiError> {
        replica_count::decrease_replica_count(self, ctx, input)
    }

    async fn modify_replication_group_shard_configuration(
        &self,
        ctx: &RequestContext,
        input: ModifyReplicationGroupShardConfigurationInput,
    ) -> Result<ModifyReplicationGroupShardConfigurationOutput, ApiError> {
        resharding::modify_shard_configuration_of_group(self, ctx, input)
    }

    async fn create_snapshot(
        &self,
        ctx: &RequestContext,
        input: CreateSnapshotInput,
    ) -> Result<CreateSnapshotOutput, ApiError> {
        snapshots::create_snapshot(self, ctx, input)
    }

    async fn describe_snapshots(
        &self,
        ctx: &RequestContext,
        input: DescribeSnapshotsInput,
    ) -> Result<DescribeSnapshotsOutput, ApiError> {
        snapshots::describe_snapshots(self, ctx, input)
    }

    async fn delete_snapshot(
        &self,
        ctx: &RequestContext,
        input: DeleteSnapshotInput,
    ) -> Result<DeleteSnapshotOutput, ApiError> {
        snapshots::delete_snapshot(self, ctx, input)
    }

    async fn copy_snapshot(
        &self,
        ctx: &RequestContext,
        input: CopySnapshotInput,
    ) -> Result<CopySnapshotOutput, ApiError> {
        snapshot_restore::copy_snapshot(self, ctx, input)
    }

    async fn test_failover(
        &self,
        ctx: &RequestContext,
        input: TestFailoverInput,
    ) -> Result<TestFailoverOutput, ApiError> {
        failover::test_failover(self, ctx, input)
    }

    async fn create_user(
        &self,
        ctx: &RequestContext,
        input: CreateUserInput,
    ) -> Result<CreateUserOutput, ApiError> {
        users::create_user(self, ctx, input)
    }

    async fn describe_users(
        &self,
        ctx: &RequestContext,
        input: DescribeUsersInput,
    ) -> Result<DescribeUsersOutput, ApiError> {
        users::describe_users(self, ctx, input)
    }

    async fn modify_user(
        &self,
        ctx: &RequestContext,
        input: ModifyUserInput,
    ) -> Result<ModifyUserOutput, ApiError> {
        users::modify_user(self, ctx, input)
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        input: DeleteUserInput,
    ) -> Result<DeleteUserOutput, ApiError> {
        users::delete_user(self, ctx, input)
    }

    async fn create_user_group(
        &self,
        ctx: &RequestContext,
        input: CreateUserGroupInput,
    ) -> Result<CreateUserGroupOutput, ApiError> {
        user_groups::create_user_group(self, ctx, input)
    }

    async fn describe_user_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeUserGroupsInput,
    ) -> Result<DescribeUserGroupsOutput, ApiError> {
        user_groups::describe_user_groups(self, ctx, input)
    }

    async fn modify_user_group(
        &self,
        ctx: &RequestContext,
        input: ModifyUserGroupInput,
    ) -> Result<ModifyUserGroupOutput, ApiError> {
        user_groups::modify_user_group(self, ctx, input)
    }

    async fn delete_user_group(
        &self,
        ctx: &RequestContext,
        input: DeleteUserGroupInput,
    ) -> Result<DeleteUserGroupOutput, ApiError> {
        user_groups::delete_user_group(self, ctx, input)
    }

    async fn describe_service_updates(
        &self,
        ctx: &RequestContext,
        input: DescribeServiceUpdatesInput,
    ) -> Result<DescribeServiceUpdatesOutput, ApiError> {
        service_updates::describe_service_updates(self, ctx, input)
    }

    async fn describe_update_actions(
        &self,
        ctx: &RequestContext,
        input: DescribeUpdateActionsInput,
    ) -> Result<DescribeUpdateActionsOutput, ApiError> {
        service_updates::describe_update_actions(self, ctx, input)
    }

    async fn batch_apply_update_action(
        &self,
        ctx: &RequestContext,
        input: BatchApplyUpdateActionInput,
    ) -> Result<BatchApplyUpdateActionOutput, ApiError> {
        service_updates::batch_apply_update_action(self, ctx, input)
    }

    async fn batch_stop_update_action(
        &self,
        ctx: &RequestContext,
        input: BatchStopUpdateActionInput,
    ) -> Result<BatchStopUpdateActionOutput, ApiError> {
        service_updates::batch_stop_update_action(self, ctx, input)
    }

    async fn describe_reserved_cache_nodes_offerings(
        &self,
        ctx: &RequestContext,
        input: DescribeReservedCacheNodesOfferingsInput,
    ) -> Result<DescribeReservedCacheNodesOfferingsOutput, ApiError> {
        reserved_nodes::describe_reserved_cache_nodes_offerings(self, ctx, input)
    }

    async fn purchase_reserved_cache_nodes_offering(
        &self,
        ctx: &RequestContext,
        input: PurchaseReservedCacheNodesOfferingInput,
    ) -> Result<PurchaseReservedCacheNodesOfferingOutput, ApiError> {
        reserved_nodes::purchase_reserved_cache_nodes_offering(self, ctx, input)
    }

    async fn describe_reserved_cache_nodes(
        &self,
        ctx: &RequestContext,
        input: DescribeReservedCacheNodesInput,
    ) -> Result<DescribeReservedCacheNodesOutput, ApiError> {
        reserved_nodes::describe_reserved_cache_nodes(self, ctx, input)
    }

    async fn start_migration(
        &self,
        ctx: &RequestContext,
        input: StartMigrationInput,
    ) -> Result<StartMigrationOutput, ApiError> {
        migration::start_migration(self, ctx, input).await
    }

    async fn test_migration(
        &self,
        ctx: &RequestContext,
        input: TestMigrationInput,
    ) -> Result<TestMigrationOutput, ApiError> {
        migration::test_migration(self, ctx, input).await
    }

    async fn complete_migration(
        &self,
        ctx: &RequestContext,
        input: CompleteMigrationInput,
    ) -> Result<CompleteMigrationOutput, ApiError> {
        migration::complete_migration(self, ctx, input).await
    }

    async fn create_serverless_cache(
        &self,
        ctx: &RequestContext,
        input: CreateServerlessCacheInput,
    ) -> Result<CreateServerlessCacheOutput, ApiError> {
        serverless::create_serverless_cache(self, ctx, input)
    }

    async fn describe_serverless_caches(
        &self,
        ctx: &RequestContext,
        input: DescribeServerlessCachesInput,
    ) -> Result<DescribeServerlessCachesOutput, ApiError> {
        serverless::describe_serverless_caches(self, ctx, input)
    }

    async fn modify_serverless_cache(
        &self,
        ctx: &RequestContext,
        input: ModifyServerlessCacheInput,
    ) -> Result<ModifyServerlessCacheOutput, ApiError> {
        serverless::modify_serverless_cache(self, ctx, input)
    }

    async fn delete_serverless_cache(
        &self,
        ctx: &RequestContext,
        input: DeleteServerlessCacheInput,
    ) -> Result<DeleteServerlessCacheOutput, ApiError> {
        serverless::delete_serverless_cache(self, ctx, input)
    }

    async fn create_serverless_cache_snapshot(
        &self,
        ctx: &RequestContext,
        input: CreateServerlessCacheSnapshotInput,
    ) -> Result<CreateServerlessCacheSnapshotOutput, ApiError> {
        serverless_snapshots::create_serverless_cache_snapshot(self, ctx, input)
    }

    async fn describe_serverless_cache_snapshots(
        &self,
        ctx: &RequestContext,
        input: DescribeServerlessCacheSnapshotsInput,
    ) -> Result<DescribeServerlessCacheSnapshotsOutput, ApiError> {
        serverless_snapshots::describe_serverless_cache_snapshots(self, ctx, input)
    }

    async fn copy_serverless_cache_snapshot(
        &self,
        ctx: &RequestContext,
        input: CopyServerlessCacheSnapshotInput,
    ) -> Result<CopyServerlessCacheSnapshotOutput, ApiError> {
        serverless_snapshots::copy_serverless_cache_snapshot(self, ctx, input)
    }

    async fn delete_serverless_cache_snapshot(
        &self,
        ctx: &RequestContext,
        input: DeleteServerlessCacheSnapshotInput,
    ) -> Result<DeleteServerlessCacheSnapshotOutput, ApiError> {
        serverless_snapshots::delete_serverless_cache_snapshot(self, ctx, input)
    }

    async fn export_serverless_cache_snapshot(
        &self,
        ctx: &RequestContext,
        input: ExportServerlessCacheSnapshotInput,
    ) -> Result<ExportServerlessCacheSnapshotOutput, ApiError> {
        serverless_snapshots::export_serverless_cache_snapshot(self, ctx, input)
    }

    async fn create_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: CreateGlobalReplicationGroupInput,
    ) -> Result<CreateGlobalReplicationGroupOutput, ApiError> {
        global_groups::create_global_replication_group(self, ctx, input)
    }

    async fn describe_global_replication_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeGlobalReplicationGroupsInput,
    ) -> Result<DescribeGlobalReplicationGroupsOutput, ApiError> {
        global_groups::describe_global_replication_groups(self, ctx, input)
    }

    async fn delete_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: DeleteGlobalReplicationGroupInput,
    ) -> Result<DeleteGlobalReplicationGroupOutput, ApiError> {
        global_groups::delete_global_replication_group(self, ctx, input)
    }

    async fn disassociate_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: DisassociateGlobalReplicationGroupInput,
    ) -> Result<DisassociateGlobalReplicationGroupOutput, ApiError> {
        global_members::disassociate_global_replication_group(self, ctx, input)
    }

    async fn failover_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: FailoverGlobalReplicationGroupInput,
    ) -> Result<FailoverGlobalReplicationGroupOutput, ApiError> {
        global_members::failover_global_replication_group(self, ctx, input)
    }
    async fn modify_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: ModifyGlobalReplicationGroupInput,
    ) -> Result<ModifyGlobalReplicationGroupOutput, ApiError> {
        global_modify::modify_global_replication_group(self, ctx, input)
    }

    async fn rebalance_slots_in_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: RebalanceSlotsInGlobalReplicationGroupInput,
    ) -> Result<RebalanceSlotsInGlobalReplicationGroupOutput, ApiError> {
        global_modify::rebalance_slots_in_global_replication_group(self, ctx, input)
    }

    async fn increase_node_groups_in_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: IncreaseNodeGroupsInGlobalReplicationGroupInput,
    ) -> Result<IncreaseNodeGroupsInGlobalReplicationGroupOutput, ApiError> {
        global_shards::increase_node_groups_in_global_replication_group(self, ctx, input)
    }

    async fn decrease_node_groups_in_global_replication_group(
        &self,
        ctx: &RequestContext,
        input: DecreaseNodeGroupsInGlobalReplicationGroupInput,
    ) -> Result<DecreaseNodeGroupsInGlobalReplicationGroupOutput, ApiError> {
        global_shards::decrease_node_groups_in_global_replication_group(self, ctx, input)
    }
}
