//! HTML escaping for the status pages: every string a user chose (resource ids, key names,
//! values) goes through [`escape`] before it reaches markup.

use std::fmt::Write;

/// `s` safe as HTML text and as a double- or single-quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (other than tab and newline) would be invalid in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` as one URL path segment or query value (everything but unreserved characters
/// percent-encoded, so `/`, `?`, `&`, `#` and quotes cannot end it).
pub fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_cannot_open_markup() {
        let cases = [
            "<script>alert(1)</script>",
            "\"><img src=x onerror=alert(1)>",
            "' onmouseover='alert(1)",
            "&lt;already&gt;",
            "</td></tr></table><iframe>",
            "a\u{0}b\u{1b}[31m",
        ];
        for s in cases {
            let e = escape(s);
            for bad in ['<', '>', '"', '\'', '\u{0}', '\u{1b}'] {
                assert!(!e.contains(bad), "{s:?} escaped to {e:?}");
            }
        }
        assert_eq!(
            escape("<b a=\"1\">'&"),
            "&lt;b a=&quot;1&quot;&gt;&#39;&amp;"
        );
        assert_eq!(escape("&lt;"), "&amp;lt;");
        assert_eq!(escape("plain key:1 é"), "plain key:1 é");
        assert_eq!(escape("a\u{0}b"), "a\\u{0}b");
    }

    #[test]
    fn url_components_keep_one_segment() {
        assert_eq!(
            url_component("000/us-east-1/c1/0001"),
            "000%2Fus-east-1%2Fc1%2F0001"
        );
        assert_eq!(
            url_component("a b&c=d?#\"'<"),
            "a%20b%26c%3Dd%3F%23%22%27%3C"
        );
        assert_eq!(url_component("serverless:x"), "serverless%3Ax");
        assert_eq!(url_component("é"), "%C3%A9");
    }
}
