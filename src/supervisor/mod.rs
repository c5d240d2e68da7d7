//! Starts, stops and reconfigures engine nodes from node specs; allocates the addresses and
//! ports endpoints are reported with. Speaks in node specs, never in AWS shapes.
