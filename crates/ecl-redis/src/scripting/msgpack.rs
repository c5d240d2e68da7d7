//! `cmsgpack` for scripts: `cmsgpack.pack(...)` and `cmsgpack.unpack(s)`, with the encodings
//! the lua-cmsgpack module Redis ships chooses (smallest integer form, float32 when exact,
//! tables with keys 1..n as arrays, others as maps).
//!
//! Place in the flow: installed in the node's Lua state by `libs::install`.

use mlua::{Lua, MultiValue, Table, Value};

/// Nesting followed before a value is packed as nil.
const MAX_DEPTH: usize = 16;

/// Builds the `cmsgpack` table.
pub fn cmsgpack_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|_, args: MultiValue| {
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
        lua.create_function(|lua, s: mlua::LuaString| {
            let b = s.as_bytes();
            let mut pos = 0;
            let mut vals = Vec::new();
            while pos < b.len() {
                vals.push(unpack(lua, &b, &mut pos)?);
            }
            Ok(MultiValue::from_iter(vals))
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
    let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
    let n = pairs.len();
    let is_array = (1..=n).all(|i| matches!(t.raw_get::<Value>(i), Ok(v) if !v.is_nil()));
    if is_array {
        pack_len(n, 0x90, 16, [0, 0xdc, 0xdd], out);
        for i in 1..=n {
            pack(&t.raw_get::<Value>(i)?, out, depth)?;
        }
    } else {
        pack_len(n, 0x80, 16, [0, 0xde, 0xdf], out);
        for (k, v) in &pairs {
            pack(k, out, depth)?;
            pack(v, out, depth)?;
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

fn unpack(lua: &Lua, b: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let tag = take(b, pos, 1)?[0];
    let num = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => num(f64::from(tag)),
        0xe0..=0xff => num(f64::from(tag as i8)),
        0xa0..=0xbf => bytes(lua, b, pos, usize::from(tag & 0x1f)),
        0x90..=0x9f => array(lua, b, pos, usize::from(tag & 0x0f)),
        0x80..=0x8f => map(lua, b, pos, usize::from(tag & 0x0f)),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
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
        0xc4 | 0xd9 => {
            let n = be(take(b, pos, 1)?) as usize;
            bytes(lua, b, pos, n)
        }
        0xc5 | 0xda => {
            let n = be(take(b, pos, 2)?) as usize;
            bytes(lua, b, pos, n)
        }
        0xc6 | 0xdb => {
            let n = be(take(b, pos, 4)?) as usize;
            bytes(lua, b, pos, n)
        }
        0xdc => {
            let n = be(take(b, pos, 2)?) as usize;
            array(lua, b, pos, n)
        }
        0xdd => {
            let n = be(take(b, pos, 4)?) as usize;
            array(lua, b, pos, n)
        }
        0xde => {
            let n = be(take(b, pos, 2)?) as usize;
            map(lua, b, pos, n)
        }
        0xdf => {
            let n = be(take(b, pos, 4)?) as usize;
            map(lua, b, pos, n)
        }
        _ => Err(mlua::Error::runtime("Bad data format in input.")),
    }
}

fn bytes(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
}

fn array(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for i in 1..=n {
        t.raw_set(i, unpack(lua, b, pos)?)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = unpack(lua, b, pos)?;
        let v = unpack(lua, b, pos)?;
        if !k.is_nil() {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}
