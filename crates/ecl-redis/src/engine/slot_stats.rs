//! CLUSTER SLOT-STATS' usage metrics (Valkey 8.0, `cluster-slot-stats-enabled`): per slot the
//! CPU time of the commands that touched it, the bytes of their requests and of their replies.
//!
//! Place in the flow: part of the engine. The dispatcher calls [`account`] after a command
//! when the parameter is on (one branch when off, so the hot path pays nothing else); SPUBLISH
//! adds the bytes it delivered to this node's subscribers through [`SlotStats::add_out`]; the
//! CLUSTER family reads the counters. As Valkey counts them: only in cluster mode, only for a
//! command whose keys are all in one slot (EXEC by the commands it ran, EVAL/FCALL by their
//! declared keys), the commands a transaction or a script runs not counted again, and a
//! blocked command's request counted once, when it first arrives. CONFIG RESETSTAT zeroes the
//! counters, and a slot this node's shard gains or loses starts again from zero (the node's
//! `set_cluster_topology`).

use crate::argv::Argv;
use crate::client::Client;
use crate::cluster::{SLOTS, key_slot};

use super::{Engine, Handler};

/// The command table's entry type, named from below the command layer (no import circle).
type CommandSpec = crate::cmdtable::CommandSpec<Handler>;

/// The three counters of one slot.
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotUsage {
    /// Microseconds spent running the slot's commands.
    pub cpu_usec: u64,
    /// Bytes of the slot's requests.
    pub net_in: u64,
    /// Bytes of the slot's replies and sharded Pub/Sub deliveries.
    pub net_out: u64,
}

/// Usage per slot, allocated the first time something is counted.
#[derive(Debug, Default)]
pub struct SlotStats {
    slots: Vec<SlotUsage>,
    /// Bytes the running command sent to other clients (SPUBLISH), added to its slot.
    pending_out: u64,
}

impl SlotStats {
    /// The counters of `slot` (zero when nothing was counted yet).
    pub fn get(&self, slot: usize) -> SlotUsage {
        self.slots.get(slot).copied().unwrap_or_default()
    }

    /// Bytes the running command delivers to other clients, counted with its slot.
    pub fn add_out(&mut self, bytes: u64) {
        self.pending_out += bytes;
    }

    /// Zeroes the counters of the slots whose ownership differs between `before` and `after`
    /// (slot ranges this node's shard served): a slot that arrives starts from zero, as
    /// Valkey resets a slot's statistics when it is assigned.
    pub fn reset_moved(&mut self, before: &[(u16, u16)], after: &[(u16, u16)]) {
        if self.slots.is_empty() {
            return;
        }
        let owned = |ranges: &[(u16, u16)], s: usize| {
            ranges
                .iter()
                .any(|&(a, b)| (a as usize..=b as usize).contains(&s))
        };
        for (s, u) in self.slots.iter_mut().enumerate() {
            if owned(before, s) != owned(after, s) {
                *u = SlotUsage::default();
            }
        }
    }

    fn slot_mut(&mut self, slot: u16) -> &mut SlotUsage {
        if self.slots.is_empty() {
            self.slots = vec![SlotUsage::default(); SLOTS];
        }
        &mut self.slots[slot as usize]
    }
}

/// The one slot all of a command's keys are in; `None` without keys or across slots.
fn single_slot(spec: &CommandSpec, argv: &Argv<'_>) -> Option<u16> {
    let (mut slot, mut cross) = (None, false);
    spec.visit_key_positions(argv, |p| {
        if p >= argv.len() {
            return true;
        }
        let s = key_slot(argv.get(p));
        cross = slot.is_some_and(|x| x != s);
        slot = Some(s);
        !cross
    });
    if cross { None } else { slot }
}

/// The slot of the transaction EXEC is about to run (its queued commands' one slot).
pub(crate) fn transaction_slot(eng: &Engine, client: &Client) -> Option<u16> {
    let queue = client.multi.as_ref()?;
    let mut slot = None;
    for cmd in queue {
        let argv = cmd.as_argv();
        let Some(mut id) = eng.table.lookup(argv.get(0)) else {
            continue;
        };
        if !eng.table.entries[id].spec.subs.is_empty() && argv.len() > 1 {
            id = eng.table.lookup_sub(id, argv.get(1))?;
        }
        match (slot, single_slot(eng.table.entries[id].spec, &argv)) {
            (_, None) => {}
            (None, s) => slot = s,
            (Some(a), Some(b)) if a != b => return None,
            _ => {}
        }
    }
    slot
}

/// Counts the command just run: `usec` of CPU, its request and `reply_bytes` of reply, under
/// the slot of its keys (`exec_slot` for EXEC, taken before the transaction ran).
pub(crate) fn account(
    eng: &mut Engine,
    client: &Client,
    (spec, argv): (&CommandSpec, &Argv<'_>),
    (usec, reply_bytes): (u64, usize),
    exec_slot: Option<u16>,
) {
    let pending = std::mem::take(&mut eng.slot_stats.pending_out);
    if !eng.info.cluster || client.in_exec || eng.scripts.running {
        return;
    }
    let Some(slot) = exec_slot.or_else(|| single_slot(spec, argv)) else {
        return;
    };
    let mut request = super::commandlog::request_bytes(argv) as u64;
    if spec.name == "exec" {
        // The transaction's MULTI came with it (`*1\r\n$5\r\nMULTI\r\n`), as Valkey counts.
        request += 15;
    }
    let u = eng.slot_stats.slot_mut(slot);
    u.cpu_usec += usec;
    u.net_out += reply_bytes as u64 + pending;
    if !client.detached {
        // A blocked command re-run when its key is ready was counted when it arrived.
        u.net_in += request;
    }
}
