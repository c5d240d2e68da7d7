//! Reply encoding for RESP2 and RESP3 into one reusable output buffer.
//!
//! Place in the flow: every handler writes into the connection's [`Reply`] (one per batch of
//! pipelined commands, flushed with a single socket write). Types that only exist in RESP3 fall
//! back to their RESP2 shapes here, so handlers never branch on the protocol: maps become flat
//! arrays, sets arrays, doubles bulk strings, booleans integers, nulls `$-1` / `*-1`, pushes
//! arrays, big numbers and verbatim strings bulk strings.

/// An output buffer plus the protocol version it encodes.
#[derive(Debug, Default)]
pub struct Reply {
    /// Encoded bytes waiting to be written.
    pub buf: Vec<u8>,
    /// Whether the client negotiated RESP3 (`HELLO 3`).
    pub resp3: bool,
}

/// Writes `v` in decimal into `out` without allocating.
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut tmp = [0u8; 20];
    out.extend_from_slice(format_i64(v, &mut tmp));
}

/// `v` in decimal, formatted in `buf` (20 bytes hold `i64::MIN` with its sign); returns the
/// digits' slice of it.
pub fn format_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// C's `%.17g`: 17 significant digits, trailing zeros dropped, exponent form when the decimal
/// exponent is below -4 or at least 17.
pub fn format_g17(v: f64) -> String {
    // Integral values below 1e17 print all their digits either way (the common case for
    // scores); this avoids the slow exact-precision float formatting.
    if v.fract() == 0.0 && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    let sci = format!("{v:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let m = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (16 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Formats a double the way Redis replies with one: shortest round-trip digits, `%g`-style
/// exponent outside [1e-5, 1e17), `inf` / `-inf` / `nan`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".to_string()
        } else {
            "0".to_string()
        };
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-5..17).contains(&exp) {
        let s = format!("{v}");
        return s;
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

impl Reply {
    /// An empty RESP2 buffer.
    pub fn new() -> Reply {
        Reply::default()
    }

    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        push_int(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string (must not contain CR/LF).
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error; `msg` starts with its code (`ERR …`, `WRONGTYPE …`). CR/LF become spaces, as
    /// Redis does, so a message can never break the framing.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer.
    pub fn int(&mut self, v: i64) {
        self.header(b':', v);
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `v` (e.g. INCRBYFLOAT, CONFIG GET values).
    pub fn bulk_int(&mut self, v: i64) {
        let mut tmp = Vec::with_capacity(20);
        push_int(&mut tmp, v);
        self.bulk(&tmp);
    }

    /// A null bulk string: RESP2 `$-1`, RESP3 `_`.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// A null array: RESP2 `*-1`, RESP3 `_`.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// An array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map header of `n` pairs (RESP2: array of 2n).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set header of `n` elements (RESP2: array).
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push header of `n` elements (RESP2: array), for Pub/Sub messages and invalidations.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// An attribute header of `n` pairs; RESP3 only (callers skip attributes in RESP2).
    pub fn attribute(&mut self, n: usize) {
        self.header(b'|', n as i64);
    }

    /// A double (RESP2: bulk string with Redis' formatting).
    pub fn double(&mut self, v: f64) {
        let s = format_double(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (RESP2: integer 1/0).
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(v));
        }
    }

    /// A big number given in decimal (RESP2: bulk string).
    pub fn big_number(&mut self, digits: &str) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits.as_bytes());
        }
    }

    /// A verbatim string with a 3-letter format such as `txt` (RESP2: bulk string).
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', (text.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Appends already-encoded bytes (queued replies, pushes encoded elsewhere).
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Current length, used to rewind or patch deferred headers.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// A bulk-string array from byte slices, a frequent shape.
    pub fn bulk_array<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for i in items {
            self.bulk(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(resp3: bool, f: impl FnOnce(&mut Reply)) -> String {
        let mut r = Reply {
            buf: Vec::new(),
            resp3,
        };
        f(&mut r);
        String::from_utf8(r.buf).unwrap()
    }

    #[test]
    fn integers_format_with_their_sign_at_the_edges() {
        let mut buf = [0u8; 20];
        for v in [0, 7, -7, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(format_i64(v, &mut buf), v.to_string().as_bytes());
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(enc(false, |r| r.ok()), "+OK\r\n");
        assert_eq!(enc(false, |r| r.int(-42)), ":-42\r\n");
        assert_eq!(enc(false, |r| r.int(i64::MIN)), ":-9223372036854775808\r\n");
        assert_eq!(enc(false, |r| r.bulk(b"hi")), "$2\r\nhi\r\n");
        assert_eq!(enc(false, |r| r.error("ERR a\r\nb")), "-ERR a  b\r\n");
    }

    #[test]
    fn nulls_per_protocol() {
        assert_eq!(enc(false, |r| r.null()), "$-1\r\n");
        assert_eq!(enc(false, |r| r.null_array()), "*-1\r\n");
        assert_eq!(enc(true, |r| r.null()), "_\r\n");
        assert_eq!(enc(true, |r| r.null_array()), "_\r\n");
    }

    #[test]
    fn aggregates_per_protocol() {
        assert_eq!(enc(false, |r| r.map(2)), "*4\r\n");
        assert_eq!(enc(true, |r| r.map(2)), "%2\r\n");
        assert_eq!(enc(false, |r| r.set(3)), "*3\r\n");
        assert_eq!(enc(true, |r| r.set(3)), "~3\r\n");
        assert_eq!(enc(true, |r| r.push(3)), ">3\r\n");
        assert_eq!(enc(false, |r| r.push(3)), "*3\r\n");
        assert_eq!(enc(true, |r| r.attribute(1)), "|1\r\n");
    }

    #[test]
    fn resp3_only_types() {
        assert_eq!(enc(true, |r| r.double(1.5)), ",1.5\r\n");
        assert_eq!(enc(false, |r| r.double(1.5)), "$3\r\n1.5\r\n");
        assert_eq!(enc(true, |r| r.double(f64::INFINITY)), ",inf\r\n");
        assert_eq!(enc(true, |r| r.boolean(true)), "#t\r\n");
        assert_eq!(enc(false, |r| r.boolean(false)), ":0\r\n");
        assert_eq!(enc(true, |r| r.big_number("123")), "(123\r\n");
        assert_eq!(enc(true, |r| r.verbatim("txt", b"ab")), "=6\r\ntxt:ab\r\n");
        assert_eq!(enc(false, |r| r.verbatim("txt", b"ab")), "$2\r\nab\r\n");
    }

    #[test]
    fn double_formatting() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.5e-07");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
