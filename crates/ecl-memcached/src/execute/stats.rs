//! The `stats` families of the text and binary protocols, computed from a node's store,
//! counters and settings (general, settings, items/slabs/sizes, cachedump, conns).
//!
//! Place in the flow: `execute::text` and `execute::binary` call these when a `stats`
//! request runs; the returned [`StatLines`] are rendered by each protocol's own encoder.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::node::NodeShared;
use crate::slab_class::{self, ClassCounter};
use crate::stats::{Counter, StatLines, rusage};

/// General-purpose `stats` (no argument), in memcached 1.6's order: the process and its
/// connections, request counters, the background threads' counters, then the items.
pub(crate) fn general_stats(node: &NodeShared) -> StatLines {
    let mut s = StatLines::default();
    process_stats(node, &mut s);
    request_stats(node, &mut s);
    background_stats(node, &mut s);
    item_stats(node, &mut s);
    s
}

/// The process, its connections and buffers.
fn process_stats(node: &NodeShared, s: &mut StatLines) {
    let store = &node.store;
    let c = &store.counters;
    let now = store.clock.now();
    let (user, system) = rusage();
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
    buffer_stats(node, s);
    s.push("reserved_fds", 20);
}

/// Request counters, traffic, and the server settings memcached lists among them.
fn request_stats(node: &NodeShared, s: &mut StatLines) {
    let store = &node.store;
    let c = &store.counters;
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
}

/// The slab mover's, LRU crawler's, LRU maintainer's and log workers' counters.
fn background_stats(node: &NodeShared, s: &mut StatLines) {
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
    ] {
        s.push(name, 0);
    }
    // memcached lists its crawler's gauges only while the crawler is on.
    if node.lru_crawler.load(Ordering::Relaxed) {
        s.push("lru_crawler_running", 0);
        s.push(
            "lru_crawler_starts",
            node.lru_crawler_starts.load(Ordering::Relaxed),
        );
    }
    // memcached lists its LRU maintainer's counters only while the maintainer runs.
    if node.lru_maintainer.load(Ordering::Relaxed) {
        s.push("lru_maintainer_juggles", 0);
    }
    s.push("malloc_fails", 0);
    s.push("log_worker_dropped", 0);
    let log = &node.store.log;
    s.push("log_worker_written", log.written.load(Ordering::Relaxed));
    s.push("log_watcher_skipped", log.skipped.load(Ordering::Relaxed));
    s.push("log_watcher_sent", log.sent.load(Ordering::Relaxed));
    s.push("log_watchers", log.watchers() as u64);
    for name in ["unexpected_napi_ids", "round_robin_fallback"] {
        s.push(name, 0);
    }
}

/// The items: their bytes and counts, expiry, eviction and reclaim counters.
fn item_stats(node: &NodeShared, s: &mut StatLines) {
    let store = &node.store;
    let c = &store.counters;
    let maintainer = node.lru_maintainer.load(Ordering::Relaxed);
    s.push("bytes", store.bytes());
    s.push("curr_items", store.items());
    s.push("total_items", c.get(Counter::TotalItems));
    s.push("slab_global_page_pool", 0);
    s.push("expired_unfetched", c.get(Counter::ExpiredUnfetched));
    s.push("evicted_unfetched", c.get(Counter::EvictedUnfetched));
    if maintainer {
        s.push("evicted_active", 0);
    }
    s.push("evictions", c.get(Counter::Evictions));
    s.push("reclaimed", c.get(Counter::Reclaimed));
    s.push("crawler_reclaimed", c.get(Counter::CrawlerReclaimed));
    s.push("crawler_items_checked", c.get(Counter::CrawlerItemsChecked));
    s.push("lrutail_reflocked", 0);
    if maintainer {
        for name in [
            "moves_to_cold",
            "moves_to_warm",
            "moves_within_lru",
            "direct_reclaims",
            "lru_bumps_dropped",
        ] {
            s.push(name, 0);
        }
    }
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
    s.push("slab_automove_window", 30);
    s.push(
        "slab_chunk_max",
        slab_class::chunk_max(st.max_item_size.load(Ordering::Relaxed)),
    );
    let crawler = node.lru_crawler.load(Ordering::Relaxed);
    s.push("lru_crawler", if crawler { "yes" } else { "no" });
    s.push(
        "lru_crawler_sleep",
        node.lru_crawler_sleep.load(Ordering::Relaxed),
    );
    s.push(
        "lru_crawler_tocrawl",
        node.lru_crawler_tocrawl.load(Ordering::Relaxed),
    );
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
    let maintainer = node.lru_maintainer.load(Ordering::Relaxed);
    s.push(
        "lru_maintainer_thread",
        if maintainer { "yes" } else { "no" },
    );
    s.push("lru_segmented", "yes");
    s.push("temp_lru", "no");
    s.push("idle_timeout", node.idle_timeout.load(Ordering::Relaxed));
    s.push("watcher_logbuf_size", crate::watch::WATCHER_BUFFER);
    s.push("worker_logbuf_size", 64 * 1024);
    s.push("ssl_enabled", "no");
    s
}

/// Items per slab class from a walk over the store: how many, their bytes as memcached
/// accounts them, and the oldest last access.
struct ClassWalk {
    sizes: Vec<usize>,
    count: Vec<u64>,
    requested: Vec<u64>,
    oldest: Vec<u32>,
}

fn walk_classes(node: &NodeShared) -> ClassWalk {
    let max_item = node.store.settings.max_item_size.load(Ordering::Relaxed);
    let sizes = slab_class::chunk_sizes(max_item);
    let n = sizes.len();
    let mut walk = ClassWalk {
        sizes,
        count: vec![0; n],
        requested: vec![0; n],
        oldest: vec![u32::MAX; n],
    };
    node.store.for_each(|k, v, _, atime| {
        let size = slab_class::item_size(k.len(), v);
        let class = slab_class::class_index(max_item, size);
        walk.count[class] += 1;
        walk.requested[class] += size as u64;
        walk.oldest[class] = walk.oldest[class].min(atime);
    });
    walk
}

/// `stats items` and `stats slabs` (computed from a walk over the items), `stats sizes`.
pub(crate) fn class_stats(node: &NodeShared, which: &str) -> StatLines {
    let mut s = StatLines::default();
    match which {
        "items" => items_stats(node, &walk_classes(node), &mut s),
        "slabs" => slabs_stats(&walk_classes(node), &mut s),
        // memcached 1.6 tracks sizes only when started with `-o track_sizes`.
        _ => s.push("sizes_status", "disabled"),
    }
    s
}

/// `stats items`: memcached's lines for every class holding items. A node keeps one LRU, so
/// every item counts as cold (`age` is its oldest item's idle time) and the segmented-LRU
/// movements and per-LRU hits stay at zero; evictions, reclaims and crawler work are counted
/// per class as they happen.
fn items_stats(node: &NodeShared, walk: &ClassWalk, s: &mut StatLines) {
    let now = node.store.clock.now();
    let classes = &node.store.classes;
    for (i, &n) in walk.count.iter().enumerate().filter(|(_, n)| **n > 0) {
        let id = i + 1;
        let mut stat = |name: &str, value: u64| s.push(format!("items:{id}:{name}"), value);
        stat("number", n);
        stat("number_hot", 0);
        stat("number_warm", 0);
        stat("number_cold", n);
        stat("age_hot", 0);
        stat("age_warm", 0);
        stat("age", u64::from(now.saturating_sub(walk.oldest[i])));
        stat("mem_requested", walk.requested[i]);
        for (name, counter) in [
            ("evicted", ClassCounter::Evicted),
            ("evicted_nonzero", ClassCounter::EvictedNonzero),
        ] {
            stat(name, classes.get(i, counter));
        }
        stat("evicted_time", classes.evicted_time(i));
        stat("outofmemory", classes.get(i, ClassCounter::OutOfMemory));
        stat("tailrepairs", 0);
        for (name, counter) in [
            ("reclaimed", ClassCounter::Reclaimed),
            ("expired_unfetched", ClassCounter::ExpiredUnfetched),
            ("evicted_unfetched", ClassCounter::EvictedUnfetched),
        ] {
            stat(name, classes.get(i, counter));
        }
        stat("evicted_active", 0);
        stat(
            "crawler_reclaimed",
            classes.get(i, ClassCounter::CrawlerReclaimed),
        );
        stat(
            "crawler_items_checked",
            classes.get(i, ClassCounter::CrawlerItemsChecked),
        );
        for name in [
            "lrutail_reflocked",
            "moves_to_cold",
            "moves_to_warm",
            "moves_within_lru",
            "direct_reclaims",
            "hits_to_hot",
            "hits_to_warm",
            "hits_to_cold",
            "hits_to_temp",
        ] {
            stat(name, 0);
        }
    }
}

/// `stats slabs`: the pages memcached would need for each class's items (1 MiB each).
fn slabs_stats(walk: &ClassWalk, s: &mut StatLines) {
    let mut active = 0;
    let mut malloced = 0u64;
    for (i, n) in walk.count.iter().enumerate().filter(|(_, n)| **n > 0) {
        let id = i + 1;
        let chunk = walk.sizes[i];
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
        s.push(format!("{id}:mem_requested"), walk.requested[i]);
    }
    s.push("active_slabs", active);
    s.push("total_malloced", malloced);
}

/// `stats cachedump <class> <limit>`: `ITEM <key> [<bytes> b; <expiry> s]` lines of one
/// slab class (limit 0 = all), as memcached lists them.
pub(crate) fn cachedump(node: &NodeShared, class: u64, limit: u64, out: &mut Vec<u8>) {
    let max_item = node.store.settings.max_item_size.load(Ordering::Relaxed);
    let mut n = 0u64;
    node.store.for_each(|k, v, exptime, _| {
        let size = slab_class::item_size(k.len(), v);
        let id = slab_class::class_index(max_item, size) as u64 + 1;
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
