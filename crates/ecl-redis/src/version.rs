//! Engine releases: which engine a node is (Redis or Valkey) and which version, what it calls
//! itself in INFO and HELLO, and whether a command exists on it.
//!
//! Place in the flow: the supervisor passes the flavour and the API's engine version in
//! [`crate::RedisConfig`]; [`crate::RedisNode::start`] parses them into an [`EngineVersion`],
//! builds the command table for it (each entry's [`Since`] decides) and the INFO / HELLO /
//! LOLWUT handlers ask it how to name the server. Every flavour rule lives here, so handlers
//! never match on [`Flavor`] themselves.

use crate::Flavor;

/// Packs a version for comparisons (`major.minor.patch`, minor and patch below 100).
pub const fn v(major: u32, minor: u32, patch: u32) -> u32 {
    major * 10_000 + minor * 100 + patch
}

/// The Redis OSS release every Valkey release is compatible with (Valkey forked from it and
/// reports it as `redis_version`).
pub const VALKEY_REDIS_COMPAT: u32 = v(7, 2, 4);
const VALKEY_REDIS_COMPAT_TEXT: &str = "7.2.4";

/// From Valkey 8.0 on, Valkey names itself in HELLO and INFO (`server_mode`) instead of
/// pretending to be Redis (its `extended-redis-compatibility` setting defaults to `no`).
const VALKEY_OWN_NAME: u32 = v(8, 0, 0);

/// Marks an engine that never has the command.
const NEVER: u32 = u32::MAX;

/// A release of one engine, as a command entry names its first appearance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// A Redis OSS release `major.minor.patch`.
    Redis(u32, u32, u32),
    /// A Valkey release `major.minor.patch`.
    Valkey(u32, u32, u32),
}

/// When a command exists: the first Redis release and the first Valkey release having it.
///
/// Built from a [`Release`]: a Redis release up to the one Valkey forked from also covers every
/// Valkey release; a later Redis release covers no Valkey release; a Valkey release covers no
/// Redis release. [`Since::or_valkey`] states a Valkey release where that rule is wrong.
/// [`Since::until`] ends the availability, for an entry a later release replaced (ZRANK's 7.0
/// arity, replaced by the 7.2 one with WITHSCORE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since {
    redis: u32,
    valkey: u32,
    /// First Redis release without it ([`NEVER`]: no end).
    redis_until: u32,
    /// First Valkey release without it.
    valkey_until: u32,
    /// The release `COMMAND DOCS` prints as `since` (the command's first release, also for a
    /// variant that a later release introduced).
    doc: u32,
}

impl Since {
    /// Present in every release of both engines.
    pub const ALWAYS: Since = Since::from(Release::Redis(1, 0, 0));

    /// Availability starting at `first`.
    pub const fn from(first: Release) -> Since {
        match first {
            Release::Redis(a, b, c) => {
                let redis = v(a, b, c);
                let valkey = if redis <= VALKEY_REDIS_COMPAT {
                    0
                } else {
                    NEVER
                };
                Since {
                    redis,
                    valkey,
                    redis_until: NEVER,
                    valkey_until: NEVER,
                    doc: redis,
                }
            }
            Release::Valkey(a, b, c) => Since {
                redis: NEVER,
                valkey: v(a, b, c),
                redis_until: NEVER,
                valkey_until: NEVER,
                doc: v(a, b, c),
            },
        }
    }

    /// The same, but present on Valkey from `major.minor.patch` on.
    pub const fn or_valkey(self, major: u32, minor: u32, patch: u32) -> Since {
        Since {
            valkey: v(major, minor, patch),
            ..self
        }
    }

    /// The same, ending at `last` (exclusive): a Redis release up to the one Valkey forked
    /// from ends it on every Valkey release too; a Valkey release ends it on Valkey only.
    pub const fn until(self, last: Release) -> Since {
        match last {
            Release::Redis(a, b, c) => Since {
                redis_until: v(a, b, c),
                valkey_until: if v(a, b, c) <= VALKEY_REDIS_COMPAT {
                    0
                } else {
                    self.valkey_until
                },
                ..self
            },
            Release::Valkey(a, b, c) => Since {
                valkey_until: v(a, b, c),
                ..self
            },
        }
    }

    /// The same availability starting at `first` instead, keeping the documented first
    /// release: the later of two entries of one command whose syntax changed at `first`.
    pub const fn variant_from(self, first: Release) -> Since {
        let from = Since::from(first);
        Since {
            redis: from.redis,
            valkey: from.valkey,
            ..self
        }
    }

    /// The version `COMMAND DOCS` prints as `since`: the Redis release, or the Valkey one for
    /// Valkey-only commands.
    pub const fn doc_version(self) -> u32 {
        self.doc
    }
}

/// A node's engine and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineVersion {
    /// Redis or Valkey.
    pub flavor: Flavor,
    /// The engine's own version, packed with [`v`].
    pub version: u32,
}

impl EngineVersion {
    /// Parses `major.minor.patch` (missing or non-numeric parts count as 0).
    pub fn parse(flavor: Flavor, text: &str) -> EngineVersion {
        EngineVersion {
            flavor,
            version: parse_version(text),
        }
    }

    /// A Redis release.
    pub const fn redis(major: u32, minor: u32, patch: u32) -> EngineVersion {
        EngineVersion {
            flavor: Flavor::Redis,
            version: v(major, minor, patch),
        }
    }

    /// A Valkey release.
    pub const fn valkey(major: u32, minor: u32, patch: u32) -> EngineVersion {
        EngineVersion {
            flavor: Flavor::Valkey,
            version: v(major, minor, patch),
        }
    }

    /// Whether a command available `since` exists on this release.
    pub const fn has(self, since: Since) -> bool {
        match self.flavor {
            Flavor::Redis => since.redis <= self.version && self.version < since.redis_until,
            Flavor::Valkey => since.valkey <= self.version && self.version < since.valkey_until,
        }
    }

    /// The Redis release whose behaviour (option syntax, reply shapes) the node follows.
    pub const fn compat(self) -> u32 {
        match self.flavor {
            Flavor::Redis => self.version,
            Flavor::Valkey => VALKEY_REDIS_COMPAT,
        }
    }

    /// INFO `redis_version`: the Redis release the node follows (`text` is the node's own
    /// version as configured, printed unchanged for Redis).
    pub fn redis_version(self, text: &str) -> &str {
        match self.flavor {
            Flavor::Redis => text,
            Flavor::Valkey => VALKEY_REDIS_COMPAT_TEXT,
        }
    }

    /// INFO `server_name` / `valkey_version`, when the engine reports them.
    pub fn valkey_version(self, text: &str) -> Option<&str> {
        (self.flavor == Flavor::Valkey).then_some(text)
    }

    /// Lowercase engine name (`executable` path, HELLO `server` when it names itself).
    pub const fn name(self) -> &'static str {
        match self.flavor {
            Flavor::Redis => "redis",
            Flavor::Valkey => "valkey",
        }
    }

    /// Product name in prose (LOLWUT).
    pub const fn product(self) -> &'static str {
        match self.flavor {
            Flavor::Redis => "Redis",
            Flavor::Valkey => "Valkey",
        }
    }

    /// Whether the engine names itself rather than Redis in HELLO and INFO (Valkey 8.0 on).
    const fn names_itself(self) -> bool {
        matches!(self.flavor, Flavor::Valkey) && self.version >= VALKEY_OWN_NAME
    }

    /// HELLO `server` and `version`: Valkey 7.2 still answers as Redis 7.2.4.
    pub fn hello_identity(self, text: &str) -> (&'static str, &str) {
        match self.flavor {
            Flavor::Valkey if !self.names_itself() => ("redis", VALKEY_REDIS_COMPAT_TEXT),
            _ => (self.name(), text),
        }
    }

    /// Name of the INFO field giving standalone / cluster mode.
    pub const fn mode_field(self) -> &'static str {
        if self.names_itself() {
            "server_mode"
        } else {
            "redis_mode"
        }
    }
}

/// Parses `major.minor.patch` (missing parts are 0; minor and patch capped at 99).
pub fn parse_version(s: &str) -> u32 {
    let mut it = s.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    );
    v(a, b.min(99), c.min(99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_releases_up_to_the_fork_cover_every_valkey() {
        let since = Since::from(Release::Redis(6, 2, 0));
        assert!(!EngineVersion::redis(6, 0, 5).has(since));
        assert!(EngineVersion::redis(6, 2, 6).has(since));
        assert!(EngineVersion::valkey(7, 2, 6).has(since));
        assert!(EngineVersion::valkey(8, 1, 1).has(since));
        let later = Since::from(Release::Redis(7, 4, 0));
        assert!(!EngineVersion::valkey(8, 1, 1).has(later));
        assert!(EngineVersion::valkey(9, 0, 0).has(later.or_valkey(9, 0, 0)));
    }

    #[test]
    fn valkey_only_commands_need_the_valkey_release() {
        let since = Since::from(Release::Valkey(8, 0, 0));
        assert!(!EngineVersion::valkey(7, 2, 6).has(since));
        assert!(EngineVersion::valkey(8, 0, 1).has(since));
        assert!(!EngineVersion::redis(7, 1, 0).has(since));
        assert_eq!(since.doc_version(), v(8, 0, 0));
    }

    #[test]
    fn identity_per_release() {
        let r = EngineVersion::parse(Flavor::Redis, "7.1.0");
        assert_eq!(r.redis_version("7.1.0"), "7.1.0");
        assert_eq!(r.hello_identity("7.1.0"), ("redis", "7.1.0"));
        assert_eq!(r.valkey_version("7.1.0"), None);
        assert_eq!(r.mode_field(), "redis_mode");
        let v72 = EngineVersion::parse(Flavor::Valkey, "7.2.6");
        assert_eq!(v72.hello_identity("7.2.6"), ("redis", "7.2.4"));
        assert_eq!(v72.mode_field(), "redis_mode");
        let v8 = EngineVersion::parse(Flavor::Valkey, "8.0.1");
        assert_eq!(v8.redis_version("8.0.1"), "7.2.4");
        assert_eq!(v8.valkey_version("8.0.1"), Some("8.0.1"));
        assert_eq!(v8.hello_identity("8.0.1"), ("valkey", "8.0.1"));
        assert_eq!(v8.mode_field(), "server_mode");
        assert_eq!(v8.compat(), v(7, 2, 4));
    }
}
