//! The declarative command table and the families that fill it.
//!
//! Place in the flow: the connection hands each decoded command to [`dispatch::dispatch`],
//! which looks the name up in the node's [`CommandTable`] and lets the table entry drive every
//! generic rule before the handler runs: unknown command and arity errors, subcommand
//! resolution, NOAUTH, RESP2 subscribed-mode restrictions, MULTI queueing, `denyoom` memory
//! checks, write-pause, statistics, slowlog and MONITOR. `COMMAND` / `COMMAND INFO|DOCS|LIST|
//! GETKEYS|COUNT` are answered from the same entries, and later ACL, cluster slot checks and
//! replication read the same flags and key specs.
//!
//! Each family file exports `pub const COMMANDS: &[CommandSpec]`; [`FAMILIES`] is the one place
//! that registers them. A node builds its table once at start, keeping only commands whose
//! `since` version is not newer than the node's engine version (newer ones answer "unknown
//! command", as the older server would).
//!
//! Adding a family (e.g. lists): create `command/lists.rs` with `pub const COMMANDS` built from
//! [`cmd`] entries (`arity` as Redis counts it, including the name; flags from [`flags`]; key
//! positions as [`Keys::Range`] or a [`Keys::Custom`] function plus `MOVABLE_KEYS`; per-key
//! key-spec flags with `.ks(&[…])` from [`ks`], one entry per key in order, the last covering
//! the rest, when Redis documents something other than the default of
//! [`CommandSpec::key_flags`]), add `pub mod lists;` and `lists::COMMANDS` to [`FAMILIES`] — nothing else in shared files.
//! Handlers are `fn(&mut Ctx, &Argv) -> CmdResult`: read with `ctx.db().get(key, ctx.now)`
//! (counts hits/misses) or `peek`, write through `ctx.db().get_or_create` / `get_mut` (memory
//! and WATCH bookkeeping happen on drop of the returned guard), call `ctx.db().remove_if_empty`
//! after removing elements, then state the write's effects on the guard of [`write`]:
//! `ctx.write(key).notify(notify::LIST, "lpush").dirty(n).ready()` (`ready` for writes that add
//! content, so blocked clients are served), applied when the guard drops. Blocking commands try
//! first and, when they cannot serve, return `ctx.block(keys, ctx.timeout_arg(argv, i)?,
//! TimeoutReply::NullArray)`; the dispatcher re-runs them when a key is signalled. Return
//! `Err(errors::WRONGTYPE.into())` (or `db::wrong_type()`) for the wrong value type; the
//! data-structure algorithms belong in `db/<type>.rs`.

pub mod argv;
pub mod bits;
pub mod coll;
pub mod connection;
pub mod dispatch;
pub mod dump;
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod txn;
pub mod write;
pub mod zsets;
pub mod zsets_ops;

pub use argv::{Argv, OwnedArgv};
pub use dispatch::Ctx;

use crate::db::dict::FnvBuild;
use crate::errors::CmdResult;
use std::collections::HashMap;

/// A command handler.
pub type Handler = fn(&mut Ctx<'_>, &Argv<'_>) -> CmdResult;

/// Command flags (as `COMMAND INFO` names them).
pub mod flags {
    /// Modifies the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Only reads.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused when over maxmemory under noeviction.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/Sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 6;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 7;
    /// O(1) / O(log n).
    pub const FAST: u32 = 1 << 8;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 9;
    /// May replicate even when read-only.
    pub const MAY_REPLICATE: u32 = 1 << 10;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 11;
    /// Not shown to MONITOR.
    pub const SKIP_MONITOR: u32 = 1 << 12;
    /// Not recorded in SLOWLOG.
    pub const SKIP_SLOWLOG: u32 = 1 << 13;
    /// Refused inside MULTI.
    pub const NO_MULTI: u32 = 1 << 14;
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: u32 = 1 << 15;
    /// Allowed in RESP2 subscribed mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 16;
    /// Runs immediately even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const TXN_CONTROL: u32 = 1 << 17;
    /// Key positions are computed by a function.
    pub const MOVABLE_KEYS: u32 = 1 << 18;

    /// Flag names as `COMMAND INFO` prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (BLOCKING, "blocking"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_AUTH, "no_auth"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
        (MOVABLE_KEYS, "movablekeys"),
    ];
}

/// ACL categories.
pub mod acl {
    #![allow(missing_docs)]
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    /// Category names as `COMMAND INFO` and `ACL CAT` print them.
    pub const NAMES: &[(u32, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Key-spec flags (as `COMMAND INFO` key specs and `COMMAND GETKEYSANDFLAGS` name them).
///
/// Exactly one of the first four says what the command does to the key itself; the next four
/// say what it does to the user data inside; the rest qualify the spec.
pub mod ks {
    /// Read-only: reads the value, may not return it.
    pub const RO: u16 = 1 << 0;
    /// Read-write: modifies the value or its metadata.
    pub const RW: u16 = 1 << 1;
    /// Overwrite: replaces the value without reading it.
    pub const OW: u16 = 1 << 2;
    /// Removes the key.
    pub const RM: u16 = 1 << 3;
    /// Returns, copies or uses the user data.
    pub const ACCESS: u16 = 1 << 4;
    /// Updates the user data (the new value may depend on the old).
    pub const UPDATE: u16 = 1 << 5;
    /// Adds data without touching what exists.
    pub const INSERT: u16 = 1 << 6;
    /// Deletes data from the value.
    pub const DELETE: u16 = 1 << 7;
    /// Looks like a key but is not one (shard channels): excluded from GETKEYS.
    pub const NOT_KEY: u16 = 1 << 8;
    /// The spec may not find every key (patterns, options).
    pub const INCOMPLETE: u16 = 1 << 9;
    /// The flags depend on the arguments (SET … GET, BITFIELD sub-operations).
    pub const VARIABLE_FLAGS: u16 = 1 << 10;

    /// Flag names in the order Redis prints them.
    pub const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];

    /// Names of the bits set in `f`.
    pub fn names(f: u16) -> impl Iterator<Item = &'static str> {
        NAMES
            .iter()
            .filter(move |(b, _)| f & b != 0)
            .map(|(_, n)| *n)
    }
}

/// Computes one key's flags from a concrete invocation (commands whose spec says
/// [`ks::VARIABLE_FLAGS`]): `(argv, key ordinal)`.
pub type KeyFlagsFn = fn(&Argv<'_>, usize) -> u16;

/// Where a command's keys are.
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    /// No keys.
    None,
    /// Positional keys: `first`, `last` (negative counts from the end: -1 is the last
    /// argument), `step`.
    Range(i32, i32, i32),
    /// Positions computed from the arguments (e.g. `numkeys`-style commands).
    Custom(fn(&Argv<'_>) -> Vec<usize>),
}

/// Packs a version for comparisons.
pub const fn v(major: u32, minor: u32, patch: u32) -> u32 {
    major * 10_000 + minor * 100 + patch
}

/// One command (or subcommand) definition.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lowercase name (for subcommands, the subcommand word).
    pub name: &'static str,
    /// Redis arity: positive = exact argument count, negative = at least |arity|.
    pub arity: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Key positions.
    pub keys: Keys,
    /// [`acl`] category bits.
    pub acl: u32,
    /// First Redis version that has the command.
    pub since: u32,
    /// `COMMAND DOCS` group (string, generic, server, connection, …).
    pub group: &'static str,
    /// `COMMAND DOCS` one-line summary.
    pub summary: &'static str,
    /// The handler (containers use [`container`]).
    pub handler: Handler,
    /// Subcommands for containers (CONFIG, CLIENT, OBJECT, …).
    pub subs: &'static [CommandSpec],
    /// Key-spec flags per key ordinal (the n-th key found by [`CommandSpec::key_positions`]);
    /// the last entry covers every further key. Empty: derived from the command flags (see
    /// [`CommandSpec::key_flags`]).
    pub key_flags: &'static [u16],
    /// Per-invocation flags for [`ks::VARIABLE_FLAGS`] commands.
    pub key_flags_fn: Option<KeyFlagsFn>,
    /// `COMMAND INFO` first/last/step for [`Keys::Custom`] commands whose first key is at a
    /// fixed place (ZUNIONSTORE's destination, SORT's key), as Redis derives them.
    pub legacy_range: (i32, i32, i32),
}

impl CommandSpec {
    /// Adds a summary.
    pub const fn doc(mut self, summary: &'static str) -> CommandSpec {
        self.summary = summary;
        self
    }
    /// Adds subcommands.
    pub const fn subs(mut self, subs: &'static [CommandSpec]) -> CommandSpec {
        self.subs = subs;
        self
    }
    /// Declares key-spec flags per key ordinal (see [`CommandSpec::key_flags`]).
    pub const fn ks(mut self, flags: &'static [u16]) -> CommandSpec {
        self.key_flags = flags;
        self
    }
    /// Declares key-spec flags plus a function computing them per invocation.
    pub const fn ks_var(mut self, flags: &'static [u16], f: KeyFlagsFn) -> CommandSpec {
        self.key_flags = flags;
        self.key_flags_fn = Some(f);
        self
    }
    /// Declares the `COMMAND INFO` first/last/step of a [`Keys::Custom`] command.
    pub const fn legacy(mut self, first: i32, last: i32, step: i32) -> CommandSpec {
        self.legacy_range = (first, last, step);
        self
    }
    /// Declared key-spec flags of the key with ordinal `nth` (`RO access` for read-only
    /// commands and `RW update` for writers when nothing is declared: the most general
    /// statement that is still true for a command of that kind).
    pub fn key_flags(&self, nth: usize) -> u16 {
        match self.key_flags {
            [] if self.has(flags::WRITE) => ks::RW | ks::UPDATE,
            [] if self.has(flags::READONLY) => ks::RO | ks::ACCESS,
            [] => ks::RO,
            list => list[nth.min(list.len() - 1)],
        }
    }
    /// Key-spec flags of the key with ordinal `nth` in a concrete invocation.
    pub fn key_flags_for(&self, argv: &Argv<'_>, nth: usize) -> u16 {
        match self.key_flags_fn {
            Some(f) => f(argv, nth) & !ks::VARIABLE_FLAGS,
            None => self.key_flags(nth),
        }
    }
    /// Whether a flag is set.
    pub const fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
    /// Key positions for a concrete invocation.
    pub fn key_positions(&self, argv: &Argv<'_>) -> Vec<usize> {
        match self.keys {
            Keys::None => Vec::new(),
            Keys::Custom(f) => f(argv),
            Keys::Range(first, last, step) => {
                let n = argv.len() as i32;
                let last = if last < 0 { n + last } else { last };
                let mut v = Vec::new();
                let mut i = first;
                while i <= last && i < n && step > 0 {
                    v.push(i as usize);
                    i += step;
                }
                v
            }
        }
    }
}

/// Builds a spec (const, so family tables are plain statics).
#[allow(clippy::too_many_arguments)]
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    acl: u32,
    since: u32,
    group: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        acl,
        since,
        group,
        summary: "",
        handler,
        subs: &[],
        key_flags: &[],
        key_flags_fn: None,
        legacy_range: (0, 0, 0),
    }
}

/// Handler placeholder for containers: the dispatcher always resolves a subcommand first.
pub fn container(_: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    Ok(())
}

/// Every family's commands; the single registration point.
pub const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    introspect::COMMANDS,
    keys::COMMANDS,
    dump::COMMANDS,
    sort::COMMANDS,
    strings::COMMANDS,
    bits::COMMANDS,
    txn::COMMANDS,
    pubsub::COMMANDS,
    lists::COMMANDS,
    hashes::COMMANDS,
    sets::COMMANDS,
    zsets::COMMANDS,
    zsets_ops::COMMANDS,
    hyperloglog::COMMANDS,
    crate::cluster::commands::COMMANDS,
];

/// A resolved table entry.
#[derive(Debug)]
pub struct Entry {
    /// The definition.
    pub spec: &'static CommandSpec,
    /// `name` or `container|sub`, as errors and INFO commandstats print it.
    pub full_name: String,
    /// Subcommand ids by lowercase name.
    pub subs: HashMap<Vec<u8>, usize, FnvBuild>,
    /// Parent entry id, for subcommands.
    pub parent: Option<usize>,
}

/// The per-node command table (filtered by engine version).
#[derive(Debug)]
pub struct CommandTable {
    by_name: HashMap<Vec<u8>, usize, FnvBuild>,
    /// All entries; ids index this vector (and per-command statistics).
    pub entries: Vec<Entry>,
    /// Engine version the table was built for.
    pub version: u32,
}

impl CommandTable {
    /// Builds the table for a Redis-compatible version (packed with [`v`]).
    pub fn build(version: u32) -> CommandTable {
        let mut t = CommandTable {
            by_name: HashMap::default(),
            entries: Vec::new(),
            version,
        };
        for fam in FAMILIES {
            for spec in fam.iter() {
                if spec.since > version {
                    continue;
                }
                let id = t.entries.len();
                t.entries.push(Entry {
                    spec,
                    full_name: spec.name.to_string(),
                    subs: HashMap::default(),
                    parent: None,
                });
                for sub in spec.subs {
                    if sub.since > version {
                        continue;
                    }
                    let sid = t.entries.len();
                    t.entries.push(Entry {
                        spec: sub,
                        full_name: format!("{}|{}", spec.name, sub.name),
                        subs: HashMap::default(),
                        parent: Some(id),
                    });
                    t.entries[id].subs.insert(sub.name.as_bytes().to_vec(), sid);
                }
                t.by_name.insert(spec.name.as_bytes().to_vec(), id);
            }
        }
        t
    }

    /// Looks up a top-level command by (any-case) name.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 32];
        let n = argv::lower_name(name, &mut buf)?;
        self.by_name.get(&buf[..n]).copied()
    }

    /// Looks up a subcommand of entry `id`.
    pub fn lookup_sub(&self, id: usize, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 32];
        let n = argv::lower_name(name, &mut buf)?;
        self.entries[id].subs.get(&buf[..n]).copied()
    }

    /// Top-level entries (COMMAND, COMMAND COUNT).
    pub fn top_level(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.parent.is_none())
    }

    /// Renames or disables commands (`rename-command old new`; empty `new` disables).
    pub fn rename(&mut self, old: &str, new: &str) -> bool {
        let Some(id) = self.by_name.remove(old.to_ascii_lowercase().as_bytes()) else {
            return false;
        };
        if !new.is_empty() {
            self.by_name
                .insert(new.to_ascii_lowercase().into_bytes(), id);
        }
        true
    }
}

/// Arity check (`arity` as in the spec).
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i32;
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_arity_sane() {
        let mut seen = std::collections::HashSet::new();
        for fam in FAMILIES {
            for c in fam.iter() {
                assert_eq!(c.name, c.name.to_ascii_lowercase());
                assert!(seen.insert(c.name), "duplicate {}", c.name);
                assert!(c.arity != 0, "{}", c.name);
                assert!(c.name.len() <= 32);
                for s in c.subs {
                    assert!(s.arity.abs() >= 2, "{}|{}", c.name, s.name);
                }
                if matches!(c.keys, Keys::Custom(_)) {
                    assert!(c.has(flags::MOVABLE_KEYS), "{} has computed keys", c.name);
                }
            }
        }
    }

    #[test]
    fn version_filter_hides_newer_commands() {
        let old = CommandTable::build(v(6, 0, 0));
        let new = CommandTable::build(v(7, 2, 0));
        assert!(old.lookup(b"GETDEL").is_none(), "GETDEL arrived in 6.2");
        assert!(new.lookup(b"getdel").is_some());
        assert!(new.lookup(b"GeT").is_some());
    }

    #[test]
    fn key_ranges() {
        let t = CommandTable::build(v(7, 2, 0));
        let mset = t.entries[t.lookup(b"mset").unwrap()].spec;
        let buf = b"msetk1v1k2v2";
        let offs = [(0, 4), (4, 6), (6, 8), (8, 10), (10, 12)];
        assert_eq!(mset.key_positions(&Argv::new(buf, &offs)), vec![1, 3]);
    }
}

#[cfg(test)]
mod readme_tests {
    use super::*;

    /// The crate README never lists a command the table does not have (for a current version).
    #[test]
    fn readme_commands_exist() {
        let readme = include_str!("../../README.md");
        let start = readme.find("<!-- commands:start -->").unwrap_or(0);
        let end = readme.find("<!-- commands:end -->").unwrap_or(readme.len());
        let t = CommandTable::build(v(7, 2, 4));
        let containers = [
            "client", "command", "config", "slowlog", "latency", "memory", "object", "pubsub",
        ];
        for line in readme[start..end].lines().filter(|l| l.starts_with("- ")) {
            let (label, names) = line[2..].split_once(':').unwrap_or(("", ""));
            let label = label.trim().to_ascii_lowercase();
            let parents: Vec<&str> = label.split(" / ").collect();
            let groups: Vec<&str> = names.split(" / ").collect();
            for (i, group) in groups.iter().enumerate() {
                for name in group.split_whitespace() {
                    let lower = name.to_ascii_lowercase();
                    let parent = parents.get(i).copied().filter(|p| containers.contains(p));
                    let found = match parent {
                        Some(p) => t
                            .lookup(p.as_bytes())
                            .and_then(|id| t.lookup_sub(id, lower.as_bytes()))
                            .is_some(),
                        None => t.lookup(lower.as_bytes()).is_some(),
                    };
                    assert!(found, "README lists {label} {name}, which the table lacks");
                }
            }
        }
    }
}
