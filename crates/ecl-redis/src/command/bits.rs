//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! Place in the flow: argument parsing and replies over string values treated as bit arrays
//! (bit 0 is the most significant bit of byte 0, as Redis documents).

use super::flags::*;
use super::ks;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Keys, Release::Redis, acl, v};
use crate::config::notify;
use crate::db::string::clamp_range;
use crate::db::{Value, as_str};
use crate::errors::{self, CmdError, CmdResult};

const K1: Keys = Keys::Range(1, 1, 1);
const R: AclCategories = acl::READ.with(acl::BITMAP);
const W: AclCategories = acl::WRITE.with(acl::BITMAP);

/// Bitmap family table.
pub const COMMANDS: &[CommandSpec] = &[
    Cmd::new("setbit", setbit).arity(4).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(2, 2, 0)).group("bitmap").ks(&[ks::RW | ks::ACCESS | ks::UPDATE])
        .doc("Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    Cmd::new("getbit", getbit).arity(3).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(2, 2, 0)).group("bitmap").doc("Returns a bit value by offset."),
    Cmd::new("bitcount", bitcount).arity(-2).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 6, 0)).group("bitmap").doc("Counts the number of set bits (population counting) in a string."),
    Cmd::new("bitpos", bitpos).arity(-3).flags(&[READONLY]).acl(&[R, acl::SLOW]).keys(K1).since(Redis(2, 8, 7)).group("bitmap").doc("Finds the first set (1) or clear (0) bit in a string."),
    Cmd::new("bitop", bitop).arity(-4).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(Keys::Range(2, -1, 1)).since(Redis(2, 6, 0)).group("bitmap").ks(&[ks::OW | ks::UPDATE, ks::RO | ks::ACCESS])
        .doc("Performs bitwise operations on multiple strings, and stores the result."),
    Cmd::new("bitfield", bitfield).arity(-2).flags(&[WRITE, DENYOOM]).acl(&[W, acl::SLOW]).keys(K1).since(Redis(3, 2, 0)).group("bitmap")
        .ks_var(&[ks::RW | ks::ACCESS | ks::UPDATE | ks::VARIABLE_FLAGS], bitfield_key_flags)
        .doc("Performs arbitrary bitfield integer operations on strings."),
    Cmd::new("bitfield_ro", bitfield_ro).arity(-2).flags(&[READONLY, FAST]).acl(&[R, acl::FAST]).keys(K1).since(Redis(6, 0, 0)).group("bitmap")
        .doc("Performs arbitrary read-only bitfield integer operations on strings."),
];

/// Largest bit offset: 512 MB of bits.
const MAX_BIT: u64 = 512 * 1024 * 1024 * 8 - 1;

fn bit_offset(argv: &Argv<'_>, i: usize) -> Result<u64, CmdError> {
    match argv.i64(i) {
        Ok(o) if o >= 0 && o as u64 <= MAX_BIT => Ok(o as u64),
        _ => Err(errors::BIT_OFFSET.into()),
    }
}

fn read_bytes(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    lookup_bytes(ctx, key, true)
}

/// A copy of the string at `key`: a read lookup when `read`, else a write's, which counts no
/// keyspace hit or miss (see [`crate::db::Db::lookup_for`]).
fn lookup_bytes(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<Vec<u8>>, CmdError> {
    let now = ctx.now;
    match ctx.db().lookup_for(key, now, read) {
        None => Ok(None),
        Some(e) => as_str(&e.value).map(|s| Some(s.to_vec())),
    }
}

fn with_bytes<T>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&[u8]) -> T) -> Result<T, CmdError> {
    let now = ctx.now;
    match ctx.db().get(key, now) {
        None => Ok(f(&[])),
        Some(e) => as_str(&e.value).map(f),
    }
}

fn setbit(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let off = bit_offset(argv, 2)?;
    let bit = match argv.get(3) {
        b"0" => 0u8,
        b"1" => 1u8,
        _ => return Err(errors::BIT_VALUE.into()),
    };
    let key = argv.get(1);
    let now = ctx.now;
    if let Some(e) = ctx.db().peek(key, now) {
        as_str(&e.value)?;
    }
    let (mut val, created) = ctx
        .db()
        .get_or_create(key, now, || Value::Str(Vec::new().into()));
    let Value::Str(s) = &mut *val else {
        return Err(errors::WRONGTYPE.into());
    };
    let byte = (off >> 3) as usize;
    let grown = s.len() <= byte;
    if grown {
        s.vec_mut().resize(byte + 1, 0);
    }
    let mask = 1u8 << (7 - (off & 7));
    let old = u8::from(s[byte] & mask != 0);
    // As Redis: a bit set to the value it had, in a string that did not grow, is no write
    // (no notification, no dirty count, WATCHers undisturbed).
    if !created && !grown && old == bit {
        val.unchanged();
        ctx.out.int(i64::from(old));
        return Ok(());
    }
    if bit == 1 {
        s[byte] |= mask;
    } else {
        s[byte] &= !mask;
    }
    drop(val);
    ctx.write(key).notify(notify::STRING, "setbit").dirty(1);
    ctx.out.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let off = bit_offset(argv, 2)?;
    let b = with_bytes(ctx, argv.get(1), |s| {
        let byte = (off >> 3) as usize;
        s.get(byte).map_or(0, |b| (b >> (7 - (off & 7))) & 1)
    })?;
    ctx.out.int(i64::from(b));
    Ok(())
}

/// Parses the optional `start end [BYTE|BIT]` tail; returns (start, end, bit_mode). Redis
/// checks the argument count before it reads a number (`BITCOUNT k x 1 BIT 2` is a syntax
/// error, not a bad integer), and BITPOS reads BYTE|BIT before its end.
fn range_args(
    ctx: &Ctx<'_>,
    argv: &Argv<'_>,
    from: usize,
    allow_start_only: bool,
) -> Result<Option<(i64, Option<i64>, bool)>, CmdError> {
    let n = argv.len() - from;
    let unit_known = ctx.version() >= v(7, 0, 0);
    let counted = match n {
        0 => return Ok(None),
        1 => allow_start_only,
        2 => true,
        3 => unit_known,
        _ => false,
    };
    if !counted {
        return Err(errors::SYNTAX.into());
    }
    let start = argv.i64(from)?;
    if n == 1 {
        return Ok(Some((start, None, false)));
    }
    let unit = |argv: &Argv<'_>| -> Result<bool, CmdError> {
        match n {
            3 if argv.is(from + 2, "bit") => Ok(true),
            3 if argv.is(from + 2, "byte") => Ok(false),
            3 => Err(errors::SYNTAX.into()),
            _ => Ok(false),
        }
    };
    // BITPOS (the command that allows a start alone) reads the unit before its end; BITCOUNT
    // reads its end first.
    let (end, bit) = if allow_start_only {
        let bit = unit(argv)?;
        (argv.i64(from + 1)?, bit)
    } else {
        let end = argv.i64(from + 1)?;
        if start < 0 && end < 0 && start > end && !super::coll::is_72(ctx) {
            // Before 7.2 BITCOUNT answers 0 for two negative indexes out of order before it
            // reads the unit (`BITCOUNT k -1 -2 x` is 0, not a syntax error).
            return Ok(Some((start, Some(end), false)));
        }
        (end, unit(argv)?)
    };
    Ok(Some((start, Some(end), bit)))
}

fn bit_at(s: &[u8], i: usize) -> u8 {
    (s[i >> 3] >> (7 - (i & 7))) & 1
}

/// Before 7.2 Redis looks BITCOUNT's and BITPOS's key up before it reads the range: a missing
/// key answers at once, whatever the other arguments. True when the key is missing there.
fn missing_before_72(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    if super::coll::is_72(ctx) {
        return Ok(false);
    }
    let now = ctx.now;
    match ctx.db().peek(key, now) {
        None => Ok(true),
        Some(e) => as_str(&e.value).map(|_| false),
    }
}

fn bitcount(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    if missing_before_72(ctx, argv.get(1))? {
        ctx.out.int(0);
        return Ok(());
    }
    let range = range_args(ctx, argv, 2, false)?;
    let n = with_bytes(ctx, argv.get(1), |s| match range {
        None => s.iter().map(|b| b.count_ones() as i64).sum(),
        Some((st, en, bit)) => {
            let en = en.unwrap_or(-1);
            if st < 0 && en < 0 && st > en {
                // Redis answers 0 at once for two negative indexes out of order, before it
                // clamps them (-6 -7 on a 6-byte string would otherwise count byte 0).
                return 0;
            }
            if bit {
                match clamp_range(st, en, s.len() * 8) {
                    Some((a, b)) => (a..=b).map(|i| i64::from(bit_at(s, i))).sum(),
                    None => 0,
                }
            } else {
                match clamp_range(st, en, s.len()) {
                    Some((a, b)) => s[a..=b].iter().map(|x| x.count_ones() as i64).sum(),
                    None => 0,
                }
            }
        }
    })?;
    ctx.out.int(n);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let want = match argv.i64(2)? {
        0 => 0u8,
        1 => 1u8,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    if missing_before_72(ctx, argv.get(1))? {
        ctx.out.int(if want == 1 { -1 } else { 0 });
        return Ok(());
    }
    let range = range_args(ctx, argv, 3, true)?;
    let exists = read_bytes(ctx, argv.get(1))?;
    let Some(s) = exists else {
        ctx.out.int(if want == 1 { -1 } else { 0 });
        return Ok(());
    };
    let (st, en, bit_mode) = range.unwrap_or((0, None, false));
    let end_given = en.is_some();
    let total_bits = s.len() * 8;
    let span = if bit_mode {
        clamp_range(st, en.unwrap_or(-1), total_bits)
    } else {
        clamp_range(st, en.unwrap_or(-1), s.len()).map(|(a, b)| (a * 8, b * 8 + 7))
    };
    let Some((a, b)) = span else {
        ctx.out.int(-1);
        return Ok(());
    };
    let found = (a..=b).find(|&i| bit_at(&s, i) == want);
    let r = match found {
        Some(i) => i as i64,
        // Looking for a clear bit past the string with an open range: the string is padded with
        // zeros, so the answer is the first bit after it.
        None if want == 0 && !end_given => total_bits as i64,
        None => -1,
    };
    ctx.out.int(r);
    Ok(())
}

fn bitop(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let op = argv.str(1).to_ascii_lowercase();
    if !matches!(op.as_str(), "and" | "or" | "xor" | "not") {
        return Err(errors::SYNTAX.into());
    }
    if op == "not" && argv.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let mut srcs: Vec<Vec<u8>> = Vec::new();
    for k in argv.iter_from(3) {
        srcs.push(read_bytes(ctx, k)?.unwrap_or_default());
    }
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; len];
    for (i, r) in res.iter_mut().enumerate() {
        let at = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *r = match op.as_str() {
            "not" => !at(&srcs[0]),
            "and" => srcs.iter().fold(0xFF, |acc, s| acc & at(s)),
            "or" => srcs.iter().fold(0, |acc, s| acc | at(s)),
            _ => srcs.iter().fold(0, |acc, s| acc ^ at(s)),
        };
    }
    let dst = argv.get(2);
    let now = ctx.now;
    if res.is_empty() {
        if ctx.db().remove(dst).is_some() {
            ctx.write(dst).notify(notify::GENERIC, "del");
        }
    } else {
        ctx.db()
            .set(dst, Value::Str(crate::db::Str::raw(res)), now, false);
        ctx.write(dst).notify(notify::STRING, "set");
    }
    ctx.dirty(1);
    ctx.out.int(len as i64);
    Ok(())
}

/// A BITFIELD integer type.
#[derive(Clone, Copy)]
struct FieldType {
    signed: bool,
    bits: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

enum Op {
    Get(FieldType, u64),
    Set(FieldType, u64, i64, Overflow),
    Incr(FieldType, u64, i64, Overflow),
}

fn field_type(b: &[u8]) -> Result<FieldType, CmdError> {
    let bad = || {
        CmdError::from(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match b.first() {
        Some(b'i') | Some(b'I') => true,
        Some(b'u') | Some(b'U') => false,
        _ => return Err(bad()),
    };
    let bits: u32 = std::str::from_utf8(&b[1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    if bits == 0 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(bad());
    }
    Ok(FieldType { signed, bits })
}

fn field_offset(b: &[u8], t: FieldType) -> Result<u64, CmdError> {
    let (mul, digits) = if b.first() == Some(&b'#') {
        (u64::from(t.bits), &b[1..])
    } else {
        (1, b)
    };
    let v = crate::db::string::parse_i64(digits)
        .filter(|v| *v >= 0)
        .ok_or(CmdError::from(errors::BIT_OFFSET))?;
    let off = (v as u64)
        .checked_mul(mul)
        .ok_or(CmdError::from(errors::BIT_OFFSET))?;
    if off + u64::from(t.bits) - 1 > MAX_BIT {
        return Err(errors::BIT_OFFSET.into());
    }
    Ok(off)
}

fn get_field(s: &[u8], off: u64, t: FieldType) -> i64 {
    let mut v: u64 = 0;
    for i in 0..u64::from(t.bits) {
        let p = off + i;
        let byte = (p >> 3) as usize;
        let bit = s.get(byte).map_or(0, |b| (b >> (7 - (p & 7))) & 1);
        v = (v << 1) | u64::from(bit);
    }
    if t.signed && t.bits < 64 && v & (1 << (t.bits - 1)) != 0 {
        (v | (!0u64 << t.bits)) as i64
    } else {
        v as i64
    }
}

fn set_field(s: &mut Vec<u8>, off: u64, t: FieldType, value: i64) {
    let last = ((off + u64::from(t.bits) - 1) >> 3) as usize;
    if s.len() <= last {
        s.resize(last + 1, 0);
    }
    let v = value as u64;
    for i in 0..u64::from(t.bits) {
        let bit = (v >> (u64::from(t.bits) - 1 - i)) & 1;
        let p = off + i;
        let mask = 1u8 << (7 - (p & 7));
        if bit == 1 {
            s[(p >> 3) as usize] |= mask;
        } else {
            s[(p >> 3) as usize] &= !mask;
        }
    }
}

/// Applies the overflow policy to a wide result; `None` means FAIL triggered.
fn fit(t: FieldType, v: i128, ov: Overflow) -> Option<i64> {
    let (min, max): (i128, i128) = if t.signed {
        (-(1i128 << (t.bits - 1)), (1i128 << (t.bits - 1)) - 1)
    } else {
        (0, (1i128 << t.bits) - 1)
    };
    if v >= min && v <= max {
        return Some(v as i64);
    }
    match ov {
        Overflow::Fail => None,
        Overflow::Sat => Some(if v < min { min as i64 } else { max as i64 }),
        Overflow::Wrap => {
            let m = 1i128 << t.bits;
            let mut w = v.rem_euclid(m);
            if t.signed && w > max {
                w -= m;
            }
            Some(w as i64)
        }
    }
}

fn parse_ops(argv: &Argv<'_>, read_only: bool) -> Result<Vec<Op>, CmdError> {
    let mut ops = Vec::new();
    let mut ov = Overflow::Wrap;
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        if argv.is(i, "get") && left >= 2 {
            let t = field_type(argv.get(i + 1))?;
            ops.push(Op::Get(t, field_offset(argv.get(i + 2), t)?));
            i += 3;
        } else if argv.is(i, "set") && left >= 3 {
            if read_only {
                return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
            }
            let t = field_type(argv.get(i + 1))?;
            let off = field_offset(argv.get(i + 2), t)?;
            ops.push(Op::Set(t, off, argv.i64(i + 3)?, ov));
            i += 4;
        } else if argv.is(i, "incrby") && left >= 3 {
            if read_only {
                return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
            }
            let t = field_type(argv.get(i + 1))?;
            let off = field_offset(argv.get(i + 2), t)?;
            ops.push(Op::Incr(t, off, argv.i64(i + 3)?, ov));
            i += 4;
        } else if argv.is(i, "overflow") && left >= 1 {
            if read_only {
                return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
            }
            ov = match argv.str(i + 1).to_ascii_lowercase().as_str() {
                "wrap" => Overflow::Wrap,
                "sat" => Overflow::Sat,
                "fail" => Overflow::Fail,
                _ => return Err("ERR Invalid OVERFLOW type specified".into()),
            };
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    Ok(ops)
}

fn run_bitfield(ctx: &mut Ctx<'_>, argv: &Argv<'_>, read_only: bool) -> CmdResult {
    let ops = parse_ops(argv, read_only)?;
    let key = argv.get(1);
    let now = ctx.now;
    // With a SET or INCRBY, redis-server looks the key up as a write: no keyspace hit or miss.
    let writes = ops.iter().any(|op| !matches!(op, Op::Get(..)));
    let mut buf = lookup_bytes(ctx, key, !writes)?;
    let existed = buf.is_some();
    let s = buf.get_or_insert_with(Vec::new);
    let mut replies: Vec<Option<i64>> = Vec::new();
    // As Redis: the string is created or grown for the furthest write first, and then every
    // write counts as a change; otherwise a SET counts only when it changes the field.
    // `changes` is the dirty count and decides whether the key is written at all.
    let furthest = ops
        .iter()
        .filter_map(|op| match *op {
            Op::Set(t, off, ..) | Op::Incr(t, off, ..) => {
                Some(((off + u64::from(t.bits) - 1) >> 3) as usize)
            }
            Op::Get(..) => None,
        })
        .max();
    let grows = furthest.is_some_and(|last| !existed || last >= s.len());
    let mut changes = 0u64;
    for op in &ops {
        match *op {
            Op::Get(t, off) => replies.push(Some(get_field(s, off, t))),
            Op::Set(t, off, val, ov) => {
                let old = get_field(s, off, t);
                let wide = if t.signed {
                    i128::from(val)
                } else {
                    i128::from(val as u64)
                };
                match fit(t, wide, ov) {
                    Some(nv) => {
                        set_field(s, off, t, nv);
                        changes += u64::from(grows || nv != old);
                        replies.push(Some(old));
                    }
                    None => replies.push(None),
                }
            }
            Op::Incr(t, off, by, ov) => {
                let old = get_field(s, off, t);
                let old_wide = if t.signed {
                    i128::from(old)
                } else {
                    i128::from(old as u64)
                };
                match fit(t, old_wide + i128::from(by), ov) {
                    Some(nv) => {
                        set_field(s, off, t, nv);
                        changes += u64::from(grows || nv != old);
                        replies.push(Some(nv));
                    }
                    None => replies.push(None),
                }
            }
        }
    }
    // A missing key is created even when every write overflowed (Redis makes the string
    // before running them), but only changes are notified and counted.
    if changes > 0 || (grows && !existed) {
        let keep = existed;
        let mut bytes = std::mem::take(s);
        if let Some(last) = furthest {
            bytes.resize(bytes.len().max(last + 1), 0);
        }
        ctx.db()
            .set(key, Value::Str(crate::db::Str::raw(bytes)), now, keep);
    }
    if changes > 0 {
        ctx.write(key)
            .notify(notify::STRING, "setbit")
            .dirty(changes);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn bitfield(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    run_bitfield(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    run_bitfield(ctx, argv, true)
}

/// BITFIELD only reads its key unless a SET or INCRBY sub-operation is present.
fn bitfield_key_flags(argv: &Argv<'_>, _nth: usize) -> u16 {
    if (2..argv.len()).any(|i| argv.is(i, "set") || argv.is(i, "incrby")) {
        ks::RW | ks::ACCESS | ks::UPDATE
    } else {
        ks::RO | ks::ACCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_round_trip_and_overflow() {
        let mut s = Vec::new();
        let t = FieldType {
            signed: true,
            bits: 8,
        };
        set_field(&mut s, 0, t, -3);
        assert_eq!(get_field(&s, 0, t), -3);
        let u = FieldType {
            signed: false,
            bits: 4,
        };
        set_field(&mut s, 100, u, 15);
        assert_eq!(get_field(&s, 100, u), 15);
        assert_eq!(fit(u, 16, Overflow::Wrap), Some(0));
        assert_eq!(fit(u, 16, Overflow::Sat), Some(15));
        assert_eq!(fit(u, 16, Overflow::Fail), None);
        assert_eq!(fit(t, 128, Overflow::Wrap), Some(-128));
        assert_eq!(fit(t, -129, Overflow::Sat), Some(-128));
    }
}
