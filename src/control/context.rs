//! `RequestContext`: who is calling and where, for one API request.
//!
//! Built by `control::http` before decoding; handed to every handler. State is partitioned by
//! (account, region), both taken from the SigV4 credential scope.

/// Identity and location of one API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// Request id echoed in `<RequestId>` and the `x-amzn-RequestId` header.
    pub request_id: String,
    /// 12-digit AWS account id that owns the resources touched.
    pub account: String,
    /// AWS region (from the credential scope, or the configured default).
    pub region: String,
    /// The operation name (`Action=`).
    pub action: String,
}

impl RequestContext {
    /// A context for tests and internal calls.
    pub fn for_tests(action: &str) -> RequestContext {
        RequestContext {
            request_id: "00000000-0000-4000-8000-000000000000".to_string(),
            account: "000000000000".to_string(),
            region: "us-east-1".to_string(),
            action: action.to_string(),
        }
    }
}
