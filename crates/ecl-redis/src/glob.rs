//! Redis-style glob matching (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`, `CONFIG GET`, `CLIENT KILL`…).
//!
//! Place in the flow: pure function called by command handlers; no state. Semantics follow the
//! Redis documentation for `KEYS`: `*` any sequence, `?` one byte, `[abc]` / `[a-z]` / `[^x]`
//! classes, `\x` escapes the next byte. An unterminated class ends at the end of the pattern, as
//! Redis does. The matcher is iterative (single backtrack point per `*`), so hostile patterns such
//! as `a*a*a*a*…b` run in O(pattern × subject) rather than exponential time.

/// Matches `subject` against `pattern` (binary-safe, case-sensitive).
pub fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    matcher(pattern, subject, false)
}

/// Case-insensitive variant (ASCII folding), used by `CONFIG GET` and `COMMAND LIST FILTERBY PATTERN`.
pub fn glob_match_nocase(pattern: &[u8], subject: &[u8]) -> bool {
    matcher(pattern, subject, true)
}

/// Outcome of matching one non-star pattern element against one byte.
enum Step {
    /// The element matched; continue after `next` pattern index.
    Match(usize),
    /// The element did not match.
    Fail,
}

fn fold(b: u8, nocase: bool) -> u8 {
    if nocase { b.to_ascii_lowercase() } else { b }
}

/// Matches the pattern element starting at `p` against byte `c`.
fn step(pat: &[u8], mut p: usize, c: u8, nocase: bool) -> Step {
    let c = fold(c, nocase);
    match pat[p] {
        b'?' => Step::Match(p + 1),
        b'\\' if p + 1 < pat.len() => {
            if fold(pat[p + 1], nocase) == c {
                Step::Match(p + 2)
            } else {
                Step::Fail
            }
        }
        b'[' => {
            p += 1;
            let negate = p < pat.len() && pat[p] == b'^';
            if negate {
                p += 1;
            }
            let mut matched = false;
            loop {
                if p >= pat.len() {
                    // Unterminated class: it ends with the pattern.
                    break;
                }
                let b = pat[p];
                if b == b']' {
                    p += 1;
                    break;
                }
                if b == b'\\' && p + 1 < pat.len() {
                    if fold(pat[p + 1], nocase) == c {
                        matched = true;
                    }
                    p += 2;
                } else if p + 2 < pat.len() && pat[p + 1] == b'-' {
                    let (mut lo, mut hi) = (fold(b, nocase), fold(pat[p + 2], nocase));
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    if c >= lo && c <= hi {
                        matched = true;
                    }
                    p += 3;
                } else {
                    if fold(b, nocase) == c {
                        matched = true;
                    }
                    p += 1;
                }
            }
            if matched != negate {
                Step::Match(p)
            } else {
                Step::Fail
            }
        }
        b => {
            if fold(b, nocase) == c {
                Step::Match(p + 1)
            } else {
                Step::Fail
            }
        }
    }
}

/// Redis' matcher recurses once per `*` group followed by more pattern and gives up (no match)
/// past this depth, a guard against abusive patterns; a match needing more such groups fails
/// there, so it fails here too.
const MAX_STAR_NESTING: usize = 1000;

fn matcher(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    // Backtrack point: pattern index after the last `*`, and the subject index it is tried at.
    let mut star: Option<(usize, usize)> = None;
    // `*` groups passed on the way (backtracking returns only to the last one).
    let mut star_groups = 0usize;
    loop {
        if p < pat.len() && pat[p] == b'*' {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            if p == pat.len() {
                return true;
            }
            star_groups += 1;
            if star_groups > MAX_STAR_NESTING {
                return false;
            }
            star = Some((p, i));
            continue;
        }
        if i == s.len() {
            // Subject consumed: only trailing stars may remain.
            return pat[p..].iter().all(|&b| b == b'*');
        }
        if p < pat.len()
            && let Step::Match(np) = step(pat, p, s[i], nocase)
        {
            p = np;
            i += 1;
            continue;
        }
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("**a**", "xxaxx"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:names"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges are swapped");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[\\]]", "]"));
        assert!(m("x[abc", "xa"), "unterminated class ends with the pattern");
    }

    #[test]
    fn escapes() {
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\?", "a?"));
        assert!(m("a\\", "a\\"), "trailing backslash is literal");
    }

    #[test]
    fn nocase() {
        assert!(glob_match_nocase(b"MAXMEMORY*", b"maxmemory-policy"));
        assert!(glob_match_nocase(b"[A-C]x", b"bX"));
        assert!(!glob_match(b"MAXMEMORY*", b"maxmemory-policy"));
    }

    #[test]
    fn pathological_is_fast() {
        let pat = "a*".repeat(40) + "b";
        let subj = "a".repeat(200);
        assert!(!m(&pat, &subj));
    }

    #[test]
    fn star_nesting_beyond_redis_limit_never_matches() {
        // Redis 7.0's KEYS returns nothing here (keyspace.tcl's regression test).
        let subject = vec![b'a'; 50_000];
        assert!(!glob_match("*?".repeat(50_000).as_bytes(), &subject));
        assert!(glob_match("*?".repeat(1_000).as_bytes(), &subject));
        assert!(!glob_match("*?".repeat(1_001).as_bytes(), &subject));
        assert!(glob_match(
            &[b"*?".repeat(1_000), b"*".to_vec()].concat(),
            &subject
        ));
    }

    #[test]
    fn binary_safe() {
        assert!(glob_match(b"\x00*\xff", b"\x00abc\xff"));
    }
}
