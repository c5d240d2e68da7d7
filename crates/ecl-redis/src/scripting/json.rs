//! `cjson` for scripts: `cjson.encode`, `cjson.decode` and `cjson.null`, following the
//! behaviour of the lua-cjson module Redis ships (numbers with 14 significant digits, `/`
//! escaped, tables with only positive integer keys as arrays, sparse arrays refused).
//!
//! Place in the flow: installed in the node's Lua state by `libs::install`.

use mlua::{Lua, Table, Value};

/// Nesting cjson refuses beyond.
const MAX_DEPTH: usize = 1000;

pub use super::json_decode::json_null;

/// Builds the `cjson` table.
pub fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|_, v: Value| {
            let mut out = Vec::new();
            encode(&v, &mut out, 0)?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            super::json_decode::decode(lua, &s.as_bytes())
        })?,
    )?;
    t.raw_set("null", json_null())?;
    Ok(t)
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

fn encode_num(n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(rt("Cannot serialise number: must not be NaN or Inf".into()));
    }
    out.extend_from_slice(fmt_14g(n).as_bytes());
    Ok(())
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => encode_num(*n as f64, out)?,
        Value::Number(n) => encode_num(*n, out)?,
        Value::String(s) => encode_str(&s.as_bytes(), out),
        Value::Table(t) => encode_table(t, out, depth + 1)?,
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

fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    if depth > MAX_DEPTH {
        return Err(rt(format!("Cannot serialise, excessive nesting ({depth})")));
    }
    match array_len(t)? {
        Some(n) if n > 0 => {
            out.push(b'[');
            for i in 1..=n {
                if i > 1 {
                    out.push(b',');
                }
                encode(&t.raw_get::<Value>(i)?, out, depth)?;
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
                encode(&v, out, depth)?;
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
