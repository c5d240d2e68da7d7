//! Typed ElastiCache API generated from the service model.
//!
//! Place in the request flow: `protocol::query` decodes a form body into a JSON value shaped like
//! the operation's input; [`dispatch`] converts it into the typed input struct, calls the
//! matching [`ElastiCacheApi`] method (implemented by `control::handlers`), and converts the typed
//! output back into a JSON value that `protocol::xml` encodes.
//!
//! # How this module is produced
//! `build.rs` reads `api-models/elasticache-2015-02-02.json` (itself reduced from botocore by
//! `tools/reduce_model.py`) and writes into `OUT_DIR`:
//! - `api_types.rs` ([`types`]): one struct per structure shape reachable from an operation.
//!   Fields are the snake_case member names with `#[serde(rename = "MemberName")]`; members the
//!   model does not mark required are `Option<T>`; lists are `Vec<T>`, enums `String`, integer
//!   `i32`, long `i64`, boolean `bool`, double `f64`, timestamp [`Timestamp`]. Each operation
//!   also gets `<Op>Input` / `<Op>Output` aliases (`()` for operations without output).
//! - `api_operations.rs` ([`operations`]): [`Operation`], the [`ElastiCacheApi`] trait (default
//!   method bodies answer `InvalidAction` naming the operation) and [`dispatch`].
//! - `api_model.rs` ([`model`]): static shape/operation tables for the generic wire codecs.
//! - `api_errors.rs` (included by `control::error`): the `ErrorCode` catalogue.
//!
//! Nothing here is edited by hand except this file, `model.rs` and `timestamp.rs`; change the
//! model or `build.rs` instead.

pub mod model;
pub mod timestamp;

pub use model::{Member, OperationDef, Shape, ShapeId, ShapeKind};
pub use operations::{
    ElastiCacheApi, Operation, dispatch, typed_input_round_trip, typed_output_round_trip,
};
pub use timestamp::Timestamp;
pub use types::*;

use crate::control::error::ApiError;

/// Generated structs, one per model structure, plus `<Op>Input` / `<Op>Output` aliases.
#[allow(clippy::doc_markdown, clippy::large_enum_variant)]
pub mod types {
    use super::Timestamp;
    use serde::{Deserialize, Serialize};

    include!(concat!(env!("OUT_DIR"), "/api_types.rs"));
}

/// Generated operation list, handler trait and dispatch.
pub mod operations {
    use super::model::{OPERATIONS, OperationDef};
    use super::types::*;
    use super::{decode_input, encode_output};
    use crate::control::context::RequestContext;
    use crate::control::error::ApiError;

    include!(concat!(env!("OUT_DIR"), "/api_operations.rs"));
}

/// Converts a decoded JSON input into the typed input. The query decoder already checked
/// types and required members, so a failure here means the two disagree: report it as a
/// parameter error rather than a server fault, with serde's explanation.
fn decode_input<T: serde::de::DeserializeOwned>(
    op: Operation,
    input: serde_json::Value,
) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| {
        ApiError::invalid_parameter_value(format!("Invalid input for {}: {e}", op.name()))
    })
}

/// Converts a handler's typed output into the JSON value the XML encoder walks.
fn encode_output<T: serde::Serialize>(
    op: Operation,
    output: &T,
) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(output).map_err(|e| {
        ApiError::internal_failure(format!("Cannot encode the output of {}: {e}", op.name()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::context::RequestContext;
    use crate::control::error::ErrorCode;

    /// A handler that implements one operation with a plain `async fn`.
    struct OneOp;

    impl ElastiCacheApi for OneOp {
        async fn describe_cache_clusters(
            &self,
            _ctx: &RequestContext,
            input: DescribeCacheClustersInput,
        ) -> Result<DescribeCacheClustersOutput, ApiError> {
            Ok(DescribeCacheClustersOutput {
                marker: input.marker,
                cache_clusters: Some(vec![CacheCluster {
                    cache_cluster_id: Some("c1".into()),
                    num_cache_nodes: Some(2),
                    ..Default::default()
                }]),
            })
        }
    }

    fn assert_send<T: Send>(t: T) -> T {
        t
    }

    #[tokio::test]
    async fn dispatch_calls_typed_handlers_and_defaults_to_invalid_action() {
        let ctx = RequestContext::for_tests("DescribeCacheClusters");
        let input = serde_json::json!({"Marker": "m1", "ShowCacheNodeInfo": true});
        let out = assert_send(dispatch(
            &OneOp,
            &ctx,
            Operation::DescribeCacheClusters,
            input,
        ))
        .await
        .unwrap();
        assert_eq!(
            out,
            serde_json::json!({"Marker": "m1", "CacheClusters": [{"CacheClusterId": "c1", "NumCacheNodes": 2}]})
        );
        let err = dispatch(
            &OneOp,
            &ctx,
            Operation::DeleteCacheSubnetGroup,
            serde_json::json!({"CacheSubnetGroupName": "g"}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidAction);
        assert!(err.message().contains("DeleteCacheSubnetGroup"));
    }

    #[test]
    fn operation_table_is_complete_and_consistent() {
        assert_eq!(Operation::ALL.len(), 75);
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert_eq!(op.def().name, op.name());
            let wrapper = format!("{}Result", op.name());
            assert_eq!(
                op.def().result_wrapper,
                op.def().output.map(|_| wrapper.as_str())
            );
        }
        assert_eq!(Operation::from_name("createcachecluster"), None);
        assert!(Operation::DeleteCacheParameterGroup.def().output.is_none());
    }

    #[test]
    fn model_tables_resolve_shapes() {
        let tags = model::shape_by_name("TagList").unwrap().get();
        assert_eq!(tags.kind.item_name(), "Tag");
        let keys = model::shape_by_name("KeyList").unwrap().get();
        assert_eq!(keys.kind.item_name(), "member");
    }
}
