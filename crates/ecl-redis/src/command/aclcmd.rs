//! ACL commands (`ACL WHOAMI|USERS|LIST|GETUSER|CAT|DRYRUN|LOG|GENPASS|SETUSER|DELUSER|…`)
//! and the glue between clients and [`crate::acl`]: the user a connection starts as,
//! AUTH/HELLO authentication, and the per-command permission check dispatch runs.
//!
//! Place in the flow: the connection calls [`start_as_default`] when it opens; AUTH and HELLO
//! call [`authenticate`]; dispatch calls [`enforce`] after the NOAUTH check (so inside MULTI a
//! refused command is refused at queue time, as in Redis); the handlers below answer the ACL
//! container.

use super::flags::*;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Flags, acl as cat, container};
use crate::acl::{self, Denied, log::LogEntry};
use crate::client::{Client, Event};
use crate::engine::Engine;
use crate::errors::{self, CmdError, CmdResult};
use crate::resp::Reply;
use crate::version::Release::Redis;

const F: Flags = Flags::all_of(&[NOSCRIPT, LOADING, STALE]);
const FA: Flags = F.with(ADMIN);
const S: AclCategories = cat::SLOW;
const SA: AclCategories = AclCategories::all_of(&[cat::ADMIN, cat::SLOW, cat::DANGEROUS]);

/// ACL family table.
pub const COMMANDS: &[CommandSpec] = &[Cmd::new("acl", container)
    .arity(-2)
    .acl(&[S])
    .since(Redis(6, 0, 0))
    .group("server")
    .doc("A container for Access List Control commands.")
    .subs(ACL)];

const ACL: &[CommandSpec] = &[
    Cmd::new("cat", acl_cat)
        .arity(-2)
        .flags(&[F])
        .acl(&[S])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Lists the ACL categories, or the commands inside a category."),
    Cmd::new("deluser", acl_deluser)
        .arity(-3)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Deletes ACL users, and terminates their connections."),
    Cmd::new("dryrun", acl_dryrun)
        .arity(-4)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(7, 0, 0))
        .group("server")
        .doc("Simulates the execution of a command by a user, without executing the command."),
    Cmd::new("genpass", acl_genpass)
        .arity(-2)
        .flags(&[F])
        .acl(&[S])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Generates a pseudorandom, secure password that can be used to identify ACL users."),
    Cmd::new("getuser", acl_getuser)
        .arity(3)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Lists the ACL rules of a user."),
    Cmd::new("help", acl_help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[S])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Returns helpful text about the different subcommands."),
    Cmd::new("list", acl_list)
        .arity(2)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Dumps the effective rules in ACL file format."),
    Cmd::new("load", acl_no_file)
        .arity(2)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Reloads the rules from the configured ACL file."),
    Cmd::new("log", acl_log)
        .arity(-2)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Lists recent security events generated due to ACL rules."),
    Cmd::new("save", acl_no_file)
        .arity(2)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Saves the effective ACL rules in the configured ACL file."),
    Cmd::new("setuser", acl_setuser)
        .arity(-3)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Creates and modifies an ACL user and its rules."),
    Cmd::new("users", acl_users)
        .arity(2)
        .flags(&[FA])
        .acl(&[SA])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Lists all ACL users."),
    Cmd::new("whoami", acl_whoami)
        .arity(2)
        .flags(&[F])
        .acl(&[S])
        .since(Redis(6, 0, 0))
        .group("server")
        .doc("Returns the authenticated username of the current connection."),
];

/// A new connection's user: `default` (authenticated iff it is `on` and `nopass`).
pub fn start_as_default(eng: &Engine, client: &mut Client) {
    client.user = eng.acl.get("default").cloned();
    client.acl_gen = eng.acl.generation;
}

/// The name of the client's user (`default` for internal clients).
fn user_name(client: &Client) -> &str {
    client.user.as_ref().map_or("default", |u| u.name.as_str())
}

/// AUTH / HELLO AUTH: switches the client to `user` when `pass` is one of its passwords;
/// otherwise logs the failure (`object`: the command's name as the client sent it, `AUTH` or
/// `hello`, as redis-server logs it) and answers WRONGPASS.
pub fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], pass: &[u8], object: &str) -> CmdResult {
    let Some(u) = ctx.eng.acl.authenticate(user, pass) else {
        let name = String::from_utf8_lossy(user).into_owned();
        let info = super::client_line::client_line(ctx, ctx.client.id);
        record(
            ctx.eng,
            "auth",
            "toplevel",
            object.to_string(),
            name,
            ctx.now,
            info,
        );
        return Err(errors::WRONGPASS.into());
    };
    let id = ctx.client.id;
    if let Some(ci) = ctx.eng.clients.map.get_mut(&id) {
        ci.user = u.name.clone();
    }
    // A new AUTH starts a new session (an IAM client renews its 12 hours with a fresh token).
    ctx.client.session_expires = u.session_limit.map(|d| std::time::Instant::now() + d);
    ctx.client.user = Some(u);
    ctx.client.acl_gen = ctx.eng.acl.generation;
    ctx.client.authenticated = true;
    Ok(())
}

fn record(
    eng: &mut Engine,
    reason: &'static str,
    context: &'static str,
    object: String,
    username: String,
    now: i64,
    client_info: String,
) {
    let d = &mut eng.acl.denied;
    match reason {
        "auth" => d.auth += 1,
        "command" => d.command += 1,
        "key" => d.key += 1,
        _ => d.channel += 1,
    }
    let max = eng.cfg.get_i64("acllog-max-len").unwrap_or(128).max(0) as usize;
    let e = LogEntry {
        count: 1,
        reason,
        context,
        object,
        username,
        updated_ms: now,
        client_info,
    };
    eng.acl.log.record(e, max);
}

/// Before a command of a client with a user, when the users changed since its last command:
/// re-reads its user (a removed user's connection ends). Whether the client is authenticated
/// does not change: as in Redis, a connection made while `default` was `nopass` stays
/// authenticated when `default` later gets a password or is turned off.
pub fn refresh_user(eng: &Engine, client: &mut Client) -> CmdResult {
    let name = user_name(client).to_string();
    client.user = eng.acl.get(&name).cloned();
    client.acl_gen = eng.acl.generation;
    if client.user.is_none() && client.authenticated {
        // The user was removed: its connections end (ACL DELUSER and set_users also kill
        // them). A user turned `off` keeps the connections it has, as in Redis: `off` only
        // stops new authentications.
        client.close = true;
        return Err(CmdError(
            format!("ERR user '{name}' no longer exists or is disabled").into(),
        ));
    }
    Ok(())
}

/// The permission check of one command (after NOAUTH and [`refresh_user`]): asks
/// [`acl::check`]; a refusal is logged and answered NOPERM.
pub fn enforce(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    id: usize,
    spec: &CommandSpec,
    argv: &Argv<'_>,
) -> CmdResult {
    let user = match &client.user {
        Some(u) if !u.unrestricted() => u,
        _ => return Ok(()),
    };
    let Err(d) = acl::check(user, &eng.table, id, spec, argv) else {
        return Ok(());
    };
    let username = user.name.clone();
    let (reason, object) = match d {
        Denied::Command => ("command", eng.table.entries[id].full_name.clone()),
        Denied::Key(i) => ("key", argv.str(i)),
        Denied::Channel(i) => ("channel", argv.str(i)),
    };
    let text = refusal_text(d, &object, eng.scripts.running);
    // Refused while queueing or, rules having changed since, when EXEC runs it.
    let context = if eng.scripts.running {
        "lua"
    } else if client.multi.is_some() || client.in_exec {
        "multi"
    } else {
        "toplevel"
    };
    let now = eng.command_now();
    let info = {
        let ctx = Ctx::new(&mut *eng, &mut *client, &mut *out, now, id);
        super::client_line::client_line(&ctx, ctx.client.id)
    };
    record(eng, reason, context, object, username, now, info);
    Err(CmdError(text.into()))
}

/// The reply to a refused command: NOPERM at top level and in MULTI; inside a script,
/// redis-server's wording for a script's call (an ERR the script sees).
fn refusal_text(d: Denied, command: &str, in_script: bool) -> String {
    let text = match (d, in_script) {
        (Denied::Command, false) => {
            return format!("NOPERM this user has no permissions to run the '{command}' command");
        }
        (Denied::Key(_), false) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
        }
        (Denied::Channel(_), false) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
        }
        (Denied::Command, true) => {
            "ERR The user executing the script can't run this command or subcommand"
        }
        (Denied::Key(_), true) => {
            "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
        }
        (Denied::Channel(_), true) => {
            "ERR The user executing the script can't publish to the channel mentioned in the command"
        }
    };
    text.to_string()
}

/// After users changed: closes the connections whose user no longer exists (or, with
/// `disabled_too`, is `off`), and the subscribers whose user may no longer use a channel or
/// pattern they are subscribed to (as Redis does when channel permissions shrink).
pub fn disconnect_unpermitted(eng: &Engine, disabled_too: bool) {
    let mut doomed = std::collections::BTreeSet::new();
    for (&id, ci) in &eng.clients.map {
        match eng.acl.get(&ci.user) {
            None => {
                doomed.insert(id);
            }
            Some(u) if disabled_too && !u.enabled => {
                doomed.insert(id);
            }
            _ => {}
        }
    }
    let ps = &eng.pubsub;
    for (map, literal) in [
        (&ps.channels, false),
        (&ps.patterns, true),
        (&ps.shard, false),
    ] {
        for (name, ids) in map {
            for id in ids {
                let user = eng.clients.map.get(id).and_then(|ci| eng.acl.get(&ci.user));
                if user.is_some_and(|u| !u.channel_allowed(name, literal)) {
                    doomed.insert(*id);
                }
            }
        }
    }
    for id in doomed {
        if let Some(ci) = eng.clients.map.get(&id) {
            let _ = ci.tx.send(Event::Kill);
        }
    }
}

fn acl_whoami(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let name = user_name(ctx.client).to_string();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn acl_users(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let names: Vec<String> = ctx.eng.acl.names().map(str::to_string).collect();
    ctx.out.bulk_array(names.iter().map(|n| n.as_bytes()));
    Ok(())
}

fn acl_list(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let lines: Vec<String> = ctx
        .eng
        .acl
        .users()
        .map(|u| u.describe(&ctx.eng.table))
        .collect();
    ctx.out.bulk_array(lines.iter().map(|l| l.as_bytes()));
    Ok(())
}

fn acl_getuser(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let Some(u) = ctx.eng.acl.get(&argv.str(2)).cloned() else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = u.flag_words();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for h in &u.passwords {
        out.bulk(acl::user::hex(h).as_bytes());
    }
    let table = &ctx.eng.table;
    describe_selector(out, &u.root, table);
    out.bulk(b"selectors");
    out.array(u.selectors.len());
    for sel in &u.selectors {
        out.map(3);
        describe_selector(out, sel, table);
    }
    Ok(())
}

/// A selector's `commands`, `keys` and `channels` fields of `ACL GETUSER`.
fn describe_selector(out: &mut Reply, sel: &acl::Selector, table: &super::CommandTable) {
    out.bulk(b"commands");
    out.bulk(sel.commands_text(table).as_bytes());
    out.bulk(b"keys");
    out.bulk(sel.keys_text().as_bytes());
    out.bulk(b"channels");
    out.bulk(sel.channels_text().as_bytes());
}

fn acl_cat(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError(
            format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
                argv.str(1)
            )
            .into(),
        ));
    }
    if argv.len() == 2 {
        let names: Vec<&str> = cat::NAMES.iter().map(|(_, n)| *n).collect();
        ctx.out.bulk_array(names.iter().map(|n| n.as_bytes()));
        return Ok(());
    }
    let name = argv.str(2);
    let Some(c) = AclCategories::from_name(&name.to_ascii_lowercase()) else {
        return Err(CmdError(format!("ERR Unknown category '{name}'").into()));
    };
    let names: Vec<String> = ctx
        .eng
        .table
        .entries
        .iter()
        .filter(|e| e.spec.acl.contains(c))
        .map(|e| e.full_name.clone())
        .collect();
    ctx.out.bulk_array(names.iter().map(|n| n.as_bytes()));
    Ok(())
}

fn acl_dryrun(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let uname = argv.str(2);
    let Some(user) = ctx.eng.acl.get(&uname).cloned() else {
        return Err(CmdError(format!("ERR User '{uname}' not found").into()));
    };
    let sub = super::OwnedArgv::from_slices(argv.iter_from(3));
    let sub = sub.as_argv();
    let table = ctx.eng.table.clone();
    let not_found = || CmdError(format!("ERR Command '{}' not found", argv.str(3)).into());
    let mut id = table.lookup(sub.get(0)).ok_or_else(not_found)?;
    if !table.entries[id].subs.is_empty() && sub.len() > 1 {
        id = table.lookup_sub(id, sub.get(1)).ok_or_else(not_found)?;
    }
    let e = &table.entries[id];
    if !super::arity_ok(e.spec.arity, sub.len()) {
        return Err(errors::wrong_arity(&e.full_name));
    }
    match acl::check(&user, &table, id, e.spec, &sub) {
        Ok(()) => ctx.out.ok(),
        Err(Denied::Command) => ctx.out.bulk(
            format!(
                "This user has no permissions to run the '{}' command",
                e.full_name
            )
            .as_bytes(),
        ),
        Err(Denied::Key(i)) => ctx.out.bulk(
            format!(
                "This user has no permissions to access the '{}' key",
                sub.str(i)
            )
            .as_bytes(),
        ),
        Err(Denied::Channel(i)) => ctx.out.bulk(
            format!(
                "This user has no permissions to access the '{}' channel",
                sub.str(i)
            )
            .as_bytes(),
        ),
    }
    Ok(())
}

fn acl_genpass(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::wrong_arity("acl|genpass"));
    }
    let bits = if argv.len() == 3 { argv.i64(2)? } else { 256 };
    if !(1..=4096).contains(&bits) {
        return Err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".into());
    }
    use rand::RngExt;
    let mut r = rand::rng();
    let chars = (bits as usize).div_ceil(4);
    let pass: String = (0..chars)
        .map(|_| char::from_digit(r.random_range(0..16u32), 16).unwrap_or('0'))
        .collect();
    ctx.out.bulk(pass.as_bytes());
    Ok(())
}

fn acl_log(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::wrong_arity("acl|log"));
    }
    let mut count = 10usize;
    if argv.len() == 3 {
        if argv.is(2, "reset") {
            ctx.eng.acl.log.entries.clear();
            ctx.out.ok();
            return Ok(());
        }
        count = argv.i64(2)?.max(0) as usize;
    }
    let now = ctx.now;
    let entries: Vec<LogEntry> = ctx
        .eng
        .acl
        .log
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        for (k, v) in [
            ("reason", e.reason),
            ("context", e.context),
            ("object", &e.object),
            ("username", &e.username),
        ] {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
        out.bulk(b"age-seconds");
        out.double((now - e.updated_ms).max(0) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

fn acl_setuser(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let name = argv.str(2);
    if name.contains([' ', '\0']) {
        return Err("ERR Usernames can't contain spaces or null characters".into());
    }
    let rules: Vec<String> = (3..argv.len()).map(|i| argv.str(i)).collect();
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let table = ctx.eng.table.clone();
    let pubsub_all = ctx.eng.pubsub_default_all();
    ctx.eng
        .acl
        .set_user(&name, &rules, &table, pubsub_all)
        .map_err(CmdError::from)?;
    disconnect_unpermitted(ctx.eng, false);
    ctx.out.ok();
    Ok(())
}

fn acl_deluser(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let names: Vec<String> = (2..argv.len()).map(|i| argv.str(i)).collect();
    if names.iter().any(|n| n == "default") {
        return Err("ERR The 'default' user cannot be removed".into());
    }
    let n = ctx.eng.acl.delete(&names);
    // Redis ends the connections of deleted users; the caller's own one after this reply.
    if names.iter().any(|n| n == user_name(ctx.client)) {
        ctx.client.close = true;
    }
    disconnect_unpermitted(ctx.eng, false);
    ctx.out.int(n as i64);
    Ok(())
}

fn acl_no_file(_: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    Err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.".into())
}

fn acl_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List the ACL categories, or the commands of one category.",
            "DELUSER <username> [<username> ...]",
            "    Remove users (their connections are closed).",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Tell whether a user could run a command, without running it.",
            "GETUSER <username>",
            "    Show the rules of a user.",
            "GENPASS [<bits>]",
            "    Make a random password (256 bits unless told).",
            "LIST",
            "    Show every user as ACL rules.",
            "LOAD",
            "    Reload users from the ACL file (none on this node).",
            "LOG [<count> | RESET]",
            "    Show or clear recent refusals and failed authentications.",
            "SAVE",
            "    Write users to the ACL file (none on this node).",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or change a user.",
            "USERS",
            "    List user names.",
            "WHOAMI",
            "    Show the user of this connection.",
        ],
    );
    Ok(())
}
