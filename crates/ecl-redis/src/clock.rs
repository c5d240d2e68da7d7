//! Wall-clock time as Redis reports it: Unix milliseconds.
//!
//! Place in the flow: a leaf. The engine adds its test clock offset on top (`Engine::now_ms`);
//! state that records when something happened without an engine at hand (the cluster
//! topology, replication links) reads it here.

/// Wall-clock milliseconds.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
