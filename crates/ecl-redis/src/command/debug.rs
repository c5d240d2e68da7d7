//! DEBUG: the subcommands test suites and client libraries use (SLEEP, ERROR, OBJECT, DIGEST,
//! RELOAD, PROTOCOL, the switches of expiry, cron and scripts). Not offered in strict
//! ElastiCache mode, where a node refuses DEBUG as AWS does.
//!
//! Place in the flow: a handler of the server family's table (`server.rs`), over the whole
//! node state ([`crate::engine::Engine`]).

use super::{Argv, Ctx};
use crate::db::Value;
use crate::errors::{self, CmdError, CmdResult};
use std::time::Duration;

/// DEBUG <subcommand> ...
pub fn debug(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let sub = argv.str(1).to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("sleep", 3) => return sleep(ctx, argv),
        ("error", 3) => error(ctx, argv),
        ("object", 3) => object(ctx, argv)?,
        ("digest", 2) => digest(ctx),
        ("digest-value", _) => digest_value(ctx, argv),
        ("protocol", 3) => protocol(ctx, argv)?,
        ("set-active-expire", 3) => {
            ctx.eng.cfg.active_expire_enabled = atoi_nonzero(argv.get(2));
            ctx.out.ok();
        }
        ("set-disable-deny-scripts", 3) => {
            ctx.eng.cfg.scripts_may_call_noscript = atoi_nonzero(argv.get(2));
            ctx.out.ok();
        }
        ("pause-cron", 3) => {
            ctx.eng.cfg.cron_paused = atoi_nonzero(argv.get(2));
            ctx.out.ok();
        }
        ("jmap" | "quicklist-packed-threshold" | "stringmatch-len" | "change-repl-id", _) => {
            ctx.out.ok()
        }
        ("reload", _) => reload(ctx, argv)?,
        ("loadaof", _) => loadaof(ctx)?,
        ("help", _) => help(ctx),
        _ => {
            return Err(CmdError(
                format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                    argv.str(1)
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// Redis reads DEBUG's flags with atoi: a number's leading digits, anything else 0.
fn atoi_nonzero(flag: &[u8]) -> bool {
    flag.iter()
        .skip(usize::from(matches!(flag.first(), Some(b'-' | b'+'))))
        .take_while(|b| b.is_ascii_digit())
        .any(|&b| b != b'0')
}

/// DEBUG SLEEP <seconds>.
fn sleep(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    // A real DEBUG SLEEP stalls the whole server. Outside EXEC we stall the node the same way
    // (every client is paused) without blocking a runtime thread, which other nodes share:
    // the node is paused for the duration and the caller is answered when it ends.
    let seconds = argv.f64(2)?.max(0.0);
    let ms = (seconds * 1000.0) as i64;
    if ms == 0 {
        ctx.out.ok();
    } else if ctx.client.in_exec {
        // Inside EXEC the reply cannot wait as a blocked client's: the node sleeps holding its
        // lock, so EXEC answers after the sleep and every other client of the node waits, as
        // on redis-server.
        let d = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        crate::blocking::run_blocking(|| std::thread::sleep(d));
        ctx.out.ok();
    } else {
        let until = ctx.now.saturating_add(ms);
        let until = ctx.eng.pause().map_or(until, |(u, _)| u.max(until));
        ctx.eng.set_pause(Some((until, false)));
        return ctx.block(Vec::new(), Some(until), crate::client::TimeoutReply::Ok);
    }
    Ok(())
}

/// DEBUG ERROR <text>: the argument verbatim as an error reply, line breaks made spaces; a
/// reply the command wrote, not an error it raised, so INFO errorstats does not count it (as
/// on redis-server). Clients test their error mapping with it (LOADING, OOM).
fn error(ctx: &mut Ctx<'_>, argv: &Argv<'_>) {
    let text: Vec<u8> = argv
        .get(2)
        .iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    ctx.out.raw(b"-");
    ctx.out.raw(&text);
    ctx.out.raw(b"\r\n");
}

/// DEBUG OBJECT <key>: the entry as stored, an expired key not yet deleted included (Redis
/// reads the dictionary directly here).
fn object(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let now = ctx.now;
    let Some(e) = ctx.db().peek_raw(argv.get(2)) else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    // Strings report their length as before inline storage made their heap share 0.
    let ser = match &e.value {
        Value::Str(s) => s.len() + 16,
        v => v.mem_size(),
    };
    let enc = e.value.encoding();
    let lru = e.lru;
    let extra = match &e.value {
        Value::List(l) => format!(
            " ql_nodes:1 ql_avg_node:{}.00 ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{}",
            l.len(),
            ser
        ),
        _ => String::new(),
    };
    let idle = ((now / 1000) as u32).wrapping_sub(lru);
    ctx.out.simple(&format!(
        "Value at:0x7f0000000000 refcount:1 encoding:{enc} serializedlength:{ser} lru:{} lru_seconds_idle:{idle}{extra}",
        lru & 0xFF_FFFF
    ));
    Ok(())
}

/// DEBUG DIGEST: a fingerprint of the live dataset (our own function, not redis-server's).
fn digest(ctx: &mut Ctx<'_>) {
    use crate::db::digest;
    let now = ctx.now;
    let dbs: Vec<(usize, digest::Digest)> = (0..ctx.eng.dbs.len())
        .filter(|&i| !ctx.eng.dbs[i].is_empty())
        .map(|i| {
            let db = &ctx.eng.dbs[i];
            let live = db
                .iter()
                .filter(|(_, e)| e.expire_at == 0 || e.expire_at > now);
            (i, digest::keys_digest(live.map(|(k, e)| (&k[..], e))))
        })
        .collect();
    ctx.out
        .simple(&digest::hex(&digest::dataset_digest(dbs.into_iter())));
}

/// DEBUG DIGEST-VALUE <key> ...: each value's fingerprint, zeros for a missing key.
fn digest_value(ctx: &mut Ctx<'_>, argv: &Argv<'_>) {
    use crate::db::digest;
    let now = ctx.now;
    let digests: Vec<String> = argv
        .iter_from(2)
        .map(|k| {
            let d = ctx
                .db()
                .peek(k, now)
                .map_or(digest::ABSENT, |e| digest::value_digest(&e.value));
            digest::hex(&d)
        })
        .collect();
    ctx.out.array(digests.len());
    for d in &digests {
        ctx.out.simple(d);
    }
}

/// DEBUG LOADAOF: what the AOF holds replaces the dataset (its buffered writes reach the files
/// first), as on redis-server. The replayed commands are already in the files, so they are
/// not appended again. Where there is no AOF to load redis-server exits; a node answers an
/// error and keeps its data.
fn loadaof(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.eng.flush_aof();
    let Some((dir, name)) = crate::persistence::aof_dir(ctx.eng) else {
        return Err("ERR DEBUG LOADAOF needs a data directory".into());
    };
    if !dir.join(format!("{name}.manifest")).exists() {
        return Err("ERR There is no append only file to load".into());
    }
    let truncated_ok = ctx.eng.cfg.get("aof-load-truncated").as_deref() != Some("no");
    let aof = ctx.eng.persist.aof.take();
    let loaded = super::aof_load::load(ctx.eng, &dir, &name, truncated_ok);
    ctx.eng.persist.aof = aof;
    loaded.map_err(|e| CmdError(format!("ERR Error loading the append only file: {e}").into()))?;
    ctx.out.ok();
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE].
fn reload(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let mut opts = crate::persistence::ReloadOptions::default();
    for o in argv.iter_from(2) {
        match o.to_ascii_lowercase().as_slice() {
            b"merge" => opts.merge = true,
            b"noflush" => opts.noflush = true,
            b"nosave" => opts.nosave = true,
            _ => {
                return Err(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into(),
                );
            }
        }
    }
    crate::persistence::reload(ctx.eng, opts).map_err(|e| format!("ERR {e}"))?;
    ctx.out.ok();
    Ok(())
}

/// DEBUG PROTOCOL <type>: one reply of each RESP type, with the values redis-server sends, so
/// clients (and scripts, with SET-DISABLE-DENY-SCRIPTS) can test their parsers. RESP2 gets
/// the RESP2 forms; a push has none.
fn protocol(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let out = &mut *ctx.out;
    match argv.str(2).to_ascii_lowercase().as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // redis-server's test value (three decimals, not π).
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => out.big_number("1234567999999999999999999999999999999"),
        "null" => out.null(),
        "array" | "set" => {
            if argv.str(2).eq_ignore_ascii_case("set") {
                out.set(3);
            } else {
                out.array(3);
            }
            (0..3).for_each(|i| out.int(i));
        }
        "map" => {
            out.map(3);
            for i in 0..3 {
                out.int(i);
                out.boolean(i == 1);
            }
        }
        "attrib" => {
            if out.resp3 {
                out.attribute(1);
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" if !out.resp3 => return Err("ERR RESP2 is not supported by this command".into()),
        "push" => {
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "verbatim" => out.verbatim("txt", b"This is a verbatim\nstring"),
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        _ => return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into()),
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>) {
    super::help::help(
        ctx,
        "DEBUG",
        &[
            "DIGEST",
            "    A hex fingerprint of the whole dataset (our own, not redis-server's).",
            "DIGEST-VALUE <key> [<key> ...]",
            "    A hex fingerprint of each key's value; zeros for a missing key.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message.",
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "PROTOCOL <type>",
            "    Reply with a test value of a RESP type: string|integer|double|bignum|null|",
            "    array|set|map|attrib|push|verbatim|true|false.",
            "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
            "    Save the dataset (unless NOSAVE) and load it back.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    )
}
