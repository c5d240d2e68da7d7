//! Counters and gauges of one node, and the rendering of every `stats` variant.
//!
//! Place in the flow: protocol handlers and the store bump counters while serving requests;
//! `stats` (text), `stat` (binary) and [`crate::MemcachedNode::stats`] read them here.
//! Counters are striped (one cache-line-aligned block per stripe, a connection or a shard picks
//! its stripe) so that threads serving different connections never fight over one atomic on
//! the hot path; a read sums the stripes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Every monotonically increasing counter `stats` reports (and `stats reset` clears).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Counter {
    CmdGet,
    CmdSet,
    CmdFlush,
    CmdTouch,
    CmdMeta,
    GetHits,
    GetMisses,
    GetExpired,
    GetFlushed,
    DeleteMisses,
    DeleteHits,
    IncrMisses,
    IncrHits,
    DecrMisses,
    DecrHits,
    CasMisses,
    CasHits,
    CasBadval,
    TouchHits,
    TouchMisses,
    StoreTooLarge,
    StoreNoMemory,
    BytesRead,
    BytesWritten,
    TotalItems,
    Evictions,
    Reclaimed,
    ExpiredUnfetched,
    EvictedUnfetched,
    TotalConnections,
    RejectedConnections,
    IdleKicks,
    CrawlerReclaimed,
    CrawlerItemsChecked,
}

/// Number of [`Counter`] variants.
const COUNTERS: usize = Counter::CrawlerItemsChecked as usize + 1;

/// Stripes of counters; a power of two so a stripe is picked with a mask.
const STRIPES: usize = 16;

/// One stripe, aligned so two stripes never share a cache line.
#[repr(align(128))]
struct Stripe([AtomicU64; COUNTERS]);

/// Striped counters of one node.
pub(crate) struct Counters {
    stripes: Box<[Stripe]>,
}

impl Counters {
    /// All counters at zero.
    pub(crate) fn new() -> Counters {
        let stripes = (0..STRIPES)
            .map(|_| Stripe(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Counters { stripes }
    }

    /// Adds `n` to `counter` in stripe `stripe` (any number; it is masked).
    #[inline]
    pub(crate) fn add(&self, stripe: usize, counter: Counter, n: u64) {
        if n != 0 {
            self.stripes[stripe & (STRIPES - 1)].0[counter as usize]
                .fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds one to `counter`.
    #[inline]
    pub(crate) fn incr(&self, stripe: usize, counter: Counter) {
        self.add(stripe, counter, 1);
    }

    /// Sum of `counter` over all stripes.
    pub(crate) fn get(&self, counter: Counter) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0[counter as usize].load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    /// `stats reset`: every counter back to zero.
    pub(crate) fn reset(&self) {
        for stripe in self.stripes.iter() {
            for c in stripe.0.iter() {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// Collects `STAT <name> <value>\r\n` lines for a text reply, or name/value pairs for binary.
#[derive(Default)]
pub(crate) struct StatLines {
    /// Name/value pairs in output order.
    pub(crate) lines: Vec<(String, String)>,
}

impl StatLines {
    /// Appends one statistic.
    pub(crate) fn push(&mut self, name: impl Into<String>, value: impl ToString) {
        self.lines.push((name.into(), value.to_string()));
    }

    /// Text rendering: every line then `END\r\n`.
    pub(crate) fn render_text(&self, out: &mut Vec<u8>) {
        for (name, value) in &self.lines {
            out.extend_from_slice(b"STAT ");
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(crate::wire::END);
    }
}

/// CPU time used by this process as `seconds.micros` (user, system), read from
/// `/proc/self/stat` where available; memcached reports the same `rusage_*` fields.
pub(crate) fn rusage() -> (String, String) {
    let fallback = || ("0.000000".to_string(), "0.000000".to_string());
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return fallback();
    };
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return fallback();
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Linux reports clock ticks; USER_HZ is 100 on every mainstream configuration.
    let fmt = |t: u64| format!("{}.{:06}", t / 100, (t % 100) * 10_000);
    (fmt(ticks(11)), fmt(ticks(12)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_stripes_and_reset() {
        let c = Counters::new();
        c.incr(0, Counter::GetHits);
        c.add(5, Counter::GetHits, 2);
        c.incr(37, Counter::GetMisses);
        assert_eq!(c.get(Counter::GetHits), 3);
        assert_eq!(c.get(Counter::GetMisses), 1);
        c.reset();
        assert_eq!(c.get(Counter::GetHits), 0);
    }

    #[test]
    fn stat_lines_render_like_memcached() {
        let mut s = StatLines::default();
        s.push("pid", 42);
        let mut out = Vec::new();
        s.render_text(&mut out);
        assert_eq!(out, b"STAT pid 42\r\nEND\r\n");
    }
}
