//! String values: number parsing/formatting with Redis' exact rules, and byte-range helpers.
//!
//! Place in the flow: used by `command/strings.rs` (INCR family, SETRANGE, GETRANGE, LCS) and by
//! argument parsing everywhere (`parse_i64` is Redis' strict string-to-integer rule).

/// Strict integer parse as Redis does it: optional `-`, no `+`, no spaces, no leading zeros
/// (except `0` itself), must fit in i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, d) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if d.is_empty() || d[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Float parse as Redis does for scores and INCRBYFLOAT: no surrounding spaces, accepts
/// `inf`/`-inf`/`+inf`, rejects NaN and empty strings.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let t = std::str::from_utf8(s).ok()?;
    let v: f64 = match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust accepts forms Redis does not ("nan", "infinity" handled above); strtod
            // also takes hex floats, which Rust does not.
            if let Some(v) = parse_hex_f64(t) {
                v
            } else {
                if t.contains(['n', 'N']) && !t.contains(['e', 'E']) {
                    return None;
                }
                t.parse().ok()?
            }
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

/// strtod's hexadecimal form: `[+-]0x<hex>[.<hex>][p[+-]<dec>]`; `None` when `t` is not one.
fn parse_hex_f64(t: &str) -> Option<f64> {
    let (neg, rest) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let rest = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    let (mant, exp) = match rest.find(['p', 'P']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// Decimal bytes of an integer.
pub fn i64_bytes(v: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    crate::resp::reply::push_int(&mut out, v);
    out
}

/// Stores an integer's decimal form as a freshly built string (INCR family): the digits are
/// formatted on the stack, so a counter kept inline never touches the heap.
pub fn set_i64(s: &mut crate::db::Str, v: i64) {
    let mut tmp = [0u8; 20];
    s.assign(crate::resp::reply::format_i64(v, &mut tmp));
}

/// INCRBYFLOAT's formatting: plain decimal notation (no exponent), shortest digits that
/// round-trip, trailing zeros removed.
pub fn format_float_human(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    let s = format!("{v}");
    if s.contains('e') {
        // Very large/small magnitudes: expand with fixed precision like `%.17Lf`, then trim.
        let s = format!("{v:.17}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return s.to_string();
    }
    s
}

/// Resolves a Redis `start`/`end` pair (negative from the end, inclusive) against `len`;
/// `None` when the range is empty.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if e < 0 {
        e = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return None;
    }
    Some((s as usize, e as usize))
}

/// Resolves a list or sorted-set rank pair (LRANGE, LTRIM, ZRANGE, ZREMRANGEBYRANK): unlike
/// [`clamp_range`] (GETRANGE, BITCOUNT), an end still negative after counting from the end
/// makes the range empty rather than pinning it to the first element.
pub fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let e = if end < 0 {
        (len as i64).saturating_add(end)
    } else {
        end
    };
    if e < 0 {
        return None;
    }
    clamp_range(start, e, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_range_end_before_the_first_element_is_empty() {
        assert_eq!(rank_range(0, -5, 4), None);
        assert_eq!(rank_range(0, -4, 4), Some((0, 0)));
        assert_eq!(clamp_range(0, -5, 4), Some((0, 0)));
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"+1", b" 1", b"1 ", b"01", b"-0", b"1a", b"-"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn integers_stored_in_place() {
        let mut s = crate::db::Str::raw(b"x".to_vec());
        for v in [0, 7, -12, i64::MAX, i64::MIN] {
            set_i64(&mut s, v);
            assert_eq!(&*s, v.to_string().as_bytes());
            assert_eq!(s.kind(), crate::db::StrKind::Fresh);
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
    }

    #[test]
    fn human_floats() {
        assert_eq!(format_float_human(10.6), "10.6");
        assert_eq!(format_float_human(3.0), "3");
        assert_eq!(format_float_human(-0.5), "-0.5");
        assert_eq!(format_float_human(5.0e3), "5000");
    }

    #[test]
    fn ranges() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(0, 100, 0), None);
        assert_eq!(clamp_range(-100, 1, 5), Some((0, 1)));
    }
}
