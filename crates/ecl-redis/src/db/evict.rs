//! `maxmemory` eviction: policies, approximated (sampling) LRU/LFU/TTL choice, LFU counters.
//!
//! Place in the flow: before a command flagged `denyoom` runs, the dispatcher asks the engine to
//! free memory when `used_memory > maxmemory`; the engine calls [`pick_victim`] repeatedly until
//! it is back under the limit or nothing is evictable (then the command gets the OOM error).
//! Like Redis, we do not track exact recency: each round samples `maxmemory-samples` keys per
//! database and evicts the best candidate. LFU uses Redis' documented scheme: an 8-bit
//! logarithmic counter (`lfu-log-factor`) that decays by one every `lfu-decay-time` minutes,
//! stored with a 16-bit minutes timestamp in the entry's `lru` field.

use super::{Db, Key};
use std::cell::Cell;

/// `maxmemory-policy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse writes with OOM.
    NoEviction,
    /// Approximated LRU among all keys.
    AllKeysLru,
    /// Approximated LRU among keys with a TTL.
    VolatileLru,
    /// Approximated LFU among all keys.
    AllKeysLfu,
    /// Approximated LFU among keys with a TTL.
    VolatileLfu,
    /// Random key.
    AllKeysRandom,
    /// Random key with a TTL.
    VolatileRandom,
    /// Key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// Parses a policy name (case-insensitive).
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::VolatileLru => "volatile-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Whether the policy uses LFU counters.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Counter value given to new keys, as in Redis, so they are not evicted immediately.
pub const LFU_INIT_VAL: u32 = 5;

fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xFFFF
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0x853c_49e6_748f_ea9b) };
}

fn rand01() -> f64 {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// LFU field for a new key.
pub fn lfu_initial(now_ms: i64) -> u32 {
    (minutes(now_ms) << 8) | LFU_INIT_VAL
}

/// The counter after applying decay (what `OBJECT FREQ` shows).
pub fn lfu_decayed(lru: u32, now_ms: i64, decay_minutes: u32) -> u32 {
    let counter = lru & 0xFF;
    if decay_minutes == 0 {
        return counter;
    }
    let last = lru >> 8;
    let now = minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        65535 - last + now
    };
    let periods = elapsed / decay_minutes;
    counter.saturating_sub(periods)
}

/// Records one access: decay, then a probabilistic logarithmic increment.
pub fn lfu_touch(lru: u32, now_ms: i64, log_factor: u32, decay_minutes: u32) -> u32 {
    let mut counter = lfu_decayed(lru, now_ms, decay_minutes);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * log_factor as f64 + 1.0);
        if rand01() < p {
            counter += 1;
        }
    }
    (minutes(now_ms) << 8) | counter
}

/// Chooses the key to evict next under `policy`, sampling `samples` keys per database.
/// Returns the database index and key, or `None` when nothing is evictable.
pub fn pick_victim(
    dbs: &mut [Db],
    policy: Policy,
    samples: usize,
    now_ms: i64,
    lfu_decay: u32,
) -> Option<(usize, Key)> {
    if policy == Policy::NoEviction {
        return None;
    }
    let mut best: Option<(u64, usize, Key)> = None;
    let now_s = (now_ms / 1000) as u32;
    for (i, db) in dbs.iter_mut().enumerate() {
        let n = if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            1
        } else {
            // Redis accepts up to INT_MAX samples and samples at most the whole database.
            samples.max(1).min(db.len().max(1))
        };
        for _ in 0..n {
            let picked = if policy.volatile_only() {
                db.random_volatile()
            } else {
                db.random_any()
            };
            let Some((k, e)) = picked else { break };
            let score = match policy {
                Policy::AllKeysLru | Policy::VolatileLru => u64::from(now_s.wrapping_sub(e.lru)),
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - u64::from(lfu_decayed(e.lru, now_ms, lfu_decay))
                }
                Policy::VolatileTtl => u64::MAX - e.expire_at.max(0) as u64,
                _ => db.random(),
            };
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, i, k));
            }
        }
    }
    best.map(|(_, i, k)| (i, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Value;

    #[test]
    fn policies_round_trip() {
        for p in [
            "noeviction",
            "allkeys-lru",
            "volatile-lru",
            "allkeys-lfu",
            "volatile-lfu",
            "allkeys-random",
            "volatile-random",
            "volatile-ttl",
        ] {
            assert_eq!(Policy::parse(p).map(|x| x.name()), Some(p));
        }
        assert!(Policy::parse("bogus").is_none());
    }

    #[test]
    fn lfu_counter_grows_and_decays() {
        let mut lru = lfu_initial(0);
        for _ in 0..1000 {
            lru = lfu_touch(lru, 0, 10, 1);
        }
        let c = lfu_decayed(lru, 0, 1);
        assert!(c > LFU_INIT_VAL, "counter grew: {c}");
        assert!(lfu_decayed(lru, 3 * 60_000, 1) < c, "decays with time");
    }

    #[test]
    fn volatile_ttl_prefers_nearest_expiry() {
        let mut dbs = vec![Db::new()];
        for (k, at) in [("a", 5000), ("b", 1000), ("c", 9000)] {
            dbs[0].set(k.as_bytes(), Value::Str(b"v".to_vec().into()), 0, false);
            dbs[0].set_expire(k.as_bytes(), at, 0);
        }
        dbs[0].set(b"persistent", Value::Str(b"v".to_vec().into()), 0, false);
        let mut seen_b = false;
        for _ in 0..20 {
            let (_, k) = pick_victim(&mut dbs, Policy::VolatileTtl, 10, 0, 1).unwrap();
            assert_ne!(&*k, b"persistent");
            seen_b |= &*k == b"b";
        }
        assert!(seen_b);
        let mut empty = vec![Db::new()];
        assert!(pick_victim(&mut empty, Policy::AllKeysLru, 5, 0, 1).is_none());
    }
}
