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
//! that registers them. A node builds its table once at start for its engine release
//! ([`EngineVersion`]), keeping only the entries whose `since` that release has (others answer
//! "unknown command", as the older server would).
//!
//! Adding a family (e.g. lists): create `command/lists.rs` with `pub const COMMANDS` built from
//! [`Cmd::new`]`(name, handler)` entries: `.arity(n)` as Redis counts it, including the name;
//! `.flags(&[..])` from [`flags`] and `.acl(&[..])` from [`acl`]; `.keys(..)` as
//! [`Keys::Range`] or a [`Keys::Custom`] function plus `MOVABLE_KEYS`; `.since(Redis(x, y, z))`
//! (a [`Release`]; `.valkey_since(..)` where Valkey differs); `.group(..)` and `.doc(..)` for
//! `COMMAND DOCS`; per-key key-spec flags with `.ks(&[…])` from [`ks`], one entry per key in
//! order, the last covering the rest, when Redis documents something other than the default
//! of [`CommandSpec::key_flags`]. Then add `pub mod lists;` and `lists::COMMANDS` to
//! [`FAMILIES`] — nothing else in shared files.
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

pub mod aclcmd;
pub mod aof_load;
pub mod bits;
pub mod client_line;
pub mod cluster;
pub mod coll;
pub mod commandlog;
pub mod connection;
pub mod debug;
pub mod dispatch;
pub mod dump;
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault;
pub mod functions;
pub mod geo;
pub mod hashes;
pub mod help;
pub mod hyperloglog;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod keyspecs;
pub mod latency;
pub mod lists;
pub mod partial_sort;
pub mod pubsub;
pub mod replication;
pub mod route;
pub mod run_flags;
pub mod script_run;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod streams_groups;
pub mod streams_info;
pub mod strings;
pub mod tips;
pub mod txn;
pub mod write;
pub mod zsets;
pub mod zsets_ops;

pub use crate::argv::{Argv, OwnedArgv};
pub use crate::cmdtable::{AclCategories, Flags, KeyFlagsFn, Keys, acl, arity_ok, flags, ks, spec};
pub use crate::engine::{Ctx, Handler};
pub use crate::version::{EngineVersion, Release, Since, v};

use crate::errors::CmdResult;

/// One command table entry's definition, with this crate's handler type.
pub type CommandSpec = crate::cmdtable::CommandSpec<Handler>;
/// [`CommandSpec`] under the short name family tables use.
pub type Cmd = CommandSpec;
/// A resolved table entry.
pub type Entry = crate::cmdtable::Entry<Handler>;
pub use crate::engine::CommandTable;

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
    geo::COMMANDS,
    streams::COMMANDS,
    streams_groups::COMMANDS,
    streams_info::COMMANDS,
    scripting::COMMANDS,
    functions::COMMANDS,
    cluster::COMMANDS,
    aclcmd::COMMANDS,
    commandlog::COMMANDS,
];

impl CommandTable {
    /// Builds the table for an engine release from every family in [`FAMILIES`].
    pub fn build(engine: EngineVersion) -> CommandTable {
        CommandTable::from_families(engine, FAMILIES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_arity_sane() {
        // A name may appear twice only as variants no release has both of (ZRANK's arity).
        let releases = [
            EngineVersion::redis(2, 0, 0),
            EngineVersion::redis(6, 2, 0),
            EngineVersion::redis(7, 0, 15),
            EngineVersion::redis(7, 2, 0),
            EngineVersion::valkey(7, 2, 4),
            EngineVersion::valkey(8, 1, 0),
        ];
        for engine in releases {
            let mut seen = std::collections::HashSet::new();
            for c in FAMILIES
                .iter()
                .flat_map(|f| f.iter())
                .filter(|c| engine.has(c.since))
            {
                assert!(seen.insert(c.name), "duplicate {} on {engine:?}", c.name);
            }
        }
        for fam in FAMILIES {
            for c in fam.iter() {
                assert_eq!(c.name, c.name.to_ascii_lowercase());
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

    /// Whether the table built for `engine` has `name` (`container|sub` for subcommands).
    fn has(engine: EngineVersion, name: &str) -> bool {
        let t = CommandTable::build(engine);
        match name.split_once('|') {
            Some((c, sub)) => t
                .lookup(c.as_bytes())
                .is_some_and(|id| t.lookup_sub(id, sub.as_bytes()).is_some()),
            None => t.lookup(name.as_bytes()).is_some(),
        }
    }

    #[test]
    fn version_filter_hides_newer_commands() {
        let old = CommandTable::build(EngineVersion::redis(6, 0, 0));
        let new = CommandTable::build(EngineVersion::redis(7, 2, 0));
        assert!(old.lookup(b"GETDEL").is_none(), "GETDEL arrived in 6.2");
        assert!(new.lookup(b"getdel").is_some());
        assert!(new.lookup(b"GeT").is_some());
    }

    #[test]
    fn tables_per_engine_release() {
        let r62 = EngineVersion::redis(6, 2, 6);
        let r70 = EngineVersion::redis(7, 0, 7);
        let vk80 = EngineVersion::valkey(8, 0, 1);
        // (command, in 6.2, in 7.0, in Valkey 8.0)
        let cases = [
            ("get", true, true, true),
            ("getdel", true, true, true),
            ("lcs", false, true, true),
            ("zintercard", false, true, true),
            ("spublish", false, true, true),
            ("command|docs", false, true, true),
            ("client|no-evict", false, true, true),
            ("client|setinfo", false, false, true),
            ("client|no-touch", false, false, true),
        ];
        for (name, in62, in70, in80) in cases {
            assert_eq!(has(r62, name), in62, "{name} on redis 6.2");
            assert_eq!(has(r70, name), in70, "{name} on redis 7.0");
            assert_eq!(has(vk80, name), in80, "{name} on valkey 8.0");
        }
        let count = |e| CommandTable::build(e).entries.len();
        assert!(count(r62) < count(r70));
        // Valkey offers the Redis 7.2.4 command set it forked from, plus its own additions
        // from the release that brought them.
        let fork = count(EngineVersion::redis(7, 2, 4));
        let valkey_8_0 = ["script|show", "client|capa", "cluster|slot-stats"];
        let valkey_8_1 = ["commandlog", "commandlog|get", "commandlog|len"];
        let vk72 = EngineVersion::valkey(7, 2, 6);
        let vk81 = EngineVersion::valkey(8, 1, 1);
        assert_eq!(count(vk72), fork);
        assert_eq!(count(vk80), fork + valkey_8_0.len());
        assert_eq!(count(vk81), fork + valkey_8_0.len() + 5);
        for name in valkey_8_0.iter().chain(&valkey_8_1) {
            let in81 = has(vk81, name);
            let (in72, in80) = (has(vk72, name), has(vk80, name));
            assert_eq!(
                (in72, in80, in81),
                (false, valkey_8_0.contains(name), true),
                "{name}"
            );
        }
    }

    #[test]
    fn typed_flags_round_trip_to_printed_names() {
        for (flag, name) in flags::NAMES {
            assert_eq!(Flags::from_name(name), Some(*flag));
            assert_eq!(flag.names().collect::<Vec<_>>(), vec![*name]);
        }
        for (cat, name) in acl::NAMES {
            assert_eq!(AclCategories::from_name(name), Some(*cat));
            assert_eq!(cat.names().collect::<Vec<_>>(), vec![*name]);
        }
        let t = CommandTable::build(EngineVersion::redis(7, 0, 7));
        let spec = |n: &str| t.entries[t.lookup(n.as_bytes()).unwrap_or(0)].spec;
        // The order COMMAND INFO prints (the name tables' order), whatever the builder's order.
        let set = spec("set");
        assert_eq!(set.flags.names().collect::<Vec<_>>(), ["write", "denyoom"]);
        assert_eq!(
            set.acl.names().collect::<Vec<_>>(),
            ["write", "string", "slow"]
        );
        assert_eq!(set.flags, flags::DENYOOM | flags::WRITE);
        let bz = spec("bzpopmin");
        assert_eq!(
            bz.acl.names().collect::<Vec<_>>(),
            ["write", "sortedset", "fast", "blocking"]
        );
        assert!(bz.flags.contains(flags::WRITE | flags::BLOCKING));
        assert!(!bz.flags.contains(flags::WRITE | flags::DENYOOM));
        assert!(bz.has(flags::NOSCRIPT) && !bz.has(flags::DENYOOM));
        // Internal flags have no printed name.
        assert_eq!(Flags::from_name("txn_control"), None);
        assert_eq!(flags::TXN_CONTROL.names().count(), 0);
    }

    #[test]
    fn key_ranges() {
        let t = CommandTable::build(EngineVersion::redis(7, 2, 0));
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
        let t = CommandTable::build(EngineVersion::valkey(8, 0, 1));
        let containers = [
            "client", "command", "config", "slowlog", "latency", "memory", "object", "pubsub",
            "acl",
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
