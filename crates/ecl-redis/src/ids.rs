//! Random 40-hex-digit identifiers: run ids, replication ids and cluster node ids.
//!
//! Place in the flow: a leaf; `node` draws a run id at start, `replication` a replication id
//! (and a new one on promotion), `cluster` a node id.

/// A fresh random 40-hex-digit identifier, as Redis draws its run and node ids.
pub fn random_hex40() -> String {
    use rand::RngExt;
    let mut r = rand::rng();
    (0..40)
        .map(|_| char::from_digit(r.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}
