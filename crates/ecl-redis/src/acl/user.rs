//! One ACL user: its rules parsed from Redis' `ACL SETUSER` syntax, the permission checks
//! dispatch asks of it, and its description (`ACL LIST` / `ACL GETUSER`).
//!
//! Place in the flow: [`super::Acl`] builds users from [`crate::UserDef`]s or `ACL SETUSER`
//! against the node's [`CommandTable`] (command permissions are a flag per table entry, so a
//! check is one index); dispatch calls [`User::command_allowed`], [`User::key_allowed`] and
//! [`User::channel_allowed`] for every command of a restricted user.

use super::PasswordCheck;
use crate::Flavor;
use crate::cmdtable::{AclCategories, CommandTable, ks, spec};
use crate::glob::glob_match;
use std::collections::HashMap;

/// SHA-256 of a password, as `ACL SETUSER` stores it.
pub type PasswordHash = [u8; 32];

/// Hashes a password.
pub fn hash_password(pass: &[u8]) -> PasswordHash {
    let d = ring::digest::digest(&ring::digest::SHA256, pass);
    let mut h = [0u8; 32];
    h.copy_from_slice(d.as_ref());
    h
}

/// Lowercase hex of a hash.
pub fn hex(h: &PasswordHash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(s: &str) -> Option<PasswordHash> {
    let b = s.as_bytes();
    if b.len() != 64 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut h = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        h[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(h)
}

/// A key pattern with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    /// Glob pattern.
    pub pattern: Vec<u8>,
    /// Grants reading.
    pub read: bool,
    /// Grants writing.
    pub write: bool,
}

/// Reasons a rule is refused (the text after `Error in ACL SETUSER modifier '…': `).
const SYNTAX: &str = "Syntax error";
const UNKNOWN_CMD: &str = "Unknown command or category name in ACL";
const BAD_HASH: &str = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
const NO_SUCH_PASS: &str = "The password you are trying to remove from the user does not exist";
const AFTER_ALLKEYS: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const AFTER_ALLCHANNELS: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
const SUB_FIRST_ARG: &str = "Allowing first-arg of a subcommand is not supported";
/// Redis 7 selectors (`(…)`) are not implemented; ElastiCache access strings have none.
const SELECTORS: &str = "Selectors are not supported by this engine";

/// Whether the table has no entry at all for top-level `cmd` (not even a disabled one: a
/// disabled command named in a rule is refused, as ElastiCache refuses restricted commands).
fn unimplemented<H: Copy>(cmd: &str, table: &CommandTable<H>) -> bool {
    !table.top_level().any(|e| e.spec.name == cmd)
}

/// One user.
#[derive(Clone)]
pub struct User {
    /// User name.
    pub name: String,
    /// `on` / `off`.
    pub enabled: bool,
    /// `nopass`: any password (and no AUTH at all for `default`).
    pub nopass: bool,
    /// `sanitize-payload` (`Some(true)`) / `skip-sanitize-payload` (`Some(false)`) as shown.
    pub sanitize: Option<bool>,
    /// Password hashes, in the order added.
    pub passwords: Vec<PasswordHash>,
    /// The owner's password check, asked instead of `passwords` when set.
    pub check: Option<PasswordCheck>,
    /// How long an authenticated connection of this user lasts (see `UserDef::session_limit`).
    pub session_limit: Option<std::time::Duration>,
    /// `allkeys` / `~*`.
    pub all_keys: bool,
    /// Key patterns (empty with `all_keys`).
    pub keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    pub all_channels: bool,
    /// Channel patterns (empty with `all_channels`).
    pub channels: Vec<Vec<u8>>,
    /// `acl-pubsub-default` was `allchannels` when the user was made (what `reset` restores).
    pubsub_all: bool,
    /// Allowed flag per command table entry id.
    allowed: Vec<bool>,
    /// First arguments allowed of otherwise denied commands (`+select|0`).
    first_args: HashMap<usize, Vec<Vec<u8>>>,
    /// Command rules in effect, compacted, for descriptions (`+@all -flushall`).
    cmd_rules: Vec<String>,
    /// Every command, key and channel allowed: dispatch skips the checks. Kept current by
    /// [`User::apply`].
    open: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("commands", &self.cmd_rules)
            .finish_non_exhaustive()
    }
}

impl User {
    /// A user as `ACL SETUSER` creates it: off, no passwords, keys or commands, and every
    /// channel or none as `acl-pubsub-default` says (`pubsub_all`: `allchannels`).
    pub fn new<H: Copy>(name: &str, table: &CommandTable<H>, pubsub_all: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            check: None,
            session_limit: None,
            all_keys: false,
            keys: Vec::new(),
            all_channels: pubsub_all,
            channels: Vec::new(),
            pubsub_all,
            allowed: vec![false; table.entries.len()],
            first_args: HashMap::new(),
            cmd_rules: vec!["-@all".to_string()],
            open: false,
        }
    }

    /// Applies every whitespace-separated rule of `rules` in order; on error, the rule
    /// refused and the reason (the user is then partly changed: callers work on a copy).
    pub fn apply_all<H: Copy>(
        &mut self,
        rules: &str,
        table: &CommandTable<H>,
    ) -> Result<(), (String, String)> {
        for r in rules.split_whitespace() {
            self.apply(r, table)
                .map_err(|e| (r.to_string(), e.to_string()))?;
        }
        Ok(())
    }

    /// Applies one rule.
    pub fn apply<H: Copy>(
        &mut self,
        rule: &str,
        table: &CommandTable<H>,
    ) -> Result<(), &'static str> {
        let r = self.apply_rule(rule, table);
        self.open = self.all_keys && self.all_channels && self.allowed.iter().all(|a| *a);
        r
    }

    fn apply_rule<H: Copy>(
        &mut self,
        rule: &str,
        table: &CommandTable<H>,
    ) -> Result<(), &'static str> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" => self.set_all_commands(true),
            "nocommands" => self.set_all_commands(false),
            "sanitize-payload" => self.sanitize = Some(true),
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::new(&name, table, self.pubsub_all);
                self.sanitize = Some(true);
            }
            _ => return self.apply_prefixed(rule, &lower, table),
        }
        Ok(())
    }

    fn apply_prefixed<H: Copy>(
        &mut self,
        rule: &str,
        lower: &str,
        table: &CommandTable<H>,
    ) -> Result<(), &'static str> {
        let Some(first) = rule.chars().next() else {
            return Err(SYNTAX);
        };
        let rest = &rule[first.len_utf8()..];
        match first {
            '>' => self.add_hash(hash_password(rest.as_bytes())),
            '<' => self.remove_hash(hash_password(rest.as_bytes()))?,
            '#' => self.add_hash(parse_hex(rest).ok_or(BAD_HASH)?),
            '!' => self.remove_hash(parse_hex(rest).ok_or(BAD_HASH)?)?,
            '~' => self.add_key_pattern(rest.as_bytes(), true, true)?,
            '%' => {
                let (flags, pat) = rest.split_once('~').ok_or(SYNTAX)?;
                let mut read = false;
                let mut write = false;
                for c in flags.chars() {
                    match c.to_ascii_uppercase() {
                        'R' => read = true,
                        'W' => write = true,
                        _ => return Err(SYNTAX),
                    }
                }
                if !read && !write {
                    return Err(SYNTAX);
                }
                self.add_key_pattern(pat.as_bytes(), read, write)?;
            }
            '&' => {
                if self.all_channels {
                    return Err(AFTER_ALLCHANNELS);
                }
                if rest == "*" {
                    self.all_channels = true;
                    self.channels.clear();
                } else if !self.channels.iter().any(|c| c == rest.as_bytes()) {
                    self.channels.push(rest.as_bytes().to_vec());
                }
            }
            '+' | '-' => self.apply_command_rule(first == '+', &lower[1..], table)?,
            '(' => return Err(SELECTORS),
            _ => return Err(SYNTAX),
        }
        Ok(())
    }

    fn add_hash(&mut self, h: PasswordHash) {
        self.nopass = false;
        if !self.passwords.contains(&h) {
            self.passwords.push(h);
        }
    }

    fn remove_hash(&mut self, h: PasswordHash) -> Result<(), &'static str> {
        self.nopass = false;
        let before = self.passwords.len();
        self.passwords.retain(|p| *p != h);
        if self.passwords.len() == before {
            return Err(NO_SUCH_PASS);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, pat: &[u8], read: bool, write: bool) -> Result<(), &'static str> {
        if self.all_keys {
            return Err(AFTER_ALLKEYS);
        }
        if pat == b"*" && read && write {
            self.all_keys = true;
            self.keys.clear();
            return Ok(());
        }
        let kp = KeyPattern {
            pattern: pat.to_vec(),
            read,
            write,
        };
        if !self.keys.contains(&kp) {
            self.keys.push(kp);
        }
        Ok(())
    }

    fn set_all_commands(&mut self, allow: bool) {
        self.allowed.iter_mut().for_each(|a| *a = allow);
        self.first_args.clear();
        self.cmd_rules = vec![if allow { "+@all" } else { "-@all" }.to_string()];
    }

    /// `+x` / `-x` where `x` is `@category`, `command` or `command|subcommand` (or
    /// `command|first-arg` for a command without subcommands, allow only).
    fn apply_command_rule<H: Copy>(
        &mut self,
        allow: bool,
        target: &str,
        table: &CommandTable<H>,
    ) -> Result<(), &'static str> {
        if target == "@all" {
            self.set_all_commands(allow);
            return Ok(());
        }
        if let Some(cat) = target.strip_prefix('@') {
            let cat = AclCategories::from_name(cat).ok_or(UNKNOWN_CMD)?;
            for (id, e) in table.entries.iter().enumerate() {
                if e.spec.acl.contains(cat) {
                    self.allowed[id] = allow;
                }
            }
        } else if let Some((cmd, sub)) = target.split_once('|') {
            if sub.contains('|') {
                return Err(SUB_FIRST_ARG);
            }
            let Some(id) = table.lookup_original(cmd) else {
                // A command Redis has and this engine lacks: the rule has nothing to act on.
                if unimplemented(cmd, table) && super::known::is_redis_command(cmd) {
                    self.record_rule(allow, target);
                    return Ok(());
                }
                return Err(UNKNOWN_CMD);
            };
            if table.entries[id].subs.is_empty() {
                // A first argument: Redis allows it on commands without subcommands only.
                if !allow || sub.is_empty() {
                    return Err(UNKNOWN_CMD);
                }
                if !self.allowed[id] {
                    let args = self.first_args.entry(id).or_default();
                    args.push(sub.as_bytes().to_vec());
                }
            } else {
                match table.lookup_sub(id, sub.as_bytes()) {
                    Some(sid) => self.allowed[sid] = allow,
                    None if super::known::is_redis_command(target)
                        && !table.entries[id].spec.subs.iter().any(|s| s.name == sub) => {}
                    None => return Err(UNKNOWN_CMD),
                }
            }
        } else {
            let Some(id) = table.lookup_original(target) else {
                if unimplemented(target, table) && super::known::is_redis_command(target) {
                    self.record_rule(allow, target);
                    return Ok(());
                }
                return Err(UNKNOWN_CMD);
            };
            self.allowed[id] = allow;
            self.first_args.remove(&id);
            for &sid in table.entries[id].subs.values() {
                self.allowed[sid] = allow;
            }
        }
        self.record_rule(allow, target);
        Ok(())
    }

    /// Keeps a command rule for descriptions; a later rule on the same target overrides an
    /// earlier one entirely, so the earlier one is dropped.
    fn record_rule(&mut self, allow: bool, target: &str) {
        let sign = if allow { '+' } else { '-' };
        self.cmd_rules.retain(|r| &r[1..] != target);
        self.cmd_rules.push(format!("{sign}{target}"));
    }

    /// Whether the user may run table entry `id` with these arguments.
    pub fn command_allowed(&self, id: usize, first_arg: Option<&[u8]>) -> bool {
        if self.allowed.get(id).copied().unwrap_or(false) {
            return true;
        }
        match (self.first_args.get(&id), first_arg) {
            (Some(args), Some(a)) => args.iter().any(|x| x.eq_ignore_ascii_case(a)),
            _ => false,
        }
    }

    /// Whether the user may touch `key` as a key spec with flags `flags` does: `access` needs
    /// read permission, `insert`/`update`/`delete` write permission, a key without either
    /// (EXISTS, TYPE) any permission.
    pub fn key_allowed(&self, key: &[u8], flags: u16) -> bool {
        if self.all_keys {
            return true;
        }
        let read = flags & ks::ACCESS != 0;
        let write = flags & (ks::INSERT | ks::UPDATE | ks::DELETE) != 0;
        self.keys
            .iter()
            .any(|p| (!read || p.read) && (!write || p.write) && glob_match(&p.pattern, key))
    }

    /// Whether the user may use `channel`; a `literal` one (a PSUBSCRIBE pattern) must equal
    /// one of the user's patterns.
    pub fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        if self.all_channels {
            return true;
        }
        self.channels.iter().any(|p| {
            if literal {
                p == channel
            } else {
                glob_match(p, channel)
            }
        })
    }

    /// Whether no check can refuse this user anything (the fast path of dispatch).
    pub fn unrestricted(&self) -> bool {
        self.open
    }

    /// The flags `ACL GETUSER` lists.
    pub fn flag_words(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Some(false) => v.push("skip-sanitize-payload"),
            Some(true) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// Key patterns as rules (`~*`, `~app:*`, `%R~ro:*`), space-separated.
    pub fn keys_text(&self) -> String {
        if self.all_keys {
            return "~*".to_string();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let p = String::from_utf8_lossy(&k.pattern);
                match (k.read, k.write) {
                    (true, true) => format!("~{p}"),
                    (true, false) => format!("%R~{p}"),
                    _ => format!("%W~{p}"),
                }
            })
            .collect();
        parts.join(" ")
    }

    /// Channel patterns as rules (`&*`, `&a &b`), space-separated.
    pub fn channels_text(&self) -> String {
        if self.all_channels {
            return "&*".to_string();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// Command rules as the engine release prints them (`ACL LIST`, `ACL GETUSER`): Redis 7.2
    /// and Valkey keep the rules as given (a later rule on the same target replacing the earlier
    /// one); Redis 7.0 and older rebuild them from the permission bits (see [`Self::rebuilt_rules`]).
    pub fn commands_text<H: Copy>(&self, table: &CommandTable<H>) -> String {
        if table.engine.flavor == Flavor::Redis && table.engine.version < crate::version::v(7, 2, 0)
        {
            return self.rebuilt_rules(table);
        }
        let mut s = self.cmd_rules.join(" ");
        if !s.starts_with("+@all") && !s.starts_with("-@all") {
            s = format!("-@all {s}");
        }
        s
    }

    /// The shortest-looking rules Redis 7.0 derives from the bits: start from `+@all` when the
    /// user's rules started there (else `-@all`), then, in category order, every category most
    /// of whose commands (subcommands included) still differ from that start once the categories
    /// before it are taken out, then each command,
    /// subcommand and first argument still differing. Redis lists the single commands in its
    /// hash-table order, which changes with every process; this lists them in table order.
    fn rebuilt_rules<H: Copy>(&self, table: &CommandTable<H>) -> String {
        let additive = self.cmd_rules.first().map(String::as_str) != Some("+@all");
        let mut rules = vec![if additive { "-@all" } else { "+@all" }.to_string()];
        // `fake` has the rules emitted so far applied; `left` is the user with every emitted
        // category taken back out, so a category whose commands an earlier one already covered
        // (`@dangerous` after `@admin`) no longer looks like a majority.
        let mut fake = vec![!additive; table.entries.len()];
        let mut left = self.allowed.clone();
        for (cat, name) in spec::acl::NAMES {
            let members = || {
                let all = table.entries.iter().enumerate();
                all.filter(|(_, e)| e.spec.acl.contains(*cat))
                    .map(|(id, _)| id)
            };
            let on = members().filter(|&id| left[id]).count();
            let off = members().count() - on;
            if (additive && on > off) || (!additive && off > on) {
                rules.push(format!("{}@{name}", if additive { '+' } else { '-' }));
                members().for_each(|id| {
                    fake[id] = additive;
                    left[id] = !additive;
                });
            }
        }
        for (id, e) in table
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.parent.is_none())
        {
            let sign = |allow: bool| if allow { '+' } else { '-' };
            if self.allowed[id] != fake[id] {
                rules.push(format!("{}{}", sign(self.allowed[id]), e.full_name));
                fake[id] = self.allowed[id];
                e.subs
                    .values()
                    .for_each(|&sid| fake[sid] = self.allowed[id]);
            }
            let subs = table
                .entries
                .iter()
                .enumerate()
                .filter(|(_, s)| s.parent == Some(id));
            for (sid, sub) in subs {
                if self.allowed[sid] != fake[sid] {
                    rules.push(format!("{}{}", sign(self.allowed[sid]), sub.full_name));
                    fake[sid] = self.allowed[sid];
                }
            }
            if !self.allowed[id] {
                for arg in self.first_args.get(&id).into_iter().flatten() {
                    rules.push(format!("+{}|{}", e.full_name, String::from_utf8_lossy(arg)));
                }
            }
        }
        // Rules on commands Redis has and this engine lacks have no bits: keep them as given.
        let lacking = |r: &&String| {
            let cmd = r[1..].split('|').next().unwrap_or_default();
            !r[1..].starts_with('@') && !table.top_level().any(|e| e.spec.name == cmd)
        };
        rules.extend(self.cmd_rules.iter().filter(lacking).cloned());
        rules.join(" ")
    }

    /// The user as one `ACL LIST` line, with command rules as [`Self::commands_text`] prints them.
    pub fn describe<H: Copy>(&self, table: &CommandTable<H>) -> String {
        let mut parts: Vec<String> = vec![format!("user {}", self.name)];
        parts.extend(self.flag_words().iter().map(|w| w.to_string()));
        parts.extend(self.passwords.iter().map(|h| format!("#{}", hex(h))));
        let keys = self.keys_text();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".to_string());
        } else {
            parts.push("resetchannels".to_string());
            let ch = self.channels_text();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.commands_text(table));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CommandTable, EngineVersion};

    fn table() -> CommandTable {
        CommandTable::build(EngineVersion::parse(Flavor::Redis, "7.1.0"))
    }

    #[test]
    fn rules_build_permissions_and_descriptions() {
        let t = table();
        let mut u = User::new("app", &t, false);
        u.apply_all("on >pw ~app:* %R~ro:* &news +@read -get +set", &t)
            .unwrap();
        assert!(u.enabled && !u.unrestricted());
        assert_eq!(u.passwords, vec![hash_password(b"pw")]);
        let get = t.lookup(b"get").unwrap();
        let set = t.lookup(b"set").unwrap();
        let strlen = t.lookup(b"strlen").unwrap();
        assert!(!u.command_allowed(get, None));
        assert!(u.command_allowed(set, None) && u.command_allowed(strlen, None));
        assert!(u.key_allowed(b"ro:1", ks::RO | ks::ACCESS));
        assert!(!u.key_allowed(b"ro:1", ks::RW | ks::UPDATE));
        assert!(u.key_allowed(b"app:1", ks::RW | ks::UPDATE));
        assert!(u.channel_allowed(b"news", false) && !u.channel_allowed(b"new*", true));
        assert_eq!(
            u.describe(&t),
            format!(
                "user app on #{} ~app:* %R~ro:* resetchannels &news -@all +@read -get +set",
                hex(&hash_password(b"pw"))
            )
        );
    }

    #[test]
    fn refused_rules_name_the_reason() {
        let t = CommandTable::build(EngineVersion::parse(Flavor::Valkey, "8.0.0"));
        let mut u = User::new("u", &t, false);
        assert_eq!(u.apply("bogus", &t), Err(SYNTAX));
        assert_eq!(u.apply("+nosuch", &t), Err(UNKNOWN_CMD));
        assert_eq!(u.apply("#abc", &t), Err(BAD_HASH));
        assert_eq!(u.apply("<nope", &t), Err(NO_SUCH_PASS));
        assert_eq!(u.apply("(~a +get)", &t), Err(SELECTORS));
        // Commands Redis has and this engine lacks are accepted without effect.
        u.apply_all("-geoadd +xinfo|stream -cluster|addslots +eval", &t)
            .unwrap();
        assert_eq!(u.apply("+cluster|nosuch", &t), Err(UNKNOWN_CMD));
        assert!(
            u.commands_text(&t)
                .ends_with("-geoadd +xinfo|stream -cluster|addslots +eval")
        );
        u.apply("allkeys", &t).unwrap();
        assert_eq!(u.apply("~a", &t), Err(AFTER_ALLKEYS));
        // `reset` keeps the name and the pub/sub default, and marks the payload sanitised.
        u.apply("reset", &t).unwrap();
        assert_eq!(
            u.describe(&t),
            "user u off sanitize-payload resetchannels -@all"
        );
    }

    /// Redis 7.0.15's `ACL LIST` lines for the same rules (read from the real server; only
    /// cases whose single commands are one or none, since Redis orders those randomly).
    #[test]
    fn redis_7_0_rebuilds_rules_from_the_bits() {
        let t = CommandTable::build(EngineVersion::redis(7, 0, 15));
        let cases = [
            ("-@all +@admin -bgsave", "-@all +@admin -bgsave"),
            ("+@all -@admin +bgsave", "+@all -@admin +bgsave"),
            ("+@all -config|get", "+@all -config|get"),
            ("+@all -@admin +config|get", "+@all -@admin +config|get"),
            ("+set +get -get +@read -@read", "-@all +set"),
            ("+@hash +select|0", "-@all +@hash +select|0"),
        ];
        for (given, shown) in cases {
            let mut u = User::new("u", &t, false);
            u.apply_all(given, &t).unwrap();
            assert_eq!(u.commands_text(&t), shown, "rules {given}");
        }
    }
}
