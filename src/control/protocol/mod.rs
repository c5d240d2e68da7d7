//! The AWS `query` wire protocol, driven by the service model.
//!
//! Place in the request flow: `control::http` hands the raw form body (or GET query string) to
//! [`form::parse`], which produces a key tree under [`Limits`]; [`query::decode_input`] walks the
//! operation's input shape over that tree and produces a JSON value shaped like the typed input
//! (checking scalar types, required members and the model's constraints). After dispatch,
//! [`xml::encode_success`] walks the output shape over the handler's JSON output and writes the
//! `<{Op}Response>` document; [`xml::encode_error`] writes `<ErrorResponse>`. Before decoding,
//! [`query::check_version`] refuses a `Version` other than the model's, as AWS does.
//!
//! No code here knows any particular operation: everything comes from `control::api::model`.

pub mod constraints;
pub mod form;
pub mod query;
pub mod xml;

pub use form::{Limits, Params};
pub use query::{check_version, decode_input, unknown_operation};
pub use xml::{encode_error, encode_success};

/// XML namespace of every ElastiCache response (`metadata.xmlNamespace` in the model).
pub const XML_NAMESPACE: &str = "http://elasticache.amazonaws.com/doc/2015-02-02/";

/// API version of the model (`Version=` parameter).
pub const API_VERSION: &str = "2015-02-02";
