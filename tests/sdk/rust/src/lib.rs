//! Nothing: the crate exists for its test (tests/elasticache.rs).
