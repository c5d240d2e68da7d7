//! `struct` for scripts: `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, init])` and
//! `struct.size(fmt)`, the binary packing library redis-server 7.0 ships to Lua (Roberto
//! Ierusalimschy's `struct` 0.2 API), on an x86-64 host's native sizes.
//!
//! Place in the flow: installed in the node's Lua state by `libs::install`. The format language,
//! as documented for the library: `>`/`<` endianness (little by default), `!n` alignment (a power
//! of two; `!` alone is the native 8; 1 by default), `x` a zero pad byte, `b`/`B` char, `h`/`H`
//! short (2), `l`/`L` long (8), `T` size_t (8), `in`/`In` an n-byte integer (default 4, at most
//! 32), `f` float, `d` double, `s` a zero-terminated string, `cn` n chars (`c0`: the string's own
//! length when packing, the previous unpacked number when unpacking), spaces ignored. The format
//! ends at its first NUL byte, as a C string does. Integers wider than 8 bytes, out-of-range
//! numbers and odd alignments behave as the C library does on x86-64 (conversions saturate the
//! way the processor's truncating conversion does; shifts count modulo 64), since scripts
//! observe those bytes.

use mlua::{Lua, MultiValue, Table, Value};

/// Native alignment of the widest scalar (what `!` alone selects).
const MAX_ALIGN: usize = 8;
/// Widest integer `i`/`I` accept.
const MAX_INT_SIZE: usize = 32;
/// Lua 5.1's C stack limit: `unpack` refuses to return more values than fit.
const MAX_C_STACK: usize = 8000;

/// Builds the `struct` table.
pub fn struct_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", crate::scripting::argerror::lib_fn(lua, pack)?)?;
    t.raw_set("unpack", crate::scripting::argerror::lib_fn(lua, unpack)?)?;
    t.raw_set("size", crate::scripting::argerror::lib_fn(lua, size)?)?;
    Ok(t)
}

/// Endianness and alignment in force while a format is read.
struct Header {
    big: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            big: false,
            align: 1,
        }
    }
}

/// A format string read left to right, up to its first NUL.
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.s.get(self.i).filter(|&&c| c != 0)?;
        self.i += 1;
        Some(c)
    }

    /// The decimal number at the cursor, or `df` when there is none.
    fn num(&mut self, df: usize) -> mlua::Result<usize> {
        if !self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            return Ok(df);
        }
        let mut a: i64 = 0;
        while let Some(&c) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) {
            let d = i64::from(c - b'0');
            if a > i64::from(i32::MAX) / 10 || a * 10 > i64::from(i32::MAX) - d {
                return Err(mlua::Error::runtime("integral size overflow"));
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a as usize)
    }

    /// Bytes option `opt` occupies (0 for strings and control characters).
    fn opt_size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.num(1)?,
            b'i' | b'I' => {
                let n = self.num(4)?;
                if n > MAX_INT_SIZE {
                    return Err(mlua::Error::runtime(format!(
                        "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                n
            }
            _ => 0,
        })
    }

    /// Applies a control character (endianness, alignment, space); anything else is an
    /// invalid option of function `fname`.
    fn control(&mut self, opt: u8, h: &mut Header, fname: &str) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => h.big = true,
            b'<' => h.big = false,
            b'!' => {
                let a = self.num(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(mlua::Error::runtime(format!(
                        "alignment {a} is not a power of 2"
                    )));
                }
                h.align = a;
            }
            _ => {
                let msg = format!("invalid format option '{}'", opt as char);
                return Err(arg_error(1, fname, &msg));
            }
        }
        Ok(())
    }
}

/// Padding before an item of `size` bytes at offset `len` (none for chars and strings).
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn arg_error(n: usize, fname: &str, msg: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{fname}' ({msg})"))
}

fn type_error(args: &MultiValue, i: usize, fname: &str, want: &str) -> mlua::Error {
    // `pack` pushes a nil right after its arguments (a marker for its buffer): the first
    // missing argument reads as that nil there.
    let marker = fname == "pack" && i > 0 && i == args.len();
    let got = match args.get(i) {
        None if marker => "nil",
        v => crate::scripting::argerror::lua_type_name(v),
    };
    arg_error(i + 1, fname, &format!("{want} expected, got {got}"))
}

/// `luaL_checklstring`: strings, and numbers in Lua's own text form.
fn check_string(lua: &Lua, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    let v = args.get(i).cloned().unwrap_or(Value::Nil);
    if matches!(v, Value::String(_) | Value::Number(_) | Value::Integer(_))
        && let Some(s) = lua.coerce_string(v)?
    {
        return Ok(s.as_bytes().to_vec());
    }
    Err(type_error(args, i, fname, "string"))
}

/// `luaL_checknumber`: numbers, and strings Lua reads as numbers.
fn check_number(lua: &Lua, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<f64> {
    let v = args.get(i).cloned().unwrap_or(Value::Nil);
    if matches!(v, Value::String(_) | Value::Number(_) | Value::Integer(_))
        && let Some(n) = lua.coerce_number(v)?
    {
        return Ok(n);
    }
    Err(type_error(args, i, fname, "number"))
}

/// A double converted to a signed 64-bit integer as x86-64's truncating conversion does:
/// out of range (and NaN) gives the "integer indefinite" value `i64::MIN`.
fn cvt_i64(n: f64) -> i64 {
    if n > -9_223_372_036_854_775_809.0 && n < 9_223_372_036_854_775_808.0 {
        n as i64
    } else {
        i64::MIN
    }
}

/// The integer bits `putinteger` writes for a Lua number: negative numbers through a signed
/// conversion, others through the compiler's unsigned one (which subtracts 2^63 first for
/// values at or above it).
fn integer_bits(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    // NaN takes the signed path too (its comparison with 2^63 is false).
    if n < 0.0 || n.is_nan() || n < TWO63 {
        cvt_i64(n) as u64
    } else {
        (cvt_i64(n - TWO63) as u64) ^ (1 << 63)
    }
}

/// `size` bytes of `v` in the chosen order; bytes past the eighth are zero.
fn put_integer(out: &mut Vec<u8>, v: u64, big: bool, size: usize) {
    let mut bytes: Vec<u8> = (0..size)
        .map(|i| if i < 8 { (v >> (8 * i)) as u8 } else { 0 })
        .collect();
    if big {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

/// Reads a `size`-byte integer; only the last eight bytes in significance order survive, and
/// the sign mask's shift counts modulo 64, as the C code's do on x86-64.
fn get_integer(b: &[u8], big: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let byte = if big { b[i] } else { b[size - 1 - i] };
        l = (l << 8) | u64::from(byte);
    }
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX << ((size * 8).wrapping_sub(1) & 63);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::BString> {
    const F: &str = "pack";
    let fmt_bytes = check_string(lua, &args, 0, F)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::default();
    let (mut arg, mut total, mut out) = (1usize, 0usize, Vec::new());
    while let Some(opt) = fmt.next() {
        let mut size = fmt.opt_size(opt)?;
        let pad = to_align(total, &h, opt, size);
        total += pad;
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg, F)?;
                arg += 1;
                put_integer(&mut out, integer_bits(n), h.big, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, &args, arg, F)? as f32;
                arg += 1;
                let b = if h.big {
                    f.to_be_bytes()
                } else {
                    f.to_le_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'd' => {
                let d = check_number(lua, &args, arg, F)?;
                arg += 1;
                let b = if h.big {
                    d.to_be_bytes()
                } else {
                    d.to_le_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = check_string(lua, &args, arg, F)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The library names the argument after the string (its counter moved on).
                    return Err(arg_error(arg + 1, F, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => fmt.control(opt, &mut h, F)?,
        }
        total += size;
    }
    Ok(mlua::BString::from(out))
}

/// `struct.unpack(fmt, s [, init])`: the values, then the position after the last byte read.
fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    const F: &str = "unpack";
    let fmt_bytes = check_string(lua, &args, 0, F)?;
    let data = check_string(lua, &args, 1, F)?;
    let init = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => check_number(lua, &args, 2, F)?,
    };
    // The offset is unsigned in the library: only 0 is refused here; a negative one wraps to
    // a huge position and fails as "data string too short" at the first item.
    let mut pos = init as i64 as usize;
    if pos == 0 {
        return Err(arg_error(3, F, "offset must be 1 or greater"));
    }
    pos -= 1;
    let ld = data.len();
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::default();
    let mut vals: Vec<Value> = Vec::new();
    let too_short = || arg_error(2, F, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        if args.len() + vals.len() + 2 > MAX_C_STACK {
            return Err(mlua::Error::runtime("stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                let n = get_integer(&data[pos..pos + size], h.big, signed, size);
                vals.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().map_err(|_| too_short())?;
                let f = if h.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                vals.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().map_err(|_| too_short())?;
                let d = if h.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                vals.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    size = previous_size(lua, &mut vals)?;
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                vals.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(mlua::Error::runtime("unfinished string in data"));
                };
                vals.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => fmt.control(opt, &mut h, F)?,
        }
        pos = pos.wrapping_add(size);
    }
    vals.push(Value::Integer(pos.wrapping_add(1) as mlua::Integer));
    Ok(MultiValue::from_iter(vals))
}

/// For `c0` in `unpack`: the previous value (a number, or a string Lua reads as one), taken
/// off the results.
fn previous_size(lua: &Lua, vals: &mut Vec<Value>) -> mlua::Result<usize> {
    let prev = vals
        .last()
        .cloned()
        .filter(|v| matches!(v, Value::Number(_) | Value::Integer(_) | Value::String(_)));
    let n = match prev {
        Some(v) => lua.coerce_number(v)?,
        None => None,
    };
    let Some(n) = n else {
        return Err(mlua::Error::runtime("format 'c0' needs a previous size"));
    };
    vals.pop();
    Ok(integer_bits(n) as usize)
}

/// `struct.size(fmt)`: bytes the format packs to; letters it does not know count as nothing.
fn size(lua: &Lua, args: MultiValue) -> mlua::Result<i64> {
    const F: &str = "size";
    let fmt_bytes = check_string(lua, &args, 0, F)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = fmt.opt_size(opt)?;
        pos += to_align(pos, &h, opt, size);
        if opt == b's' {
            return Err(arg_error(1, F, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(1, F, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h, F)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        lua.globals()
            .raw_set("struct", struct_table(&lua).unwrap())
            .unwrap();
        lua
    }

    fn bytes(lua: &Lua, src: &str) -> Vec<u8> {
        let s: mlua::LuaString = lua.load(src).eval().unwrap();
        s.as_bytes().to_vec()
    }

    #[test]
    fn pack_layouts() {
        let l = lua();
        assert_eq!(bytes(&l, "return struct.pack('>I2', 258)"), [1, 2]);
        assert_eq!(
            bytes(&l, "return struct.pack('<i4', -7)"),
            [0xF9, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(
            bytes(&l, "return struct.pack('!4 b i', 1, 2)"),
            [1, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(bytes(&l, "return struct.pack('s', 12)"), b"12\0");
        assert_eq!(bytes(&l, "return struct.pack('i\\0z', 1)"), [1, 0, 0, 0]);
        let wide = bytes(&l, "return struct.pack('i16', -2)");
        assert_eq!(
            &wide[..8],
            &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(&wide[8..], &[0; 8]);
        assert_eq!(bytes(&l, "return struct.pack('>I8', 2^64)"), [0; 8]);
        assert_eq!(bytes(&l, "return struct.pack('i', 1/0)"), [0; 4]);
    }

    #[test]
    fn unpack_and_size() {
        let l = lua();
        let v: Vec<f64> = l
            .load("return struct.unpack('i16', struct.pack('i16', -2))")
            .eval::<MultiValue>()
            .unwrap()
            .into_iter()
            .map(|v| l.coerce_number(v).unwrap().unwrap())
            .collect();
        assert_eq!(v, vec![-2.0, 17.0]);
        let (s, next): (mlua::LuaString, i64) = l
            .load("return struct.unpack('bc0', '\\3abcd')")
            .eval()
            .unwrap();
        assert_eq!((s.as_bytes().to_vec(), next), (b"abc".to_vec(), 5));
        let n = |src: &str| l.load(src).eval::<i64>().unwrap();
        assert_eq!(n("return struct.size('!8 b d')"), 16);
        assert_eq!(n("return struct.size('z')"), 0);
        assert_eq!(n("return struct.size('c10 i')"), 14);
        assert_eq!(n("return struct.unpack('', 'ab', -1)"), -1);
    }

    #[test]
    fn errors_read_as_the_library_words_them() {
        let l = lua();
        let msg = |src: &str| l.load(src).exec().unwrap_err().to_string();
        for (src, want) in [
            (
                "struct.pack('z')",
                "bad argument #1 to 'pack' (invalid format option 'z')",
            ),
            (
                "struct.pack('c5', 'ab')",
                "bad argument #3 to 'pack' (string too short)",
            ),
            (
                "struct.pack('i')",
                "bad argument #2 to 'pack' (number expected, got nil)",
            ),
            (
                "struct.unpack('i', 'abcd', 0)",
                "(offset must be 1 or greater)",
            ),
            ("struct.unpack('i', 'abcd', -1)", "(data string too short)"),
            ("struct.size('!3')", "alignment 3 is not a power of 2"),
            ("struct.unpack('s', 'ab')", "unfinished string in data"),
            ("struct.pack('i99999999999')", "integral size overflow"),
            ("struct.size('c0')", "(option 'c0' has no fixed size)"),
        ] {
            assert!(msg(src).contains(want), "{src}: {}", msg(src));
        }
    }
}
