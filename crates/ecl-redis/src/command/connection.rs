//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH and the CLIENT container.
//!
//! Place in the flow: handlers registered in the command table; they change the calling
//! client's state (database, protocol, authentication, name, reply mode) and, through the
//! client registry, other clients (CLIENT KILL / UNBLOCK / PAUSE).

use super::client_line::client_line;
use super::flags::*;
use super::help::help;
use super::{
    AclCategories, Argv, Cmd, CommandSpec, Ctx, Flags, Release, Release::Redis, Release::Valkey,
    Since, acl, container,
};
use crate::client::{Event, ReplyMode};
use crate::errors::{self, CmdError, CmdResult};

/// CLIENT subcommands: connection-level but not `fast` (Redis 7.0 does not flag them so).
const CL: Flags = Flags::all_of(&[NOSCRIPT, LOADING, STALE]);
const A: AclCategories = acl::CONNECTION.with(acl::FAST);
const AS: AclCategories = acl::CONNECTION.with(acl::SLOW);

/// Connection family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("ping", ping)
        .arity(-1)
        .flags(&[FAST, SUBSCRIBED_OK])
        .acl(&[A])
        .since(Redis(1, 0, 0))
        .group("connection")
        .doc("Returns the server's liveliness response."),
    Cmd::new("echo", echo)
        .arity(2)
        .flags(&[LOADING, STALE, FAST])
        .acl(&[A])
        .since(Redis(1, 0, 0))
        .group("connection")
        .doc("Returns the given string."),
    Cmd::new("select", select)
        .arity(2)
        .flags(&[LOADING, STALE, FAST])
        .acl(&[A])
        .since(Redis(1, 0, 0))
        .group("connection")
        .doc("Changes the selected database."),
    Cmd::new("quit", quit)
        .arity(-1)
        .flags(&[
            ALLOW_BUSY,
            NOSCRIPT,
            LOADING,
            STALE,
            FAST,
            NO_AUTH,
            SUBSCRIBED_OK,
            TXN_CONTROL,
        ])
        .acl(&[A])
        .since(Redis(1, 0, 0))
        .group("connection")
        .doc("Closes the connection."),
    Cmd::new("reset", reset)
        .arity(1)
        .flags(&[
            NOSCRIPT,
            LOADING,
            STALE,
            FAST,
            NO_AUTH,
            SUBSCRIBED_OK,
            TXN_CONTROL,
            ALLOW_BUSY,
        ])
        .acl(&[A])
        .since(Redis(6, 2, 0))
        .group("connection")
        .doc("Resets the connection."),
    Cmd::new("hello", hello)
        .arity(-1)
        .flags(&[
            NOSCRIPT,
            LOADING,
            STALE,
            FAST,
            NO_AUTH,
            ALLOW_BUSY,
            SUBSCRIBED_OK,
        ])
        .acl(&[A])
        .since(Redis(6, 0, 0))
        .group("connection")
        .doc("Handshakes with the Redis server."),
    Cmd::new("auth", auth)
        .arity(-2)
        .flags(&[
            NOSCRIPT,
            LOADING,
            STALE,
            FAST,
            NO_AUTH,
            ALLOW_BUSY,
            SUBSCRIBED_OK,
        ])
        .acl(&[A])
        .since(Redis(1, 0, 0))
        .group("connection")
        .doc("Authenticates the connection."),
    Cmd::new("client", container)
        .arity(-2)
        .acl(&[acl::SLOW])
        .since(Redis(2, 4, 0))
        .group("connection")
        .doc("A container for client connection commands.")
        .subs(CLIENT),
];

const CLIENT: &[CommandSpec] = &[
    Cmd::new("id", client_id).arity(2).flags(&[CL]).acl(&[AS]).since(Redis(5, 0, 0)).group("connection")
        .doc("Returns the unique client ID of the connection."),
    Cmd::new("setname", client_setname).arity(3).flags(&[CL]).acl(&[AS]).since(Redis(2, 6, 9)).group("connection")
    .doc("Sets the connection name."),
    Cmd::new("getname", client_getname).arity(2).flags(&[CL]).acl(&[AS]).since(Redis(2, 6, 9)).group("connection")
    .doc("Returns the name of the connection."),
    Cmd::new("list", client_list).arity(-2).flags(&[ADMIN, CL]).acl(&[AS, acl::ADMIN, acl::DANGEROUS]).since(Redis(2, 4, 0)).group("connection")
    .doc("Lists open connections."),
    Cmd::new("info", client_info).arity(2).flags(&[CL]).acl(&[AS]).since(Redis(6, 2, 0)).group("connection")
        .doc("Returns information about the connection."),
    Cmd::new("kill", client_kill).arity(-3).flags(&[ADMIN, CL]).acl(&[AS, acl::ADMIN, acl::DANGEROUS]).since(Redis(2, 4, 0)).group("connection")
    .doc("Terminates open connections."),
    Cmd::new("pause", client_pause).arity(-3).flags(&[ADMIN, CL]).acl(&[AS, acl::ADMIN, acl::DANGEROUS]).since(Redis(3, 0, 0)).group("connection")
    .doc("Suspends commands processing."),
    Cmd::new("unpause", client_unpause).arity(2).flags(&[ADMIN, CL]).acl(&[AS, acl::ADMIN, acl::DANGEROUS]).since(Redis(6, 2, 0)).group("connection")
    .doc("Resumes processing commands from paused clients."),
    Cmd::new("reply", client_reply).arity(3).flags(&[CL]).acl(&[AS]).since(Redis(3, 2, 0)).group("connection")
    .doc("Instructs the server whether to reply to commands."),
    Cmd::new("no-evict", client_no_evict).arity(3).flags(&[ADMIN, CL]).acl(&[AS, acl::ADMIN, acl::DANGEROUS]).since(Redis(7, 0, 0)).group("connection")
    .doc("Sets the client eviction mode of the connection."),
    Cmd::new("no-touch", client_no_touch).arity(3).flags(&[CL]).acl(&[AS]).since(Redis(7, 2, 0)).group("connection")
    .doc("Controls whether commands sent by the client affect the LRU/LFU of accessed keys."),
    Cmd::new("setinfo", client_setinfo).arity(4).flags(&[CL]).acl(&[AS]).since(Redis(7, 2, 0)).group("connection")
    .doc("Sets information specific to the client or connection."),
    Cmd::new("unblock", client_unblock).arity(-3).flags(&[ADMIN, CL]).acl(&[AS, acl::ADMIN, acl::DANGEROUS]).since(Redis(5, 0, 0)).group("connection")
    .doc("Unblocks a client blocked by a blocking command from a different connection."),
    Cmd::new("tracking", client_tracking).arity(-3).flags(&[CL]).acl(&[AS]).since(Redis(6, 0, 0)).group("connection")
    .doc("Controls server-assisted client-side caching for the connection."),
    Cmd::new("caching", client_caching).arity(3).flags(&[CL]).acl(&[AS]).since(Redis(6, 0, 0)).group("connection")
    .doc("Instructs the server whether to track the keys in the next request."),
    Cmd::new("trackinginfo", client_trackinginfo).arity(2).flags(&[CL]).acl(&[AS]).since(Redis(6, 2, 0)).group("connection")
    .doc("Returns information about server-assisted client-side caching for the connection."),
    Cmd::new("getredir", client_getredir).arity(2).flags(&[CL]).acl(&[AS]).since(Redis(6, 0, 0)).group("connection")
    .doc("Returns the client ID to which the connection's tracking notifications are redirected."),
    Cmd::new("help", client_help).arity(2).flags(&[LOADING, STALE]).acl(&[AS]).since(Redis(5, 0, 0)).group("connection")
    .doc("Returns helpful text about the different subcommands."),
    Cmd::new("capa", client_capa).arity(-3).flags(&[CL]).acl(&[AS]).since(Valkey(8, 0, 0)).group("connection")
    .doc("Declares the client's capabilities."),
];

fn ping(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 2 {
        return Err(errors::wrong_arity("ping"));
    }
    if !ctx.out.resp3 && ctx.client.sub_count() > 0 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1));
    } else if argv.len() == 2 {
        ctx.out.bulk(argv.get(1));
    } else {
        ctx.out.simple("PONG");
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ctx.out.bulk(argv.get(1));
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let i = argv.i64(1)?;
    if i32::try_from(i).is_err() {
        return Err(errors::INT_OUT_OF_RANGE.into());
    }
    if ctx.eng.info.cluster && i != 0 {
        return Err(errors::SELECT_CLUSTER.into());
    }
    if i < 0 || i as usize >= ctx.eng.dbs.len() {
        return Err(errors::DB_INDEX_OUT_OF_RANGE.into());
    }
    ctx.client.db = i as usize;
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.ok();
    ctx.client.close = true;
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let id = ctx.client.id;
    super::pubsub::unsubscribe_all(ctx, false);
    ctx.client.multi = None;
    ctx.client.multi_dirty = false;
    ctx.eng.release_watches(ctx.client);
    ctx.client.db = 0;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.no_evict = false;
    ctx.client.no_touch = false;
    ctx.client.authenticated = ctx.eng.acl.default_nopass();
    super::aclcmd::start_as_default(ctx.eng, ctx.client);
    ctx.eng.clients.monitors.retain(|&m| m != id);
    ctx.eng.tracking.remove_client(id);
    if let Some(ci) = ctx.eng.clients.map.get_mut(&id) {
        ci.name.clear();
        ci.monitor = false;
        ci.user = "default".to_string();
    }
    ctx.out.resp3 = false;
    ctx.out.simple("RESET");
    Ok(())
}

fn auth(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let (user, pass) = if argv.len() == 3 {
        (argv.get(1), argv.get(2))
    } else {
        (&b"default"[..], argv.get(1))
    };
    if argv.len() == 2 && ctx.eng.acl.default_has_nopass_flag() {
        return Err(errors::AUTH_NOT_CONFIGURED.into());
    }
    super::aclcmd::authenticate(ctx, user, pass, &argv.str(0))?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if argv.len() >= 2 {
        let p = argv.i64(1).map_err(|_| {
            CmdError::from("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&p) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        proto = Some(p);
        i = 2;
    }
    let mut name = None;
    while i < argv.len() {
        if argv.is(i, "auth") && i + 2 < argv.len() {
            super::aclcmd::authenticate(ctx, argv.get(i + 1), argv.get(i + 2), &argv.str(0))?;
            i += 3;
        } else if argv.is(i, "setname") && i + 1 < argv.len() {
            validate_name(argv.get(i + 1))?;
            name = Some(argv.str(i + 1));
            i += 2;
        } else {
            return Err(CmdError(
                // Redis formats the option as a C string: it ends at the first NUL.
                format!(
                    "ERR Syntax error in HELLO option '{}'",
                    errors::show(errors::c_string(argv.get(i)), usize::MAX)
                )
                .into(),
            ));
        }
    }
    if !ctx.client.authenticated {
        // redis-server 7.0.15 does not name the protocol argument in the hint; later releases
        // (and ElastiCache's 7.1, as this engine has answered so far) do.
        let usage = if ctx.has(Since::from(Release::Redis(7, 1, 0)).or_valkey(7, 2, 0)) {
            "HELLO <proto> AUTH <user> <pass>"
        } else {
            "HELLO AUTH <user> <pass>"
        };
        return Err(format!("NOAUTH HELLO must be called with the client already authenticated, otherwise the {usage} option can be used to authenticate the client and select the RESP protocol version at the same time").into());
    }
    if let Some(p) = proto {
        ctx.out.resp3 = p == 3;
    }
    let id = ctx.client.id;
    if let Some(n) = name
        && let Some(ci) = ctx.eng.clients.map.get_mut(&id)
    {
        ci.name = n;
    }
    hello_reply(ctx);
    Ok(())
}

/// The HELLO map: server identity, protocol, client id, mode, role and modules, plus Valkey
/// 8.1's `availability_zone` when the node has one.
fn hello_reply(ctx: &mut Ctx<'_>) {
    let id = ctx.client.id;
    let info = &ctx.eng.info;
    let (server, version) = ctx.eng.table.engine.hello_identity(&info.version);
    let version = version.to_string();
    let mode = if info.cluster {
        "cluster"
    } else {
        "standalone"
    };
    let zone = info
        .availability_zone
        .as_deref()
        .filter(|z| !z.is_empty() && ctx.has(Since::from(Release::Valkey(8, 1, 0))))
        .map(str::to_string);
    let role: &[u8] = if ctx.eng.repl.is_replica() {
        b"replica"
    } else {
        b"master"
    };
    let out = &mut *ctx.out;
    out.map(7 + usize::from(zone.is_some()));
    out.bulk(b"server");
    out.bulk(server.as_bytes());
    out.bulk(b"version");
    out.bulk(version.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(id as i64);
    out.bulk(b"mode");
    out.bulk(mode.as_bytes());
    out.bulk(b"role");
    out.bulk(role);
    out.bulk(b"modules");
    out.array(0);
    if let Some(z) = zone {
        out.bulk(b"availability_zone");
        out.bulk(z.as_bytes());
    }
}

fn validate_name(n: &[u8]) -> CmdResult {
    if n.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    Ok(())
}

fn client_id(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    validate_name(argv.get(2))?;
    let id = ctx.client.id;
    if let Some(ci) = ctx.eng.clients.map.get_mut(&id) {
        ci.name = argv.str(2);
    }
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let name = ctx
        .eng
        .clients
        .map
        .get(&ctx.client.id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn client_list(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut ids: Vec<u64> = ctx.eng.clients.map.keys().copied().collect();
    let mut i = 2;
    while i < argv.len() {
        if argv.is(i, "type") && i + 1 < argv.len() {
            let t = argv.str(i + 1).to_ascii_lowercase();
            let clients = &ctx.eng.clients.map;
            match t.as_str() {
                "normal" => ids.retain(|id| clients.get(id).is_some_and(|c| c.subs == (0, 0, 0))),
                "pubsub" => ids.retain(|id| clients.get(id).is_some_and(|c| c.subs != (0, 0, 0))),
                "master" | "replica" | "slave" => ids.clear(),
                _ => return Err(CmdError(format!("ERR Unknown client type '{t}'").into())),
            }
            i += 2;
        } else if argv.is(i, "id") && i + 1 < argv.len() {
            let mut want = Vec::new();
            for j in i + 1..argv.len() {
                match crate::db::string::parse_i64(argv.get(j)) {
                    Some(x) if x > 0 => want.push(x as u64),
                    _ => return Err("ERR Invalid client ID".into()),
                }
            }
            ids.retain(|id| want.contains(id));
            i = argv.len();
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let mut s = String::new();
    for id in ids {
        s.push_str(&client_line(ctx, id));
        s.push('\n');
    }
    ctx.out.verbatim("txt", s.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let mut s = client_line(ctx, ctx.client.id);
    s.push('\n');
    ctx.out.verbatim("txt", s.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.len() == 3 {
        let addr = argv.str(2);
        let target = ctx
            .eng
            .clients
            .map
            .iter()
            .find(|(_, c)| c.addr == addr)
            .map(|(id, _)| *id);
        return match target {
            Some(id) => {
                kill(ctx, id);
                ctx.out.ok();
                Ok(())
            }
            None => Err("ERR No such client".into()),
        };
    }
    let me = ctx.client.id;
    let maxage_known = ctx.has(Since::from(Release::Redis(7, 4, 0)).or_valkey(8, 0, 0));
    let mut skipme = true;
    let mut ids: Vec<u64> = ctx.eng.clients.map.keys().copied().collect();
    let mut i = 2;
    while i + 1 < argv.len() {
        let val = argv.str(i + 1);
        let clients = &ctx.eng.clients.map;
        let opt = argv.str(i).to_ascii_lowercase();
        match opt.as_str() {
            "id" => {
                let want = crate::db::string::parse_i64(argv.get(i + 1))
                    .filter(|x| *x > 0)
                    .ok_or(CmdError::from("ERR client-id should be greater than 0"))?;
                ids.retain(|id| *id == want as u64);
            }
            "addr" => ids.retain(|id| clients.get(id).is_some_and(|c| c.addr == val)),
            "laddr" => ids.retain(|id| clients.get(id).is_some_and(|c| c.laddr == val)),
            "user" => {
                if ctx.eng.acl.get(&val).is_none() {
                    return Err(CmdError(format!("ERR No such user '{val}'").into()));
                }
                ids.retain(|id| clients.get(id).is_some_and(|c| c.user == val));
            }
            "type" => match val.to_ascii_lowercase().as_str() {
                "normal" => ids.retain(|id| clients.get(id).is_some_and(|c| c.subs == (0, 0, 0))),
                "pubsub" => ids.retain(|id| clients.get(id).is_some_and(|c| c.subs != (0, 0, 0))),
                "master" | "replica" | "slave" => ids.clear(),
                _ => return Err(CmdError(format!("ERR Unknown client type '{val}'").into())),
            },
            "skipme" => match val.to_ascii_lowercase().as_str() {
                "yes" => skipme = true,
                "no" => skipme = false,
                _ => return Err(errors::SYNTAX.into()),
            },
            // Redis 7.4 and Valkey 8.0 added MAXAGE; older releases answer a syntax error.
            "maxage" if maxage_known => {
                let age = argv.i64(i + 1)?;
                let now = ctx.now;
                ids.retain(|id| {
                    clients
                        .get(id)
                        .is_some_and(|c| (now - c.created_ms) / 1000 >= age)
                });
            }
            _ => return Err(errors::SYNTAX.into()),
        }
        i += 2;
    }
    if i != argv.len() {
        return Err(errors::SYNTAX.into());
    }
    if skipme {
        ids.retain(|&id| id != me);
    }
    let n = ids.len();
    for id in ids {
        kill(ctx, id);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn kill(ctx: &mut Ctx<'_>, id: u64) {
    if id == ctx.client.id {
        ctx.client.close = true;
    } else {
        ctx.eng.send(id, Event::Kill);
    }
}

fn client_pause(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let ms = argv
        .i64(2)
        .map_err(|_| CmdError::from("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    let writes_only = match argv.len() {
        3 => false,
        4 if argv.is(3, "write") => true,
        4 if argv.is(3, "all") => false,
        _ => return Err(errors::SYNTAX.into()),
    };
    // Redis adds the time without a check: past the range the end wraps negative, and that
    // pause is over at once.
    let until = ctx.now.wrapping_add(ms);
    // A later, stronger pause extends; Redis keeps the most restrictive one.
    let (u, w) = match ctx.eng.pause() {
        Some((u0, w0)) => (u0.max(until), w0 && writes_only),
        None => (until, writes_only),
    };
    ctx.eng.set_pause(Some((u, w)));
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    ctx.eng.set_pause(None);
    ctx.out.ok();
    Ok(())
}

fn client_reply(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv.is(2, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if argv.is(2, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if argv.is(2, "skip") {
        ctx.client.reply_mode = ReplyMode::Skip;
    } else {
        return Err(errors::SYNTAX.into());
    }
    Ok(())
}

fn on_off(argv: &Argv<'_>, i: usize) -> Result<bool, CmdError> {
    if argv.is(i, "on") {
        Ok(true)
    } else if argv.is(i, "off") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

fn client_no_evict(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ctx.client.no_evict = on_off(argv, 2)?;
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    ctx.client.no_touch = on_off(argv, 2)?;
    ctx.out.ok();
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let val = argv.get(3);
    if val.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError(
            format!(
                "ERR {} cannot contain spaces, newlines or special characters.",
                argv.str(2).to_ascii_lowercase()
            )
            .into(),
        ));
    }
    let id = ctx.client.id;
    let is_name = argv.is(2, "lib-name");
    if !is_name && !argv.is(2, "lib-ver") {
        return Err(CmdError(
            format!(
                "ERR Unrecognized option '{}'",
                errors::show(argv.get(2), 64)
            )
            .into(),
        ));
    }
    if let Some(ci) = ctx.eng.clients.map.get_mut(&id) {
        if is_name {
            ci.lib_name = argv.str(3);
        } else {
            ci.lib_ver = argv.str(3);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn client_unblock(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let id = argv.i64(2)?;
    let error = match argv.len() {
        3 => false,
        4 if argv.is(3, "timeout") => false,
        4 if argv.is(3, "error") => true,
        _ => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    let Some(b) = ctx.eng.unblock_client(id as u64) else {
        ctx.out.int(0);
        return Ok(());
    };
    let reply = if error {
        // The blocked command fails: redis-server counts the error reply and the failed call.
        let e = CmdError("UNBLOCKED client unblocked via CLIENT UNBLOCK".into());
        super::dispatch::count_error(ctx.eng, &e);
        let blocked_cmd = ctx.eng.table.lookup(b.argv.as_argv().get(0));
        if let Some(s) = blocked_cmd.and_then(|id| ctx.eng.stats.cmd.get_mut(id)) {
            s.failed += 1;
        }
        format!("-{}\r\n", e.0).into_bytes()
    } else {
        crate::engine::Engine::timeout_reply(&b)
    };
    ctx.eng.send(id as u64, Event::Unblocked(reply));
    ctx.out.int(1);
    Ok(())
}

fn client_getredir(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let r = match ctx.eng.tracking.clients.get(&ctx.client.id) {
        None => -1,
        Some(st) => st.redirect.map_or(0, |r| r as i64),
    };
    ctx.out.int(r);
    Ok(())
}

fn client_tracking(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let on = on_off(argv, 2)?;
    let mut st = crate::tracking::TrackState::default();
    let mut i = 3;
    while i < argv.len() {
        if argv.is(i, "redirect") && i + 1 < argv.len() {
            let r = argv.i64(i + 1)?;
            if r as u64 != ctx.client.id && !ctx.eng.clients.map.contains_key(&(r as u64)) {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
            if r as u64 != ctx.client.id {
                st.redirect = Some(r as u64);
            }
            i += 2;
        } else if argv.is(i, "prefix") && i + 1 < argv.len() {
            st.prefixes.push(argv.get(i + 1).to_vec());
            i += 2;
        } else if argv.is(i, "bcast") {
            st.bcast = true;
            i += 1;
        } else if argv.is(i, "optin") {
            st.optin = true;
            i += 1;
        } else if argv.is(i, "optout") {
            st.optout = true;
            i += 1;
        } else if argv.is(i, "noloop") {
            st.noloop = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let id = ctx.client.id;
    if !on {
        ctx.eng.tracking.remove_client(id);
        ctx.out.ok();
        return Ok(());
    }
    if !st.prefixes.is_empty() && !st.bcast {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    let current = ctx.eng.tracking.clients.get(&id);
    if current.is_some_and(|c| c.bcast != st.bcast) {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if st.bcast && (st.optin || st.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if st.optin && st.optout {
        return Err("ERR You can't use both OPTIN and OPTOUT".into());
    }
    let existing = current.map_or(&[][..], |c| c.prefixes.as_slice());
    if let Some(e) = crate::tracking::prefix_collision(existing, &st.prefixes) {
        return Err(e.into());
    }
    ctx.eng.tracking.enable(id, st);
    ctx.out.ok();
    Ok(())
}

fn client_caching(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let yes = if argv.is(2, "yes") {
        true
    } else if argv.is(2, "no") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let id = ctx.client.id;
    let Some(st) = ctx
        .eng
        .tracking
        .clients
        .get_mut(&id)
        .filter(|s| s.optin || s.optout)
    else {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
    };
    if yes && !st.optin {
        return Err(
            "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into(),
        );
    }
    if !yes && !st.optout {
        return Err(
            "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into(),
        );
    }
    st.caching = Some(yes);
    ctx.out.ok();
    Ok(())
}

fn client_trackinginfo(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let st = ctx.eng.tracking.clients.get(&ctx.client.id).cloned();
    let mut fl: Vec<&str> = Vec::new();
    match &st {
        None => fl.push("off"),
        Some(s) => {
            fl.push("on");
            for (set, name) in [
                (s.bcast, "bcast"),
                (s.optin, "optin"),
                (s.optout, "optout"),
                (s.caching == Some(true), "caching-yes"),
                (s.caching == Some(false), "caching-no"),
                (s.noloop, "noloop"),
                (s.broken, "broken_redirect"),
            ] {
                if set {
                    fl.push(name);
                }
            }
        }
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(fl.len());
    for f in fl {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(match &st {
        None => -1,
        Some(s) => s.redirect.map_or(0, |r| r as i64),
    });
    ctx.out.bulk(b"prefixes");
    let mut prefixes = st.map(|s| s.prefixes).unwrap_or_default();
    prefixes.sort();
    ctx.out.array(prefixes.len());
    for p in prefixes {
        ctx.out.bulk(&p);
    }
    Ok(())
}

/// CLIENT CAPA (Valkey 8.0): the client declares capabilities; unknown ones are ignored, as
/// the documentation says. `redirect`: a standalone replica answers this client's data
/// commands with `-REDIRECT primary-ip:port` (reads stay here after READONLY).
fn client_capa(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if argv
        .iter_from(2)
        .any(|c| c.eq_ignore_ascii_case(b"redirect"))
    {
        ctx.client.capa_redirect = true;
    }
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    help(
        ctx,
        "CLIENT",
        &[
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port> | <option> <value> [...]",
            "    Kill connections.",
            "LIST [TYPE <type>] [ID <id> [...]]",
            "    Return information about client connections.",
            "GETNAME",
            "    Return the name of the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend clients.",
            "UNPAUSE",
            "    Stop the current client pause.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
        ],
    );
    Ok(())
}
