//! Client output buffers: the `client-output-buffer-limit` setting (per class hard limit, soft
//! limit and soft seconds), the soft-limit clock of one connection, and the back-pressure
//! threshold that stops a connection from running pipelined commands while its replies wait.
//!
//! Place in the flow: `config` validates and stores the setting through [`OutputLimits`];
//! `client::ClientInfo::push` applies the hard limit when another client queues a Pub/Sub or
//! MONITOR message; `conn` counts every unsent byte of its connection, applies both limits to
//! its own replies and pauses its batch at [`PAUSE_OUTPUT`]. Replica links apply the replica
//! class in `replication`.

use std::time::{Duration, Instant};

/// Unsent output after which a connection stops running the commands still in its input
/// buffer until the socket took what it has: a client that pipelines large reads without
/// reading the replies holds at most this plus one reply, however long its pipeline.
pub const PAUSE_OUTPUT: usize = 256 * 1024;

/// Unsent output past which a client that must still authenticate is closed: the 1,024 bytes
/// redis-server allows such a client (CVE-2025-21605, patched into Debian's 7.0.15) beyond its
/// 16 KiB reply buffer, which that check does not count.
pub const UNAUTHENTICATED_OUTPUT: usize = 16 * 1024 + 1024;

/// Backlog cap for queued pushes of a class whose hard limit is 0 (unlimited in Redis): a
/// MONITOR or subscriber that never reads is closed past it rather than grow the process,
/// which serves every node of the emulator, without bound.
pub const UNLIMITED_PUSH_CAP: usize = 32 * 1024 * 1024;

/// The limits of one client class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLimit {
    /// Bytes after which the client is closed at once (0 = none).
    pub hard: u64,
    /// Bytes the client may stay over for `soft_secs` at most (0 = none).
    pub soft: u64,
    /// Seconds allowed over the soft limit.
    pub soft_secs: u64,
}

/// `client-output-buffer-limit` for the three classes Redis has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    /// Ordinary clients (and MONITOR).
    pub normal: ClassLimit,
    /// Replicas (`slave` / `replica`).
    pub replica: ClassLimit,
    /// Clients with at least one subscription.
    pub pubsub: ClassLimit,
}

impl Default for OutputLimits {
    /// Redis 7.0's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> OutputLimits {
        OutputLimits {
            normal: ClassLimit {
                hard: 0,
                soft: 0,
                soft_secs: 0,
            },
            replica: ClassLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_secs: 60,
            },
            pubsub: ClassLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_secs: 60,
            },
        }
    }
}

impl OutputLimits {
    /// These limits with the classes named in `value` (`<class> <hard> <soft> <seconds>`,
    /// repeated) replaced; the whole value is checked before anything changes. The error is
    /// Redis's reason text.
    pub fn updated(&self, value: &str) -> Result<OutputLimits, &'static str> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        let mut next = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "slave" | "replica" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => return Err("Invalid client class specified in buffer limit configuration."),
            };
            let memory = |w: &str| {
                if w.starts_with('-') {
                    None
                } else {
                    crate::memsize::parse_memory(w)
                }
            };
            match (memory(group[1]), memory(group[2]), group[3].parse::<u64>()) {
                (Some(hard), Some(soft), Ok(soft_secs)) => {
                    *class = ClassLimit {
                        hard,
                        soft,
                        soft_secs,
                    }
                }
                _ => {
                    return Err(
                        "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
                    );
                }
            }
        }
        Ok(next)
    }

    /// The canonical form `CONFIG GET` shows: every class, in bytes, replicas as `slave`.
    pub fn to_config_string(&self) -> String {
        let f =
            |name: &str, c: &ClassLimit| format!("{name} {} {} {}", c.hard, c.soft, c.soft_secs);
        format!(
            "{} {} {}",
            f("normal", &self.normal),
            f("slave", &self.replica),
            f("pubsub", &self.pubsub)
        )
    }

    /// The class limit of a client, by whether it has subscriptions.
    pub fn class(&self, pubsub: bool) -> ClassLimit {
        if pubsub { self.pubsub } else { self.normal }
    }
}

impl ClassLimit {
    /// Whether `unsent` bytes pass the hard limit.
    pub fn over_hard(&self, unsent: usize) -> bool {
        self.hard > 0 && unsent as u64 > self.hard
    }

    /// The hard limit applied to queued pushes: the configured one, or
    /// [`UNLIMITED_PUSH_CAP`] for a class Redis leaves unlimited.
    pub fn push_cap(&self) -> usize {
        if self.hard == 0 {
            UNLIMITED_PUSH_CAP
        } else {
            usize::try_from(self.hard).unwrap_or(usize::MAX)
        }
    }
}

/// Since when a connection's output has been over the soft limit of its class.
#[derive(Debug, Default)]
pub struct SoftClock(Option<Instant>);

impl SoftClock {
    /// Records the unsent size at `now`; true when the client must be closed: over the hard
    /// limit, or over the soft limit for longer than its seconds (Redis resets the clock each
    /// time the output is back under the soft limit).
    pub fn breached(&mut self, unsent: usize, limit: ClassLimit, now: Instant) -> bool {
        if limit.over_hard(unsent) {
            return true;
        }
        if limit.soft == 0 || unsent as u64 <= limit.soft {
            self.0 = None;
            return false;
        }
        let since = *self.0.get_or_insert(now);
        now.duration_since(since) > Duration::from_secs(limit.soft_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_merges_and_rejects_like_redis() {
        let l = OutputLimits::default();
        assert_eq!(
            l.to_config_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let l = l.updated("pubsub 1mb 512kb 5").unwrap();
        assert_eq!(
            l.to_config_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5"
        );
        let l = l.updated("replica 1 2 3").unwrap();
        assert_eq!(l.replica.soft_secs, 3);
        assert_eq!(
            l.updated("pubsub 1mb 512kb"),
            Err("Wrong number of arguments in buffer limit configuration.")
        );
        assert_eq!(
            l.updated("foo 1 1 1"),
            Err("Invalid client class specified in buffer limit configuration.")
        );
        for bad in ["normal 1x 0 0", "normal -1 0 0", "normal 0 0 -5"] {
            assert_eq!(
                l.updated(bad),
                Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
            );
        }
    }

    #[test]
    fn soft_limit_needs_its_seconds_and_resets_under_it() {
        let limit = ClassLimit {
            hard: 1000,
            soft: 100,
            soft_secs: 2,
        };
        let t0 = Instant::now();
        let mut c = SoftClock::default();
        assert!(!c.breached(200, limit, t0));
        assert!(!c.breached(200, limit, t0 + Duration::from_secs(2)));
        assert!(c.breached(200, limit, t0 + Duration::from_millis(2001)));
        let mut c = SoftClock::default();
        assert!(!c.breached(200, limit, t0));
        assert!(!c.breached(50, limit, t0 + Duration::from_secs(1)));
        assert!(!c.breached(200, limit, t0 + Duration::from_secs(3)));
        assert!(c.breached(1001, limit, t0));
    }
}
