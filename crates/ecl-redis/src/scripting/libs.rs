//! Libraries scripts see besides Lua's own: `redis.log`, `math.random` (Redis' lrand48),
//! `bit` (LuaBitOp's API), `cjson`, `cmsgpack` and `struct` ([`structlib`]), written in Rust.
//!
//! Place in the flow: [`install`] runs once when the node's Lua state is created
//! (`scripting::new_state`); the runner lends `math.random` the node's random state for each
//! script ([`RunModes`]), so the sequence goes on from script to script, as in redis-server 7.0.

use super::RunModes;
use super::argerror::{lib_fn, lua_type_name};
use mlua::{Lua, MultiValue, Table, Value};
use std::sync::Arc;

pub mod base;
pub mod structlib;

/// `redis.REPL_ALL`: a script's effects go to the AOF and to replicas (the default).
pub const REPL_ALL: i64 = 3;
/// The `redis.REPL_REPLICA` bit of `redis.set_repl`'s flags: effects go to replicas.
pub const REPL_REPLICA: i64 = 2;

/// `lrand48`'s state before any seeding (what a fresh redis-server's first script sees).
pub const RAND_INIT: u64 = 0x1234_ABCD_330E;

/// An error raised by the `redis` library with a complete message (`ERR ...`, `WRONGTYPE ...`):
/// the error handler uses it as is, without Lua's position prefix.
#[derive(Debug)]
pub struct Raised {
    /// The message.
    pub msg: String,
    /// An error reply of a command the script called (`redis.call`): that command counted it
    /// in INFO errorstats already, so the table made of it is marked not to count again (see
    /// `convert::COUNTED_MARK`).
    pub counted: bool,
}

impl Raised {
    /// The Lua error raising `msg`.
    pub fn error(msg: impl Into<String>, counted: bool) -> mlua::Error {
        mlua::Error::external(Raised {
            msg: msg.into(),
            counted,
        })
    }
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Raised {}

/// The message of a [`Raised`] error, and whether it was counted.
pub fn raised_message(e: &mlua::Error) -> Option<(String, bool)> {
    e.downcast_ref::<Raised>()
        .map(|r| (r.msg.clone(), r.counted))
}

fn raise<T>(msg: &str) -> mlua::Result<T> {
    Err(Raised::error(msg, false))
}

const RAND_A: u64 = 0x5DEE_CE66D;
const RAND_MASK: u64 = (1 << 48) - 1;
const INT32_MAX: f64 = 2_147_483_647.0;

/// `lrand48`'s state after `srand48(seed)`.
fn seeded(seed: i32) -> u64 {
    (((seed as u32 as u64) << 16) | 0x330E) & RAND_MASK
}

fn next_random(modes: &RunModes) -> f64 {
    let state = (modes.rand().wrapping_mul(RAND_A).wrapping_add(0xB)) & RAND_MASK;
    modes.set_rand(state);
    let v = (state >> 17) as f64;
    (v % INT32_MAX) / INT32_MAX
}

fn math_random(modes: &RunModes, args: MultiValue) -> mlua::Result<f64> {
    let r = next_random(modes);
    let num = |v: &Value| match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse().ok()),
        _ => None,
    };
    let arg = |i: usize| {
        args.get(i).and_then(num).map(f64::floor).ok_or_else(|| {
            mlua::Error::runtime(format!(
                "bad argument #{} to 'random' (number expected, got {})",
                i + 1,
                lua_type_name(args.get(i))
            ))
        })
    };
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = arg(0)?;
            if u < 1.0 {
                return Err(mlua::Error::runtime(
                    "bad argument #1 to 'random' (interval is empty)",
                ));
            }
            Ok((r * u).floor() + 1.0)
        }
        2 => {
            let (l, u) = (arg(0)?, arg(1)?);
            if l > u {
                return Err(mlua::Error::runtime(
                    "bad argument #2 to 'random' (interval is empty)",
                ));
            }
            Ok((r * (u - l + 1.0)).floor() + l)
        }
        _ => Err(mlua::Error::runtime("wrong number of arguments")),
    }
}

/// `redis.log(level, message...)`: the script's log line goes to the node's tracing output.
pub fn log(_: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return raise("ERR redis.log() requires two arguments or more.");
    }
    let mut it = args.into_iter();
    let level = match it.next().as_ref().and_then(number) {
        Some(n) => n as i64,
        None => return raise("ERR First argument must be a number (log level)."),
    };
    if !(0..=3).contains(&level) {
        return raise("ERR Invalid debug level.");
    }
    let msg: Vec<String> = it
        .map(|v| match v {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(n) => n.to_string(),
            Value::Number(n) => n.to_string(),
            other => other.type_name().to_string(),
        })
        .collect();
    let msg = msg.join(" ");
    match level {
        3 => tracing::warn!(target: "lua", "{msg}"),
        2 => tracing::info!(target: "lua", "{msg}"),
        _ => tracing::debug!(target: "lua", "{msg}"),
    }
    Ok(())
}

/// Installs the `redis` functions written here: `setresp`, `set_repl` (their state in `modes`),
/// `error_reply`, `status_reply`.
pub(crate) fn install_redis_fns(
    lua: &Lua,
    redis: &Table,
    modes: &Arc<RunModes>,
) -> mlua::Result<()> {
    let m = modes.clone();
    let setresp = lua.create_function(move |_, args: MultiValue| {
        if args.len() != 1 {
            return raise("ERR redis.setresp() requires one argument.");
        }
        match number(&args[0]) {
            Some(v) if v.trunc() == 2.0 || v.trunc() == 3.0 => {
                m.set_resp(v as u8);
                Ok(())
            }
            _ => raise("ERR RESP version must be 2 or 3."),
        }
    })?;
    redis.raw_set("setresp", setresp)?;
    let m = modes.clone();
    let set_repl = lua.create_function(move |_, args: MultiValue| {
        if args.len() != 1 {
            return raise("ERR redis.set_repl() requires one argument.");
        }
        match number(&args[0]) {
            Some(v) if (0.0..=3.0).contains(&v) && v.fract() == 0.0 => {
                m.set_repl(v as u8);
                Ok(())
            }
            _ => raise(
                "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            ),
        }
    })?;
    redis.raw_set("set_repl", set_repl)?;
    for (name, field) in [("error_reply", "err"), ("status_reply", "ok")] {
        let f = lua.create_function(move |lua, args: MultiValue| {
            let t = lua.create_table()?;
            let s = match args.front() {
                Some(Value::String(s)) if args.len() == 1 => s.as_bytes().to_vec(),
                _ => {
                    // Returned, not raised: the script's reply becomes this error.
                    t.raw_set("err", "ERR wrong number or type of arguments")?;
                    return Ok(t);
                }
            };
            let s = if field == "err" {
                reply_error_text(s)
            } else {
                s
            };
            t.raw_set(field, lua.create_string(&s)?)?;
            Ok(t)
        })?;
        redis.raw_set(name, f)?;
    }
    Ok(())
}

/// The error `redis.error_reply(s)` stands for: one leading `-` dropped, and a message without
/// an error code (no space in it) gets the generic `ERR ` code, as Redis 7.0 stores it.
/// The message part loses the CR/LF bytes at both its ends.
fn reply_error_text(s: Vec<u8>) -> Vec<u8> {
    let body = s.strip_prefix(b"-").unwrap_or(&s);
    let (code, msg) = match body.iter().position(|&b| b == b' ') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (b"ERR".as_slice(), body),
    };
    let crlf = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = msg.iter().position(|b| !crlf(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !crlf(b)).map_or(start, |i| i + 1);
    [code, b" ", &msg[start..end]].concat()
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// `redis.sha1hex(s)`: numbers are hashed in their Lua string form.
pub fn sha1hex_fn(lua: &Lua, args: MultiValue) -> mlua::Result<String> {
    if args.len() != 1 {
        return raise("ERR wrong number of arguments");
    }
    let s = lua.coerce_string(args[0].clone())?;
    Ok(super::sha1hex(
        &s.map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
    ))
}

/// The message of an error value caught by the script's `pcall`: errors the `redis` library
/// raised become their text, as Redis' `pcall` gives them; other values stay as they are.
pub fn error_text(lua: &Lua, e: Value) -> mlua::Result<Value> {
    let Value::Error(err) = &e else {
        return Ok(e);
    };
    let text = match raised_message(err) {
        Some((msg, _)) => msg,
        None => super::root_message(err),
    };
    Ok(Value::String(lua.create_string(&text)?))
}

/// Installs `math.random`/`math.randomseed` (their state in `modes`), `bit`, `cjson`,
/// `cmsgpack` and `struct` in the globals `g`.
pub(crate) fn install(lua: &Lua, g: &Table, modes: &Arc<RunModes>) -> mlua::Result<()> {
    let math: Table = g.raw_get("math")?;
    let m = modes.clone();
    math.raw_set("random", lib_fn(lua, move |_, args| math_random(&m, args))?)?;
    let m = modes.clone();
    math.raw_set(
        "randomseed",
        lua.create_function(move |_, seed: f64| {
            m.set_rand(seeded(seed as i64 as i32));
            Ok(())
        })?,
    )?;
    g.raw_set("bit", bit_table(lua)?)?;
    g.raw_set("cjson", super::json::cjson_table(lua)?)?;
    g.raw_set("cmsgpack", super::msgpack::cmsgpack_table(lua)?)?;
    g.raw_set("struct", structlib::struct_table(lua)?)?;
    base::install(lua, g)
}

/// LuaBitOp's normalisation of a number to a signed 32-bit integer.
pub fn tobit(v: f64) -> i32 {
    let r = v.round_ties_even();
    (r.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

fn bit_arg(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<i32> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(tobit(*n as f64)),
        Some(Value::Number(n)) => Ok(tobit(*n)),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(tobit)
            .ok_or_else(|| bad_number(i, fname, "string")),
        other => Err(bad_number(i, fname, lua_type_name(other))),
    }
}

fn bad_number(i: usize, fname: &str, got: &str) -> mlua::Error {
    mlua::Error::runtime(format!(
        "bad argument #{} to '{fname}' (number expected, got {got})",
        i + 1
    ))
}

fn bit_fold(
    lua: &Lua,
    name: &'static str,
    op: fn(i32, i32) -> i32,
) -> mlua::Result<mlua::Function> {
    lib_fn(lua, move |_, args: MultiValue| {
        let mut acc = bit_arg(&args, 0, name)?;
        for i in 1..args.len() {
            acc = op(acc, bit_arg(&args, i, name)?);
        }
        Ok(acc as f64)
    })
}

fn bit_shift(
    lua: &Lua,
    name: &'static str,
    op: fn(i32, u32) -> i32,
) -> mlua::Result<mlua::Function> {
    lib_fn(lua, move |_, args: MultiValue| {
        let x = bit_arg(&args, 0, name)?;
        let n = bit_arg(&args, 1, name)? as u32 & 31;
        Ok(op(x, n) as f64)
    })
}

fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("band", bit_fold(lua, "band", |a, b| a & b)?)?;
    t.raw_set("bor", bit_fold(lua, "bor", |a, b| a | b)?)?;
    t.raw_set("bxor", bit_fold(lua, "bxor", |a, b| a ^ b)?)?;
    t.raw_set(
        "lshift",
        bit_shift(lua, "lshift", |x, n| ((x as u32) << n) as i32)?,
    )?;
    t.raw_set(
        "rshift",
        bit_shift(lua, "rshift", |x, n| ((x as u32) >> n) as i32)?,
    )?;
    t.raw_set("arshift", bit_shift(lua, "arshift", |x, n| x >> n)?)?;
    t.raw_set(
        "rol",
        bit_shift(lua, "rol", |x, n| (x as u32).rotate_left(n) as i32)?,
    )?;
    t.raw_set(
        "ror",
        bit_shift(lua, "ror", |x, n| (x as u32).rotate_right(n) as i32)?,
    )?;
    t.raw_set(
        "tobit",
        lib_fn(lua, |_, a: MultiValue| Ok(bit_arg(&a, 0, "tobit")? as f64))?,
    )?;
    t.raw_set(
        "bnot",
        lib_fn(lua, |_, a: MultiValue| Ok(!bit_arg(&a, 0, "bnot")? as f64))?,
    )?;
    t.raw_set(
        "bswap",
        lib_fn(lua, |_, a: MultiValue| {
            Ok(bit_arg(&a, 0, "bswap")?.swap_bytes() as f64)
        })?,
    )?;
    t.raw_set("tohex", lib_fn(lua, tohex)?)?;
    Ok(t)
}

fn tohex(_: &Lua, args: MultiValue) -> mlua::Result<String> {
    let x = bit_arg(&args, 0, "tohex")? as u32;
    let n = if args.len() > 1 {
        bit_arg(&args, 1, "tohex")?
    } else {
        8
    };
    let upper = n < 0;
    let digits = (n.unsigned_abs().min(8)) as usize;
    let s = if upper {
        format!("{x:08X}")
    } else {
        format!("{x:08x}")
    };
    Ok(s[8 - digits..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_like_bitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
    }
}
