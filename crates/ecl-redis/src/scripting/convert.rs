//! Conversions between command replies and Lua values, both ways, as Redis 7.0 defines them.
//!
//! Place in the flow: `redis.call` runs a command through the dispatcher into a reply buffer;
//! [`reply_to_lua`] parses those bytes into the Lua value the script sees (RESP2 or RESP3 rules
//! after `redis.setresp`). When the script returns, [`lua_to_reply`] writes its value to the
//! calling client's reply in the client's protocol.

use crate::resp::Reply;
use mlua::{Lua, Table, Value};

/// The Lua stack slots a C function may use (Lua 5.1's `LUAI_MAXCSTACK`). Redis converts a
/// script's reply recursively and checks for 4 free slots before each value; a value it cannot
/// fit is answered `reached lua stack limit` and the conversion goes on with the next one.
const LUA_MAX_C_STACK: usize = 8000;
/// Slots in use when Redis starts converting the returned value (measured on redis-server
/// 7.0.15: 7995 nested arrays convert, the 7996th level is the error).
const REPLY_BASE_SLOTS: usize = 2;

/// A Lua number as a command argument: `%.17g`, as Redis formats it.
pub fn number_arg(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{v:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let m = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (16 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Parses one reply from `buf` at `*pos` into a Lua value (the command answered in RESP3 when
/// the script asked for it with `redis.setresp(3)`, so the tags tell which rules apply).
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let line = read_line(buf, pos);
    let Some((&tag, rest)) = line.split_first() else {
        return Ok(Value::Nil);
    };
    let text = || String::from_utf8_lossy(rest).into_owned();
    let num = || {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
    };
    Ok(match tag {
        b':' => Value::Number(num().unwrap_or(0) as f64),
        b'+' => single(lua, "ok", Value::String(lua.create_string(rest)?))?,
        b'-' => single(lua, "err", Value::String(lua.create_string(rest)?))?,
        b'$' | b'=' => match num() {
            Some(n) if n >= 0 => {
                let n = n as usize;
                let end = (*pos + n).min(buf.len());
                let s = &buf[*pos..end];
                *pos = (end + 2).min(buf.len());
                if tag == b'=' && s.len() >= 4 {
                    let t = lua.create_table()?;
                    t.set("format", lua.create_string(&s[..3])?)?;
                    t.set("string", lua.create_string(&s[4..])?)?;
                    single(lua, "verbatim_string", Value::Table(t))?
                } else {
                    Value::String(lua.create_string(s)?)
                }
            }
            _ => Value::Boolean(false),
        },
        // A push (DEBUG PROTOCOL push) is no reply a script can see: nil, as in Redis.
        b'>' => Value::Nil,
        b'*' => match num() {
            Some(n) if n >= 0 => {
                let t = lua.create_table()?;
                for i in 1..=n {
                    t.raw_set(i, reply_to_lua(lua, buf, pos)?)?;
                }
                Value::Table(t)
            }
            _ => Value::Boolean(false),
        },
        b'%' | b'~' => {
            let n = num().unwrap_or(0);
            let t = lua.create_table()?;
            for _ in 0..n {
                let k = reply_to_lua(lua, buf, pos)?;
                let v = if tag == b'%' {
                    reply_to_lua(lua, buf, pos)?
                } else {
                    Value::Boolean(true)
                };
                t.raw_set(k, v)?;
            }
            single(
                lua,
                if tag == b'%' { "map" } else { "set" },
                Value::Table(t),
            )?
        }
        b'|' => {
            // Attributes are skipped: the value after them is what the script sees.
            for _ in 0..num().unwrap_or(0) * 2 {
                reply_to_lua(lua, buf, pos)?;
            }
            reply_to_lua(lua, buf, pos)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(rest == b"t"),
        b',' => {
            let d = text().parse::<f64>().unwrap_or(f64::NAN);
            single(lua, "double", Value::Number(d))?
        }
        b'(' => single(lua, "big_number", Value::String(lua.create_string(rest)?))?,
        _ => Value::Nil,
    })
}

fn read_line<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let start = (*pos).min(buf.len());
    let end = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

fn single(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// Writes the script's return value to the caller's reply (`lua_resp3`: the script called
/// `redis.setresp(3)`, which changes how booleans are answered). Nested tables are followed
/// with an explicit stack rather than recursion, so thousands of levels (as Redis converts)
/// cannot exhaust a runtime thread's stack.
pub fn lua_to_reply(v: &Value, out: &mut Reply, lua_resp3: bool) -> ReplyErrors {
    let mut errors = ReplyErrors::default();
    // Most scripts return a scalar: written at once, without the walk.
    if !matches!(v, Value::Table(_)) {
        scalar_to_reply(&Item::of(v.clone()), out, lua_resp3);
        return errors;
    }
    // The open tables, innermost last, each giving its values one at a time with the Lua
    // stack slots Redis would have in use when converting them.
    let mut pending: Vec<Children> = Vec::new();
    let mut next = Some((Item::of(v.clone()), REPLY_BASE_SLOTS));
    while let Some((v, used)) = next.take() {
        match &v {
            _ if used + 4 > LUA_MAX_C_STACK => out.error("ERR reached lua stack limit"),
            Item::Table(t) => {
                if let Some(children) = table_head(t, out, used, &mut errors) {
                    pending.push(children);
                }
            }
            scalar => scalar_to_reply(scalar, out, lua_resp3),
        }
        // The next value: the following one of the innermost table that has one left. A
        // table whose last value this is closes at once, so that a chain of one-element
        // tables (a recursive table) holds one table at a time, not one per level.
        while let Some(open) = pending.last_mut() {
            if let Some(child) = open.next() {
                if open.is_done() {
                    pending.pop();
                }
                next = Some(child);
                break;
            }
            pending.pop();
        }
    }
    errors
}

/// The error replies a script's returned value wrote: Redis counts each in INFO errorstats,
/// except one a `redis.call`/`redis.pcall` error table carries (the command that failed
/// counted it), and any makes the script's call a failed one.
#[derive(Debug, Default)]
pub struct ReplyErrors {
    /// Some error reply was written.
    pub any: bool,
    /// The texts to count.
    pub to_count: Vec<String>,
}

/// The field marking an error table whose error was counted where it arose (Redis' name).
pub const COUNTED_MARK: &str = "ignore_error_stats_update";

/// A value of a returned table, holding no Lua reference unless it is a table itself: Lua 5.1
/// keeps every value Rust holds on a stack of at most 8,000 slots, and a script may return far
/// more strings than that.
#[derive(Clone)]
enum Item {
    Str(Vec<u8>),
    Int(i64),
    Num(f64),
    Bool(bool),
    Table(Table),
    Nil,
}

impl Item {
    fn of(v: Value) -> Item {
        match v {
            Value::String(s) => Item::Str(s.as_bytes().to_vec()),
            Value::Integer(n) => Item::Int(n),
            Value::Number(n) => Item::Num(n),
            Value::Boolean(b) => Item::Bool(b),
            Value::Table(t) => Item::Table(t),
            _ => Item::Nil,
        }
    }

    /// The value stored under this key in `t`.
    fn lookup_in(&self, t: &Table) -> Value {
        let v = match self {
            Item::Str(s) => t.raw_get(mlua::BString::from(s.as_slice())),
            Item::Int(n) => t.raw_get(*n),
            Item::Num(n) => t.raw_get(*n),
            Item::Bool(b) => t.raw_get(*b),
            Item::Table(k) => t.raw_get(k.clone()),
            Item::Nil => Ok(Value::Nil),
        };
        v.unwrap_or(Value::Nil)
    }
}

/// What an open table still has to write, fetched one value at a time: an array by index, a
/// map's and a set's keys taken beforehand (a map's value looked up after its key).
enum Children {
    Array {
        t: Table,
        next: i64,
        len: i64,
        used: usize,
    },
    Map {
        t: Table,
        keys: std::vec::IntoIter<Item>,
        value_of: Option<Item>,
        used: usize,
    },
    Set {
        keys: std::vec::IntoIter<Item>,
        used: usize,
    },
}

impl Children {
    /// Whether every value was given.
    fn is_done(&self) -> bool {
        match self {
            Children::Array { next, len, .. } => *next > *len,
            Children::Map { keys, value_of, .. } => value_of.is_none() && keys.len() == 0,
            Children::Set { keys, .. } => keys.len() == 0,
        }
    }

    /// The next value and its stack slots (see [`table_head`]).
    fn next(&mut self) -> Option<(Item, usize)> {
        match self {
            Children::Array { t, next, len, used } => {
                if *next > *len {
                    return None;
                }
                let v = t.raw_get::<Value>(*next).unwrap_or(Value::Nil);
                *next += 1;
                Some((Item::of(v), *used + 1))
            }
            Children::Map {
                t,
                keys,
                value_of,
                used,
            } => match value_of.take() {
                Some(k) => Some((Item::of(k.lookup_in(t)), *used + 3)),
                None => {
                    let k = keys.next()?;
                    *value_of = Some(k.clone());
                    Some((k, *used + 4))
                }
            },
            Children::Set { keys, used } => keys.next().map(|k| (k, *used + 3)),
        }
    }
}

/// A table's keys, one held at a time while they are read.
fn keys_of(t: &Table) -> Vec<Item> {
    t.pairs::<Value, Value>()
        .filter_map(|p| p.ok().map(|(k, _)| Item::of(k)))
        .collect()
}

fn scalar_to_reply(v: &Item, out: &mut Reply, lua_resp3: bool) {
    match v {
        Item::Str(s) => out.bulk(s),
        Item::Bool(b) if lua_resp3 => out.boolean(*b),
        Item::Bool(true) => out.int(1),
        Item::Int(n) => out.int(*n),
        Item::Num(n) => out.int(lua_number_to_int(*n)),
        _ => out.null(),
    }
}

/// C's `(long long)` cast as x86-64 performs it: out-of-range and NaN give `i64::MIN`.
fn lua_number_to_int(n: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_63..TWO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn str_field(t: &Table, name: &str) -> Option<Vec<u8>> {
    match t.raw_get::<Value>(name).ok()? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Writes what a table stands for: a whole reply for the `err`/`ok`/`double`/`big_number`
/// forms, else the header of a map, set or array, returning its elements (a map's keys and
/// values alternating) to write after it, each with the stack slots Redis's conversion holds
/// for it: an array element sits above its table (+1); a map key is converted from a copy
/// above the map table, key and value (+4), the value then (+3); a set member from a copy above
/// the set table and the member (+3).
fn table_head(
    t: &Table,
    out: &mut Reply,
    used: usize,
    errors: &mut ReplyErrors,
) -> Option<Children> {
    if let Some(e) = str_field(t, "err") {
        let text = String::from_utf8_lossy(&e).into_owned();
        out.error(&text);
        errors.any = true;
        if !matches!(t.raw_get::<Value>(COUNTED_MARK), Ok(Value::Boolean(true))) {
            errors.to_count.push(text);
        }
        return None;
    }
    if let Some(s) = str_field(t, "ok") {
        let s: Vec<u8> = s
            .into_iter()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        out.simple(&String::from_utf8_lossy(&s));
        return None;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => {
            out.double(d);
            return None;
        }
        Ok(Value::Integer(d)) => {
            out.double(d as f64);
            return None;
        }
        _ => {}
    }
    if let Some(s) = str_field(t, "big_number") {
        // Line breaks become spaces, as in Redis: they would end the reply line.
        let s: Vec<u8> = s
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        out.big_number(&String::from_utf8_lossy(&s));
        return None;
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string")
        && let (Some(format), Some(text)) = (str_field(&v, "format"), str_field(&v, "string"))
    {
        out.verbatim(&String::from_utf8_lossy(&format), &text);
        return None;
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let keys = keys_of(&m);
        out.map(keys.len());
        let keys = keys.into_iter();
        return Some(Children::Map {
            t: m,
            keys,
            value_of: None,
            used,
        });
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys = keys_of(&s);
        out.set(keys.len());
        return Some(Children::Set {
            keys: keys.into_iter(),
            used,
        });
    }
    // An array ends at its first nil, as Redis counts it.
    let len = (1..)
        .take_while(|&i| !matches!(t.raw_get::<Value>(i), Ok(Value::Nil) | Err(_)))
        .count() as i64;
    out.array(len as usize);
    Some(Children::Array {
        t: t.clone(),
        next: 1,
        len,
        used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_percent_17g() {
        assert_eq!(number_arg(10.0), "10");
        assert_eq!(number_arg(1.23456), "1.2345600000000001");
        assert_eq!(number_arg(0.1), "0.10000000000000001");
        assert_eq!(number_arg(1e20), "1e+20");
        assert_eq!(number_arg(-2.5), "-2.5");
        assert_eq!(number_arg(1e-5), "1.0000000000000001e-05");
        assert_eq!(number_arg(123456789.0), "123456789");
    }
}
