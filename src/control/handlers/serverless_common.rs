//! What the serverless cache operations and the serverless snapshot operations share: their
//! not-found and wrong-state errors in AWS's wording, and the MaxResults rule.
//!
//! Place in the flow: a leaf of the handlers; `serverless` and `serverless_snapshots` use it.

use crate::control::error::ApiError;
use crate::control::pagination;
use crate::state::ServerlessStatus;

use super::common::invalid;

/// `ServerlessCacheNotFoundFault` for `name`.
pub fn not_found(name: &str) -> ApiError {
    ApiError::serverless_cache_not_found(format!("Serverless cache {name} not found."))
}

/// `InvalidServerlessCacheStateFault`: `name` is not `available`.
pub fn not_available(name: &str, status: ServerlessStatus) -> ApiError {
    ApiError::invalid_serverless_cache_state(format!(
        "Serverless cache {name} is in the {} state; it must be available.",
        status.as_str()
    ))
}

/// The page size of DescribeServerlessCaches / DescribeServerlessCacheSnapshots.
pub fn results_size(v: Option<i32>, max: i32) -> Result<usize, ApiError> {
    pagination::max_records(v, 1, max, 50)
        .map_err(|e| invalid(e.replace("MaxRecords", "MaxResults")))
}
