//! One ACL user: its flags and passwords, and its permissions as a root selector plus the
//! `(…)` selectors of Redis 7, parsed from Redis' `ACL SETUSER` syntax; its description
//! (`ACL LIST` / `ACL GETUSER`).
//!
//! Place in the flow: [`super::Acl`] builds users from [`crate::UserDef`]s or `ACL SETUSER`
//! against the node's [`CommandTable`] (command permissions are a flag per table entry, so a
//! check is one index); dispatch asks [`super::check`], which tries each of
//! [`User::all_selectors`] for every command of a restricted user.

use super::PasswordCheck;
use super::selector::{self, SINCE_7, Selector};
use crate::cmdtable::CommandTable;

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

/// Reasons a rule is refused (the text after `Error in ACL SETUSER modifier '…': `).
const BAD_HASH: &str = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
const NO_SUCH_PASS: &str = "The password you are trying to remove from the user does not exist";

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
    /// The permissions given outside parentheses.
    pub root: Selector,
    /// The permissions of each `(…)` selector, in the order added.
    pub selectors: Vec<Selector>,
    /// `acl-pubsub-default` was `allchannels` when the user was made (what `reset` and new
    /// selectors start from).
    pubsub_all: bool,
    /// Every command, key and channel allowed: dispatch skips the checks. Kept current by
    /// [`User::apply`].
    open: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("selectors", &self.selectors.len())
            .finish_non_exhaustive()
    }
}

/// Joins the arguments of one selector a client split on white space (`(~a`, `+get)` is
/// `(~a +get)`): an argument opening with `(` and not closing with `)` takes the following
/// ones up to one that closes; another opening `(` on the way starts the selector afresh (the
/// unfinished one is dropped, as redis-server 7.0 drops it). The error is Redis' for a
/// selector never closed. Engines before Redis 7 (`selectors` false) take arguments as they
/// are.
pub fn merge_selector_args<S: AsRef<str>>(
    args: &[S],
    selectors: bool,
) -> Result<Vec<String>, String> {
    let args = args.iter().map(AsRef::as_ref);
    if !selectors {
        return Ok(args.map(str::to_string).collect());
    }
    let mut out = Vec::new();
    // The selector being joined: its first argument and the text so far.
    let mut open: Option<(&str, String)> = None;
    for a in args {
        let opens = a.starts_with('(') && (a.len() < 2 || !a.ends_with(')'));
        if opens {
            open = Some((a, a.to_string()));
        } else if let Some((_, acc)) = &mut open {
            acc.push(' ');
            acc.push_str(a);
            if a.ends_with(')') {
                out.extend(open.take().map(|(_, acc)| acc));
            }
        } else {
            out.push(a.to_string());
        }
    }
    match open {
        Some((first, _)) => Err(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{first}'."
        )),
        None => Ok(out),
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
            root: Selector::new(table, pubsub_all),
            selectors: Vec::new(),
            pubsub_all,
            open: false,
        }
    }

    /// Applies every rule of `rules` (white-space separated, a selector's parts joined again)
    /// in order; on error, the rule refused and the reason (the user is then partly changed:
    /// callers work on a copy).
    pub fn apply_all<H: Copy>(
        &mut self,
        rules: &str,
        table: &CommandTable<H>,
    ) -> Result<(), (String, String)> {
        let words: Vec<&str> = rules.split_whitespace().collect();
        let merged = merge_selector_args(&words, table.engine.has(SINCE_7)).map_err(|e| {
            let why = e.trim_start_matches("ERR ").to_string();
            (rules.to_string(), why)
        })?;
        for r in merged {
            self.apply(&r, table)
                .map_err(|e| (r.clone(), e.to_string()))?;
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
        self.open = self.root.allows_everything();
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
            "sanitize-payload" => self.sanitize = Some(true),
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "clearselectors" if table.engine.has(SINCE_7) => self.selectors.clear(),
            "reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::new(&name, table, self.pubsub_all);
                self.sanitize = Some(true);
            }
            _ => return self.apply_prefixed(rule, table),
        }
        Ok(())
    }

    fn apply_prefixed<H: Copy>(
        &mut self,
        rule: &str,
        table: &CommandTable<H>,
    ) -> Result<(), &'static str> {
        let rest = rule.get(1..).unwrap_or_default();
        match rule.as_bytes().first() {
            Some(b'>') => self.add_hash(hash_password(rest.as_bytes())),
            Some(b'<') => self.remove_hash(hash_password(rest.as_bytes()))?,
            Some(b'#') => self.add_hash(parse_hex(rest).ok_or(BAD_HASH)?),
            Some(b'!') => self.remove_hash(parse_hex(rest).ok_or(BAD_HASH)?)?,
            Some(b'(') if rule.ends_with(')') && table.engine.has(SINCE_7) => {
                let body = &rule[1..rule.len() - 1];
                self.selectors.push(self.new_selector(body, table)?);
            }
            _ => self.root.apply(rule, table)?,
        }
        Ok(())
    }

    /// A selector from the text between its parentheses, split as redis-server splits a
    /// command line (quotes processed; an unbalanced quote leaves the selector empty, as
    /// redis-server does).
    fn new_selector<H: Copy>(
        &self,
        body: &str,
        table: &CommandTable<H>,
    ) -> Result<Selector, &'static str> {
        let mut sel = Selector::new(table, self.pubsub_all);
        let (mut bytes, mut ranges) = (Vec::new(), Vec::new());
        if crate::resp::decode::split_inline(body.as_bytes(), &mut bytes, &mut ranges).is_err() {
            return Ok(sel);
        }
        for &(a, b) in &ranges {
            let word = std::str::from_utf8(&bytes[a..b]).map_err(|_| selector::SYNTAX)?;
            sel.apply(word, table)?;
        }
        Ok(sel)
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

    /// The root selector, then the added ones: the order permission checks try them in.
    pub fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// Whether some selector allows `channel` (what a subscriber keeps after a rule change).
    pub fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.all_selectors()
            .any(|s| s.channel_allowed(channel, literal))
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

    /// The user as one `ACL LIST` line: flags, password hashes, the root selector, then each
    /// added selector in parentheses.
    pub fn describe<H: Copy>(&self, table: &CommandTable<H>) -> String {
        let mut parts: Vec<String> = vec![format!("user {}", self.name)];
        parts.extend(self.flag_words().iter().map(|w| w.to_string()));
        parts.extend(self.passwords.iter().map(|h| format!("#{}", hex(h))));
        parts.push(self.root.describe(table));
        parts.extend(
            self.selectors
                .iter()
                .map(|s| format!("({})", s.describe(table))),
        );
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flavor;
    use crate::cmdtable::ks;
    use crate::command::{CommandTable, EngineVersion};
    use selector::{AFTER_ALLKEYS, SYNTAX, UNKNOWN_CMD};

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
        let root = &u.root;
        assert!(!root.command_allowed(get, None));
        assert!(root.command_allowed(set, None) && root.command_allowed(strlen, None));
        assert!(root.key_allowed(b"ro:1", ks::RO | ks::ACCESS));
        assert!(!root.key_allowed(b"ro:1", ks::RW | ks::UPDATE));
        assert!(root.key_allowed(b"app:1", ks::RW | ks::UPDATE));
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
        assert_eq!(u.apply("(~a +get on)", &t), Err(SYNTAX));
        // Commands Redis has and this engine lacks are accepted without effect.
        u.apply_all("-geoadd +xinfo|stream -cluster|addslots +eval", &t)
            .unwrap();
        assert_eq!(u.apply("+cluster|nosuch", &t), Err(UNKNOWN_CMD));
        assert!(
            u.root
                .commands_text(&t)
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
            assert_eq!(u.root.commands_text(&t), shown, "rules {given}");
        }
    }

    /// Selectors as redis-server 7.0.15 takes and lists them (each line read from it).
    #[test]
    fn selectors_parse_and_list_as_redis_does() {
        let t = CommandTable::build(EngineVersion::redis(7, 0, 15));
        let cases = [
            (
                vec![
                    "on",
                    "nopass",
                    "~foo",
                    "(~bar +set resetchannels)",
                    "(%R~baz +get &ch)",
                ],
                "user u on nopass ~foo resetchannels -@all (~bar resetchannels -@all +set) (%R~baz resetchannels &ch -@all +get)",
            ),
            (
                vec!["(~a", "+get", ")"],
                "user u off resetchannels -@all (~a resetchannels -@all +get)",
            ),
            (
                vec!["()"],
                "user u off resetchannels -@all (resetchannels -@all)",
            ),
            (
                vec!["(allkeys allcommands allchannels)", "(\t~tab)"],
                "user u off resetchannels -@all (~* &* +@all) (~tab resetchannels -@all)",
            ),
            (
                vec!["(~\"ab\" +get)"],
                "user u off resetchannels -@all (~ab resetchannels -@all +get)",
            ),
            // An unbalanced quote leaves the selector empty.
            (
                vec!["(~a\"b +get)"],
                "user u off resetchannels -@all (resetchannels -@all)",
            ),
            (
                vec!["%RW~", "%R~", "%W~a", "%R~a", "~b", "%R~b"],
                "user u off ~ ~a ~b resetchannels -@all",
            ),
            (
                vec!["(~a)", "(~b)", "clearselectors", "(~c)"],
                "user u off resetchannels -@all (~c resetchannels -@all)",
            ),
        ];
        for (args, listed) in cases {
            let mut acl = super::super::Acl::legacy(None, &t);
            acl.set_user("u", &args, &t, false).unwrap();
            assert_eq!(acl.get("u").unwrap().describe(&t), listed, "rules {args:?}");
        }
        let refused = [
            (
                vec!["(~a", "+get"],
                "ERR Unmatched parenthesis in acl selector starting at '(~a'.",
            ),
            (
                vec!["("],
                "ERR Unmatched parenthesis in acl selector starting at '('.",
            ),
            (
                vec!["(~a)x"],
                "ERR Unmatched parenthesis in acl selector starting at '(~a)x'.",
            ),
            (
                vec![")"],
                "ERR Error in ACL SETUSER modifier ')': Syntax error",
            ),
            (
                vec![" () "],
                "ERR Error in ACL SETUSER modifier ' () ': Syntax error",
            ),
            (
                vec!["(on)"],
                "ERR Error in ACL SETUSER modifier '(on)': Syntax error",
            ),
            (
                vec!["((~a))"],
                "ERR Error in ACL SETUSER modifier '((~a))': Syntax error",
            ),
            (
                vec!["(~a", "b)"],
                "ERR Error in ACL SETUSER modifier '(~a b)': Syntax error",
            ),
            (
                vec!["~a b"],
                "ERR Error in ACL SETUSER modifier '~a b': Syntax error",
            ),
            (
                vec!["(&* &x)"],
                &format!(
                    "ERR Error in ACL SETUSER modifier '(&* &x)': {}",
                    super::selector::AFTER_ALLCHANNELS_TEXT
                ),
            ),
        ];
        for (args, err) in refused {
            let mut acl = super::super::Acl::legacy(None, &t);
            assert_eq!(
                acl.set_user("u", &args, &t, false).unwrap_err(),
                err,
                "rules {args:?}"
            );
            assert!(acl.get("u").is_none());
        }
        // Before Redis 7 there were no selectors nor read/write key permissions.
        let old = CommandTable::build(EngineVersion::redis(6, 2, 14));
        let mut u = User::new("u", &old, false);
        assert_eq!(u.apply("(~a)", &old), Err(SYNTAX));
        assert_eq!(u.apply("%R~a", &old), Err(SYNTAX));
        assert_eq!(u.apply("clearselectors", &old), Err(SYNTAX));
    }

    /// A command runs when one selector allows all of it; otherwise the refusal that got
    /// furthest is reported (redis' acl-v2 suite: "ACL log correctly identifies the relevant
    /// item when selectors are used").
    #[test]
    fn a_selector_allows_a_command_whole() {
        let t = CommandTable::build(EngineVersion::redis(7, 0, 15));
        let mut u = User::new("u", &t, false);
        u.apply_all(
            "on nopass +mget ~key (+mget ~key ~otherkey) (%R~r* %W~w* +copy)",
            &t,
        )
        .unwrap();
        let run = |line: &str| {
            let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let owned = crate::argv::OwnedArgv::from_slices(words);
            let argv = owned.as_argv();
            let id = t.lookup(argv.get(0)).unwrap();
            super::super::check(&u, &t, id, t.entries[id].spec, &argv)
        };
        use super::super::Denied;
        assert_eq!(run("get key"), Err(Denied::Command));
        assert_eq!(run("mget key otherkey"), Ok(()));
        assert_eq!(run("mget otherkey someotherkey"), Err(Denied::Key(2)));
        assert_eq!(run("mget key otherkey someotherkey"), Err(Denied::Key(3)));
        assert_eq!(run("copy r1 w1"), Ok(()));
        assert_eq!(run("copy w1 r1"), Err(Denied::Key(1)));
    }
}
