//! The emulator's resource records (clusters, nodes, parameter/subnet/security groups, tags,
//! events), partitioned by (account, region), and their status lifecycle.
