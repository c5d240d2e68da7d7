//! The shape of a node's command table: what one entry declares ([`spec`]: flags, ACL
//! categories, key positions, availability per release) and the table of the entries a node's
//! engine release has, with name lookup, subcommands and `rename-command`.
//!
//! Place in the flow: below the engine. The table is generic over the handler type so that
//! the modules the engine is built from (ACL users, whose permissions are compiled against
//! the table's entries) can read it without depending on the command handlers, which run
//! against the engine. `command` instantiates it with its handler type and registers the
//! families (`command::FAMILIES`); dispatch, cluster routing, ACL and `COMMAND` read it.

pub mod spec;

pub use spec::{AclCategories, CommandSpec, Flags, KeyFlagsFn, Keys, acl, flags, ks};

use crate::db::dict::FnvBuild;
use crate::version::EngineVersion;
use std::collections::HashMap;

/// A resolved table entry.
#[derive(Debug)]
pub struct Entry<H: 'static> {
    /// The definition.
    pub spec: &'static CommandSpec<H>,
    /// `name` or `container|sub`, as errors and INFO commandstats print it.
    pub full_name: String,
    /// Subcommand ids by lowercase name.
    pub subs: HashMap<Vec<u8>, usize, FnvBuild>,
    /// Parent entry id, for subcommands.
    pub parent: Option<usize>,
}

/// The per-node command table: exactly the commands the node's engine release has.
#[derive(Debug)]
pub struct CommandTable<H: 'static> {
    by_name: HashMap<Vec<u8>, usize, FnvBuild>,
    /// All entries; ids index this vector (and per-command statistics).
    pub entries: Vec<Entry<H>>,
    /// Engine release the table was built for.
    pub engine: EngineVersion,
}

impl<H: Copy + 'static> CommandTable<H> {
    /// Builds the table for an engine release from the families' entries: entries (and
    /// subcommands) whose [`CommandSpec::since`] that release does not have are left out.
    pub fn from_families(engine: EngineVersion, families: &[&'static [CommandSpec<H>]]) -> Self {
        let mut t = CommandTable {
            by_name: HashMap::default(),
            entries: Vec::new(),
            engine,
        };
        for fam in families {
            for spec in fam.iter().filter(|s| engine.has(s.since)) {
                let id = t.entries.len();
                t.entries.push(Entry {
                    spec,
                    full_name: spec.name.to_string(),
                    subs: HashMap::default(),
                    parent: None,
                });
                for sub in spec.subs.iter().filter(|s| engine.has(s.since)) {
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
        let n = crate::argv::lower_name(name, &mut buf)?;
        self.by_name.get(&buf[..n]).copied()
    }

    /// Looks up a subcommand of entry `id`.
    pub fn lookup_sub(&self, id: usize, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 32];
        let n = crate::argv::lower_name(name, &mut buf)?;
        self.entries[id].subs.get(&buf[..n]).copied()
    }

    /// Looks up `name` or `container|sub` (any case), as COMMAND INFO and LATENCY HISTOGRAM
    /// name commands.
    pub fn lookup_full(&self, name: &[u8]) -> Option<usize> {
        match name.iter().position(|&b| b == b'|') {
            Some(p) => self
                .lookup(&name[..p])
                .and_then(|id| self.lookup_sub(id, &name[p + 1..])),
            None => self.lookup(name),
        }
    }

    /// Top-level entries (COMMAND, COMMAND COUNT).
    pub fn top_level(&self) -> impl Iterator<Item = &Entry<H>> {
        self.entries.iter().filter(|e| e.parent.is_none())
    }

    /// The top-level entry Redis names `name` (lowercase), if clients can still call it under
    /// some name: ACL rules name commands by their original names even when
    /// `rename-commands` gave them another, while disabled ones are gone.
    pub fn lookup_original(&self, name: &str) -> Option<usize> {
        let id = self
            .entries
            .iter()
            .position(|e| e.parent.is_none() && e.spec.name == name)?;
        self.by_name.values().any(|&v| v == id).then_some(id)
    }

    /// Disables a subcommand given as `container|sub` (e.g. `acl|setuser`): it then answers
    /// "unknown subcommand" and ACL rules cannot name it.
    pub fn disable_sub(&mut self, full: &str) -> bool {
        let Some((cmd, sub)) = full.split_once('|') else {
            return false;
        };
        let Some(id) = self.lookup(cmd.as_bytes()) else {
            return false;
        };
        let sub = sub.to_ascii_lowercase();
        self.entries[id].subs.remove(sub.as_bytes()).is_some()
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
