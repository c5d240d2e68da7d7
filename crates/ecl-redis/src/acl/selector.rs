//! One set of ACL permissions: the commands, keys and channels it allows. Every user has a
//! root selector (the rules outside parentheses) and, from Redis 7, any number of added
//! selectors (`ACL SETUSER u (~cache:* +@read)`); a command runs when one selector allows
//! the command, every key it touches and every channel it names.
//!
//! Place in the flow: [`super::User`] owns its selectors and hands them the rules that are
//! theirs (command rules, key and channel patterns); [`super::check`] asks each selector in
//! turn; `ACL LIST` / `ACL GETUSER` print each one with [`Selector::describe`] and the
//! `*_text` methods.

use crate::Flavor;
use crate::cmdtable::{AclCategories, CommandTable, ks, spec};
use crate::glob::glob_match;
use crate::version::{Release, Since};
use std::collections::HashMap;

/// Key permissions by access (`%R~`, `%W~`), selectors and the SORT pattern check came with
/// Redis 7.0.
pub const SINCE_7: Since = Since::from(Release::Redis(7, 0, 0));

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
pub(super) const SYNTAX: &str = "Syntax error";
pub(super) const UNKNOWN_CMD: &str = "Unknown command or category name in ACL";
pub(super) const AFTER_ALLKEYS: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
#[cfg(test)]
pub(super) const AFTER_ALLCHANNELS_TEXT: &str = AFTER_ALLCHANNELS;
const AFTER_ALLCHANNELS: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
const SUB_FIRST_ARG: &str = "Allowing first-arg of a subcommand is not supported";

/// Whether the table has no entry at all for top-level `cmd` (not even a disabled one: a
/// disabled command named in a rule is refused, as ElastiCache refuses restricted commands).
fn missing_from_table<H: Copy>(cmd: &str, table: &CommandTable<H>) -> bool {
    !table.top_level().any(|e| e.spec.name == cmd)
}

/// One permission set.
#[derive(Clone)]
pub struct Selector {
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

impl Selector {
    /// No command or key; every channel or none as `acl-pubsub-default` says.
    pub fn new<H: Copy>(table: &CommandTable<H>, pubsub_all: bool) -> Selector {
        Selector {
            all_keys: false,
            keys: Vec::new(),
            all_channels: pubsub_all,
            channels: Vec::new(),
            allowed: vec![false; table.entries.len()],
            first_args: HashMap::new(),
            cmd_rules: vec!["-@all".to_string()],
        }
    }

    /// Applies one rule a selector understands (commands, keys, channels); anything else is
    /// a syntax error.
    pub fn apply<H: Copy>(
        &mut self,
        rule: &str,
        table: &CommandTable<H>,
    ) -> Result<(), &'static str> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            // `~*` and `&*` are the flags themselves (accepted again after them).
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" => self.set_all_commands(true),
            "nocommands" => self.set_all_commands(false),
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
        // A pattern with white space could not be listed back as one rule.
        let pattern_ok = |p: &str| !p.bytes().any(|b| b.is_ascii_whitespace());
        match first {
            '~' if pattern_ok(rest) => self.add_key_pattern(rest.as_bytes(), true, true),
            '%' if table.engine.has(SINCE_7) => {
                if self.all_keys {
                    return Err(AFTER_ALLKEYS);
                }
                // `%R~p`, `%W~p`, `%RW~p`: each letter once; without `~` the pattern is
                // empty (`%RW` matches only the empty key name, as in Redis).
                let (flags, pat) = rest.split_once('~').unwrap_or((rest, ""));
                let read = flags
                    .bytes()
                    .filter(|c| c.eq_ignore_ascii_case(&b'r'))
                    .count();
                let write = flags
                    .bytes()
                    .filter(|c| c.eq_ignore_ascii_case(&b'w'))
                    .count();
                if read + write != flags.len() || read > 1 || write > 1 || flags.is_empty() {
                    return Err(SYNTAX);
                }
                if !pattern_ok(pat) {
                    return Err(SYNTAX);
                }
                self.add_key_pattern(pat.as_bytes(), read == 1, write == 1)
            }
            '&' if pattern_ok(rest) => self.add_channel_pattern(rest),
            '+' | '-' => self.apply_command_rule(first == '+', &lower[1..], table),
            _ => Err(SYNTAX),
        }
    }

    fn add_key_pattern(&mut self, pat: &[u8], read: bool, write: bool) -> Result<(), &'static str> {
        if self.all_keys {
            return Err(AFTER_ALLKEYS);
        }
        // A pattern given again with more access widens the one there (`%R~a %W~a` is `~a`).
        if let Some(k) = self.keys.iter_mut().find(|k| k.pattern == pat) {
            k.read |= read;
            k.write |= write;
            return Ok(());
        }
        self.keys.push(KeyPattern {
            pattern: pat.to_vec(),
            read,
            write,
        });
        Ok(())
    }

    fn add_channel_pattern(&mut self, pat: &str) -> Result<(), &'static str> {
        if self.all_channels {
            return Err(AFTER_ALLCHANNELS);
        }
        if !self.channels.iter().any(|c| c == pat.as_bytes()) {
            self.channels.push(pat.as_bytes().to_vec());
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
            if !self.apply_sub_rule(allow, target, cmd, sub, table)? {
                return Ok(());
            }
        } else {
            let Some(id) = table.lookup_original(target) else {
                if missing_from_table(target, table) && super::known::is_redis_command(target) {
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

    /// `±command|sub` (or `+command|first-arg`); whether the rule is to be recorded.
    fn apply_sub_rule<H: Copy>(
        &mut self,
        allow: bool,
        target: &str,
        cmd: &str,
        sub: &str,
        table: &CommandTable<H>,
    ) -> Result<bool, &'static str> {
        let Some(id) = table.lookup_original(cmd) else {
            // A command Redis has and this engine lacks: the rule has nothing to act on.
            if missing_from_table(cmd, table) && super::known::is_redis_command(cmd) {
                return Ok(true);
            }
            return Err(UNKNOWN_CMD);
        };
        // redis-server's refusals, in its order: an empty part, then a third part (a first
        // argument of a subcommand, or a second `|` after a plain command).
        let has_subs = !table.entries[id].subs.is_empty();
        if sub.is_empty() {
            return Err(if allow { SYNTAX } else { UNKNOWN_CMD });
        }
        if sub.contains('|') {
            return Err(if has_subs { SUB_FIRST_ARG } else { UNKNOWN_CMD });
        }
        if !has_subs {
            // A first argument: Redis allows it on commands without subcommands only.
            if !allow {
                return Err(UNKNOWN_CMD);
            }
            if !self.allowed[id] {
                let args = self.first_args.entry(id).or_default();
                args.push(sub.as_bytes().to_vec());
            }
            return Ok(true);
        }
        match table.lookup_sub(id, sub.as_bytes()) {
            Some(sid) => self.allowed[sid] = allow,
            None if super::known::is_redis_command(target)
                && !table.entries[id].spec.subs.iter().any(|s| s.name == sub) => {}
            None => return Err(UNKNOWN_CMD),
        }
        Ok(true)
    }

    /// Keeps a command rule for descriptions; a later rule on the same target overrides an
    /// earlier one entirely, so the earlier one is dropped.
    fn record_rule(&mut self, allow: bool, target: &str) {
        let sign = if allow { '+' } else { '-' };
        self.cmd_rules.retain(|r| &r[1..] != target);
        self.cmd_rules.push(format!("{sign}{target}"));
    }

    /// Whether the selector allows table entry `id` with this first argument.
    pub fn command_allowed(&self, id: usize, first_arg: Option<&[u8]>) -> bool {
        if self.allowed.get(id).copied().unwrap_or(false) {
            return true;
        }
        match (self.first_args.get(&id), first_arg) {
            (Some(args), Some(a)) => args.iter().any(|x| x.eq_ignore_ascii_case(a)),
            _ => false,
        }
    }

    /// Whether the selector allows touching `key` as a key spec with flags `flags` does:
    /// `access` needs read permission, `insert`/`update`/`delete` write permission, a key
    /// without either (EXISTS, TYPE) any permission.
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

    /// Whether the selector may read every key (`~*`, `allkeys` or `%R~*`): what SORT's BY
    /// and GET patterns need, since they read keys no key spec names.
    pub fn reads_every_key(&self) -> bool {
        self.all_keys || self.keys.iter().any(|k| k.read && k.pattern == b"*")
    }

    /// Whether the selector allows `channel`; a `literal` one (a PSUBSCRIBE pattern) must
    /// equal one of the selector's patterns.
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

    /// Whether every command, key and channel is allowed.
    pub fn allows_everything(&self) -> bool {
        self.all_keys && self.all_channels && self.allowed.iter().all(|a| *a)
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

    /// Keys, channels and commands as `ACL LIST` prints them (`~a resetchannels &b -@all +get`).
    pub fn describe<H: Copy>(&self, table: &CommandTable<H>) -> String {
        let mut parts = Vec::new();
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
    /// rules started there (else `-@all`), then, in category order, every category most of
    /// whose commands (subcommands included) still differ from that start once the categories
    /// before it are taken out, then each command, subcommand and first argument still
    /// differing. Redis lists the single commands in its hash-table order, which changes with
    /// every process; this lists them in table order.
    fn rebuilt_rules<H: Copy>(&self, table: &CommandTable<H>) -> String {
        let additive = self.cmd_rules.first().map(String::as_str) != Some("+@all");
        let mut rules = vec![if additive { "-@all" } else { "+@all" }.to_string()];
        // `fake` has the rules emitted so far applied; `left` is the selector with every
        // emitted category taken back out, so a category whose commands an earlier one already
        // covered (`@dangerous` after `@admin`) no longer looks like a majority.
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
        self.push_differing_commands(table, &mut fake, &mut rules);
        // Rules on commands Redis has and this engine lacks have no bits: keep them as given.
        let lacking = |r: &&String| {
            let cmd = r[1..].split('|').next().unwrap_or_default();
            !r[1..].starts_with('@') && !table.top_level().any(|e| e.spec.name == cmd)
        };
        rules.extend(self.cmd_rules.iter().filter(lacking).cloned());
        rules.join(" ")
    }

    /// The command, subcommand and first-argument rules that take `fake` (the bits the rules
    /// so far give) to this selector's bits, in table order.
    fn push_differing_commands<H: Copy>(
        &self,
        table: &CommandTable<H>,
        fake: &mut [bool],
        rules: &mut Vec<String>,
    ) {
        let sign = |allow: bool| if allow { '+' } else { '-' };
        let top = table.entries.iter().enumerate();
        for (id, e) in top.filter(|(_, e)| e.parent.is_none()) {
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
    }
}
