//! Latency figures a node keeps about itself: per-command run-time distributions
//! (`latency-tracking`: INFO latencystats, LATENCY HISTOGRAM) and the latency monitor's
//! events (`latency-monitor-threshold`: LATENCY LATEST/HISTORY/GRAPH).
//!
//! Place in the flow: a leaf. The dispatcher records into both after each command; the
//! configuration parses the percentiles INFO prints; the INFO and LATENCY commands read them.

pub mod graph;
pub mod histogram;
pub mod monitor;
pub mod percentiles;

pub use histogram::LatencyHistogram;
pub use monitor::LatencyMonitor;
