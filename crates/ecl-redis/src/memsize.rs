//! Memory amounts as Redis configuration writes them (`1048576`, `100mb`, `1gb`, `500k`).
//!
//! Place in the flow: a leaf below `config` (maxmemory, the replication backlog, the replica
//! buffer) and `outbuf` (client-output-buffer-limit classes), which both read such amounts.

/// Parses a memory amount: plain bytes or with k/kb/m/mb/g/gb (case-insensitive).
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| l.strip_suffix(suf).map(|n| (n.to_string(), *m)))
    .unwrap_or((l.clone(), 1));
    let n: u64 = num.parse().ok()?;
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("x"), None);
    }
}
