//! The emulator's resource records (cache clusters and their nodes, parameter, subnet and
//! security groups, users, snapshots, tags, events), partitioned by (account, region), and their status
//! lifecycle; global datastores, which span regions, are kept per account (`global`).
//!
//! Place in the flow: `control::handlers` validate a request, then take a region's lock for a
//! short synchronous read or update here, release it, and only then await the supervisor.
//! Nothing in this module awaits; no lock is ever held across an `.await`. The state layer
//! does not know the wire types: handlers translate records into API shapes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

mod clock;
mod events;
mod global;
mod lifecycle;
mod maintenance;
pub mod persist;
mod records;
mod region;
mod replication_groups;
mod reset;
mod serverless;
mod snapshots;
mod timestamp;
mod transitions;

pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{Event, EventQuery, SourceType};
pub use global::*;
pub use lifecycle::{
    ClusterStatus, GroupStatus, Lifecycle, NodeStatus, ParameterStatus, SnapshotStatus, StateError,
    UserGroupStatus, UserStatus,
};
pub use maintenance::*;
pub use records::*;
pub use region::{DEFAULT_SUBNET_GROUP, Region};
pub use replication_groups::*;
pub use reset::ResetSummary;
pub use serverless::*;
pub use snapshots::*;

/// Locks a mutex, recovering the data if a previous holder panicked: a panic in one request
/// must not make a whole region unusable, and every update here leaves records consistent
/// before any operation that could panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The regions map: (account, region) → that region's state behind its own lock.
type RegionMap = HashMap<(String, String), Arc<Mutex<Region>>>;

/// All regions of all accounts.
pub struct Store {
    regions: Mutex<RegionMap>,
    /// Global datastores, per account (they span regions; see `global`).
    globals: Mutex<GlobalStore>,
    clock: Arc<dyn Clock>,
    /// Bumped by every [`Store::region`] call: every read or update of a region starts there,
    /// so an unchanged count means the state file need not be compared again.
    touches: std::sync::atomic::AtomicU64,
}

impl Store {
    /// An empty store reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Store {
        Store {
            regions: Mutex::new(HashMap::new()),
            globals: Mutex::new(GlobalStore::default()),
            clock,
            touches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The clock records are stamped with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The current time of the store's clock.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The state of one (account, region), created with AWS's pre-existing resources (default
    /// subnet group, `default.*` parameter groups, `default` user) on first use.
    pub fn region(&self, account: &str, region: &str) -> Arc<Mutex<Region>> {
        self.touches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut map = lock(&self.regions);
        map.entry((account.to_string(), region.to_string()))
            .or_insert_with(|| Arc::new(Mutex::new(Region::new(account, region, self.clock.now()))))
            .clone()
    }

    /// The global datastores of every account. Lock order: a region lock may be held while
    /// taking this one, never the reverse.
    pub fn globals(&self) -> MutexGuard<'_, GlobalStore> {
        lock(&self.globals)
    }

    /// How many times a region was looked up so far (see `touches`).
    pub fn touches(&self) -> u64 {
        self.touches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every region created so far (for health counts and shutdown).
    pub fn regions(&self) -> Vec<Arc<Mutex<Region>>> {
        lock(&self.regions).values().cloned().collect()
    }
}

#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod tests;
