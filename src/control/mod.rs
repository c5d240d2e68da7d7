//! The ElastiCache Query API: HTTP entry, request context, model-driven wire protocol,
//! generated API types, and the operation handlers.

pub mod api;
pub mod arn;
pub mod context;
pub mod error;
pub mod handlers;
pub mod http;
pub mod overview;
pub mod pagination;
pub mod protocol;
pub mod validate;
