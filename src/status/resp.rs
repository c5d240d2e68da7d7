//! A small RESP reader for the replies of the key browser's inspection commands (the engine
//! answers them as RESP bytes, exactly as a client would read them).

/// One decoded reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    /// `+OK`-style status.
    Simple(String),
    /// `-ERR ...`.
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$n` bulk string; `None` for the null bulk.
    Bulk(Option<Vec<u8>>),
    /// `*n` array (RESP3 maps, sets and pushes are read as flat arrays); `None` for null.
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The elements of an array reply (empty otherwise).
    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(Some(v)) => v,
            _ => &[],
        }
    }

    /// A scalar reply as text (lossy UTF-8 for binary bulk strings).
    pub fn text(&self) -> String {
        match self {
            Resp::Simple(s) | Resp::Error(s) => s.clone(),
            Resp::Int(n) => n.to_string(),
            Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Resp::Bulk(None) | Resp::Array(None) => String::new(),
            Resp::Array(Some(v)) => v.iter().map(Resp::text).collect::<Vec<_>>().join(" "),
        }
    }

    /// An integer reply (or a bulk string holding one).
    pub fn int(&self) -> Option<i64> {
        match self {
            Resp::Int(n) => Some(*n),
            Resp::Bulk(Some(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Decodes one complete reply; `None` when the bytes are not one.
pub fn parse(buf: &[u8]) -> Option<Resp> {
    let (v, used) = value(buf, 0, 0)?;
    (used == buf.len()).then_some(v)
}

/// Deepest nesting accepted (the browser's replies are two levels deep).
const MAX_DEPTH: usize = 8;

fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

fn value(buf: &[u8], at: usize, depth: usize) -> Option<(Resp, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = *buf.get(at)?;
    let (head, next) = line(buf, at + 1)?;
    let head = std::str::from_utf8(head).ok()?;
    match kind {
        b'+' | b',' => Some((Resp::Simple(head.to_string()), next)),
        b'-' => Some((Resp::Error(head.to_string()), next)),
        b':' => Some((Resp::Int(head.parse().ok()?), next)),
        b'_' => Some((Resp::Bulk(None), next)),
        b'#' => Some((Resp::Int(i64::from(head == "t")), next)),
        b'$' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some((Resp::Bulk(None), next));
            }
            let end = next.checked_add(usize::try_from(n).ok()?)?;
            let data = buf.get(next..end)?.to_vec();
            (buf.get(end..end + 2)? == b"\r\n").then_some((Resp::Bulk(Some(data)), end + 2))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some((Resp::Array(None), next));
            }
            let count = usize::try_from(n).ok()? * if kind == b'%' { 2 } else { 1 };
            let mut items = Vec::with_capacity(count.min(1024));
            let mut pos = next;
            for _ in 0..count {
                let (v, p) = value(buf, pos, depth + 1)?;
                items.push(v);
                pos = p;
            }
            Some((Resp::Array(Some(items)), pos))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_replies_and_refuses_partial_ones() {
        let scan = b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$-1\r\n";
        let v = parse(scan).expect("a reply");
        assert_eq!(v.items()[0].text(), "0");
        assert_eq!(v.items()[1].items()[0], Resp::Bulk(Some(b"a".to_vec())));
        assert_eq!(v.items()[1].items()[1], Resp::Bulk(None));
        assert_eq!(parse(b":-2\r\n").and_then(|v| v.int()), Some(-2));
        assert_eq!(parse(b"-ERR no\r\n"), Some(Resp::Error("ERR no".into())));
        assert_eq!(parse(b"$5\r\nab\r\n"), None);
        assert_eq!(parse(b"*3\r\n:1\r\n"), None);
        assert_eq!(parse(b"$3\r\na\r\nb\r\n"), None);
        assert_eq!(
            parse(b"$3\r\na\r\n\r\n"),
            Some(Resp::Bulk(Some(b"a\r\n".to_vec())))
        );
    }
}
