//! What one command table entry says: the typed command flags and ACL categories, key-spec
//! flags, key positions, availability per engine release, and the [`CommandSpec`] builder
//! the family files declare their `COMMANDS` with.
//!
//! Place in the flow: family files build `const` entries from here; [`super::CommandTable`]
//! keeps the entries a node's engine release has; dispatch, cluster routing and `COMMAND` /
//! `ACL CAT` read the flags and categories through [`Flags`] and [`AclCategories`].
//!
//! The flag sets are `Copy` newtypes. Operators cannot run in `const` items on stable Rust,
//! so entries list flags as slices (`.flags(&[WRITE, DENYOOM])`) and aliases combine with the
//! `const fn` [`Flags::with`]; `|` ([`std::ops::BitOr`]) is for code outside the tables.

use crate::argv::Argv;
use crate::version::{Release, Since};
use std::ops::BitOr;

/// Declares a bit-set newtype with its `const` combinators and its name table.
macro_rules! bitset {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name(u32);

        impl $name {
            /// The empty set.
            pub const NONE: $name = $name(0);
            /// The union of two sets (`const`, for aliases in family tables).
            pub const fn with(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }
            /// The union of every set in `parts`.
            pub const fn all_of(parts: &[$name]) -> $name {
                let mut bits = 0;
                let mut i = 0;
                while i < parts.len() {
                    bits |= parts[i].0;
                    i += 1;
                }
                $name(bits)
            }
            /// The set less the members of `other`.
            pub const fn without(self, other: $name) -> $name {
                $name(self.0 & !other.0)
            }
            /// Whether every member of `other` is in the set (an empty `other` is contained).
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
            /// Whether the set shares a member with `other`.
            pub const fn intersects(self, other: $name) -> bool {
                self.0 & other.0 != 0
            }
            /// Whether the set is empty.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// The printed names of the members, in the order of the name table.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::TABLE
                    .iter()
                    .filter(move |(b, _)| self.contains(*b))
                    .map(|(_, n)| *n)
            }
            /// The member printed as `name` (exact, lowercase), if there is one.
            pub fn from_name(name: &str) -> Option<$name> {
                Self::TABLE.iter().find(|(_, n)| *n == name).map(|(b, _)| *b)
            }
        }

        impl BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                self.with(rhs)
            }
        }
    };
}

bitset!(
    /// Command flags: what the dispatcher enforces and what `COMMAND INFO` prints.
    Flags
);

impl Flags {
    /// Flags with a printed name, in the order `COMMAND INFO` prints them (the others are
    /// internal to dispatch).
    const TABLE: &'static [(Flags, &'static str)] = flags::NAMES;
}

bitset!(
    /// ACL categories: what `COMMAND INFO` prints with a leading `@`, and what
    /// `ACL CAT` / `COMMAND LIST FILTERBY ACLCAT` select by.
    AclCategories
);

impl AclCategories {
    const TABLE: &'static [(AclCategories, &'static str)] = acl::NAMES;
}

/// Command flags (as `COMMAND INFO` names them).
pub mod flags {
    use super::Flags;

    /// Modifies the keyspace.
    pub const WRITE: Flags = Flags(1 << 0);
    /// Only reads.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory: refused when over maxmemory under noeviction.
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 3);
    /// Pub/Sub related.
    pub const PUBSUB: Flags = Flags(1 << 4);
    /// Not allowed from scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    /// Allowed while loading.
    pub const LOADING: Flags = Flags(1 << 6);
    /// Allowed on a stale replica.
    pub const STALE: Flags = Flags(1 << 7);
    /// O(1) / O(log n).
    pub const FAST: Flags = Flags(1 << 8);
    /// May block the client.
    pub const BLOCKING: Flags = Flags(1 << 9);
    /// May replicate even when read-only.
    pub const MAY_REPLICATE: Flags = Flags(1 << 10);
    /// Allowed before authentication.
    pub const NO_AUTH: Flags = Flags(1 << 11);
    /// Not shown to MONITOR.
    pub const SKIP_MONITOR: Flags = Flags(1 << 12);
    /// Not recorded in SLOWLOG.
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 13);
    /// Refused inside MULTI.
    pub const NO_MULTI: Flags = Flags(1 << 14);
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: Flags = Flags(1 << 15);
    /// Allowed in RESP2 subscribed mode.
    pub const SUBSCRIBED_OK: Flags = Flags(1 << 16);
    /// Runs immediately even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const TXN_CONTROL: Flags = Flags(1 << 17);
    /// Key positions are computed by a function.
    pub const MOVABLE_KEYS: Flags = Flags(1 << 18);

    /// Declares no key it must be given (EVAL with 0 keys); printed only.
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 19);
    /// Refused while a replica loads its dataset asynchronously; printed only.
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 20);

    /// Flag names in the order Redis 7.0's `COMMAND INFO` prints them; `may_replicate` and
    /// the dispatch-only flags are not printed, as Redis keeps them internal.
    pub const NAMES: &[(Flags, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories.
pub mod acl {
    #![allow(missing_docs)]
    use super::AclCategories as C;

    pub const KEYSPACE: C = C(1 << 0);
    pub const READ: C = C(1 << 1);
    pub const WRITE: C = C(1 << 2);
    pub const SET: C = C(1 << 3);
    pub const SORTEDSET: C = C(1 << 4);
    pub const LIST: C = C(1 << 5);
    pub const HASH: C = C(1 << 6);
    pub const STRING: C = C(1 << 7);
    pub const BITMAP: C = C(1 << 8);
    pub const HYPERLOGLOG: C = C(1 << 9);
    pub const GEO: C = C(1 << 10);
    pub const STREAM: C = C(1 << 11);
    pub const PUBSUB: C = C(1 << 12);
    pub const ADMIN: C = C(1 << 13);
    pub const FAST: C = C(1 << 14);
    pub const SLOW: C = C(1 << 15);
    pub const BLOCKING: C = C(1 << 16);
    pub const DANGEROUS: C = C(1 << 17);
    pub const CONNECTION: C = C(1 << 18);
    pub const TRANSACTION: C = C(1 << 19);
    pub const SCRIPTING: C = C(1 << 20);

    /// Category names as `COMMAND INFO` and `ACL CAT` print them.
    pub const NAMES: &[(C, &str)] = &[
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

/// One command (or subcommand) definition, built with [`CommandSpec::new`] and the builder
/// methods (all `const`, so family tables are plain constants).
#[derive(Debug)]
pub struct CommandSpec<H: 'static> {
    /// Lowercase name (for subcommands, the subcommand word).
    pub name: &'static str,
    /// Redis arity: positive = exact argument count, negative = at least |arity|.
    pub arity: i32,
    /// Command flags.
    pub flags: Flags,
    /// Key positions.
    pub keys: Keys,
    /// ACL categories.
    pub acl: AclCategories,
    /// The engine releases that have the command.
    pub since: Since,
    /// `COMMAND DOCS` group (string, generic, server, connection, …).
    pub group: &'static str,
    /// `COMMAND DOCS` one-line summary.
    pub summary: &'static str,
    /// The handler (containers use `command::container`).
    pub handler: H,
    /// Subcommands for containers (CONFIG, CLIENT, OBJECT, …).
    pub subs: &'static [CommandSpec<H>],
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

impl<H: Copy + 'static> CommandSpec<H> {
    /// Starts an entry: no flags, categories or keys, present in every release, arity still
    /// to be given (the table test rejects an arity of 0).
    pub const fn new(name: &'static str, handler: H) -> CommandSpec<H> {
        CommandSpec {
            name,
            arity: 0,
            flags: Flags::NONE,
            keys: Keys::None,
            acl: AclCategories::NONE,
            since: Since::ALWAYS,
            group: "",
            summary: "",
            handler,
            subs: &[],
            key_flags: &[],
            key_flags_fn: None,
            legacy_range: (0, 0, 0),
        }
    }
    /// Sets the arity (as Redis counts it, including the name).
    pub const fn arity(mut self, arity: i32) -> CommandSpec<H> {
        self.arity = arity;
        self
    }
    /// Sets the flags to the union of `flags`.
    pub const fn flags(mut self, flags: &[Flags]) -> CommandSpec<H> {
        self.flags = Flags::all_of(flags);
        self
    }
    /// Sets the ACL categories to the union of `cats`.
    pub const fn acl(mut self, cats: &[AclCategories]) -> CommandSpec<H> {
        self.acl = AclCategories::all_of(cats);
        self
    }
    /// Sets the key positions.
    pub const fn keys(mut self, keys: Keys) -> CommandSpec<H> {
        self.keys = keys;
        self
    }
    /// Sets the first release having the command (see [`Since::from`] for Valkey).
    pub const fn since(mut self, first: Release) -> CommandSpec<H> {
        self.since = Since::from(first);
        self
    }
    /// Ends the command's availability at release `last` (exclusive): for an entry a later
    /// release replaced by another of the same name.
    pub const fn until(mut self, last: Release) -> CommandSpec<H> {
        self.since = self.since.until(last);
        self
    }
    /// Makes this entry the variant of its command from release `first` on (the entry with the
    /// older syntax ends there with [`CommandSpec::until`]).
    pub const fn variant_from(mut self, first: Release) -> CommandSpec<H> {
        self.since = self.since.variant_from(first);
        self
    }
    /// Overrides the first Valkey release having the command.
    pub const fn valkey_since(mut self, major: u32, minor: u32, patch: u32) -> CommandSpec<H> {
        self.since = self.since.or_valkey(major, minor, patch);
        self
    }
    /// Sets the `COMMAND DOCS` group.
    pub const fn group(mut self, group: &'static str) -> CommandSpec<H> {
        self.group = group;
        self
    }
    /// Adds a summary.
    pub const fn doc(mut self, summary: &'static str) -> CommandSpec<H> {
        self.summary = summary;
        self
    }
    /// Adds subcommands.
    pub const fn subs(mut self, subs: &'static [CommandSpec<H>]) -> CommandSpec<H> {
        self.subs = subs;
        self
    }
    /// Declares key-spec flags per key ordinal (see [`CommandSpec::key_flags`]).
    pub const fn ks(mut self, flags: &'static [u16]) -> CommandSpec<H> {
        self.key_flags = flags;
        self
    }
    /// Declares key-spec flags plus a function computing them per invocation.
    pub const fn ks_var(mut self, flags: &'static [u16], f: KeyFlagsFn) -> CommandSpec<H> {
        self.key_flags = flags;
        self.key_flags_fn = Some(f);
        self
    }
    /// Declares the `COMMAND INFO` first/last/step of a [`Keys::Custom`] command.
    pub const fn legacy(mut self, first: i32, last: i32, step: i32) -> CommandSpec<H> {
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
    /// Whether every flag of `f` is set.
    pub const fn has(&self, f: Flags) -> bool {
        self.flags.contains(f)
    }
    /// Key positions for a concrete invocation.
    pub fn key_positions(&self, argv: &Argv<'_>) -> Vec<usize> {
        let mut v = Vec::new();
        self.visit_key_positions(argv, |p| {
            v.push(p);
            true
        });
        v
    }

    /// Calls `visit` with each key position of [`CommandSpec::key_positions`], in order,
    /// until it returns false; no allocation for the fixed-range forms (cluster routing
    /// runs this for every keyed command).
    pub fn visit_key_positions(&self, argv: &Argv<'_>, mut visit: impl FnMut(usize) -> bool) {
        match self.keys {
            Keys::None => {}
            Keys::Custom(f) => {
                for p in f(argv) {
                    if !visit(p) {
                        return;
                    }
                }
            }
            Keys::Range(first, last, step) => {
                let n = argv.len() as i32;
                let last = if last < 0 { n + last } else { last };
                let mut i = first;
                while i <= last && i < n && step > 0 {
                    if !visit(i as usize) {
                        return;
                    }
                    i += step;
                }
            }
        }
    }
}
