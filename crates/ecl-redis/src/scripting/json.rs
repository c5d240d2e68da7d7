//! `cjson` for scripts: `cjson.encode`, `cjson.decode` and `cjson.null`, following the
//! behaviour of the lua-cjson module Redis ships (numbers with 14 significant digits, `/`
//! escaped, tables with only positive integer keys as arrays, sparse arrays refused), and its
//! settings (`cjson.encode_max_depth(n)` and the like), kept from script to script until the
//! Lua state is reset, as the module keeps them.
//!
//! Place in the flow: installed in the node's Lua state by `libs::install`.

use mlua::{Lua, MultiValue, Table, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

pub use super::json_decode::json_null;

/// lua-cjson's settings that change what it does: nesting limits and invalid numbers.
struct Settings {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    /// NaN and infinities: 0 refused, 1 written as `nan`/`inf`, 2 written as `null`.
    invalid_numbers: AtomicU8,
}

/// Builds the `cjson` table.
pub fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg = Arc::new(Settings {
        encode_max_depth: AtomicUsize::new(1000),
        decode_max_depth: AtomicUsize::new(super::json_decode::MAX_DEPTH),
        invalid_numbers: AtomicU8::new(0),
    });
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |_, v: Value| {
            let mut out = Vec::new();
            encode(&v, &mut out, 0, &c)?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::LuaString| {
            super::json_decode::decode(lua, &s.as_bytes(), c.decode_max_depth.load(Relaxed))
        })?,
    )?;
    t.raw_set("null", json_null())?;
    install_settings(lua, &t, cfg)?;
    Ok(t)
}

/// The setting functions: each takes an optional new value and returns the current one.
/// `encode_keep_buffer` changes nothing that is produced (in lua-cjson neither: it keeps a
/// buffer); `encode_number_precision`, `encode_sparse_array` and `decode_invalid_numbers` keep
/// their defaults (14; false, 2, 10; true) and refuse others (README, "Differences").
fn install_settings(lua: &Lua, t: &Table, cfg: Arc<Settings>) -> mlua::Result<()> {
    for (name, depth) in [("encode_max_depth", true), ("decode_max_depth", false)] {
        let c = cfg.clone();
        let f = lua.create_function(move |_, n: Option<i64>| {
            let slot = if depth {
                &c.encode_max_depth
            } else {
                &c.decode_max_depth
            };
            if let Some(n) = n {
                if n < 1 {
                    return Err(rt(format!(
                        "bad argument #1 to '{name}' (expected integer between 1 and 2147483647)"
                    )));
                }
                slot.store(n as usize, Relaxed);
            }
            Ok(slot.load(Relaxed) as i64)
        })?;
        t.raw_set(name, f)?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, v: Option<Value>| {
            match v {
                Some(Value::Boolean(b)) => c.invalid_numbers.store(u8::from(b), Relaxed),
                Some(Value::String(s)) if s.as_bytes().as_ref() == b"null" => {
                    c.invalid_numbers.store(2, Relaxed)
                }
                Some(Value::String(s)) if s.as_bytes().as_ref() == b"on" => {
                    c.invalid_numbers.store(1, Relaxed)
                }
                Some(Value::String(s)) if s.as_bytes().as_ref() == b"off" => {
                    c.invalid_numbers.store(0, Relaxed)
                }
                None | Some(Value::Nil) => {}
                Some(_) => {
                    return Err(rt(
                        "bad argument #1 to 'encode_invalid_numbers' (invalid option)".into(),
                    ));
                }
            }
            Ok(match c.invalid_numbers.load(Relaxed) {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(|_, v: Option<bool>| Ok(v.unwrap_or(true)))?,
    )?;
    let only_default = |name: &'static str| {
        rt(format!(
            "cjson.{name}: only the default setting is supported by this emulator"
        ))
    };
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(move |_, v: Option<bool>| match v {
            Some(false) => Err(only_default("decode_invalid_numbers")),
            _ => Ok(true),
        })?,
    )?;
    t.raw_set(
        "encode_number_precision",
        lua.create_function(move |_, n: Option<i64>| match n {
            Some(n) if n != 14 => Err(only_default("encode_number_precision")),
            _ => Ok(14),
        })?,
    )?;
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |_, args: MultiValue| {
            let defaults = [Value::Boolean(false), Value::Integer(2), Value::Integer(10)];
            let same = |(a, d): (&Value, &Value)| match (a, d) {
                (Value::Number(n), Value::Integer(d)) => *n == *d as f64,
                _ => a == d || a.is_nil(),
            };
            if args.iter().zip(defaults.iter()).all(same) {
                Ok((false, 2, 10))
            } else {
                Err(only_default("encode_sparse_array"))
            }
        })?,
    )?;
    Ok(())
}

fn rt(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

/// `%.14g`, the number format of lua-cjson (and of Lua's `tostring`).
pub fn fmt_14g(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{v:.13e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..14).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mant), exp.abs());
    }
    let decimals = (13 - exp).max(0) as usize;
    trim(&format!("{v:.decimals$}"))
}

fn encode_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode_num(n: f64, out: &mut Vec<u8>, cfg: &Settings) -> mlua::Result<()> {
    if !n.is_finite() {
        match cfg.invalid_numbers.load(Relaxed) {
            0 => return Err(rt("Cannot serialise number: must not be NaN or Inf".into())),
            1 if n.is_nan() => out.extend_from_slice(b"nan"),
            1 if n > 0.0 => out.extend_from_slice(b"inf"),
            1 => out.extend_from_slice(b"-inf"),
            _ => out.extend_from_slice(b"null"),
        }
        return Ok(());
    }
    out.extend_from_slice(fmt_14g(n).as_bytes());
    Ok(())
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize, cfg: &Settings) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => encode_num(*n as f64, out, cfg)?,
        Value::Number(n) => encode_num(*n, out, cfg)?,
        Value::String(s) => encode_str(&s.as_bytes(), out),
        Value::Table(t) => encode_table(t, out, depth + 1, cfg)?,
        other => {
            return Err(rt(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )));
        }
    }
    Ok(())
}

/// The array length of `t` if every key is a positive integer (0 for an empty table), as
/// lua-cjson decides; `None` for an object.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0f64, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k < 1.0 || k.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(k);
        items += 1;
    }
    if max > 10.0 && max > items as f64 * 2.0 {
        return Err(rt("Cannot serialise table: excessively sparse array".into()));
    }
    Ok(Some(max as usize))
}

fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize, cfg: &Settings) -> mlua::Result<()> {
    if depth > cfg.encode_max_depth.load(Relaxed) {
        return Err(rt(format!("Cannot serialise, excessive nesting ({depth})")));
    }
    match array_len(t)? {
        Some(n) if n > 0 => {
            out.push(b'[');
            for i in 1..=n {
                if i > 1 {
                    out.push(b',');
                }
                encode(&t.raw_get::<Value>(i)?, out, depth, cfg)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => encode_str(&s.as_bytes(), out),
                    Value::Integer(n) => encode_str(fmt_14g(*n as f64).as_bytes(), out),
                    Value::Number(n) => encode_str(fmt_14g(*n).as_bytes(), out),
                    other => {
                        return Err(rt(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            other.type_name()
                        )));
                    }
                }
                out.push(b':');
                encode(&v, out, depth, cfg)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_digits() {
        assert_eq!(fmt_14g(1.0), "1");
        assert_eq!(fmt_14g(1.5), "1.5");
        assert_eq!(fmt_14g(0.1), "0.1");
        assert_eq!(fmt_14g(1e20), "1e+20");
        assert_eq!(fmt_14g(123456789012345.0), "1.2345678901234e+14");
        assert_eq!(fmt_14g(1.234567890123456), "1.2345678901235");
    }
}
