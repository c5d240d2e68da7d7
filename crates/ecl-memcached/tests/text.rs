//! Text protocol against a real node over raw TCP: byte-exact replies, memcached's error
//! texts, noreply, data-block handling, expiry (through the node clock), flush, stats.

mod common;

use common::{Conn, start, start_with, stat, stats};

#[tokio::test(flavor = "multi_thread")]
async fn storage_commands_and_retrieval() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"set a 5 0 3\r\nabc\r\n", b"STORED\r\n").await;
    c.expect(b"get a\r\n", b"VALUE a 5 3\r\nabc\r\nEND\r\n")
        .await;
    c.expect(b"add a 0 0 1\r\nx\r\n", b"NOT_STORED\r\n").await;
    c.expect(b"add b 1 0 1\r\nx\r\n", b"STORED\r\n").await;
    c.expect(b"replace nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")
        .await;
    c.expect(b"replace b 2 0 2\r\nyy\r\n", b"STORED\r\n").await;
    c.expect(b"append a 9 9 2\r\nde\r\n", b"STORED\r\n").await;
    c.expect(b"prepend a 9 9 1\r\n_\r\n", b"STORED\r\n").await;
    c.expect(b"append nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")
        .await;
    c.expect(
        b"get a b nope\r\n",
        b"VALUE a 5 6\r\n_abcde\r\nVALUE b 2 2\r\nyy\r\nEND\r\n",
    )
    .await;
    let cas = c.cas_of("a").await;
    c.expect(
        format!("cas a 0 0 1 {}\r\nz\r\n", cas + 1000).as_bytes(),
        b"EXISTS\r\n",
    )
    .await;
    c.expect(
        format!("cas a 7 0 1 {cas}\r\nz\r\n").as_bytes(),
        b"STORED\r\n",
    )
    .await;
    c.expect(b"cas nope 0 0 1 1\r\nz\r\n", b"NOT_FOUND\r\n")
        .await;
    c.expect(b"get a\r\n", b"VALUE a 7 1\r\nz\r\nEND\r\n").await;
    // Empty values, binary data, flags up to 2^32-1 and the low 32 bits beyond.
    c.expect(b"set e 4294967295 0 0\r\n\r\n", b"STORED\r\n")
        .await;
    c.expect(b"get e\r\n", b"VALUE e 4294967295 0\r\n\r\nEND\r\n")
        .await;
    c.expect(b"set e 4294967296 0 4\r\n\r\n\0\x01\r\n", b"STORED\r\n")
        .await;
    c.expect(b"get e\r\n", b"VALUE e 0 4\r\n\r\n\0\x01\r\nEND\r\n")
        .await;
    // Bare \n line endings are accepted, as memcached does.
    c.expect(
        b"set n 0 0 1\nx\r\nget n\n",
        b"STORED\r\nVALUE n 0 1\r\nx\r\nEND\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn noreply_suppresses_replies() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(b"set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nincr a 5 noreply\r\n")
        .await;
    c.send(b"delete nope noreply\r\ntouch a 100 noreply\r\nflush_all 100 noreply\r\nverbosity 1 noreply\r\n").await;
    c.expect(b"get a\r\n", b"VALUE a 0 1\r\n6\r\nEND\r\n").await;
    c.expect(b"set q 0 0 1 noreply\r\nxyz\r\nmn\r\n", b"ERROR\r\nMN\r\n")
        .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_memcacheds() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    let long_key = "k".repeat(251);
    c.expect(b"bogus\r\n", b"ERROR\r\n").await;
    c.expect(b"\r\n", b"ERROR\r\n").await;
    c.expect(b"get\r\n", b"ERROR\r\n").await;
    c.expect(b"set a 0 0\r\n", b"ERROR\r\n").await;
    c.expect(b"set a 0 0 1 2 3\r\n", b"ERROR\r\n").await;
    c.expect(
        b"set a x 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    )
    .await;
    c.expect(
        b"set a -1 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    )
    .await;
    c.expect(
        b"set a 0 0 -1\r\n",
        b"CLIENT_ERROR bad command line format\r\n",
    )
    .await;
    c.expect(
        b"set a 0 0 1\r\nxyz\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    )
    .await;
    c.expect(
        format!("get {long_key}\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\n",
    )
    .await;
    c.expect(
        format!("set {long_key} 0 0 1\r\nx\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    )
    .await;
    c.expect(
        b"cas a 0 0 1 x\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    )
    .await;
    c.expect(
        b"set s 0 0 1\r\nx\r\nincr s 1\r\n",
        b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    )
    .await;
    c.expect(
        b"incr s x\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    )
    .await;
    c.expect(
        b"incr s -1\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    )
    .await;
    c.expect(b"incr nope 1\r\n", b"NOT_FOUND\r\n").await;
    c.expect(
        b"touch s x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    )
    .await;
    c.expect(b"gat x s\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
        .await;
    c.expect(
        b"delete s 5\r\n",
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    )
    .await;
    c.expect(b"delete s 0\r\n", b"DELETED\r\n").await;
    // `noreply` counts only after the key: alone it is the key (memcached 1.6.18).
    c.expect(b"delete noreply\r\n", b"NOT_FOUND\r\n").await;
    c.expect(
        b"flush_all x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    )
    .await;
    c.expect(b"verbosity\r\n", b"ERROR\r\n").await;
    c.expect(
        b"verbosity x\r\n",
        b"CLIENT_ERROR bad command line format\r\n",
    )
    .await;
    c.expect(b"stats nope\r\n", b"ERROR\r\n").await;
    c.expect(
        b"stats detail\r\n",
        b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
    )
    .await;
    c.expect(b"shutdown\r\n", b"ERROR: shutdown not enabled\r\n")
        .await;
    c.expect(b"config get cluster\r\n", b"ERROR\r\n").await;
    c.expect(
        b"cache_memlimit 1\r\n",
        b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n",
    )
    .await;
    c.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn too_large_item_is_swallowed_and_old_value_dropped() {
    let node = start_with(|c| c.max_item_size = 1024);
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"set big 0 0 1\r\nx\r\n", b"STORED\r\n").await;
    let mut req = b"set big 0 0 5000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'v', 5000));
    req.extend_from_slice(b"\r\nget big\r\n");
    c.expect(&req, b"SERVER_ERROR object too large for cache\r\nEND\r\n")
        .await;
    // The limit counts memcached's item header: 1024 - 48 (header) - 8 (CAS) - 3 - 1 (key) - 2 = 962.
    let ok = format!("set big 0 0 962\r\n{}\r\n", "v".repeat(962));
    c.expect(ok.as_bytes(), b"STORED\r\n").await;
    let too = format!("set big 0 0 963 noreply\r\n{}\r\nmn\r\n", "v".repeat(963));
    c.expect(too.as_bytes(), b"MN\r\n").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incr_decr_wrap_floor_and_padding() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"set n 3 0 20\r\n18446744073709551615\r\nincr n 2\r\n",
        b"STORED\r\n1\r\n",
    )
    .await;
    // memcached rewrites a shorter number in place, padded with spaces.
    c.expect(
        b"get n\r\n",
        b"VALUE n 3 20\r\n1                   \r\nEND\r\n",
    )
    .await;
    c.expect(b"incr n 10\r\ndecr n 100\r\n", b"11\r\n0\r\n")
        .await;
    c.expect(
        b"set m 0 0 1\r\n9\r\nincr m 1\r\nget m\r\n",
        b"STORED\r\n10\r\nVALUE m 0 2\r\n10\r\nEND\r\n",
    )
    .await;
    let before = c.cas_of("m").await;
    c.expect(b"incr m 1\r\n", b"11\r\n").await;
    assert_ne!(c.cas_of("m").await, before, "incr gives the item a new CAS");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_touch_gat_and_delayed_flush_follow_the_clock() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"set t 0 100 1\r\nx\r\nset forever 0 0 1\r\ny\r\nset neg 0 -1 1\r\nz\r\n",
        b"STORED\r\nSTORED\r\nSTORED\r\n",
    )
    .await;
    c.expect(b"get neg\r\n", b"END\r\n").await;
    // Absolute Unix time beyond 30 days in the past means expired at once.
    c.expect(
        b"set abs 0 2592001 1\r\nz\r\nget abs\r\n",
        b"STORED\r\nEND\r\n",
    )
    .await;
    node.advance_clock(50);
    c.expect(b"touch t 100\r\n", b"TOUCHED\r\n").await;
    node.advance_clock(60);
    c.expect(b"get t\r\n", b"VALUE t 0 1\r\nx\r\nEND\r\n").await;
    c.expect(b"gat 10 t\r\n", b"VALUE t 0 1\r\nx\r\nEND\r\n")
        .await;
    let cas = c.cas_of("t").await;
    c.expect(
        b"gats 10 t nope\r\n",
        format!("VALUE t 0 1 {cas}\r\nx\r\nEND\r\n").as_bytes(),
    )
    .await;
    node.advance_clock(11);
    c.expect(b"get t forever\r\n", b"VALUE forever 0 1\r\ny\r\nEND\r\n")
        .await;
    c.expect(b"touch t 10\r\n", b"NOT_FOUND\r\n").await;
    c.expect(b"flush_all 30\r\n", b"OK\r\n").await;
    c.expect(b"get forever\r\n", b"VALUE forever 0 1\r\ny\r\nEND\r\n")
        .await;
    node.advance_clock(31);
    c.expect(b"get forever\r\n", b"END\r\n").await;
    c.expect(
        b"set after 0 0 1\r\na\r\nget after\r\n",
        b"STORED\r\nVALUE after 0 1\r\na\r\nEND\r\n",
    )
    .await;
    c.expect(b"flush_all\r\nget after\r\n", b"OK\r\nEND\r\n")
        .await;
    // memcached's flush point is a second before the requested time: `flush_all 1` empties
    // the cache at once, and items stored once the clock moved on stay.
    c.expect(
        b"set a1 0 0 1\r\na\r\nflush_all 1\r\nget a1\r\n",
        b"STORED\r\nOK\r\nEND\r\n",
    )
    .await;
    node.advance_clock(2);
    c.expect(
        b"set a3 0 0 1\r\na\r\nget a3\r\n",
        b"STORED\r\nVALUE a3 0 1\r\na\r\nEND\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flush_can_be_disabled() {
    let node = start_with(|c| c.disable_flush_all = true);
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"flush_all\r\n", b"CLIENT_ERROR flush_all not allowed\r\n")
        .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_report_what_clients_read() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"set a 0 0 1\r\nx\r\nget a\r\nget b\r\n",
        b"STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nEND\r\n",
    )
    .await;
    let s = stats(&mut c, "").await;
    for name in [
        "pid",
        "uptime",
        "time",
        "curr_items",
        "total_items",
        "bytes",
        "evictions",
        "curr_connections",
        "total_connections",
        "limit_maxbytes",
        "threads",
    ] {
        stat(&s, name);
    }
    assert!(s.iter().any(|(k, v)| k == "version" && v == "1.6.22"));
    assert_eq!(stat(&s, "get_hits"), 1);
    assert_eq!(stat(&s, "get_misses"), 1);
    assert_eq!(stat(&s, "cmd_get"), 2);
    assert_eq!(stat(&s, "cmd_set"), 1);
    assert_eq!(stat(&s, "curr_items"), 1);
    assert_eq!(stat(&s, "limit_maxbytes"), 64 << 20);
    assert_eq!(stat(&s, "threads"), 4);
    let settings = stats(&mut c, "settings").await;
    assert_eq!(stat(&settings, "item_size_max"), 1 << 20);
    assert!(
        settings
            .iter()
            .any(|(k, v)| k == "cas_enabled" && v == "yes")
    );
    let items = stats(&mut c, "items").await;
    assert_eq!(stat(&items, "items:1:number"), 1);
    let slabs = stats(&mut c, "slabs").await;
    assert_eq!(stat(&slabs, "active_slabs"), 1);
    assert_eq!(
        stats(&mut c, "sizes").await,
        vec![("sizes_status".to_string(), "disabled".to_string())]
    );
    let _other = Conn::connect(node.local_addr()).await;
    let conns = stats(&mut c, "conns").await;
    assert!(
        conns
            .iter()
            .any(|(k, v)| k == "0:state" && v == "conn_listening")
    );
    assert_eq!(
        conns
            .iter()
            .filter(|(k, v)| k.ends_with(":state") && v == "conn_parse_cmd")
            .count(),
        1
    );
    let local = format!(
        "tcp:{}",
        c.stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    assert!(
        conns
            .iter()
            .any(|(k, v)| k.ends_with(":addr") && *v == local),
        "{conns:?}"
    );
    c.expect(b"stats reset\r\n", b"RESET\r\n").await;
    assert_eq!(stat(&stats(&mut c, "").await, "get_hits"), 0);
    let st = node.stats();
    assert_eq!(st.curr_items, 1);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quit_and_overlong_lines_close_the_connection() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(b"quit\r\n").await;
    assert!(c.is_closed().await);
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(&vec![b'x'; 4096]).await;
    assert!(c.is_closed().await);
    // A long multi-get line is fine.
    let mut c = Conn::connect(node.local_addr()).await;
    let mut line = b"get".to_vec();
    for i in 0..2000 {
        line.extend_from_slice(format!(" key{i}").as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    c.expect(&line, b"END\r\n").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_requests_in_one_write() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        req.extend_from_slice(
            format!("set k{i} {i} 0 {}\r\n{i}\r\n", i.to_string().len()).as_bytes(),
        );
        expected.extend_from_slice(b"STORED\r\n");
    }
    for i in 0..200 {
        req.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        expected.extend_from_slice(
            format!("VALUE k{i} {i} {}\r\n{i}\r\nEND\r\n", i.to_string().len()).as_bytes(),
        );
    }
    c.expect(&req, &expected).await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cas_disabled_reports_zero() {
    let node = start_with(|c| c.cas_disabled = true);
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"set a 0 0 1\r\nx\r\ngets a\r\n",
        b"STORED\r\nVALUE a 0 1 0\r\nx\r\nEND\r\n",
    )
    .await;
    c.expect(b"cas a 0 0 1 0\r\ny\r\n", b"STORED\r\n").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_pipeline_with_large_output_is_served_completely() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    let value = "v".repeat(100_000);
    c.expect(
        format!("set big 0 0 100000\r\n{value}\r\n").as_bytes(),
        b"STORED\r\n",
    )
    .await;
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..40 {
        req.extend_from_slice(b"get big\r\n");
        expected.extend_from_slice(format!("VALUE big 0 100000\r\n{value}\r\nEND\r\n").as_bytes());
    }
    req.extend_from_slice(b"mn\r\n");
    expected.extend_from_slice(b"MN\r\n");
    c.expect(&req, &expected).await;
    node.shutdown().await;
}

/// `stats detail`: while on, gets (with hits), stores and deletes of keys holding ':' count
/// under their prefix; off stops counting, `stats reset` forgets them (memcached's
/// t/stats-detail.t sequence).
#[tokio::test(flavor = "multi_thread")]
async fn stats_detail_counts_per_prefix() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"stats detail dump\r\n", b"END\r\n").await;
    c.expect(b"stats detail on\r\n", b"OK\r\n").await;
    c.expect(b"set foo:1 0 0 1\r\na\r\n", b"STORED\r\n").await;
    c.expect(b"set plain 0 0 1\r\na\r\n", b"STORED\r\n").await;
    c.expect(b"get foo:1 foo:2\r\n", b"VALUE foo:1 0 1\r\na\r\nEND\r\n")
        .await;
    c.expect(b"delete foo:3\r\n", b"NOT_FOUND\r\n").await;
    c.expect(
        b"stats detail dump\r\n",
        b"PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n",
    )
    .await;
    c.expect(b"stats detail off\r\n", b"OK\r\n").await;
    c.expect(b"get foo:1\r\n", b"VALUE foo:1 0 1\r\na\r\nEND\r\n")
        .await;
    c.expect(
        b"stats detail dump\r\n",
        b"PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n",
    )
    .await;
    c.expect(b"stats reset\r\n", b"RESET\r\n").await;
    c.expect(b"stats detail dump\r\n", b"END\r\n").await;
    node.shutdown().await;
}

/// `lru_crawler`: metadump lists the live items (URI-encoded key, class, memcached's size),
/// refuses to follow other replies of the same batch, answers an empty selection with END and
/// a bad class with BADCLASS; crawl sweeps expired items; disable stops both (replies as
/// memcached 1.6.18 gives them).
#[tokio::test(flavor = "multi_thread")]
async fn lru_crawler_metadump_and_crawl() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"lru_crawler metadump all\r\n", b"END\r\n").await;
    c.expect(b"set a:b 0 0 2\r\nok\r\n", b"STORED\r\n").await;
    c.send(b"lru_crawler metadump all\r\n").await;
    let dump = read_dump(&mut c).await;
    assert!(
        dump.starts_with("key=a%3Ab exp=-1 la=")
            && dump.ends_with(" cas=1 fetch=no cls=1 size=64\nEND\r\n"),
        "{dump}"
    );
    c.expect(
        b"mn\r\nlru_crawler metadump all\r\n",
        b"MN\r\nERROR cannot pipeline other commands before metadump\r\n",
    )
    .await;
    c.expect(
        b"lru_crawler metadump 64\r\n",
        b"BADCLASS invalid class id\r\n",
    )
    .await;
    c.expect(b"lru_crawler metadump 2\r\n", b"END\r\n").await;
    c.expect(b"lru_crawler crawl 1,2\r\n", b"OK\r\n").await;
    c.expect(
        b"lru_crawler crawl hash\r\n",
        b"ERROR an unknown error happened\r\n",
    )
    .await;
    c.expect(
        b"lru_crawler sleep 1000001\r\n",
        b"CLIENT_ERROR sleep must be one second or less\r\n",
    )
    .await;
    c.expect(b"lru_crawler disable\r\n", b"OK\r\n").await;
    c.expect(
        b"lru_crawler crawl all\r\n",
        b"CLIENT_ERROR lru crawler disabled\r\n",
    )
    .await;
    node.shutdown().await;
}

/// A metadump larger than a connection's output budget is streamed whole: every item once.
#[tokio::test(flavor = "multi_thread")]
async fn lru_crawler_metadump_streams_every_item() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    for i in 0..5_000 {
        c.send(format!("set k{i:04} 0 0 1 noreply\r\nz\r\n").as_bytes())
            .await;
    }
    c.expect(b"mn\r\n", b"MN\r\n").await;
    c.send(b"lru_crawler metadump hash\r\n").await;
    let dump = read_dump(&mut c).await;
    let mut seen = std::collections::HashSet::new();
    for line in dump.lines().filter(|l| l.starts_with("key=")) {
        let key = line.split(' ').next().unwrap_or_default();
        assert!(seen.insert(key.to_string()), "{key} listed twice");
    }
    assert_eq!(seen.len(), 5_000);
    node.shutdown().await;
}

/// A metadump's text: its item lines end with a bare newline, the dump with `END\r\n`.
async fn read_dump(c: &mut Conn) -> String {
    let mut all = Vec::new();
    while !all.ends_with(b"END\r\n") {
        all.extend_from_slice(&c.read_line().await);
    }
    String::from_utf8_lossy(&all).to_string()
}

/// Expired items leave in the background as memcached's LRU maintainer takes them (counted as
/// `reclaimed`), whether or not the crawler is enabled; an explicit crawl counts
/// `crawler_reclaimed`. (memcached 1.6.18, five keys with a 1 s TTL, 2 s later: `reclaimed
/// 5`, `crawler_reclaimed 0`.)
#[tokio::test(flavor = "multi_thread")]
async fn the_background_sweep_counts_as_the_lru_maintainer() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"lru_crawler disable\r\n", b"OK\r\n").await;
    for k in ["a", "b", "c"] {
        c.expect(format!("set {k} 0 10 1\r\nx\r\n").as_bytes(), b"STORED\r\n")
            .await;
    }
    // One item that stays, so `stats items` still lists its class.
    c.expect(b"set keep 0 0 1\r\nx\r\n", b"STORED\r\n").await;
    node.advance_clock(20);
    let mut s = stats(&mut c, "").await;
    for _ in 0..50 {
        if stat(&s, "curr_items") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        s = stats(&mut c, "").await;
    }
    assert_eq!(stat(&s, "curr_items"), 1);
    assert_eq!(stat(&s, "reclaimed"), 3);
    assert_eq!(stat(&s, "expired_unfetched"), 3);
    assert_eq!(stat(&s, "crawler_reclaimed"), 0);
    assert_eq!(stat(&stats(&mut c, "items").await, "items:1:reclaimed"), 3);
    node.shutdown().await;
}

/// `flush_all` leaves the counters where memcached 1.6.18's settle a second later, once its
/// LRU maintainer has taken the flushed items away (the same sequence by hand: `curr_items 0`,
/// `reclaimed 6`, `expired_unfetched 5`); a node's reboot clears items without counting.
#[tokio::test(flavor = "multi_thread")]
async fn flush_all_counts_its_items_as_reclaimed_as_memcached_settles() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    for k in 0..5 {
        c.expect(format!("set k{k} 0 0 1\r\nx\r\n").as_bytes(), b"STORED\r\n")
            .await;
    }
    let big = format!("set big 0 0 500\r\n{}\r\n", "y".repeat(500));
    c.expect(big.as_bytes(), b"STORED\r\n").await;
    c.expect(b"get k0\r\n", b"VALUE k0 0 1\r\nx\r\nEND\r\n")
        .await;
    c.expect(b"flush_all\r\n", b"OK\r\n").await;
    let s = stats(&mut c, "").await;
    assert_eq!(stat(&s, "curr_items"), 0);
    assert_eq!(stat(&s, "bytes"), 0);
    assert_eq!(stat(&s, "reclaimed"), 6);
    assert_eq!(stat(&s, "expired_unfetched"), 5);
    assert_eq!(stat(&s, "total_items"), 6);
    c.expect(b"set k1 0 0 1\r\nx\r\n", b"STORED\r\n").await;
    node.flush_all();
    let s = stats(&mut c, "").await;
    assert_eq!(stat(&s, "curr_items"), 0);
    assert_eq!(stat(&s, "reclaimed"), 6);
    node.shutdown().await;
}

/// `slabs reassign` checks its request as memcached 1.6.18 does (replies compared by hand on
/// 15 requests); a node has no slab pages, so a valid move finds no spare page.
#[tokio::test(flavor = "multi_thread")]
async fn slabs_reassign_answers_as_memcached_without_spare_pages() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    for (req, reply) in [
        (
            &b"slabs reassign 1 2\r\n"[..],
            &b"NOSPARE source class has no spare pages\r\n"[..],
        ),
        (
            b"slabs reassign 99 99\r\n",
            b"SAME src and dst class are identical\r\n",
        ),
        (
            b"slabs reassign 0 40\r\n",
            b"BADCLASS invalid src or dst class id\r\n",
        ),
        (
            b"slabs reassign 0 39\r\n",
            b"NOSPARE source class has no spare pages\r\n",
        ),
        (
            b"slabs reassign -1 2\r\n",
            b"BADCLASS invalid src or dst class id\r\n",
        ),
        (
            b"slabs reassign 4294967297 1\r\n",
            b"SAME src and dst class are identical\r\n",
        ),
        (
            b"slabs reassign 1 2junk\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (b"slabs reassign 1 2 noreply\r\n", b"ERROR\r\n"),
    ] {
        c.expect(req, reply).await;
    }
    node.shutdown().await;
}
