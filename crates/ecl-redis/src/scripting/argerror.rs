//! Library functions whose "bad argument" errors name the function as Lua 5.1's
//! `luaL_argerror` does: by the name the call site used (a local alias's own name), or `?`
//! when it was called through `pcall`.
//!
//! Place in the flow: `libs` (`bit`, `math.random`), `libs/structlib.rs` and `msgpack` create
//! their functions with [`lib_fn`]; the functions themselves write their errors with their
//! own name and this module renames it from the running function's debug info.

use mlua::{Lua, Value};

/// A library function (`struct`, `bit`, `cmsgpack`, `math.random`) whose "bad argument"
/// errors name the function as the call site does, as Lua 5.1's `luaL_argerror` does: by the
/// name the caller used (a local alias's own name), or `?` when it was called through `pcall`.
pub(crate) fn lib_fn<A, R, F>(lua: &Lua, f: F) -> mlua::Result<mlua::Function>
where
    A: mlua::FromLuaMulti,
    R: mlua::IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
{
    lua.create_function(move |lua, args: A| f(lua, args).map_err(|e| as_called(lua, e)))
}

/// Renames the function in a "bad argument #n to 'name' (…)" error to the name the running
/// function was called by (its debug info), `?` when it has none.
fn as_called(lua: &Lua, e: mlua::Error) -> mlua::Error {
    let mlua::Error::RuntimeError(msg) = &e else {
        return e;
    };
    let Some(rest) = msg.strip_prefix("bad argument #") else {
        return e;
    };
    let (Some(open), Some(close)) = (rest.find(" to '"), rest.find("' (")) else {
        return e;
    };
    if close < open {
        return e;
    }
    let name = lua
        .inspect_stack(0, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".to_string());
    mlua::Error::runtime(format!(
        "bad argument #{} to '{name}'{}",
        &rest[..open],
        &rest[close + 1..]
    ))
}

/// Lua's name of an argument's type in "bad argument" errors (`luaL_typename`): numbers are
/// `number` whatever mlua holds them as, light userdata (`cjson.null`) is `userdata`, a
/// missing argument is `no value`.
pub(crate) fn lua_type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::LightUserData(_)) => "userdata",
        Some(v) => v.type_name(),
    }
}
