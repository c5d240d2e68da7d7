//! `cmsgpack` for scripts: `cmsgpack.pack(...)` and `cmsgpack.unpack(s)`, with the encodings
//! the lua-cmsgpack module Redis ships chooses (smallest integer form, float32 when exact,
//! tables with keys 1..n as arrays, others as maps).
//!
//! Place in the flow: installed in the node's Lua state by `libs::install`.

use super::argerror::lua_type_name;
use mlua::{Lua, MultiValue, Table, Value};

/// Nesting followed before a value is packed as nil.
const MAX_DEPTH: usize = 16;

/// Builds the `cmsgpack` table.
pub fn cmsgpack_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        super::argerror::lib_fn(lua, |_, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, &mut out, 0)?;
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "unpack",
        super::argerror::lib_fn(lua, |lua, args: MultiValue| {
            unpack_full(lua, &check_string(&args, 0, "unpack")?, None, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        super::argerror::lib_fn(lua, |lua, args: MultiValue| {
            let offset = opt_integer(&args, 1, "unpack_one", 0)?;
            unpack_full(lua, &check_string(&args, 0, "unpack_one")?, Some(1), offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        super::argerror::lib_fn(lua, |lua, args: MultiValue| {
            let limit = check_integer(&args, 1, "unpack_limit")?;
            let offset = opt_integer(&args, 2, "unpack_limit", 0)?;
            unpack_full(
                lua,
                &check_string(&args, 0, "unpack_limit")?,
                Some(limit),
                offset,
            )
        })?,
    )?;
    Ok(t)
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_num(n: f64, out: &mut Vec<u8>) {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        pack_int(n as i64, out);
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(len: usize, fix: u8, fix_max: usize, codes: [u8; 3], out: &mut Vec<u8>) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if codes[0] != 0 && len <= 0xff {
        out.extend_from_slice(&[codes[0], len as u8]);
    } else if len <= 0xffff {
        out.push(codes[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(codes[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(*n, out),
        Value::Number(n) => pack_num(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            pack_len(b.len(), 0xa0, 32, [0xd9, 0xda, 0xdb], out);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_DEPTH => pack_table(t, out, depth + 1)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    // Two passes, each holding one entry at a time: Lua 5.1 keeps every value Rust holds on a
    // stack of at most 8,000 slots, and a table may have far more entries.
    let mut n = 0;
    for pair in t.pairs::<Value, Value>() {
        pair?;
        n += 1;
    }
    let is_array = (1..=n).all(|i| matches!(t.raw_get::<Value>(i), Ok(v) if !v.is_nil()));
    if is_array {
        pack_len(n, 0x90, 16, [0, 0xdc, 0xdd], out);
        for i in 1..=n {
            pack(&t.raw_get::<Value>(i)?, out, depth)?;
        }
    } else {
        pack_len(n, 0x80, 16, [0, 0xde, 0xdf], out);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            pack(&k, out, depth)?;
            pack(&v, out, depth)?;
        }
    }
    Ok(())
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let s = b
        .get(*pos..*pos + n)
        .ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
    *pos += n;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn arg_error(i: usize, name: &str, msg: String) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{} to '{name}' ({msg})", i + 1))
}

/// `luaL_checklstring`: a string, or a number as Lua prints it.
fn check_string(args: &MultiValue, i: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::json::fmt_14g(*n).into_bytes()),
        other => Err(arg_error(
            i,
            name,
            format!("string expected, got {}", lua_type_name(other)),
        )),
    }
}

/// `luaL_checkinteger`: a number or a numeric string, truncated.
fn check_integer(args: &MultiValue, i: usize, name: &str) -> mlua::Result<i64> {
    let v = args.get(i);
    let n = match v {
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(Value::String(s)) => s.to_str().ok().and_then(|t| t.trim().parse::<f64>().ok()),
        _ => None,
    };
    n.map(|f| f as i64).ok_or_else(|| {
        arg_error(
            i,
            name,
            format!("number expected, got {}", lua_type_name(v)),
        )
    })
}

/// `luaL_optinteger`: `default` when absent or nil.
fn opt_integer(args: &MultiValue, i: usize, name: &str, default: i64) -> mlua::Result<i64> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(args, i, name),
    }
}

/// Lua 5.1's limit on the stack slots a C function may use (`LUAI_MAXCSTACK`): lua-cmsgpack
/// checks it for every value it decodes (one more slot) and for every array (one more after
/// the new table), so nesting and top-level counts beyond it fail as they do there.
const LUA_MAX_C_STACK: usize = 8000;
const TOO_MANY: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

/// `cmsgpack.unpack`, `unpack_one` and `unpack_limit`: every value (or up to `limit`) from
/// `offset` on; with a limit, the next offset comes first (-1 once the input is used up).
fn unpack_full(lua: &Lua, b: &[u8], limit: Option<i64>, offset: i64) -> mlua::Result<MultiValue> {
    let limit_n = limit.unwrap_or(0);
    if offset < 0 || limit_n < 0 {
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            b.len()
        )));
    }
    let Some(rest) = usize::try_from(offset).ok().filter(|&o| o <= b.len()) else {
        return Err(mlua::Error::runtime(format!(
            "Start offset {offset} greater than input length {}.",
            b.len()
        )));
    };
    let decode_all = limit_n == 0 && offset == 0;
    let max = if decode_all {
        usize::MAX
    } else {
        limit_n as usize
    };
    let mut pos = rest;
    let mut vals = Vec::new();
    while pos < b.len() && vals.len() < max {
        // The input string holds one slot, each value decoded so far one more.
        vals.push(unpack(lua, b, &mut pos, 1 + vals.len())?);
    }
    if !decode_all {
        let next = if pos == b.len() { -1 } else { pos as i64 };
        vals.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_iter(vals))
}

/// What the head of an encoded value gives: a whole value, or a container still to fill.
enum Head {
    Value(Value),
    Array(mlua::Table, usize),
    Map(mlua::Table, usize),
}

/// A container being filled: its table, the entries still to come, where its stack slots
/// start (`used` before it was pushed), and for arrays the next index, for maps a key read.
enum Open {
    Array(mlua::Table, usize, usize, i64),
    Map(mlua::Table, usize, usize, Option<Value>),
}

impl Open {
    /// Stack slots in use before the next entry is pushed: an array holds its table and the
    /// index, a map its table (and the key once read).
    fn child_used(&self) -> usize {
        match self {
            Open::Array(_, _, used, _) => used + 2,
            Open::Map(_, _, used, None) => used + 1,
            Open::Map(_, _, used, Some(_)) => used + 2,
        }
    }
}

/// Decodes the value at `pos`, nested containers with an explicit stack rather than recursion
/// (nesting is bounded only by the Lua stack limit, thousands of levels deep). `used` is the
/// number of Lua stack slots lua-cmsgpack would have in use before pushing the value.
fn unpack(lua: &Lua, b: &[u8], pos: &mut usize, used: usize) -> mlua::Result<Value> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        let here = open.last().map_or(used, Open::child_used);
        let mut done = match unpack_head(lua, b, pos, here)? {
            Head::Value(v) => v,
            Head::Array(t, 0) | Head::Map(t, 0) => Value::Table(t),
            Head::Array(t, n) => {
                open.push(Open::Array(t, n, here, 1));
                continue;
            }
            Head::Map(t, n) => {
                open.push(Open::Map(t, n, here, None));
                continue;
            }
        };
        // Hand the value to the containers it completes, up to one that wants more.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(done);
            };
            let left = match top {
                Open::Array(t, left, _, index) => {
                    t.raw_set(*index, done)?;
                    *index += 1;
                    *left -= 1;
                    *left
                }
                // A key read: the map waits for its value.
                Open::Map(_, _, _, key) if key.is_none() => {
                    *key = Some(done);
                    1
                }
                Open::Map(t, left, _, key) => {
                    let k = key.take().unwrap_or(Value::Nil);
                    // lua-cmsgpack stores with `lua_settable`, which refuses these keys.
                    match &k {
                        Value::Nil => return Err(mlua::Error::runtime("table index is nil")),
                        Value::Number(f) if f.is_nan() => {
                            return Err(mlua::Error::runtime("table index is NaN"));
                        }
                        _ => t.raw_set(k, done)?,
                    }
                    *left -= 1;
                    *left
                }
            };
            if left > 0 {
                break;
            }
            match open.pop() {
                Some(Open::Array(t, ..) | Open::Map(t, ..)) => done = Value::Table(t),
                None => break, // not reached: a container was just filled
            }
        }
    }
}

/// Reads one value's head at `pos`: a scalar whole, or a new container and its entry count.
fn unpack_head(lua: &Lua, b: &[u8], pos: &mut usize, used: usize) -> mlua::Result<Head> {
    let tag = take(b, pos, 1)?[0];
    if used + 1 > LUA_MAX_C_STACK {
        return Err(mlua::Error::runtime(TOO_MANY));
    }
    let num = |n: f64| Ok(Head::Value(Value::Number(n)));
    let count = |pos: &mut usize, width: usize| take(b, pos, width).map(|w| be(w) as usize);
    match tag {
        0x00..=0x7f => num(f64::from(tag)),
        0xe0..=0xff => num(f64::from(tag as i8)),
        0xa0..=0xbf => bytes(lua, b, pos, usize::from(tag & 0x1f)).map(Head::Value),
        0x90..=0x9f => array_head(lua, usize::from(tag & 0x0f), used),
        0x80..=0x8f => Ok(Head::Map(lua.create_table()?, usize::from(tag & 0x0f))),
        0xc0 => Ok(Head::Value(Value::Nil)),
        0xc2 => Ok(Head::Value(Value::Boolean(false))),
        0xc3 => Ok(Head::Value(Value::Boolean(true))),
        0xca => num(f64::from(f32::from_bits(be(take(b, pos, 4)?) as u32))),
        0xcb => num(f64::from_bits(be(take(b, pos, 8)?))),
        0xcc => num(be(take(b, pos, 1)?) as f64),
        0xcd => num(be(take(b, pos, 2)?) as f64),
        0xce => num(be(take(b, pos, 4)?) as f64),
        0xcf => num(be(take(b, pos, 8)?) as f64),
        0xd0 => num(f64::from(be(take(b, pos, 1)?) as u8 as i8)),
        0xd1 => num(f64::from(be(take(b, pos, 2)?) as u16 as i16)),
        0xd2 => num(f64::from(be(take(b, pos, 4)?) as u32 as i32)),
        0xd3 => num(be(take(b, pos, 8)?) as i64 as f64),
        // str 8/16/32; the bin types (0xc4-0xc6) are not read by Redis's lua-cmsgpack.
        0xd9 => {
            let n = count(pos, 1)?;
            bytes(lua, b, pos, n).map(Head::Value)
        }
        0xda => {
            let n = count(pos, 2)?;
            bytes(lua, b, pos, n).map(Head::Value)
        }
        0xdb => {
            let n = count(pos, 4)?;
            bytes(lua, b, pos, n).map(Head::Value)
        }
        0xdc => array_head(lua, count(pos, 2)?, used),
        0xdd => array_head(lua, count(pos, 4)?, used),
        0xde => Ok(Head::Map(lua.create_table()?, count(pos, 2)?)),
        0xdf => Ok(Head::Map(lua.create_table()?, count(pos, 4)?)),
        _ => Err(mlua::Error::runtime("Bad data format in input.")),
    }
}

/// A new array: its table takes a slot and lua-cmsgpack then wants one more (for the index).
fn array_head(lua: &Lua, n: usize, used: usize) -> mlua::Result<Head> {
    let t = lua.create_table()?;
    if used + 2 > LUA_MAX_C_STACK {
        return Err(mlua::Error::runtime(
            "stack overflow (in function mp_decode_to_lua_array)",
        ));
    }
    Ok(Head::Array(t, n))
}

fn bytes(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
}
