//! `latency-tracking-info-percentiles`: which percentiles `INFO latencystats` prints.
//!
//! Place in the flow: CONFIG SET validates the value here (the configuration keeps the parsed
//! list) and INFO labels its figures with [`label`]. Redis reads each space-separated word as a
//! C double (decimal, exponent or hexadecimal notation), refuses words that are empty, not a
//! whole number, NaN, or out of a double's range, then requires 0–100; it prints them with six
//! decimals, trailing zeros dropped.

/// Why a value was refused, in Redis's words.
pub const INVALID: &str = "Invalid latency-tracking-info-percentiles parameters";
/// A percentile outside 0–100.
pub const OUT_OF_RANGE: &str =
    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";

/// The percentiles in `value` (space-separated; empty: none), or why they are refused.
pub fn parse(value: &str) -> Result<Vec<f64>, &'static str> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for word in value.split(' ') {
        let p = parse_double(word).ok_or(INVALID)?;
        if !(0.0..=100.0).contains(&p) {
            return Err(OUT_OF_RANGE);
        }
        out.push(p);
    }
    Ok(out)
}

/// A percentile as CONFIG GET and INFO print it: six decimals, trailing zeros and point cut.
pub fn label(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The percentiles as CONFIG GET shows them.
pub fn to_config_string(ps: &[f64]) -> String {
    ps.iter().map(|&p| label(p)).collect::<Vec<_>>().join(" ")
}

/// A whole word read as a C double, as Redis reads these (`string2d`): the number parse
/// Redis uses for scores ([`crate::db::string::parse_f64`]: no surrounding space, no NaN,
/// hexadecimal accepted), and `None` where the value overflows or underflows to zero (`inf`
/// spelled out is a number, refused later as out of range).
fn parse_double(word: &str) -> Option<f64> {
    let v = crate::db::string::parse_f64(word.as_bytes())?;
    let unsigned = word.trim_start_matches(['+', '-']);
    let spelled_infinite =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if v.is_infinite() && !spelled_infinite {
        return None;
    }
    let hex = unsigned.starts_with("0x") || unsigned.starts_with("0X");
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
    let nonzero_digit = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if v == 0.0 && nonzero_digit && !hex {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_redis_accepts_read_and_print_as_redis_prints_them() {
        // CONFIG SET / CONFIG GET pairs from redis-server 7.0.15.
        let ok = [
            ("1e1 0x10 .5", "10 16 0.5"),
            (
                "33.3333333333 0.0000001 99.12345678 50.0",
                "33.333333 0 99.123457 50",
            ),
            ("0x1p4 0x.8 -0 +5 5. 1e-310", "16 0.5 -0 5 5 0"),
            ("50 50", "50 50"),
            ("", ""),
        ];
        for (given, shown) in ok {
            let ps = parse(given).unwrap_or_else(|e| panic!("{given:?}: {e}"));
            assert_eq!(to_config_string(&ps), shown, "{given:?}");
        }
    }

    #[test]
    fn values_redis_refuses_get_its_reason() {
        for bad in [
            "abc",
            "50 nan",
            " 50   99 ",
            "5,0",
            "1e400",
            "1e-400",
            "50 ",
            "0x",
            ".",
            "++5",
        ] {
            assert_eq!(parse(bad), Err(INVALID), "{bad:?}");
        }
        for far in ["101", "-1", "inf", "INF", "-infinity"] {
            assert_eq!(parse(far), Err(OUT_OF_RANGE), "{far:?}");
        }
    }

    /// Bounded fuzzing (run by `cargo test`): random words over the characters numbers are
    /// made of never panic; what is accepted lies in 0–100 and reads back the same from its
    /// printed form.
    #[test]
    fn random_values_never_panic_and_accepted_ones_read_back() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        const CHARS: &[u8] = b"0123456789.eExXpP+- nNaAiIfF,";
        let mut rng = StdRng::seed_from_u64(17);
        for _ in 0..20_000 {
            let len = rng.random_range(0..=12);
            let word: String = (0..len)
                .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
                .collect();
            if let Ok(ps) = parse(&word) {
                assert!(ps.iter().all(|p| (0.0..=100.0).contains(p)), "{word:?}");
                let shown = to_config_string(&ps);
                let again = parse(&shown).map(|p| to_config_string(&p));
                assert_eq!(again.as_deref(), Ok(shown.as_str()), "{word:?}");
            }
        }
    }
}
