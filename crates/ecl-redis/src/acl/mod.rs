//! Redis ACL users of a node: who may connect (AUTH, HELLO AUTH) and what each user may run,
//! read, write and subscribe to, plus the ACL log.
//!
//! Place in the flow: the node's owner gives users as [`UserDef`]s ([`crate::RedisConfig::users`],
//! [`crate::RedisNode::set_users`]); without them the node has Redis' single `default` user
//! (nopass, or `requirepass` as its password). [`Acl`] lives in the engine; the connection
//! starts each client as `default`, AUTH switches the user, and dispatch asks [`check`] for
//! every command of a restricted user (NOPERM replies and [`log`] entries). The `ACL` command
//! family (`crate::command::aclcmd`) reads and edits the same registry.

pub mod known;
pub mod log;
pub mod selector;
pub mod user;

pub use selector::Selector;
pub use user::User;

use crate::argv::Argv;
use crate::cmdtable::{CommandSpec, CommandTable, flags, ks};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Asked by AUTH instead of a user's password list (e.g. IAM authentication tokens).
pub type PasswordCheck = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// One user of a node as its owner defines it.
#[derive(Clone)]
pub struct UserDef {
    /// User name; `default` is the user of connections that never AUTH.
    pub name: String,
    /// Rules in `ACL SETUSER` syntax, e.g. `on >pw1 >pw2 ~app:* &* +@all -flushall`.
    pub rules: String,
    /// When set, AUTH for this user asks it instead of the password list.
    pub password_check: Option<PasswordCheck>,
    /// How long a connection authenticated as this user lasts before it is closed, unless it
    /// authenticates again (ElastiCache closes IAM-authenticated connections after 12 hours).
    pub session_limit: Option<std::time::Duration>,
}

impl std::fmt::Debug for UserDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDef")
            .field("name", &self.name)
            .field("rules", &redact(&self.rules))
            .field("password_check", &self.password_check.is_some())
            .field("session_limit", &self.session_limit)
            .finish()
    }
}

/// Rules with password rules (`>pw`, `<pw`) hidden, for logs and error messages.
pub fn redact(rules: &str) -> String {
    rules
        .split_whitespace()
        .map(|r| match r.as_bytes().first() {
            Some(b'>') => ">***",
            Some(b'<') => "<***",
            _ => r,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a command was refused (dispatch turns it into a NOPERM reply, DRYRUN into a sentence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The command itself.
    Command,
    /// The key at this argument index.
    Key(usize),
    /// The channel at this argument index.
    Channel(usize),
}

impl Denied {
    /// When every selector refuses, the refusal reported is the one that got furthest: a
    /// channel over a key over the command, and of two of a kind the later argument (so the
    /// log names the first item no selector allows, as redis-server's does).
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (0, 0),
            Denied::Key(i) => (1, i),
            Denied::Channel(i) => (2, i),
        }
    }
}

/// The users of a node.
#[derive(Debug)]
pub struct Acl {
    users: BTreeMap<String, Arc<User>>,
    /// Bumped on every change: clients re-read their user when it moved.
    pub generation: u64,
    /// The owner (the supervisor) manages users or the AUTH token: `CONFIG SET requirepass`
    /// is refused as a protected config.
    pub owner_managed: bool,
    /// `ACL LOG`.
    pub log: log::AclLog,
    /// INFO `acl_access_denied_*` counters.
    pub denied: DeniedCounts,
}

/// Refusals counted for INFO stats (reset by CONFIG RESETSTAT).
#[derive(Clone, Copy, Debug, Default)]
pub struct DeniedCounts {
    /// Failed AUTH / HELLO AUTH.
    pub auth: u64,
    /// Commands refused.
    pub command: u64,
    /// Keys refused.
    pub key: u64,
    /// Channels refused.
    pub channel: u64,
}

impl Acl {
    /// Redis' single `default` user: all permissions, nopass or `requirepass` as password.
    pub fn legacy<H: Copy>(requirepass: Option<&str>, table: &CommandTable<H>) -> Acl {
        let mut acl = Acl {
            users: BTreeMap::new(),
            generation: 0,
            owner_managed: false,
            log: log::AclLog::default(),
            denied: DeniedCounts::default(),
        };
        acl.users.insert(
            "default".to_string(),
            Arc::new(default_user(requirepass, table)),
        );
        acl
    }

    /// Builds users from definitions (`pubsub_all`: `acl-pubsub-default` is `allchannels`);
    /// `default` is added (off) when missing. The error names the user and the refused rule
    /// (passwords hidden).
    pub fn build<H: Copy>(
        defs: &[UserDef],
        table: &CommandTable<H>,
        pubsub_all: bool,
    ) -> Result<BTreeMap<String, Arc<User>>, String> {
        let mut users = BTreeMap::new();
        for d in defs {
            if d.name.is_empty() || d.name.chars().any(|c| c.is_whitespace()) {
                return Err(format!("invalid user name '{}'", d.name));
            }
            let mut u = User::new(&d.name, table, pubsub_all);
            u.apply_all(&d.rules, table).map_err(|(rule, why)| {
                format!(
                    "user '{}': Error in ACL SETUSER modifier '{}': {why}",
                    d.name,
                    redact(&rule)
                )
            })?;
            u.check = d.password_check.clone();
            u.session_limit = d.session_limit;
            users.insert(d.name.clone(), Arc::new(u));
        }
        users
            .entry("default".to_string())
            .or_insert_with(|| Arc::new(User::new("default", table, pubsub_all)));
        Ok(users)
    }

    /// The users, taken out of the registry.
    pub fn into_users(self) -> BTreeMap<String, Arc<User>> {
        self.users
    }

    /// Replaces every user.
    pub fn replace(&mut self, users: BTreeMap<String, Arc<User>>) {
        self.users = users;
        self.generation += 1;
    }

    /// A user by name.
    pub fn get(&self, name: &str) -> Option<&Arc<User>> {
        self.users.get(name)
    }

    /// User names in order (`ACL USERS`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Users in name order (`ACL LIST`).
    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// Whether a new connection is authenticated without AUTH: `default` is `on` and `nopass`.
    pub fn default_nopass(&self) -> bool {
        self.users
            .get("default")
            .is_some_and(|u| u.enabled && u.nopass && u.check.is_none())
    }

    /// Whether `default` is `nopass` (one-argument AUTH then has nothing to check).
    pub fn default_has_nopass_flag(&self) -> bool {
        self.users.get("default").is_some_and(|u| u.nopass)
    }

    /// The user `name` if it is enabled and `pass` is one of its passwords.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        let u = self.users.get(name)?;
        if !u.enabled {
            return None;
        }
        let ok = match &u.check {
            Some(check) => check(pass),
            None => u.nopass || u.passwords.contains(&user::hash_password(pass)),
        };
        ok.then(|| u.clone())
    }

    /// `CONFIG SET requirepass`: the default user's passwords become this one (or nopass).
    pub fn set_requirepass<H: Copy>(&mut self, pass: Option<&str>, table: &CommandTable<H>) {
        let mut u = self
            .users
            .get("default")
            .map(|u| User::clone(u))
            .unwrap_or_else(|| default_user(None, table));
        let rule = match pass {
            Some(p) => format!(">{p}"),
            None => "nopass".to_string(),
        };
        let _ = u.apply("resetpass", table);
        let _ = u.apply(&rule, table);
        self.users.insert("default".to_string(), Arc::new(u));
        self.generation += 1;
    }

    /// `ACL SETUSER name rule…`: applied to a copy, stored only when every rule is valid.
    pub fn set_user<H: Copy>(
        &mut self,
        name: &str,
        rules: &[&str],
        table: &CommandTable<H>,
        pubsub_all: bool,
    ) -> Result<(), String> {
        let rules = user::merge_selector_args(rules, table.engine.has(selector::SINCE_7))?;
        let mut u = match self.users.get(name) {
            Some(u) => User::clone(u),
            None => User::new(name, table, pubsub_all),
        };
        for r in &rules {
            u.apply(r, table)
                .map_err(|why| format!("ERR Error in ACL SETUSER modifier '{r}': {why}"))?;
        }
        self.users.insert(name.to_string(), Arc::new(u));
        self.generation += 1;
        Ok(())
    }

    /// `ACL DELUSER`: removes the users that exist; how many were removed.
    pub fn delete(&mut self, names: &[String]) -> usize {
        let n = names
            .iter()
            .filter(|n| self.users.remove(n.as_str()).is_some())
            .count();
        self.generation += 1;
        n
    }
}

fn default_user<H: Copy>(requirepass: Option<&str>, table: &CommandTable<H>) -> User {
    let mut u = User::new("default", table, true);
    let pass = match requirepass {
        Some(p) => format!(">{p}"),
        None => "nopass".to_string(),
    };
    for r in ["on", "allkeys", "allchannels", "allcommands", &pass] {
        let _ = u.apply(r, table);
    }
    u
}

/// Whether `user` may run table entry `id` (`spec`) with `argv`: allowed when one of its
/// selectors allows the command, its keys and its channels; else the most telling refusal
/// (see [`Denied::rank`]).
pub fn check<H: Copy>(
    user: &User,
    table: &CommandTable<H>,
    id: usize,
    spec: &CommandSpec<H>,
    argv: &Argv<'_>,
) -> Result<(), Denied> {
    if spec.has(flags::NO_AUTH) {
        return Ok(());
    }
    let mut refusal: Option<Denied> = None;
    let mut key_pos = None;
    for sel in user.all_selectors() {
        match check_selector(sel, table, (id, spec), argv, &mut key_pos) {
            Ok(()) => return Ok(()),
            Err(d) if refusal.is_none_or(|r| d.rank() > r.rank()) => refusal = Some(d),
            Err(_) => {}
        }
    }
    Err(refusal.unwrap_or(Denied::Command))
}

/// Whether one selector of `user` allows this command line and may read every key: what
/// SORT's BY and GET patterns need (they read keys no key spec names).
pub fn reads_every_key<H: Copy>(
    user: &User,
    table: &CommandTable<H>,
    id: usize,
    spec: &CommandSpec<H>,
    argv: &Argv<'_>,
) -> bool {
    let mut key_pos = None;
    let mut allows = |sel: &Selector| {
        sel.reads_every_key() && check_selector(sel, table, (id, spec), argv, &mut key_pos).is_ok()
    };
    user.unrestricted() || user.all_selectors().any(&mut allows)
}

/// One selector's verdict: the command, then every key by its key-spec flags, then every
/// channel (Redis' order, so the first refusal is the same one Redis reports). `key_pos`
/// keeps the command's key positions once a selector needed them, for the next selector.
fn check_selector<H: Copy>(
    sel: &Selector,
    table: &CommandTable<H>,
    (id, spec): (usize, &CommandSpec<H>),
    argv: &Argv<'_>,
    key_pos: &mut Option<Vec<usize>>,
) -> Result<(), Denied> {
    let top_level = table.entries.get(id).is_some_and(|e| e.parent.is_none());
    let first = (top_level && argv.len() > 1).then(|| argv.get(1));
    if !sel.command_allowed(id, first) {
        return Err(Denied::Command);
    }
    if !sel.all_keys {
        let positions = key_pos.get_or_insert_with(|| spec.key_positions(argv));
        for (nth, &pos) in positions.iter().enumerate() {
            let f = spec.key_flags_for(argv, nth);
            if f & ks::NOT_KEY == 0 && !sel.key_allowed(argv.get(pos), f) {
                return Err(Denied::Key(pos));
            }
        }
    }
    if !sel.all_channels && top_level {
        let (range, literal) = match spec.name {
            "publish" | "spublish" => (1..2, false),
            "subscribe" | "ssubscribe" => (1..argv.len(), false),
            "psubscribe" => (1..argv.len(), true),
            _ => (0..0, false),
        };
        for i in range {
            if !sel.channel_allowed(argv.get(i), literal) {
                return Err(Denied::Channel(i));
            }
        }
    }
    Ok(())
}
