//! COMMAND and its subcommands, answered from the command table itself.
//!
//! Place in the flow: clients (redis-py cluster mode, redis-cli hints) read COMMAND output to
//! learn arity, flags and key positions; since the same entries drive dispatch, what COMMAND
//! reports is what the node enforces.

use super::flags::*;
use super::keyspecs::{Begin, Find, KeySpec};
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Entry, Flags, Keys, Release::Redis, acl, ks,
};
use crate::errors::{self, CmdResult};
use crate::glob::glob_match_nocase;

const F: Flags = LOADING.with(STALE);
const A: AclCategories = acl::SLOW.with(acl::CONNECTION);

/// COMMAND family table.
pub const COMMANDS: &[CommandSpec] = &[Cmd::new("command", command)
    .arity(-1)
    .flags(&[F])
    .acl(&[A])
    .since(Redis(2, 8, 13))
    .group("server")
    .doc("Returns detailed information about all commands.")
    .subs(SUBS)];

const SUBS: &[CommandSpec] = &[
    Cmd::new("count", count)
        .arity(2)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns a count of commands."),
    Cmd::new("info", info)
        .arity(-2)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns information about one, multiple or all commands."),
    Cmd::new("docs", docs)
        .arity(-2)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(7, 0, 0))
        .group("server")
        .doc("Returns documentary information about one, multiple or all commands."),
    Cmd::new("list", list)
        .arity(-2)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(7, 0, 0))
        .group("server")
        .doc("Returns a list of command names."),
    // Redis 7.0 wants the command and at least one argument (`COMMAND GETKEYS PING` is an
    // arity error there).
    Cmd::new("getkeys", getkeys)
        .arity(-4)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Extracts the key names from an arbitrary command."),
    Cmd::new("getkeysandflags", getkeysandflags)
        .arity(-4)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(7, 0, 0))
        .group("server")
        .doc("Extracts the key names and access flags for an arbitrary command."),
    Cmd::new("help", help)
        .arity(2)
        .flags(&[F])
        .acl(&[A])
        .since(Redis(5, 0, 0))
        .group("server")
        .doc("Returns helpful text about the different subcommands."),
];

/// Plain `COMMAND` has no subcommand; the dispatcher resolves `COMMAND <sub>` to SUBS, and a
/// bare `COMMAND` lands here because containers accept arity -1 only for this one.
fn command(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let ids: Vec<usize> = (0..ctx.eng.table.entries.len())
        .filter(|&i| ctx.eng.table.entries[i].parent.is_none())
        .collect();
    ctx.out.array(ids.len());
    for id in ids {
        write_info(ctx, id);
    }
    Ok(())
}

fn first_last_step(spec: &CommandSpec) -> (i64, i64, i64) {
    match spec.keys {
        Keys::None => (0, 0, 0),
        Keys::Custom(_) => {
            let (f, l, st) = spec.legacy_range;
            (f as i64, l as i64, st as i64)
        }
        Keys::Range(f, l, s) => (f as i64, l as i64, s as i64),
    }
}

fn write_info(ctx: &mut Ctx<'_>, id: usize) {
    let table = ctx.eng.table.clone();
    let e: &Entry = &table.entries[id];
    let spec = e.spec;
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(e.full_name.as_bytes());
    out.int(spec.arity as i64);
    let fl: Vec<&str> = spec.flags.names().collect();
    out.set(fl.len());
    for f in fl {
        out.simple(f);
    }
    let (f, l, s) = first_last_step(spec);
    out.int(f);
    out.int(l);
    out.int(s);
    let cats: Vec<&str> = spec.acl.names().collect();
    out.set(cats.len());
    for c in cats {
        out.simple(&format!("@{c}"));
    }
    let tips = super::tips::of(&e.full_name);
    out.set(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    write_key_specs(out, e);
    let subs: Vec<usize> = e.subs.values().copied().collect();
    out.array(subs.len());
    for sid in subs {
        write_info(ctx, sid);
    }
}

/// One key spec as `COMMAND INFO` prints it: flags, where the search begins, how keys are found.
fn write_spec(out: &mut crate::resp::reply::Reply, spec: &KeySpec) {
    let names: Vec<&str> = ks::names(spec.flags).collect();
    out.map(3);
    out.bulk(b"flags");
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match spec.begin {
        Begin::Index(index) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(index as i64);
        }
        Begin::Keyword(keyword, startfrom) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(startfrom as i64);
        }
        Begin::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    let fields: &[(&[u8], i32)] = match spec.find {
        Find::Range(lastkey, keystep, limit) => {
            out.bulk(b"range");
            &[
                (b"lastkey", lastkey),
                (b"keystep", keystep),
                (b"limit", limit),
            ]
        }
        Find::Keynum(keynumidx, firstkey, keystep) => {
            out.bulk(b"keynum");
            &[
                (b"keynumidx", keynumidx),
                (b"firstkey", firstkey),
                (b"keystep", keystep),
            ]
        }
        Find::Unknown => {
            out.bulk(b"unknown");
            &[]
        }
    };
    out.bulk(b"spec");
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name);
        out.int(*value as i64);
    }
}

/// Key specs: the declared ones of computed-key commands ([`super::keyspecs`]); for positional
/// commands one spec per declared key-flag entry, the first ones single keys and the last one
/// covering the rest of the range.
fn write_key_specs(out: &mut crate::resp::reply::Reply, e: &Entry) {
    let spec = e.spec;
    if let Some(declared) = super::keyspecs::declared(&e.full_name) {
        out.array(declared.len());
        declared.iter().for_each(|s| write_spec(out, s));
        return;
    }
    let Keys::Range(first, last, step) = spec.keys else {
        out.array(0);
        return;
    };
    let declared = spec.key_flags.len().max(1);
    // Ranges with a fixed end hold (last - first) / step + 1 keys; never emit more specs.
    let n = if last >= 0 {
        declared.min(((last - first) / step.max(1) + 1).max(1) as usize)
    } else {
        declared
    };
    out.array(n);
    for i in 0..n {
        let index = first + i as i32 * step;
        let lastkey = if i + 1 < n {
            0
        } else if last < 0 {
            last
        } else {
            last - index
        };
        let range = KeySpec {
            flags: spec.key_flags(i),
            begin: Begin::Index(index),
            find: Find::Range(lastkey, step, 0),
        };
        write_spec(out, &range);
    }
}

fn count(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let n = ctx.eng.table.top_level().count();
    ctx.out.int(n as i64);
    Ok(())
}

fn resolve(ctx: &Ctx<'_>, name: &[u8]) -> Option<usize> {
    ctx.eng.table.lookup_full(name)
}

fn info(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    ctx.out.array(argv.len() - 2);
    for name in argv.iter_from(2) {
        match resolve(ctx, name) {
            Some(id) => write_info(ctx, id),
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

fn write_docs(ctx: &mut Ctx<'_>, id: usize) {
    let table = ctx.eng.table.clone();
    let e = &table.entries[id];
    let spec = e.spec;
    let subs: Vec<usize> = e.subs.values().copied().collect();
    let out = &mut *ctx.out;
    out.map(if subs.is_empty() { 3 } else { 4 });
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    let since = spec.since.doc_version();
    let (ma, mi, pa) = (since / 10_000, since / 100 % 100, since % 100);
    out.bulk(format!("{ma}.{mi}.{pa}").as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map(subs.len());
        for sid in subs {
            let name = table.entries[sid].full_name.clone();
            ctx.out.bulk(name.as_bytes());
            write_docs(ctx, sid);
        }
    }
}

fn docs(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let ids: Vec<usize> = if argv.len() == 2 {
        (0..ctx.eng.table.entries.len())
            .filter(|&i| ctx.eng.table.entries[i].parent.is_none())
            .collect()
    } else {
        argv.iter_from(2).filter_map(|n| resolve(ctx, n)).collect()
    };
    ctx.out.map(ids.len());
    for id in ids {
        let name = ctx.eng.table.entries[id].full_name.clone();
        ctx.out.bulk(name.as_bytes());
        write_docs(ctx, id);
    }
    Ok(())
}

/// COMMAND LIST: every command, each followed by its subcommands (`xinfo|help`), as Redis
/// lists them; FILTERBY PATTERN matches full names, FILTERBY ACLCAT each entry's own categories.
fn list(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let t = ctx.eng.table.clone();
    let mut ids: Vec<usize> = Vec::with_capacity(t.entries.len());
    for (id, e) in t.entries.iter().enumerate() {
        if e.parent.is_none() {
            ids.push(id);
            let mut subs: Vec<(&[u8], usize)> =
                e.subs.iter().map(|(n, &sid)| (n.as_slice(), sid)).collect();
            subs.sort_unstable();
            ids.extend(subs.into_iter().map(|(_, sid)| sid));
        }
    }
    if argv.len() > 2 {
        if argv.len() != 5 || !argv.is(2, "filterby") {
            return Err(errors::SYNTAX.into());
        }
        let val = argv.get(4);
        if argv.is(3, "pattern") {
            ids.retain(|&id| glob_match_nocase(val, t.entries[id].full_name.as_bytes()));
        } else if argv.is(3, "aclcat") {
            let cat = String::from_utf8_lossy(val).to_ascii_lowercase();
            // An unknown category selects nothing.
            let wanted = AclCategories::from_name(&cat);
            ids.retain(|&id| wanted.is_some_and(|c| t.entries[id].spec.acl.contains(c)));
        } else if argv.is(3, "module") {
            ids.clear();
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    ctx.out.array(ids.len());
    for id in ids {
        ctx.out.bulk(t.entries[id].full_name.as_bytes());
    }
    Ok(())
}

/// Key positions (relative to the inner command) and their key-spec flags; keys flagged
/// `not_key` (shard channels) are not keys here, as in Redis. Redis's checks, in its order: an
/// unknown command or subcommand; a command without keys; the arity; then no key found (a
/// key count out of range finds none): an empty list for a command whose keys are optional
/// (EVAL, FCALL), else an error.
fn keys_of(ctx: &Ctx<'_>, argv: &Argv<'_>) -> Result<Vec<(usize, u16)>, errors::CmdError> {
    let target: Vec<&[u8]> = argv.iter_from(2).collect();
    let buf: Vec<u8> = target.concat();
    let mut offs = Vec::new();
    let mut p = 0;
    for a in &target {
        offs.push((p, p + a.len()));
        p += a.len();
    }
    let inner = Argv::new(&buf, &offs);
    let t = &ctx.eng.table;
    let Some(mut id) = t.lookup(inner.get(0)) else {
        return Err("ERR Invalid command specified".into());
    };
    if !t.entries[id].subs.is_empty() && inner.len() > 1 {
        match t.lookup_sub(id, inner.get(1)) {
            Some(sid) => id = sid,
            None => return Err("ERR Invalid command specified".into()),
        }
    }
    let spec = t.entries[id].spec;
    let keyless = matches!(spec.keys, Keys::None) || spec.key_flags(0) & ks::NOT_KEY != 0;
    if keyless {
        return Err("ERR The command has no key arguments".into());
    }
    if !super::arity_ok(spec.arity, inner.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let declared = super::keyspecs::declared(&t.entries[id].full_name).unwrap_or_default();
    let pos: Vec<(usize, u16)> = if declared.iter().any(|s| key_count_out_of_range(s, &inner)) {
        Vec::new()
    } else {
        // A command with one declared spec (EVAL, XREADGROUP) reports its flags, as Redis
        // reports a valid spec's: they can differ from what the command does (XREADGROUP
        // writes, its spec says RO).
        let only_spec = match declared {
            [only] => Some(only.flags),
            _ => None,
        };
        spec.key_positions(&inner)
            .into_iter()
            .enumerate()
            .map(|(nth, p)| {
                (
                    p,
                    only_spec.unwrap_or_else(|| spec.key_flags_for(&inner, nth)),
                )
            })
            .filter(|(_, f)| f & ks::NOT_KEY == 0)
            .collect()
    };
    if pos.is_empty() && !spec.has(NO_MANDATORY_KEYS) {
        return Err("ERR Invalid arguments specified for command".into());
    }
    Ok(pos)
}

/// Whether a `numkeys`-style spec's count (read as C's `atoi` would: leading digits, else 0)
/// is below 1 or names more keys than the arguments after it hold: Redis then finds no key
/// at all, not even a fixed one such as ZUNIONSTORE's destination.
fn key_count_out_of_range(spec: &KeySpec, inner: &Argv<'_>) -> bool {
    let (Begin::Index(begin), Find::Keynum(keynum_idx, _, step)) = (spec.begin, spec.find) else {
        return false;
    };
    let at = (begin + keynum_idx) as usize;
    if at >= inner.len() {
        return false;
    }
    let count = atoi(inner.get(at));
    let after = (inner.len() - at - 1) as i64;
    count < 1 || (count - 1) * i64::from(step.max(1)) + 1 > after
}

/// C's `atoi`: optional blanks and sign, then digits up to the first non-digit (0 if none).
fn atoi(b: &[u8]) -> i64 {
    let s = b.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, c| {
            n.saturating_mul(10).saturating_add(i64::from(c - b'0'))
        });
    if neg { -n } else { n }
}

fn getkeys(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let pos = keys_of(ctx, argv)?;
    ctx.out.array(pos.len());
    for (p, _) in pos {
        ctx.out.bulk(argv.get(p + 2));
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let pos = keys_of(ctx, argv)?;
    ctx.out.array(pos.len());
    for (p, f) in pos {
        ctx.out.array(2);
        ctx.out.bulk(argv.get(p + 2));
        let names: Vec<&str> = ks::names(f).collect();
        ctx.out.set(names.len());
        for n in names {
            ctx.out.simple(n);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}
