//! Request decoding: multibulk (`*N\r\n$len\r\n…`) and inline (`SET k v\r\n`) commands.
//!
//! Place in the flow: the connection keeps one [`Decoder`] and calls [`Decoder::next`] on the
//! unread part of its input buffer. A complete command comes back as argument offsets relative
//! to the command start (multibulk: into the input buffer itself; inline: into a scratch buffer,
//! because quotes and escapes rewrite bytes). An incomplete command returns `Ok(None)` and keeps
//! its progress, so a huge multibulk arriving in small pieces is not re-parsed from scratch.
//! Every length is checked against [`Limits`] before anything is reserved; errors carry the exact
//! text Redis sends before closing the connection.

use crate::errors;

/// Parser limits, fed from `proto-max-bulk-len` and the authentication state.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted bulk argument (`proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Largest accepted multibulk count.
    pub max_multibulk: usize,
    /// Largest inline request line.
    pub max_inline: usize,
    /// Whether the client is authenticated; unauthenticated clients get tiny limits, as in Redis.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            max_multibulk: i32::MAX as usize,
            max_inline: 64 * 1024,
            authenticated: true,
        }
    }
}

/// Limits Redis applies before a client authenticates.
const UNAUTH_MULTIBULK: usize = 10;
const UNAUTH_BULK: usize = 16384;
/// Longest `*N` / `$N` header line accepted before the line terminator shows up.
const MAX_HEADER: usize = 64 * 1024;

/// Resumable RESP request decoder (one per connection).
#[derive(Debug, Default)]
pub struct Decoder {
    /// Argument offsets `(start, end)` relative to the command start (or into `scratch`).
    args: Vec<(usize, usize)>,
    /// Decoded inline arguments.
    scratch: Vec<u8>,
    /// Whether the last complete command was inline (arguments live in `scratch`).
    inline: bool,
    /// In-progress multibulk: total argument count and the offset where parsing resumes.
    pending: Option<(usize, usize)>,
    /// Limits in force.
    pub limits: Limits,
}

/// Finds `\r\n` (or `\n` for inline) starting at `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i + 1..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                let nl = i + 1 + p;
                if buf[nl - 1] == b'\r' {
                    return Some(nl - 1);
                }
                i = nl;
            }
            None => return None,
        }
    }
    None
}

/// Parses a decimal length from a header (sign allowed, no spaces), as Redis' string2ll.
fn parse_len(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(if neg { -v } else { v })
}

/// The common header, `*`/`$` then 1-18 digits then `\r\n`, read in one pass: the value and
/// the offset of its `\r`. `None` for anything else (a sign, other bytes, too many digits, an
/// incomplete line), which [`header`] hands to the general path; for the lines it accepts it
/// gives what `find_crlf` and `parse_len` give, with a third of the instructions.
fn digits_header(buf: &[u8], pos: usize) -> Option<(i64, usize)> {
    let mut v: i64 = 0;
    for (i, &b) in buf.get(pos + 1..)?.iter().enumerate().take(19) {
        match b {
            b'0'..=b'9' if i < 18 => v = v * 10 + i64::from(b - b'0'),
            b'\r' if i > 0 => {
                let cr = pos + 1 + i;
                return (buf.get(cr + 1) == Some(&b'\n')).then_some((v, cr));
            }
            _ => return None,
        }
    }
    None
}

/// Reads the length header starting at `buf[pos]` (its `*` or `$`): `Some((value, cr))` with
/// `None` for a value when the line is complete but not a length, `None` when its `\r\n` has
/// not arrived yet.
fn header(buf: &[u8], pos: usize) -> Option<(Option<i64>, usize)> {
    if let Some((v, cr)) = digits_header(buf, pos) {
        return Some((Some(v), cr));
    }
    let end = find_crlf(buf, pos)?;
    Some((parse_len(&buf[pos + 1..end]), end))
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            ..Default::default()
        }
    }

    /// Argument offsets of the last complete command.
    pub fn args(&self) -> &[(usize, usize)] {
        &self.args
    }

    /// The bytes the offsets of the last complete command point into: `cmd` (the command's
    /// bytes in the input buffer) for multibulk, the decoder's scratch for inline requests.
    pub fn arg_bytes<'a>(&'a self, cmd: &'a [u8]) -> &'a [u8] {
        if self.inline { &self.scratch } else { cmd }
    }

    /// Tries to decode one command from `buf` (which starts at a command boundary).
    /// `Ok(Some(n))`: a command of `n` bytes is complete (it may have zero arguments, which the
    /// caller ignores, as Redis does for empty lines and `*0`). `Ok(None)`: need more bytes.
    pub fn next(&mut self, buf: &[u8]) -> Result<Option<usize>, &'static str> {
        if buf.is_empty() {
            return Ok(None);
        }
        if self.pending.is_none() && buf[0] != b'*' {
            return self.inline(buf);
        }
        self.multibulk(buf)
    }

    fn inline(&mut self, buf: &[u8]) -> Result<Option<usize>, &'static str> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_inline {
                return Err(errors::PROTO_INLINE_TOO_BIG);
            }
            return Ok(None);
        };
        if nl > self.limits.max_inline {
            return Err(errors::PROTO_INLINE_TOO_BIG);
        }
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.args.clear();
        self.scratch.clear();
        self.inline = true;
        split_inline(line, &mut self.scratch, &mut self.args)?;
        Ok(Some(nl + 1))
    }

    fn multibulk(&mut self, buf: &[u8]) -> Result<Option<usize>, &'static str> {
        let (total, mut pos) = match self.pending {
            Some(p) => p,
            None => {
                let Some((n, end)) = header(buf, 0) else {
                    if buf.len() > MAX_HEADER {
                        return Err(errors::PROTO_MBULK_COUNT_TOO_BIG);
                    }
                    return Ok(None);
                };
                let n = n.ok_or(errors::PROTO_INVALID_MULTIBULK)?;
                if n > self.limits.max_multibulk as i64 {
                    return Err(errors::PROTO_INVALID_MULTIBULK);
                }
                if !self.limits.authenticated && n > UNAUTH_MULTIBULK as i64 {
                    return Err(errors::PROTO_UNAUTH_MULTIBULK);
                }
                self.args.clear();
                self.inline = false;
                if n <= 0 {
                    return Ok(Some(end + 2));
                }
                let n = n as usize;
                // Reserve modestly: the count is client-controlled.
                self.args.reserve(n.min(1024));
                (n, end + 2)
            }
        };
        while self.args.len() < total {
            if pos >= buf.len() {
                self.pending = Some((total, pos));
                return Ok(None);
            }
            if buf[pos] != b'$' {
                self.pending = None;
                return Err(errors::proto_expected_dollar(buf[pos]));
            }
            let Some((len, end)) = header(buf, pos) else {
                if buf.len() - pos > MAX_HEADER {
                    self.pending = None;
                    return Err(errors::PROTO_BULK_COUNT_TOO_BIG);
                }
                self.pending = Some((total, pos));
                return Ok(None);
            };
            let len = match len {
                Some(l) if l >= 0 && (l as usize) <= self.limits.max_bulk => l as usize,
                _ => {
                    self.pending = None;
                    return Err(errors::PROTO_INVALID_BULK);
                }
            };
            if !self.limits.authenticated && len > UNAUTH_BULK {
                self.pending = None;
                return Err(errors::PROTO_UNAUTH_BULK);
            }
            let start = end + 2;
            if buf.len() < start + len + 2 {
                self.pending = Some((total, pos));
                return Ok(None);
            }
            self.args.push((start, start + len));
            pos = start + len + 2;
        }
        self.pending = None;
        Ok(Some(pos))
    }

    /// Bytes still needed, when known, so the connection can reserve for a large bulk at once.
    pub fn pending_offset(&self) -> Option<usize> {
        self.pending.map(|(_, p)| p)
    }
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline request like Redis' inline protocol: whitespace-separated words, with
/// double quotes (escapes `\n \r \t \b \a \\ \" \xHH`) and single quotes (`\'`).
pub fn split_inline(
    line: &[u8],
    out: &mut Vec<u8>,
    args: &mut Vec<(usize, usize)>,
) -> Result<(), &'static str> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(errors::PROTO_UNBALANCED_QUOTES);
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    let hi = hex_val(line[i + 2]).unwrap_or(0);
                    let lo = hex_val(line[i + 3]).unwrap_or(0);
                    out.push(hi * 16 + lo);
                    i += 4;
                } else if line[i] == b'\\' && i + 1 < n {
                    out.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                    i += 2;
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(errors::PROTO_UNBALANCED_QUOTES);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(line[i]);
                    i += 1;
                }
            } else if in_sq {
                if i >= n {
                    return Err(errors::PROTO_UNBALANCED_QUOTES);
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(errors::PROTO_UNBALANCED_QUOTES);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(line[i]);
                    i += 1;
                }
            } else {
                if i >= n || line[i].is_ascii_whitespace() {
                    break;
                }
                match line[i] {
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
                i += 1;
            }
        }
        args.push((start, out.len()));
    }
}

#[cfg(test)]
mod decode_fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, &'static str> {
        let mut d = Decoder::new(Limits::default());
        let mut off = 0;
        let mut out = Vec::new();
        while let Some(n) = d.next(&input[off..])? {
            let cmd = &input[off..off + n];
            let bytes = d.arg_bytes(cmd);
            out.push(
                d.args()
                    .iter()
                    .map(|&(s, e)| bytes[s..e].to_vec())
                    .collect(),
            );
            off += n;
        }
        Ok(out)
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_basic_and_pipelined() {
        let r = decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(r, vec![strs(&["GET", "k"]), strs(&["PING"])]);
    }

    #[test]
    fn binary_and_empty_bulks() {
        let r = decode_all(b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n").unwrap();
        assert_eq!(r, vec![vec![b"SET".to_vec(), vec![], b"a\r\nb".to_vec()]]);
    }

    #[test]
    fn partial_reads_resume_at_every_split() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 0..full.len() {
            let mut d = Decoder::new(Limits::default());
            assert_eq!(d.next(&full[..cut]).unwrap(), None, "cut {cut}");
            let n = d.next(full).unwrap().unwrap();
            assert_eq!(n, full.len());
            let a: Vec<&[u8]> = d.args().iter().map(|&(s, e)| &full[s..e]).collect();
            assert_eq!(a, vec![&b"SET"[..], b"key", b"value"]);
        }
    }

    #[test]
    fn inline_commands() {
        let r = decode_all(b"SET k \"a b\\x41\\n\"\r\nPING\n\r\n  GET 'it\\'s'\r\n").unwrap();
        assert_eq!(
            r,
            vec![
                strs(&["SET", "k", "a bA\n"]),
                strs(&["PING"]),
                vec![],
                strs(&["GET", "it's"])
            ]
        );
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(decode_all(b"*x\r\n"), Err(errors::PROTO_INVALID_MULTIBULK));
        assert_eq!(
            decode_all(b"*1\r\n+x\r\n").unwrap_err(),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            decode_all(b"*1\r\n$-5\r\n"),
            Err(errors::PROTO_INVALID_BULK)
        );
        assert_eq!(
            decode_all(b"SET \"a\r\n"),
            Err(errors::PROTO_UNBALANCED_QUOTES)
        );
        assert_eq!(
            decode_all(b"SET \"a\"b\r\n"),
            Err(errors::PROTO_UNBALANCED_QUOTES)
        );
        let big = vec![b'a'; 70 * 1024];
        assert_eq!(decode_all(&big), Err(errors::PROTO_INLINE_TOO_BIG));
        let mut d = Decoder::new(Limits {
            max_bulk: 10,
            ..Limits::default()
        });
        assert_eq!(d.next(b"*1\r\n$11\r\n"), Err(errors::PROTO_INVALID_BULK));
    }

    #[test]
    fn unauthenticated_limits() {
        let mut d = Decoder::new(Limits {
            authenticated: false,
            ..Limits::default()
        });
        assert_eq!(d.next(b"*11\r\n"), Err(errors::PROTO_UNAUTH_MULTIBULK));
        let mut d = Decoder::new(Limits {
            authenticated: false,
            ..Limits::default()
        });
        assert_eq!(d.next(b"*1\r\n$16385\r\n"), Err(errors::PROTO_UNAUTH_BULK));
    }

    #[test]
    fn empty_multibulk_is_ignored() {
        assert_eq!(
            decode_all(b"*0\r\n*-1\r\n").unwrap(),
            vec![Vec::<Vec<u8>>::new(), vec![]]
        );
    }

    #[test]
    fn header_fast_path_agrees_with_the_general_one() {
        let general = |buf: &[u8]| find_crlf(buf, 0).map(|end| (parse_len(&buf[1..end]), end));
        let mut seed = 0x2545f4914f6cdd1du64;
        for _ in 0..20_000 {
            let mut v = vec![b'$'];
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push(b"0123456789\r\n-x"[(seed % 14) as usize]);
            }
            assert_eq!(
                header(&v, 0),
                general(&v),
                "{:?}",
                String::from_utf8_lossy(&v)
            );
        }
        let lines: [&[u8]; 6] = [
            b"$3\r\n",
            b"$999999999999999999\r\n",
            b"*1234567890123456789\r\n",
            b"$99999999999999999999\r\n",
            b"$\r\n",
            b"$-1\r\n",
        ];
        for line in lines {
            assert_eq!(header(line, 0), general(line));
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..2000 {
            let mut v = Vec::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push(b"*$\r\n0123-x \"'\\"[(seed % 14) as usize]);
            }
            let _ = decode_all(&v);
        }
    }
}
