//! x87 80-bit `long double` arithmetic for HINCRBYFLOAT and INCRBYFLOAT: Redis
//! parses both operands with `strtold`, adds them in extended precision (64-bit mantissa) and
//! prints the sum with `%.17Lf` before trimming trailing zeros. Doing the same in `f64` gives
//! different text as soon as the integer part has a few digits (Redis answers
//! `1001.59999999999999998` to `1001.5 + 0.1`), so this module reproduces it exactly: decimal
//! to extended conversion and formatting are done with exact big-integer arithmetic and
//! round-half-even, as glibc does.
//!
//! Place in the flow: HINCRBYFLOAT (`command/hashes.rs`) and INCRBYFLOAT (`command/strings.rs`)
//! call [`add_decimal`]; inputs outside decimal and hexadecimal notation (`inf`, `nan`) and
//! the modelled range make it return `None` so the caller falls back to `f64`.

/// Little-endian base-2^32 natural number.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut d = Vec::new();
        while v > 0 {
            d.push(v as u32);
            v >>= 32;
        }
        Big(d)
    }
    fn trim(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }
    fn bits(&self) -> u32 {
        match self.0.iter().rposition(|&w| w != 0) {
            None => 0,
            Some(i) => i as u32 * 32 + (32 - self.0[i].leading_zeros()),
        }
    }
    fn bit(&self, i: u32) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|w| w >> (i % 32) & 1 == 1)
    }
    fn mul_small(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for w in self.0.iter_mut() {
            let v = u64::from(*w) * u64::from(m) + carry;
            *w = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }
    fn shl(&self, n: u32) -> Big {
        let (words, bits) = ((n / 32) as usize, n % 32);
        let mut d = vec![0u32; words];
        let mut carry = 0u32;
        for &w in &self.0 {
            if bits == 0 {
                d.push(w);
            } else {
                d.push((w << bits) | carry);
                carry = w >> (32 - bits);
            }
        }
        if carry > 0 {
            d.push(carry);
        }
        Big(d).trim()
    }
    /// Low 128 bits of `self >> n`.
    fn shr_u128(&self, n: u32) -> u128 {
        let mut v = 0u128;
        for i in 0..128 {
            if self.bit(n + i) {
                v |= 1 << i;
            }
        }
        v
    }
    /// Whether any of the low `n` bits is set.
    fn any_below(&self, n: u32) -> bool {
        (0..n.min(self.bits())).any(|i| self.bit(i))
    }
    fn cmp(&self, o: &Big) -> std::cmp::Ordering {
        let (a, b) = (self.clone().trim(), o.clone().trim());
        a.0.len()
            .cmp(&b.0.len())
            .then_with(|| a.0.iter().rev().cmp(b.0.iter().rev()))
    }
    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = i64::from(self.0[i]) - i64::from(*o.0.get(i).unwrap_or(&0)) - borrow;
            borrow = i64::from(v < 0);
            self.0[i] = (v + (borrow << 32)) as u32;
        }
    }
    fn pow10(e: u32) -> Big {
        let mut b = Big(vec![1]);
        for _ in 0..e {
            b.mul_small(10, 0);
        }
        b
    }
    /// `(self / d, self % d != 0)` by binary long division.
    fn div_rem_nonzero(&self, d: &Big) -> (Big, bool) {
        let mut q = Big(vec![0; self.0.len()]);
        let mut r = Big(Vec::new());
        for i in (0..self.bits()).rev() {
            r = r.shl(1);
            if self.bit(i) {
                if r.0.is_empty() {
                    r.0.push(1);
                } else {
                    r.0[0] |= 1;
                }
            }
            if r.cmp(d) != std::cmp::Ordering::Less {
                r.sub_assign(d);
                r = r.trim();
                q.0[(i / 32) as usize] |= 1 << (i % 32);
            }
        }
        let rem = !r.is_zero();
        (q.trim(), rem)
    }
    fn to_decimal(&self) -> String {
        let mut n = self.clone().trim();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            let mut rem = 0u64;
            for w in n.0.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*w);
                *w = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            n = n.trim();
        }
        let mut s = chunks.pop().map_or("0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// A finite extended-precision value: `(-1)^neg * mant * 2^exp`, `mant` < 2^64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ext {
    neg: bool,
    mant: u64,
    exp: i32,
}

/// Largest binary exponent of a finite x87 long double (value below 2^16384).
const MAX_EXP: i32 = 16384;

/// Rounds `v * 2^exp` (with `sticky` = nonzero bits already dropped) to a 64-bit mantissa,
/// half to even.
fn round_to_64(v: u128, exp: i32, sticky: bool) -> (u64, i32) {
    let bits = 128 - v.leading_zeros();
    if bits <= 64 {
        // Exact; normalise so the top mantissa bit is set (guard bits stay meaningful).
        let m = v as u64;
        if m == 0 {
            return (0, 0);
        }
        let lz = m.leading_zeros();
        return (m << lz, exp - lz as i32);
    }
    let drop = bits - 64;
    let kept = v >> drop;
    let half = 1u128 << (drop - 1);
    let low = v & ((1u128 << drop) - 1);
    let round_up = low > half || (low == half && (sticky || kept & 1 == 1));
    let mut m = kept + u128::from(round_up);
    let mut e = exp + drop as i32;
    if m >> 64 != 0 {
        m >>= 1;
        e += 1;
    }
    (m as u64, e)
}

/// Parses plain decimal notation (`[+-]digits[.digits][e[+-]digits]`) the way `strtold`
/// rounds it; `None` for other forms or magnitudes outside the supported range.
pub fn parse(s: &[u8]) -> Option<Ext> {
    let t = std::str::from_utf8(s).ok()?;
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if body.starts_with("0x") || body.starts_with("0X") {
        return parse_hex(neg, &body[2..]);
    }
    let (num, exp10) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = format!("{int}{frac}").trim_start_matches('0').to_string();
    // Redis refuses long-double text over 5 KiB; beyond that (or the extended exponent
    // range below) the caller falls back to `f64`.
    if digits.len() > 5120 {
        return None;
    }
    let e10 = exp10.checked_sub(frac.len() as i32)?;
    if digits.is_empty() {
        return Some(Ext {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    // x87 extended covers about 1e-4951 ..= 1.19e4932.
    if !(-4950..=4933).contains(&(e10 + digits.len() as i32)) {
        return None;
    }
    let mut d = Big(Vec::new());
    for c in digits.bytes() {
        d.mul_small(10, u32::from(c - b'0'));
    }
    let (mant, exp) = if e10 >= 0 {
        let n = {
            let mut n = d;
            for _ in 0..e10 {
                n.mul_small(10, 0);
            }
            n
        };
        let bits = n.bits();
        let shift = bits.saturating_sub(120);
        let top = n.shr_u128(shift);
        round_to_64(top, shift as i32, n.any_below(shift))
    } else {
        let den = Big::pow10(e10.unsigned_abs());
        let k = (120 + den.bits()).saturating_sub(d.bits());
        let (q, rem) = d.shl(k).div_rem_nonzero(&den);
        let qb = q.bits();
        let shift = qb.saturating_sub(120);
        let top = q.shr_u128(shift);
        round_to_64(top, shift as i32 - k as i32, rem || q.any_below(shift))
    };
    if exp + 64 > MAX_EXP {
        // Beyond LDBL_MAX: strtold would say infinity.
        return None;
    }
    Some(Ext { neg, mant, exp })
}

/// Parses C99 hexadecimal notation after its `0x` (`hex[.hex][p[+-]digits]`, a binary
/// exponent), which `strtold` accepts too; exact before the one rounding to 64 bits, so
/// `-9223372036854775808 + 0x10` keeps every bit as Redis does (found by the oracle, seed
/// 2737). `None` outside the supported range (the caller falls back to `f64`).
fn parse_hex(neg: bool, body: &str) -> Option<Ext> {
    let (num, exp2) = match body.find(['p', 'P']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int
        .bytes()
        .chain(frac.bytes())
        .all(|c| c.is_ascii_hexdigit())
    {
        return None;
    }
    let joined = format!("{int}{frac}");
    let digits = joined.trim_start_matches('0');
    if digits.len() > 1280 {
        return None;
    }
    let e2 = exp2.checked_sub(4 * frac.len() as i32)?;
    if digits.is_empty() {
        return Some(Ext {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let mut n = Big(Vec::new());
    for c in digits.chars() {
        n.mul_small(16, c.to_digit(16)?);
    }
    let shift = n.bits().saturating_sub(120);
    let top = n.shr_u128(shift);
    let (mant, exp) = round_to_64(top, (shift as i32).checked_add(e2)?, n.any_below(shift));
    // Above LDBL_MAX strtold says infinity; far below 1 the subnormal range is not modelled.
    if exp + 64 > MAX_EXP || exp < -16000 {
        return None;
    }
    Some(Ext { neg, mant, exp })
}

/// Exact sum rounded to extended precision; `None` when it overflows to infinity.
pub fn add(a: Ext, b: Ext) -> Option<Ext> {
    if a.mant == 0 {
        return Some(b);
    }
    if b.mant == 0 {
        return Some(a);
    }
    // Work with 60 guard bits below the smaller exponent where possible.
    let (hi, lo) = if a.exp >= b.exp { (a, b) } else { (b, a) };
    let diff = (hi.exp - lo.exp) as u32;
    let base = hi.exp - 60;
    let hv = u128::from(hi.mant) << 60;
    let (lv, sticky) = if diff >= 124 {
        (0u128, true)
    } else if diff <= 60 {
        (u128::from(lo.mant) << (60 - diff), false)
    } else {
        let sh = diff - 60;
        (
            u128::from(lo.mant) >> sh,
            lo.mant & ((1u64 << sh.min(63)) - 1) != 0,
        )
    };
    let (neg, v, sticky_sub) = if hi.neg == lo.neg {
        (hi.neg, hv + lv, false)
    } else if hv >= lv {
        // A dropped part of the subtrahend makes the exact difference slightly smaller.
        let v = hv - lv - u128::from(sticky);
        (hi.neg, v, sticky)
    } else {
        (lo.neg, lv - hv, false)
    };
    if v == 0 {
        return Some(Ext {
            neg: false,
            mant: 0,
            exp: 0,
        });
    }
    let (mant, exp) = round_to_64(v, base, sticky || sticky_sub);
    if exp + 64 > MAX_EXP {
        return None;
    }
    Some(Ext { neg, mant, exp })
}

/// `%.17Lf` of the value, then trailing zeros (and a bare point) removed, as Redis' human
/// long-double formatting.
pub fn format_human(x: Ext) -> String {
    let m = Big::from_u128(u128::from(x.mant));
    let digits = if x.exp >= 0 {
        let mut s = m.shl(x.exp as u32).to_decimal();
        s.push_str(&"0".repeat(17));
        s
    } else {
        // round(m * 10^17 / 2^-exp), half to even.
        let mut n = m;
        for _ in 0..17 {
            n.mul_small(10, 0);
        }
        let sh = x.exp.unsigned_abs();
        let q_bits = n.bits().saturating_sub(sh);
        let mut q = Big(Vec::new());
        for i in (0..q_bits).rev() {
            q = q.shl(1);
            if n.bit(i + sh) {
                if q.0.is_empty() {
                    q.0.push(1);
                } else {
                    q.0[0] |= 1;
                }
            }
        }
        let half = sh > 0 && n.bit(sh - 1);
        let rest = sh > 1 && n.any_below(sh - 1);
        let odd = q.bit(0);
        if half && (rest || odd) {
            q.mul_small(1, 1);
        }
        q.to_decimal()
    };
    let digits = format!("{digits:0>18}");
    let (ip, fp) = digits.split_at(digits.len() - 17);
    let fp = fp.trim_end_matches('0');
    let body = if fp.is_empty() {
        ip.to_string()
    } else {
        format!("{ip}.{fp}")
    };
    if x.neg && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

/// HINCRBYFLOAT's arithmetic on decimal text: `Some(Ok(text))`, `Some(Err(()))` when the sum
/// overflows, `None` when an operand is not plain decimal (caller falls back to `f64`).
pub fn add_decimal(a: &[u8], b: &[u8]) -> Option<Result<String, ()>> {
    let (x, y) = (parse(a)?, parse(b)?);
    Some(add(x, y).map(format_human).ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        add_decimal(a.as_bytes(), b.as_bytes())
            .and_then(|r| r.ok())
            .unwrap_or_default()
    }

    #[test]
    fn matches_redis_long_double_text() {
        // Values observed from redis-server 7.0 (x86-64).
        assert_eq!(sum("1001.5", "0.1"), "1001.59999999999999998");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0", "1.5"), "1.5");
        assert_eq!(sum("1", "-1"), "0");
        assert_eq!(sum("-3", "1"), "-2");
        assert_eq!(sum("5.0e3", "0"), "5000");
        assert_eq!(sum("3", "1e3"), "1003");
    }

    #[test]
    fn hex_operands_add_in_extended_precision() {
        // Values observed from redis-server 7.0.15 (x86-64), INCRBYFLOAT.
        assert_eq!(sum("-9223372036854775808", "0x10"), "-9223372036854775792");
        assert_eq!(sum("0", "0x1.8p1"), "3");
        assert_eq!(sum("1", "0x.1"), "1.0625");
        assert_eq!(sum("0", "-0X1P-2"), "-0.25");
        assert_eq!(sum("0.1", "0x1p-70"), "0.1");
        assert_eq!(
            sum("1e20", "0x1.fffffffffffffffffp3"),
            "100000000000000000016"
        );
    }

    #[test]
    fn parse_rejects_other_forms() {
        assert!(parse(b"inf").is_none());
        assert!(parse(b"0x").is_none());
        assert!(parse(b"0x1g").is_none());
        assert!(parse(b"1e99999").is_none());
        assert!(parse(b".").is_none());
    }
}
