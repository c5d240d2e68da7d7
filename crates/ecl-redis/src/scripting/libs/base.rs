//! Lua 5.1 base-library functions replaced because the stock ones can crash the process or
//! run foreign bytecode: `unpack` and the chunk loaders `loadstring` and `load`.
//!
//! Place in the flow: [`install`] runs from `libs::install` when a node's Lua state is created,
//! before the globals are made read-only, so scripts and functions only ever see these.
//!
//! - `unpack`: Lua 5.1.5 computes the element count as `last - first + 1` in a C `int` and
//!   relies on the overflow check an optimising compiler may remove (signed overflow is
//!   undefined), so `unpack({}, -2, 2147483647)` asks for a negative stack size and crashes the
//!   whole emulator. redis-server patched its Lua for this; ours checks the count in 64 bits
//!   first and answers Lua's own error, `too many results to unpack`.
//! - `loadstring` / `load`: Lua 5.1 loads precompiled bytecode, which can corrupt memory, and
//!   redis-server's Lua loads text only: a chunk starting with the bytecode signature (ESC) is
//!   parsed as text there and fails with `unexpected symbol near 'char(27)'`. Ours hands such a
//!   chunk to the text parser the same way (a leading blank keeps the binary loader off while
//!   the lexer still meets ESC first on line 1), with the chunk name Lua would have used. The
//!   compiling itself stays Lua's (the stock `loadstring`, given text).

use mlua::{Function, IntoLuaMulti, Lua, MultiValue, Table, Value};

use crate::scripting::argerror::{lib_fn, lua_type_name};

/// Lua 5.1's `LUAI_MAXCSTACK`: the most values a C function may push (`lua_checkstack`).
const MAX_C_STACK: i64 = 8000;

/// Replaces `unpack`, `loadstring` and `load` in `g` (the script globals). They are Rust
/// functions, as Lua's are C functions: a tail call to them keeps the script's frame, so
/// their errors name the script's line.
pub(crate) fn install(lua: &Lua, g: &Table) -> mlua::Result<()> {
    let raw_unpack: Function = g.raw_get("unpack")?;
    let unpack: Function = lua
        .load(CHECKED_UNPACK)
        .set_name("=unpack")
        .call((lua.create_function(check_unpack)?, raw_unpack))?;
    g.raw_set("unpack", unpack)?;
    let raw_loadstring: Function = g.raw_get("loadstring")?;
    let raw = raw_loadstring.clone();
    g.raw_set(
        "loadstring",
        lib_fn(lua, move |lua, args: MultiValue| {
            loadstring(lua, &raw, args)
        })?,
    )?;
    g.raw_set(
        "load",
        lib_fn(lua, move |lua, args: MultiValue| {
            load(lua, &raw_loadstring, args)
        })?,
    )
}

/// `unpack` as a Lua function that checks its arguments in Rust ([`check_unpack`]) and then
/// lets Lua's own `unpack` push the values: a Rust callback cannot return the last few values
/// that fit Lua's C stack limit (mlua keeps a slot), and redis-server's scripts may unpack up to
/// it (`redis.call('lpush', k, unpack(t))` with 7,999 elements).
const CHECKED_UNPACK: &str = r#"
local check, unpack = ...
return function(...)
  check(...)
  return unpack(...)
end
"#;

/// A chunk the text parser gets in any case: one starting with the bytecode signature gets
/// a leading blank (see the module header).
fn as_text(chunk: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(chunk.len() + 1);
    if chunk.first() == Some(&0x1b) {
        text.push(b' ');
    }
    text.extend_from_slice(chunk);
    text
}

/// Argument `i` (1-based) as a string, as `luaL_checklstring` takes it (numbers convert).
fn string_arg(lua: &Lua, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i - 1) {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            match lua.coerce_string(v.clone())? {
                Some(s) => Ok(s.as_bytes().to_vec()),
                None => Err(bad_arg(args, i, fname, "string")),
            }
        }
        _ => Err(bad_arg(args, i, fname, "string")),
    }
}

fn bad_arg(args: &MultiValue, i: usize, fname: &str, expected: &str) -> mlua::Error {
    mlua::Error::runtime(format!(
        "bad argument #{i} to '{fname}' ({expected} expected, got {})",
        lua_type_name(args.get(i - 1))
    ))
}

/// `loadstring(s [, chunkname])`: the compiled chunk, or `nil` and the compile error.
fn loadstring(lua: &Lua, raw: &Function, args: MultiValue) -> mlua::Result<MultiValue> {
    let chunk = string_arg(lua, &args, 1, "loadstring")?;
    let name = match args.get(1) {
        None | Some(Value::Nil) => chunk.clone(),
        Some(_) => string_arg(lua, &args, 2, "loadstring")?,
    };
    raw.call((
        lua.create_string(as_text(&chunk))?,
        lua.create_string(name)?,
    ))
}

/// `load(reader [, chunkname])`: reads the chunk piece by piece until the reader returns nil or
/// an empty string, then compiles it as `loadstring` does; a failing reader or a piece that is
/// not a string gives `nil` and the message, as Lua's `load` does.
fn load(lua: &Lua, raw: &Function, args: MultiValue) -> mlua::Result<MultiValue> {
    let Some(Value::Function(reader)) = args.front() else {
        return Err(bad_arg(&args, 1, "load", "function"));
    };
    let name = match args.get(1) {
        None | Some(Value::Nil) => b"=(load)".to_vec(),
        Some(_) => string_arg(lua, &args, 2, "load")?,
    };
    let mut chunk = Vec::new();
    loop {
        let piece = match reader.call::<Value>(()) {
            Ok(v) => v,
            Err(e) => return (Value::Nil, crate::scripting::root_message(&e)).into_lua_multi(lua),
        };
        let bytes = match &piece {
            Value::Nil => break,
            Value::String(_) | Value::Integer(_) | Value::Number(_) => {
                lua.coerce_string(piece)?.map(|s| s.as_bytes().to_vec())
            }
            _ => None,
        };
        match bytes {
            Some(b) if b.is_empty() => break,
            Some(b) => chunk.extend_from_slice(&b),
            None => {
                return (Value::Nil, "reader function must return a string").into_lua_multi(lua);
            }
        }
    }
    raw.call((
        lua.create_string(as_text(&chunk))?,
        lua.create_string(name)?,
    ))
}

/// Lua 5.1's `luaL_checkint` of argument `i` (1-based) of `unpack`, `default` when absent or
/// nil: numbers truncate toward zero (a C cast) and keep their low 32 bits.
fn int_arg(args: &MultiValue, i: usize, default: i64) -> mlua::Result<i64> {
    let n = match args.get(i - 1) {
        None | Some(Value::Nil) => return Ok(default),
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Number(n)) => *n,
        Some(Value::String(s)) => {
            match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
                Some(n) => n,
                None => return Err(bad_number(args, i)),
            }
        }
        Some(_) => return Err(bad_number(args, i)),
    };
    Ok(i64::from(n as i64 as i32))
}

fn bad_number(args: &MultiValue, i: usize) -> mlua::Error {
    mlua::Error::runtime(format!(
        "bad argument #{i} to 'unpack' (number expected, got {})",
        lua_type_name(args.get(i - 1))
    ))
}

/// The checks of `unpack(t [, i [, j]])` (`t[i] … t[j]`, `i` 1 and `j` `#t` by default), in
/// Lua's order and words, with the count taken in 64 bits; errors name the function as the
/// script called it (the wrapper's name at its call site, as `luaL_argerror` does).
fn check_unpack(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let name = lua
        .inspect_stack(1, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".to_string());
    let rename = |e: mlua::Error| match e {
        mlua::Error::RuntimeError(m) => {
            mlua::Error::runtime(m.replacen("'unpack'", &format!("'{name}'"), 1))
        }
        other => other,
    };
    let Some(Value::Table(t)) = args.front() else {
        return Err(rename(mlua::Error::runtime(format!(
            "bad argument #1 to 'unpack' (table expected, got {})",
            lua_type_name(args.front())
        ))));
    };
    let first = int_arg(&args, 2, 1).map_err(rename)?;
    let last = int_arg(&args, 3, t.raw_len() as i64).map_err(rename)?;
    // The C function's arguments already take stack room, as in `lua_checkstack`.
    if first <= last && (last - first + 1) + args.len() as i64 > MAX_C_STACK {
        return Err(mlua::Error::runtime("too many results to unpack"));
    }
    Ok(())
}
