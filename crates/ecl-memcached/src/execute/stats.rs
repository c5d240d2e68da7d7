//! The `stats` families of the text and binary protocols, computed from a node's store,
//! counters and settings (general, settings, items/slabs/sizes, cachedump, conns).
//!
//! Place in the flow: `execute::text` and `execute::binary` call these when a `stats`
//! request runs; the returned [`StatLines`] are rendered by each protocol's own encoder.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::node::NodeShared;
use crate::stats::{Counter, StatLines, rusage};

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
    buffer_stats(node, &mut s);
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
    // memcached lists idle kicks only while an idle timeout is set.
    if node.idle_timeout.load(Ordering::Relaxed) > 0 {
        s.push("idle_kicks", c.get(Counter::IdleKicks));
    }
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
    // A node has no slab mover, LRU threads or log watchers: their counters stay at zero,
    // listed where memcached (with its default modern settings) lists them.
    for name in [
        "slab_reassign_rescues",
        "slab_reassign_chunk_rescues",
        "slab_reassign_evictions_nomem",
        "slab_reassign_inline_reclaim",
        "slab_reassign_busy_items",
        "slab_reassign_busy_deletes",
        "slab_reassign_running",
        "slabs_moved",
        "lru_crawler_running",
        "lru_crawler_starts",
        "lru_maintainer_juggles",
        "malloc_fails",
        "log_worker_dropped",
        "log_worker_written",
        "log_watcher_skipped",
        "log_watcher_sent",
        "log_watchers",
        "unexpected_napi_ids",
        "round_robin_fallback",
    ] {
        s.push(name, 0);
    }
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
    for name in [
        "moves_to_cold",
        "moves_to_warm",
        "moves_within_lru",
        "direct_reclaims",
        "lru_bumps_dropped",
    ] {
        s.push(name, 0);
    }
    s
}

/// memcached's response-object and read-buffer gauges, from what a node's connections hold:
/// each open connection keeps one read buffer and one reply buffer.
fn buffer_stats(node: &NodeShared, s: &mut StatLines) {
    let conns = node.curr_connections.load(Ordering::Relaxed);
    s.push("response_obj_oom", 0);
    s.push("response_obj_count", conns);
    s.push(
        "response_obj_bytes",
        conns * crate::node::REPLY_BUFFER as u64,
    );
    s.push("read_buf_count", conns);
    s.push("read_buf_bytes", conns * crate::node::READ_BUFFER as u64);
    s.push("read_buf_bytes_free", 0);
    s.push("read_buf_oom", 0);
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
    s.push(
        "detail_enabled",
        if node.prefix_stats.enabled() {
            "yes"
        } else {
            "no"
        },
    );
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
    s.push("slab_automove", node.slab_automove.load(Ordering::Relaxed));
    let ratio = f64::from_bits(node.slab_automove_ratio.load(Ordering::Relaxed));
    s.push("slab_automove_ratio", format!("{ratio:.2}"));
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
