//! Wire protocols of a node: text and meta (`text`, `meta`), binary (`binary`), and what they
//! share: number parsing as memcached parses, the `stats` families, and the batch step result.
//!
//! Place in the flow: `server` reads bytes into a connection buffer and calls
//! `text::process` or `binary::process`, which consume complete requests, act on the store
//! and append replies to the output buffer; `server` then writes the output in one go.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::server::NodeShared;
use crate::stats::{Counter, StatLines, rusage};

pub(crate) mod binary;
pub(crate) mod meta;
pub(crate) mod text;

/// Longest key memcached accepts.
pub(crate) const KEY_MAX: usize = 250;

/// Output size after which a protocol stops taking new requests from the buffer until the
/// connection has written what it has (bounds memory for deep pipelines).
pub(crate) const OUTPUT_SOFT_LIMIT: usize = 1 << 20;

/// What the connection should do after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    More,
    /// Flush the output, then close (quit, protocol violation).
    Close,
}

/// The start of every turn of a protocol's parse loop: first drop the rest of a data block
/// being swallowed (an oversized or refused value), then stop taking requests while the output
/// is over [`OUTPUT_SOFT_LIMIT`]. `true` means "wait for more input or for the writer".
pub(crate) fn must_wait(
    st: &mut crate::server::ConnState,
    buf: &mut bytes::BytesMut,
    out: &[u8],
) -> bool {
    use bytes::Buf as _;
    if st.swallow > 0 {
        let n = st.swallow.min(buf.len());
        buf.advance(n);
        st.swallow -= n;
        if st.swallow > 0 {
            return true;
        }
    }
    if out.len() >= OUTPUT_SOFT_LIMIT {
        st.output_full = true;
        return true;
    }
    false
}

/// Parses an unsigned decimal as memcached's `strtoull`-based check does: optional `+`, no
/// `-`, no overflow, nothing after the digits.
pub(crate) fn parse_u64(tok: &[u8]) -> Option<u64> {
    let digits = tok.strip_prefix(b"+").unwrap_or(tok);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(v)
}

/// Parses a signed decimal (`strtol`): optional sign, no overflow, nothing after the digits.
pub(crate) fn parse_i64(tok: &[u8]) -> Option<i64> {
    let (neg, digits) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub((d - b'0') as i64)?
        } else {
            v.checked_add((d - b'0') as i64)?
        };
    }
    Some(v)
}

/// Client flags: memcached reads an unsigned long and keeps the low 32 bits.
pub(crate) fn parse_flags(tok: &[u8]) -> Option<u32> {
    parse_u64(tok).map(|v| v as u32)
}

/// The value of an item as an incr/decr operand: decimal digits, optionally followed by the
/// space padding an earlier in-place decrement left (memcached accepts trailing spaces).
pub(crate) fn parse_counter(value: &[u8]) -> Option<u64> {
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map(|i| i + 1)
        .unwrap_or(0);
    let start = value.iter().position(|&b| b != b' ').unwrap_or(end);
    if start >= end || end - start > 20 {
        return None;
    }
    parse_u64(&value[start..end])
}

/// Applies incr/decr as memcached does: incr wraps at 2^64, decr stops at 0.
pub(crate) fn apply_delta(current: u64, delta: u64, incr: bool) -> u64 {
    if incr {
        current.wrapping_add(delta)
    } else {
        current.saturating_sub(delta)
    }
}

/// New stored bytes after incr/decr: when the new number is shorter than the old value,
/// memcached rewrites it in place, left-aligned and padded with spaces to the old length.
pub(crate) fn counter_bytes(new: u64, old_len: usize) -> Vec<u8> {
    let mut s = new.to_string().into_bytes();
    if s.len() < old_len {
        s.resize(old_len, b' ');
    }
    s
}

/// General-purpose `stats` (no argument).
pub(crate) fn general_stats(node: &NodeShared) -> StatLines {
    let store = &node.store;
    let c = &store.counters;
    let now = store.clock.now();
    let (user, system) = rusage();
    let mut s = StatLines::default();
    s.push("pid", std::process::id());
    s.push("uptime", now.saturating_sub(store.clock.started()));
    s.push("time", now);
    s.push("version", node.version());
    s.push("libevent", "2.1.12-stable");
    s.push("pointer_size", usize::BITS);
    s.push("rusage_user", user);
    s.push("rusage_system", system);
    s.push(
        "max_connections",
        node.max_connections.load(Ordering::Relaxed),
    );
    s.push(
        "curr_connections",
        node.curr_connections.load(Ordering::Relaxed),
    );
    s.push("total_connections", c.get(Counter::TotalConnections));
    s.push("rejected_connections", c.get(Counter::RejectedConnections));
    s.push(
        "connection_structures",
        node.curr_connections.load(Ordering::Relaxed) + 1,
    );
    s.push("reserved_fds", 20);
    for (name, counter) in [
        ("cmd_get", Counter::CmdGet),
        ("cmd_set", Counter::CmdSet),
        ("cmd_flush", Counter::CmdFlush),
        ("cmd_touch", Counter::CmdTouch),
        ("cmd_meta", Counter::CmdMeta),
        ("get_hits", Counter::GetHits),
        ("get_misses", Counter::GetMisses),
        ("get_expired", Counter::GetExpired),
        ("get_flushed", Counter::GetFlushed),
        ("delete_misses", Counter::DeleteMisses),
        ("delete_hits", Counter::DeleteHits),
        ("incr_misses", Counter::IncrMisses),
        ("incr_hits", Counter::IncrHits),
        ("decr_misses", Counter::DecrMisses),
        ("decr_hits", Counter::DecrHits),
        ("cas_misses", Counter::CasMisses),
        ("cas_hits", Counter::CasHits),
        ("cas_badval", Counter::CasBadval),
        ("touch_hits", Counter::TouchHits),
        ("touch_misses", Counter::TouchMisses),
        ("store_too_large", Counter::StoreTooLarge),
        ("store_no_memory", Counter::StoreNoMemory),
    ] {
        s.push(name, c.get(counter));
    }
    s.push("auth_cmds", 0);
    s.push("auth_errors", 0);
    s.push("idle_kicks", c.get(Counter::IdleKicks));
    s.push("bytes_read", c.get(Counter::BytesRead));
    s.push("bytes_written", c.get(Counter::BytesWritten));
    s.push(
        "limit_maxbytes",
        store.settings.memory_limit.load(Ordering::Relaxed),
    );
    s.push("accepting_conns", if node.is_running() { 1 } else { 0 });
    s.push("listen_disabled_num", 0);
    s.push("time_in_listen_disabled_us", 0);
    s.push("threads", node.threads.load(Ordering::Relaxed));
    s.push("conn_yields", 0);
    s.push("hash_power_level", 16);
    s.push("hash_bytes", 524288);
    s.push("hash_is_expanding", 0);
    s.push("slab_reassign_running", 0);
    s.push("slabs_moved", 0);
    s.push("lru_crawler_running", 0);
    s.push("malloc_fails", 0);
    s.push("bytes", store.bytes());
    s.push("curr_items", store.items());
    s.push("total_items", c.get(Counter::TotalItems));
    s.push("slab_global_page_pool", 0);
    s.push("expired_unfetched", c.get(Counter::ExpiredUnfetched));
    s.push("evicted_unfetched", c.get(Counter::EvictedUnfetched));
    s.push("evicted_active", 0);
    s.push("evictions", c.get(Counter::Evictions));
    s.push("reclaimed", c.get(Counter::Reclaimed));
    s.push("crawler_reclaimed", c.get(Counter::CrawlerReclaimed));
    s.push("crawler_items_checked", c.get(Counter::CrawlerItemsChecked));
    s.push("lrutail_reflocked", 0);
    s.push("direct_reclaims", 0);
    s
}

/// `stats settings`.
pub(crate) fn settings_stats(node: &NodeShared) -> StatLines {
    let st = &node.store.settings;
    let addr = node
        .addr
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .to_owned();
    let mut s = StatLines::default();
    s.push("maxbytes", st.memory_limit.load(Ordering::Relaxed));
    s.push("maxconns", node.max_connections.load(Ordering::Relaxed));
    s.push("tcpport", addr.map(|a| a.port()).unwrap_or(0));
    s.push("udpport", 0);
    s.push(
        "inter",
        addr.map(|a| a.ip().to_string())
            .unwrap_or_else(|| "NULL".into()),
    );
    s.push("verbosity", node.verbosity.load(Ordering::Relaxed));
    s.push("oldest", 0);
    s.push(
        "evictions",
        if st.no_evict.load(Ordering::Relaxed) {
            "off"
        } else {
            "on"
        },
    );
    s.push("domain_socket", "NULL");
    s.push("umask", 700);
    s.push("shutdown_command", "no");
    s.push("growth_factor", "1.25");
    s.push("chunk_size", 48);
    s.push("num_threads", node.threads.load(Ordering::Relaxed));
    s.push("num_threads_per_udp", node.threads.load(Ordering::Relaxed));
    s.push("stat_key_prefix", ":");
    s.push("detail_enabled", "no");
    s.push("reqs_per_event", 20);
    s.push(
        "cas_enabled",
        if st.cas_disabled.load(Ordering::Relaxed) {
            "no"
        } else {
            "yes"
        },
    );
    s.push("tcp_backlog", 1024);
    s.push("binding_protocol", "auto-negotiate");
    s.push("auth_enabled_sasl", "no");
    s.push("auth_enabled_ascii", "no");
    s.push("item_size_max", st.max_item_size.load(Ordering::Relaxed));
    s.push("maxconns_fast", "yes");
    s.push("hashpower_init", 0);
    s.push("slab_reassign", "yes");
    s.push("slab_automove", 1);
    s.push(
        "slab_chunk_max",
        st.max_item_size.load(Ordering::Relaxed) / 2,
    );
    s.push("lru_crawler", "yes");
    s.push("lru_crawler_sleep", 100);
    s.push("lru_crawler_tocrawl", 0);
    s.push("tail_repair_time", 0);
    s.push(
        "flush_enabled",
        if node.disable_flush.load(Ordering::Relaxed) {
            "no"
        } else {
            "yes"
        },
    );
    s.push("dump_enabled", "yes");
    s.push("hash_algorithm", "murmur3");
    s.push("lru_maintainer_thread", "yes");
    s.push("lru_segmented", "yes");
    s.push("temp_lru", "no");
    s.push("idle_timeout", node.idle_timeout.load(Ordering::Relaxed));
    s.push("ssl_enabled", "no");
    s
}

/// Slab classes as memcached lays them out by default (48-byte minimum, factor 1.25, 8-byte
/// alignment), used to present items by class in `stats items` / `stats slabs`.
fn slab_classes(max_item: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut size = 96usize;
    let limit = (max_item / 2).max(1024);
    while size < limit && sizes.len() < 63 {
        sizes.push(size);
        size = ((size as f64 * 1.25) as usize + 7) & !7;
    }
    sizes.push(limit);
    sizes
}

/// Size memcached would account to an item (header, key, CAS, value with CRLF).
fn memcached_item_size(key_len: usize, value_len: usize) -> usize {
    48 + 8 + key_len + 1 + value_len + 2
}

/// `stats items` and `stats slabs` (computed from a walk over the items), `stats sizes`.
pub(crate) fn class_stats(node: &NodeShared, which: &str) -> StatLines {
    let max_item = node.store.settings.max_item_size.load(Ordering::Relaxed);
    let classes = slab_classes(max_item);
    let mut count = vec![0u64; classes.len()];
    let mut requested = vec![0u64; classes.len()];
    node.store.for_each(|k, v, _| {
        let size = memcached_item_size(k.len(), v);
        let class = classes
            .iter()
            .position(|&c| size <= c)
            .unwrap_or(classes.len() - 1);
        count[class] += 1;
        requested[class] += size as u64;
    });
    let mut s = StatLines::default();
    match which {
        "items" => {
            for (i, n) in count.iter().enumerate().filter(|(_, n)| **n > 0) {
                let id = i + 1;
                s.push(format!("items:{id}:number"), n);
                s.push(format!("items:{id}:age"), 0);
                s.push(format!("items:{id}:mem_requested"), requested[i]);
                s.push(format!("items:{id}:evicted"), 0);
                s.push(format!("items:{id}:evicted_nonzero"), 0);
                s.push(format!("items:{id}:evicted_time"), 0);
                s.push(format!("items:{id}:outofmemory"), 0);
                s.push(format!("items:{id}:tailrepairs"), 0);
                s.push(format!("items:{id}:reclaimed"), 0);
                s.push(format!("items:{id}:expired_unfetched"), 0);
                s.push(format!("items:{id}:evicted_unfetched"), 0);
            }
        }
        "slabs" => {
            let mut active = 0;
            let mut malloced = 0u64;
            for (i, n) in count.iter().enumerate().filter(|(_, n)| **n > 0) {
                let id = i + 1;
                let chunk = classes[i];
                let per_page = ((1usize << 20) / chunk).max(1) as u64;
                let pages = n.div_ceil(per_page);
                active += 1;
                malloced += pages << 20;
                s.push(format!("{id}:chunk_size"), chunk);
                s.push(format!("{id}:chunks_per_page"), per_page);
                s.push(format!("{id}:total_pages"), pages);
                s.push(format!("{id}:total_chunks"), pages * per_page);
                s.push(format!("{id}:used_chunks"), n);
                s.push(format!("{id}:free_chunks"), pages * per_page - n);
                s.push(format!("{id}:free_chunks_end"), 0);
                s.push(format!("{id}:mem_requested"), requested[i]);
            }
            s.push("active_slabs", active);
            s.push("total_malloced", malloced);
        }
        _ => {
            // memcached 1.6 tracks sizes only when started with `-o track_sizes`.
            s.push("sizes_status", "disabled");
        }
    }
    s
}

/// `stats cachedump <class> <limit>`: `ITEM <key> [<bytes> b; <expiry> s]` lines of one
/// slab class (limit 0 = all), as memcached lists them.
pub(crate) fn cachedump(node: &NodeShared, class: u64, limit: u64, out: &mut Vec<u8>) {
    let classes = slab_classes(node.store.settings.max_item_size.load(Ordering::Relaxed));
    let mut n = 0u64;
    node.store.for_each(|k, v, exptime| {
        let size = memcached_item_size(k.len(), v);
        let id = classes
            .iter()
            .position(|&c| size <= c)
            .unwrap_or(classes.len() - 1) as u64
            + 1;
        // memcached stops a dump at 2 MB of output.
        if id != class || (limit != 0 && n >= limit) || out.len() > 2 << 20 {
            return;
        }
        n += 1;
        out.extend_from_slice(b"ITEM ");
        out.extend_from_slice(k);
        out.extend_from_slice(format!(" [{v} b; {exptime} s]\r\n").as_bytes());
    });
    out.extend_from_slice(crate::wire::END);
}

/// `stats conns`: the listener, then every open connection with its address, state and
/// idle seconds, as memcached lists them (ids are connection numbers, not descriptors).
pub(crate) fn conns_stats(node: &NodeShared, current: u64) -> StatLines {
    let mut s = StatLines::default();
    let now = node.store.clock.now();
    let addr = node
        .addr
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .to_owned();
    let listen = addr.map(|a| format!("tcp:{a}")).unwrap_or_default();
    if addr.is_some() {
        s.push("0:addr", &listen);
        s.push("0:state", "conn_listening");
        s.push(
            "0:secs_since_last_cmd",
            now.saturating_sub(node.store.clock.started()),
        );
    }
    let conns = node.conns.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (id, info) in conns {
        let id = id + 1;
        let mut peer = String::new();
        let _ = write!(peer, "tcp:{}", info.peer);
        s.push(format!("{id}:addr"), peer);
        s.push(format!("{id}:listen_addr"), &listen);
        let state = if id == current + 1 {
            "conn_parse_cmd"
        } else {
            "conn_waiting"
        };
        s.push(format!("{id}:state"), state);
        let last = info.last_cmd.load(Ordering::Relaxed);
        s.push(
            format!("{id}:secs_since_last_cmd"),
            now.saturating_sub(last),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_memcached() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"+1"), Some(1));
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_flags(b"4294967296"), Some(0));
        assert_eq!(parse_counter(b"1   "), Some(1));
        assert_eq!(parse_counter(b"abc"), None);
    }

    #[test]
    fn counters_wrap_and_pad() {
        assert_eq!(apply_delta(u64::MAX, 2, true), 1);
        assert_eq!(apply_delta(5, 10, false), 0);
        assert_eq!(counter_bytes(1, 20), b"1                   ".to_vec());
        assert_eq!(counter_bytes(100, 2), b"100".to_vec());
    }
}

#[cfg(test)]
mod robustness {
    //! Feeds pseudo-random requests built from protocol fragments through both parsers: no
    //! input may panic, and the buffer must always shrink or wait for more.
    use bytes::BytesMut;

    use crate::MemcachedConfig;
    use crate::server::{ConnState, NodeShared};

    const FRAGMENTS: &[&[u8]] = &[
        b"get",
        b"gets",
        b"gat",
        b"set",
        b"add",
        b"cas",
        b"append",
        b"incr",
        b"decr",
        b"touch",
        b"delete",
        b"flush_all",
        b"stats",
        b"verbosity",
        b"mg",
        b"ms",
        b"md",
        b"ma",
        b"mn",
        b"me",
        b"config",
        b"k",
        b"key",
        b"0",
        b"1",
        b"-1",
        b"5",
        b"99999999999",
        b"18446744073709551616",
        b"noreply",
        b"v",
        b"c",
        b"q",
        b"k",
        b"b",
        b"N30",
        b"T-1",
        b"MA",
        b"MX",
        b"D5",
        b"J",
        b"O12",
        b"E5",
        b"I",
        b"x",
        b"R5",
        b"YTY0",
        b"\r\n",
        b"\n",
        b" ",
        b"  ",
        b"\0",
        b"\xff",
    ];

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_text_and_binary_input_never_panics() {
        let mut config = MemcachedConfig::for_tests();
        config.max_item_size = 4096;
        config.memory_limit = 1 << 20;
        let node = NodeShared::new(&config);
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..20_000u32 {
            let mut input = Vec::new();
            if round.is_multiple_of(3) {
                // Binary: a request header with random fields, then random bytes.
                input.push(0x80);
                for _ in 0..(23 + rng.next() % 40) {
                    input.push((rng.next() % 256) as u8);
                }
                // Keep bodies small so the loop finishes.
                input[8] = 0;
                input[9] = 0;
            } else {
                for _ in 0..(rng.next() % 30) {
                    input.extend_from_slice(
                        FRAGMENTS[(rng.next() % FRAGMENTS.len() as u64) as usize],
                    );
                    if rng.next().is_multiple_of(2) {
                        input.push(b' ');
                    }
                }
                input.extend_from_slice(b"\r\n");
            }
            let mut buf = BytesMut::from(&input[..]);
            let mut out = Vec::new();
            let mut st = ConnState {
                stripe: 0,
                swallow: 0,
                closing: false,
                output_full: false,
            };
            for _ in 0..64 {
                let before = buf.len();
                let step = if input[0] == 0x80 {
                    super::binary::process(&node, &mut st, &mut buf, &mut out)
                } else {
                    super::text::process(&node, &mut st, &mut buf, &mut out)
                };
                if step == super::Step::Close
                    || buf.is_empty()
                    || (buf.len() == before && !st.output_full)
                {
                    break;
                }
                out.clear();
            }
        }
        // The node is intact: it still answers and stayed within its budget.
        let mut st = ConnState {
            stripe: 0,
            swallow: 0,
            closing: false,
            output_full: false,
        };
        let mut buf = BytesMut::from(&b"version\r\n"[..]);
        let mut out = Vec::new();
        super::text::process(&node, &mut st, &mut buf, &mut out);
        assert_eq!(out, b"VERSION 1.6.22\r\n");
        assert!(node.store.bytes() <= 1 << 20);
    }
}
