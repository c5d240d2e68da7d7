//! elasticache-local: a local emulator of Amazon ElastiCache.
//!
//! # Request flow
//! ```text
//! aws-cli / boto3 / Terraform --POST form--> control::http
//!   --> control::context   (request id; account and region from the SigV4 credential scope)
//!   --> control::protocol::query  (form -> JSON value, walking the model's input shape)
//!   --> control::api        (typed input structs and dispatch, generated from api-models/)
//!   --> control::handlers::<family>  --> validate --> state (records, status)
//!         --> supervisor (node specs -> running engine nodes, addresses)
//!               --> ecl_redis::RedisNode / ecl_memcached::MemcachedNode
//!   <-- typed output --> control::protocol::xml (walking the model's output shape)
//!
//! redis clients     --TCP--> ecl_redis node     (RESP2/RESP3)
//! memcached clients --TCP--> ecl_memcached node (text / meta / binary, auto discovery)
//! ```
//!
//! Three layers, one direction: `control` (AWS API, state, validation) → `supervisor` (starts,
//! stops, reconfigures engine nodes; speaks in node specs, never AWS shapes) → engines (separate
//! crates `ecl-redis` and `ecl-memcached`, which know nothing of AWS; the crate boundary makes
//! the compiler enforce that). The three request flows in full, the import rules and where each
//! kind of code lives: `docs/architecture.md`.
#![forbid(unsafe_code)]

pub mod api_listener;
pub mod auth;
pub mod catalog;
pub mod ci;
pub mod config;
pub mod control;
pub mod faults;
pub mod health;
pub mod persistence;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod tls;
