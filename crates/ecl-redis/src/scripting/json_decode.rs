//! `cjson.decode`: JSON text to Lua values, token by token as the lua-cjson module Redis ships
//! reads it, so that what it accepts and the errors it raises (`Expected value but found
//! invalid token at character 3`) are the same.
//!
//! Place in the flow: `json::cjson_table` installs [`decode`] as `cjson.decode`; the encoder
//! stays in `json.rs`.
//!
//! lua-cjson's documented behaviour followed here: the text is read as a C string, so a NUL
//! byte ends it (inside a string: "unexpected end of string"); a text whose first or second
//! byte is NUL is refused as UTF-16/32; numbers are read by the C library's `strtod` (the
//! longest prefix it takes: `1.5e` is 1.5 followed by a bad token), and with
//! `decode_invalid_numbers` on (Redis's default) `+1`, hex (`0x10`, `0x1p4`), leading zeros,
//! `inf` and `nan` are numbers too; `\u` escapes take UTF-16 surrogate pairs and refuse lone
//! ones; nesting beyond 1000 levels is refused; an error names the token found (its type, or
//! what is wrong with it) and its 1-based position.

use mlua::{Lua, Value};

/// `cjson.null`: the light userdata JSON `null` decodes to (and encodes from).
pub fn json_null() -> Value {
    Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()))
}

/// Nesting cjson refuses beyond by default (`cjson.decode_max_depth`).
pub const MAX_DEPTH: usize = 1000;

/// A token as lua-cjson's tokenizer classifies it.
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// What is wrong, as lua-cjson words it.
    Error(&'static str),
}

impl Tok {
    /// How an error message names the token found.
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

/// `cjson.decode(text)`.
pub fn decode(lua: &Lua, text: &[u8], max_depth: usize) -> mlua::Result<Value> {
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(rt("JSON parser does not support UTF-16 or UTF-32".into()));
    }
    let mut p = Decoder {
        s: text,
        i: 0,
        depth: 0,
        max_depth,
        lua,
    };
    let (tok, at) = p.next_token();
    let v = p.value(tok, at)?;
    match p.next_token() {
        (Tok::End, _) => Ok(v),
        (tok, at) => Err(parse_error("the end", &tok, at)),
    }
}

fn rt(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

fn parse_error(expected: &str, found: &Tok, at: usize) -> mlua::Error {
    rt(format!(
        "Expected {expected} but found {} at character {}",
        found.name(),
        at + 1
    ))
}

struct Decoder<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    max_depth: usize,
    lua: &'a Lua,
}

impl Decoder<'_> {
    /// The byte at `i`, NUL past the end (the text is a C string to lua-cjson).
    fn byte(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    /// The next token and where it starts (0-based).
    fn next_token(&mut self) -> (Tok, usize) {
        while matches!(self.byte(self.i), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        let at = self.i;
        let single = match self.byte(at) {
            0 => return (Tok::End, at),
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            b'"' => return self.string_token(at),
            b'-' | b'0'..=b'9' => return (self.number_token(), at),
            b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+' => return (self.word_token(), at),
            _ => return (Tok::Error("invalid token"), at),
        };
        self.i += 1;
        (single, at)
    }

    /// `true`, `false`, `null`, or one of the numbers strict JSON refuses (`+1`, `inf`, `nan`).
    fn word_token(&mut self) -> Tok {
        let rest = &self.s[self.i..];
        for (word, tok) in [
            (&b"true"[..], Tok::Bool(true)),
            (b"false", Tok::Bool(false)),
            (b"null", Tok::Null),
        ] {
            if rest.starts_with(word) {
                self.i += word.len();
                return tok;
            }
        }
        if refused_by_strict_json(rest) {
            return self.number_token();
        }
        Tok::Error("invalid token")
    }

    fn number_token(&mut self) -> Tok {
        match strtod_prefix(&self.s[self.i..]) {
            Some((v, len)) => {
                self.i += len;
                Tok::Num(v)
            }
            None => Tok::Error("invalid number"),
        }
    }

    /// A string token opened at `start`, reported there; an error token is reported where the
    /// problem is, as lua-cjson does.
    fn string_token(&mut self, start: usize) -> (Tok, usize) {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.byte(self.i) {
                b'"' => {
                    self.i += 1;
                    return (Tok::Str(out), start);
                }
                0 => return (Tok::Error("unexpected end of string"), self.i),
                b'\\' => {
                    let translated = match self.byte(self.i + 1) {
                        e @ (b'"' | b'\\' | b'/') => e,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape() {
                            Some((bytes, len)) => {
                                out.extend_from_slice(&bytes);
                                self.i += len;
                                continue;
                            }
                            None => return (Tok::Error("invalid unicode escape code"), self.i),
                        },
                        _ => return (Tok::Error("invalid escape code"), self.i),
                    };
                    out.push(translated);
                    self.i += 2;
                }
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `\uXXXX` (or a surrogate pair `\uD8xx\uDCxx`) at `i`: its UTF-8 bytes and escape length.
    fn unicode_escape(&self) -> Option<(Vec<u8>, usize)> {
        let hi = self.hex4(self.i + 2)?;
        let (cp, len) = if hi & 0xF800 == 0xD800 {
            // A low surrogate first, or a high one without its low half, is refused.
            if hi & 0x400 != 0 || self.byte(self.i + 6) != b'\\' || self.byte(self.i + 7) != b'u' {
                return None;
            }
            let lo = self.hex4(self.i + 8)?;
            if lo & 0xFC00 != 0xDC00 {
                return None;
            }
            ((((hi & 0x3FF) << 10) | (lo & 0x3FF)) + 0x10000, 12)
        } else {
            (hi, 6)
        };
        let ch = char::from_u32(cp)?;
        let mut buf = [0u8; 4];
        Some((ch.encode_utf8(&mut buf).as_bytes().to_vec(), len))
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (at..at + 4).try_fold(0u32, |acc, i| {
            let d = char::from(self.byte(i)).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(rt(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.i
            )));
        }
        Ok(())
    }

    /// After an object's `{` or `,`: its next key and the colon after it.
    fn key_and_colon(&mut self, tok: Tok, at: usize) -> mlua::Result<Vec<u8>> {
        let Tok::Str(key) = tok else {
            return Err(parse_error("object key string", &tok, at));
        };
        match self.next_token() {
            (Tok::Colon, _) => Ok(key),
            (other, at) => Err(parse_error("colon", &other, at)),
        }
    }

    /// The value starting with token `first`, read with an explicit stack of open containers
    /// rather than recursion: 1000 nested levels must not exhaust a runtime thread's stack.
    /// Tokens are read in lua-cjson's order, so errors name the same token.
    fn value(&mut self, first: Tok, first_at: usize) -> mlua::Result<Value> {
        let mut open: Vec<Open> = Vec::new();
        let (mut tok, mut at) = (first, first_at);
        loop {
            // A value starts at `tok`: a scalar, or a container that opens (and may be empty).
            let mut done = match tok {
                Tok::Str(s) => Value::String(self.lua.create_string(&s)?),
                Tok::Num(n) => Value::Number(n),
                Tok::Bool(b) => Value::Boolean(b),
                Tok::Null => json_null(),
                Tok::ArrBegin | Tok::ObjBegin => {
                    let is_array = matches!(tok, Tok::ArrBegin);
                    self.descend()?;
                    let t = self.lua.create_table()?;
                    let (next, next_at) = self.next_token();
                    match next {
                        Tok::ArrEnd if is_array => {
                            self.depth -= 1;
                            Value::Table(t)
                        }
                        Tok::ObjEnd if !is_array => {
                            self.depth -= 1;
                            Value::Table(t)
                        }
                        _ if is_array => {
                            open.push(Open::Array(t, 1));
                            (tok, at) = (next, next_at);
                            continue;
                        }
                        _ => {
                            let key = self.key_and_colon(next, next_at)?;
                            open.push(Open::Object(t, key));
                            (tok, at) = self.next_token();
                            continue;
                        }
                    }
                }
                other => return Err(parse_error("value", &other, at)),
            };
            // Hand the finished value to the containers it completes, up to one that goes on.
            loop {
                let Some(parent) = open.last_mut() else {
                    return Ok(done);
                };
                let closes = match parent {
                    Open::Array(t, n) => {
                        t.raw_set(*n, done)?;
                        *n += 1;
                        match self.next_token() {
                            (Tok::ArrEnd, _) => true,
                            (Tok::Comma, _) => false,
                            (other, at) => {
                                return Err(parse_error("comma or array end", &other, at));
                            }
                        }
                    }
                    Open::Object(t, key) => {
                        t.raw_set(self.lua.create_string(&*key)?, done)?;
                        match self.next_token() {
                            (Tok::ObjEnd, _) => true,
                            (Tok::Comma, _) => {
                                let (k, k_at) = self.next_token();
                                *key = self.key_and_colon(k, k_at)?;
                                false
                            }
                            (other, at) => {
                                return Err(parse_error("comma or object end", &other, at));
                            }
                        }
                    }
                };
                if !closes {
                    break;
                }
                self.depth -= 1;
                match open.pop() {
                    Some(Open::Array(t, _) | Open::Object(t, _)) => done = Value::Table(t),
                    None => break, // not reached: a parent was just filled
                }
            }
            (tok, at) = self.next_token();
        }
    }
}

/// A container being filled: an array and its next index, or an object and the key whose value
/// comes next.
enum Open {
    Array(mlua::Table, i64),
    Object(mlua::Table, Vec<u8>),
}

/// lua-cjson's test for numbers strict JSON refuses, which it decodes anyway: a leading `+`,
/// hex or leading zeros, `inf` and `nan` (any case).
fn refused_by_strict_json(s: &[u8]) -> bool {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    if at(0) == b'+' {
        return true;
    }
    let p = usize::from(at(0) == b'-');
    if at(p) == b'0' {
        let next = at(p + 1);
        return next | 0x20 == b'x' || next.is_ascii_digit();
    }
    if at(p) <= b'9' {
        return false;
    }
    let word = |w: &[u8]| s.len() >= p + 3 && s[p..p + 3].eq_ignore_ascii_case(w);
    word(b"inf") || word(b"nan")
}

/// What the C library's `strtod` reads at the start of `s` (no leading white space here): the
/// value and how many bytes it took, or `None` when it takes none. Decimal and hexadecimal
/// (`0x1.8p3`) numbers, `inf`/`infinity` and `nan`/`nan(chars)` in any case, with a sign.
pub fn strtod_prefix(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let (neg, p) = match at(0) {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[p..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return Some((sign(f64::INFINITY), p + 8));
    }
    if starts(b"inf") {
        return Some((sign(f64::INFINITY), p + 3));
    }
    if starts(b"nan") {
        let mut len = p + 3;
        if at(len) == b'(' {
            let close = (len + 1..s.len().max(len + 1))
                .find(|&i| !(at(i).is_ascii_alphanumeric() || at(i) == b'_'));
            if let Some(c) = close
                && at(c) == b')'
            {
                len = c + 1;
            }
        }
        return Some((sign(f64::NAN), len));
    }
    if at(p) == b'0' && at(p + 1) | 0x20 == b'x' {
        if let Some((v, len)) = hex_prefix(&s[p + 2..]) {
            return Some((sign(v), p + 2 + len));
        }
        // `0x` without hex digits: strtod takes the `0`.
        return Some((sign(0.0), p + 1));
    }
    decimal_prefix(s, p).map(|len| {
        let text = std::str::from_utf8(&s[..len]).unwrap_or("0");
        (text.parse::<f64>().unwrap_or(0.0), len)
    })
}

/// The length of the decimal number starting at `s[p..]` (sign before `p` included), if any.
fn decimal_prefix(s: &[u8], p: usize) -> Option<usize> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = p;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    Some(i)
}

/// A hexadecimal significand with an optional binary exponent (after `0x`): value and length.
fn hex_prefix(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut value, mut digits, mut scale) = (0, 0f64, 0, 0i32);
    let mut seen_point = false;
    loop {
        let c = at(i);
        if let Some(d) = char::from(c).to_digit(16) {
            value = value * 16.0 + f64::from(d);
            digits += 1;
            if seen_point {
                scale -= 4;
            }
        } else if c == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i32 = 0;
            while at(j).is_ascii_digit() {
                e = e.saturating_mul(10).saturating_add(i32::from(at(j) - b'0'));
                j += 1;
            }
            scale = scale.saturating_add(if neg { -e } else { e });
            i = j;
        }
    }
    Some((value * 2f64.powi(scale), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_takes_the_longest_prefix_as_c_does() {
        assert_eq!(strtod_prefix(b"1.5e"), Some((1.5, 3)));
        assert_eq!(strtod_prefix(b"1e5x"), Some((1e5, 3)));
        assert_eq!(strtod_prefix(b"-0x10"), Some((-16.0, 5)));
        assert_eq!(strtod_prefix(b"0x1p4,"), Some((16.0, 5)));
        assert_eq!(strtod_prefix(b"0xg"), Some((0.0, 1)));
        assert_eq!(strtod_prefix(b"+.5"), Some((0.5, 3)));
        assert_eq!(strtod_prefix(b"INFINITY"), Some((f64::INFINITY, 8)));
        assert_eq!(strtod_prefix(b"-"), None);
        assert_eq!(strtod_prefix(b"."), None);
        assert!(strtod_prefix(b"nan(x1)").is_some_and(|(v, n)| v.is_nan() && n == 7));
    }
}
