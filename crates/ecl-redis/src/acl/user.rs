//! One ACL user: its rules parsed from Redis' `ACL SETUSER` syntax, the permission checks
//! dispatch asks of it, and its description (`ACL LIST` / `ACL GETUSER`).
//!
//! Place in the flow: [`super::Acl`] builds users from [`crate::UserDef`]s or `ACL SETUSER`
//! against the node's [`CommandTable`] (command permissions are a flag per table entry, so a
//! check is one index); dispatch calls [`User::command_allowed`], [`User::key_allowed`] and
//! [`User::channel_allowed`] for every command of a restricted user.

use super::PasswordCheck;
use crate::command::{AclCategories, CommandTable, ks};
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
    /// `allkeys` / `~*`.
    pub all_keys: bool,
    /// Key patterns (empty with `all_keys`).
    pub keys: Vec<KeyPattern>,
    /// `allchannels` / `&*`.
    pub all_channels: bool,
    /// Channel patterns (empty with `all_channels`).
    pub channels: Vec<Vec<u8>>,
    /// Allowed flag per command table entry id.
    allowed: Vec<bool>,
    /// First arguments allowed of otherwise denied commands (`+select|0`).
    first_args: HashMap<usize, Vec<Vec<u8>>>,
    /// Command rules in effect, compacted, for descriptions (`+@all -flushall`).
    cmd_rules: Vec<String>,
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
    /// A user as `ACL SETUSER` creates it: off, no passwords, keys, channels or commands.
    pub fn new(name: &str, table: &CommandTable) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            check: None,
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
            allowed: vec![false; table.entries.len()],
            first_args: HashMap::new(),
            cmd_rules: vec!["-@all".to_string()],
        }
    }

    /// Applies every whitespace-separated rule of `rules` in order; on error, the rule
    /// refused and the reason (the user is then partly changed: callers work on a copy).
    pub fn apply_all(&mut self, rules: &str, table: &CommandTable) -> Result<(), (String, String)> {
        for r in rules.split_whitespace() {
            self.apply(r, table)
                .map_err(|e| (r.to_string(), e.to_string()))?;
        }
        Ok(())
    }

    /// Applies one rule.
    pub fn apply(&mut self, rule: &str, table: &CommandTable) -> Result<(), &'static str> {
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
                *self = User::new(&name, table);
                self.sanitize = Some(true);
            }
            _ => return self.apply_prefixed(rule, &lower, table),
        }
        Ok(())
    }

    fn apply_prefixed(
        &mut self,
        rule: &str,
        lower: &str,
        table: &CommandTable,
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
    fn apply_command_rule(
        &mut self,
        allow: bool,
        target: &str,
        table: &CommandTable,
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
            let id = table.lookup(cmd.as_bytes()).ok_or(UNKNOWN_CMD)?;
            if sub.contains('|') {
                return Err(SUB_FIRST_ARG);
            }
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
                let sid = table.lookup_sub(id, sub.as_bytes()).ok_or(UNKNOWN_CMD)?;
                self.allowed[sid] = allow;
            }
        } else {
            let id = table.lookup(target.as_bytes()).ok_or(UNKNOWN_CMD)?;
            self.allowed[id] = allow;
            self.first_args.remove(&id);
            for &sid in table.entries[id].subs.values() {
                self.allowed[sid] = allow;
            }
        }
        let sign = if allow { '+' } else { '-' };
        // A later rule on the same target overrides an earlier one entirely.
        self.cmd_rules.retain(|r| &r[1..] != target);
        self.cmd_rules.push(format!("{sign}{target}"));
        Ok(())
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
        self.all_keys && self.all_channels && self.allowed.iter().all(|a| *a)
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

    /// Command rules (`+@all -flushall`).
    pub fn commands_text(&self) -> String {
        let mut s = self.cmd_rules.join(" ");
        if !s.starts_with("+@all") && !s.starts_with("-@all") {
            s = format!("-@all {s}");
        }
        s
    }

    /// The user as one `ACL LIST` line.
    pub fn describe(&self) -> String {
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
        parts.push(self.commands_text());
        parts.join(" ")
    }
}
