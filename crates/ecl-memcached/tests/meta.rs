//! Meta protocol against a real node: flags, return-flag order, quiet mode, base64 keys,
//! vivify / recache / stale-while-revalidate, ms modes, md invalidation, ma, errors.

mod common;

use common::{Conn, start, stat, stats};

#[tokio::test(flavor = "multi_thread")]
async fn mg_ms_flags_in_request_order() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"ms mk 2 T90 F5\r\nhi\r\n", b"HD\r\n").await;
    let cas = c.cas_of("mk").await;
    c.expect(
        b"mg mk s v f t k O123 h l\r\n",
        b"VA 2 s2 f5 t90 kmk O123 h1 l0\r\nhi\r\n",
    )
    .await;
    c.expect(b"mg mk c\r\n", format!("HD c{cas}\r\n").as_bytes())
        .await;
    c.expect(b"mg mk\r\n", b"HD\r\n").await;
    c.expect(b"mg missing v\r\n", b"EN\r\n").await;
    c.expect(b"mg missing O5 k\r\n", b"EN O5 kmissing\r\n")
        .await;
    c.expect(
        b"mg missing v q\r\nmg mk v q k\r\nmn\r\n",
        b"VA 2 kmk\r\nhi\r\nMN\r\n",
    )
    .await;
    c.expect(b"mg mk t T100\r\nmg mk t\r\n", b"HD t90\r\nHD t100\r\n")
        .await;
    c.send(b"ms mk 2 c\r\nhi\r\n").await;
    let line = String::from_utf8_lossy(&c.read_line().await).to_string();
    let new_cas: u64 = line
        .trim_end()
        .trim_start_matches("HD c")
        .parse()
        .unwrap_or(0);
    assert!(new_cas > cas, "{line}");
    c.expect(
        b"ms e 0 T0 F4294967295\r\n\r\nmg e f t s v\r\n",
        b"HD\r\nVA 0 f4294967295 t-1 s0\r\n\r\n",
    )
    .await;
    c.expect(b"ms e 2 T-1\r\nhi\r\nmg e v\r\n", b"HD\r\nEN\r\n")
        .await;
    c.expect(b"ms e 2 E777\r\nhi\r\nmg e c\r\n", b"HD\r\nHD c777\r\n")
        .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ms_modes_and_cas() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"ms m 1 ME\r\na\r\nms m 1 ME\r\nb\r\n", b"HD\r\nNS\r\n")
        .await;
    c.expect(b"ms m 1 MA\r\nc\r\nms m 1 MP\r\nd\r\n", b"HD\r\nHD\r\n")
        .await;
    c.expect(
        b"ms nope 1 MA\r\nx\r\nms m 1 MR\r\nz\r\nms zz 1 MR\r\nz\r\n",
        b"NS\r\nHD\r\nNS\r\n",
    )
    .await;
    c.expect(
        b"ms m 1 MS F7 c k O9 q\r\nq\r\nmg m v f\r\n",
        b"VA 1 f7\r\nq\r\n",
    )
    .await;
    c.expect(
        b"ms m 1 MX\r\nq\r\nmn\r\n",
        b"CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n",
    )
    .await;
    c.expect(b"ms m 1 C1\r\nx\r\nms zz2 1 C1\r\nx\r\n", b"EX\r\nNF\r\n")
        .await;
    let cas = c.cas_of("m").await;
    c.expect(format!("ms m 1 C{cas} k\r\nx\r\n").as_bytes(), b"HD km\r\n")
        .await;
    // memcached 1.6.18 parses N on ms but does not vivify (the autovivify on append that
    // later docs describe): append to a missing item is NS and nothing is stored.
    c.expect(b"ms viv 2 MA N30\r\nab\r\nmg viv v t\r\n", b"NS\r\nEN\r\n")
        .await;
    node.shutdown().await;
}

/// `C` on ms per mode, as memcached 1.6.18 answers: set and replace are CAS stores (a missing
/// item is NF, `C0` compares too), append and prepend compare a non-zero `C` with an existing
/// item only (a missing one is NS), add ignores `C`.
#[tokio::test(flavor = "multi_thread")]
async fn meta_set_compare_per_mode() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"ms a 2 C5 MS\r\nxy\r\n", b"NF\r\n").await;
    c.expect(b"ms a 2 C5 MR\r\nxy\r\n", b"NF\r\n").await;
    c.expect(b"ms a 2 C5 MA\r\nxy\r\n", b"NS\r\n").await;
    c.expect(b"ms a 2 C5 MP N30\r\nxy\r\n", b"NS\r\n").await;
    c.expect(b"ms a 2 C5 ME\r\nxy\r\n", b"HD\r\n").await;
    c.expect(b"ms a 2 C5 ME\r\nzz\r\n", b"NS\r\n").await;
    c.expect(b"ms a 2 C0 MP\r\nab\r\n", b"HD\r\n").await;
    c.expect(b"ms a 2 C0 MS\r\nab\r\n", b"EX\r\n").await;
    c.expect(b"ms a 2 C5 MA\r\nab\r\n", b"EX\r\n").await;
    c.expect(b"mg a v\r\n", b"VA 4\r\nabxy\r\n").await;
    node.shutdown().await;
}

/// The `t` flag of an item whose TTL is already past: memcached 1.6.18 prints its relative
/// expiry minus its clock as an unsigned 32-bit number (its clock starts 62 s before the
/// process; a second may pass between start and request).
#[tokio::test(flavor = "multi_thread")]
async fn ttl_flag_of_expired_ttl_wraps() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.send(b"mg a N-1 t\r\n").await;
    let line = String::from_utf8_lossy(&c.read_line().await).to_string();
    let ok = [
        "HD t4294967235 W\r\n",
        "HD t4294967234 W\r\n",
        "HD t4294967233 W\r\n",
    ];
    assert!(ok.contains(&line.as_str()), "{line}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn vivify_recache_and_stale() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"mg viv s N30 t v\r\n", b"VA 0 s0 t30 W\r\n\r\n")
        .await;
    c.expect(b"mg viv s t v\r\n", b"VA 0 s0 t30 Z\r\n\r\n")
        .await;
    c.expect(b"mg viv s N30 t q\r\n", b"HD s0 t30 Z\r\n").await;
    c.expect(b"ms viv 3 T30\r\nabc\r\n", b"HD\r\n").await;
    c.expect(b"mg viv v R30 t\r\n", b"VA 3 t30\r\nabc\r\n")
        .await;
    c.expect(
        b"mg viv v R31 t\r\nmg viv v R31 t\r\n",
        b"VA 3 t30 W\r\nabc\r\nVA 3 t30 Z\r\nabc\r\n",
    )
    .await;
    c.expect(b"md viv I T30\r\n", b"HD\r\n").await;
    let cas = c.cas_of("viv").await;
    c.expect(
        b"mg viv v c\r\n",
        format!("VA 3 c{cas} X W\r\nabc\r\n").as_bytes(),
    )
    .await;
    c.expect(
        b"ms viv 3 T60\r\nnew\r\nmg viv v\r\n",
        b"HD\r\nVA 3\r\nnew\r\n",
    )
    .await;
    // Invalidate then the first fetcher wins, the next sees the win was handed out.
    c.expect(b"md viv I\r\n", b"HD\r\n").await;
    c.expect(b"mg viv s\r\nmg viv s\r\n", b"HD s3 X W\r\nHD s3 Z X\r\n")
        .await;
    // ms with I and an older CAS stores but keeps the item stale, its TTL, and the win token
    // already handed out (memcached's t/metaget.t: "win token already sent").
    c.expect(
        b"ms viv 1 I C1\r\nz\r\nmg viv v\r\n",
        b"HD\r\nVA 1 Z X\r\nz\r\n",
    )
    .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn md_and_ma() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"ma cnt\r\nma cnt N0 J10 v t\r\nma cnt v\r\n",
        b"NF\r\nVA 2 t-1\r\n10\r\nVA 2\r\n11\r\n",
    )
    .await;
    c.expect(
        b"ma cnt MD D20 v\r\nma cnt M- v\r\n",
        b"VA 1\r\n0\r\nVA 1\r\n0\r\n",
    )
    .await;
    c.expect(
        b"ma cnt MI D5 q\r\nma cnt q v\r\nma cnt v\r\n",
        b"VA 1\r\n7\r\n",
    )
    .await;
    c.expect(
        b"ma cnt Mx\r\nma cnt Dx\r\n",
        b"CLIENT_ERROR invalid mode for ma M token\r\nCLIENT_ERROR invalid or duplicate flag\r\n",
    )
    .await;
    c.expect(
        b"ms s 2\r\nab\r\nma s\r\n",
        b"HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    )
    .await;
    c.expect(b"ma cnt C1 v\r\nma nf q\r\n", b"EX\r\nNF\r\n")
        .await;
    c.expect(
        b"ms u 20\r\n18446744073709551615\r\nma u v\r\n",
        b"HD\r\nVA 1\r\n0\r\n",
    )
    .await;
    c.expect(b"md nf q\r\nmd s q\r\nmd s O1 k\r\n", b"NF\r\nNF O1 ks\r\n")
        .await;
    c.expect(b"md cnt C1\r\n", b"EX\r\n").await;
    c.expect(b"md cnt x\r\nmg cnt s v\r\n", b"HD\r\nVA 0 s0\r\n\r\n")
        .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn base64_keys() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"ms a64 2 b\r\nhi\r\n",
        b"CLIENT_ERROR error decoding key\r\n",
    )
    .await;
    c.expect(b"ms YTY0 2 b\r\nhi\r\n", b"HD\r\n").await;
    c.expect(
        b"mg YTY0 b k v\r\nmg a64 v\r\n",
        b"VA 2 kYTY0 b\r\nhi\r\nVA 2\r\nhi\r\n",
    )
    .await;
    c.expect(b"get a64\r\n", b"VALUE a64 0 2\r\nhi\r\nEND\r\n")
        .await;
    c.expect(b"md YTY0 b q\r\nmd YTY0 b\r\n", b"NF\r\n").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_errors() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    let long_key = "k".repeat(251);
    c.expect(b"mg\r\n", b"ERROR\r\n").await;
    c.expect(
        b"mg k v v\r\nmg k !\r\n",
        b"CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid flag\r\n",
    )
    .await;
    c.expect(
        b"ms k\r\nms k x\r\n",
        b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n",
    )
    .await;
    c.expect(b"ms k 2 T\r\nhi\r\nms k 2 Tx\r\nhi\r\n", b"CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad token in command line format\r\n").await;
    c.expect(b"ms k 2 Fx\r\nhi\r\nmg k Nx\r\n", b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad token in command line format\r\n").await;
    c.expect(
        b"md k z\r\nma k v v\r\n",
        b"CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n",
    )
    .await;
    c.expect(
        b"mg k O123456789012345678901234567890123\r\n",
        b"CLIENT_ERROR opaque token too long\r\n",
    )
    .await;
    c.expect(
        format!("ms {long_key} 2\r\nhi\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    )
    .await;
    c.expect(
        b"me\r\nme nokey\r\n",
        b"CLIENT_ERROR bad command line format\r\nEN\r\n",
    )
    .await;
    c.expect(
        b"ms big 2000000 T0\r\n",
        b"SERVER_ERROR object too large for cache\r\n",
    )
    .await;
    let mut swallowed = vec![b'x'; 2_000_000];
    swallowed.extend_from_slice(b"\r\nmn\r\n");
    c.expect(&swallowed, b"MN\r\n").await;
    c.expect(b"set d 0 0 1\r\nx\r\nme d\r\n", b"STORED\r\n")
        .await;
    let line = String::from_utf8_lossy(&c.read_line().await).to_string();
    assert!(
        line.starts_with("ME d exp=-1 la=0 cas=") && line.ends_with(" fetch=no cls=1 size=61\r\n"),
        "{line}"
    );
    // touch looks the item up as a fetch does (memcached 1.6.18 then says fetch=yes).
    c.expect(b"touch d 0\r\nme d\r\n", b"TOUCHED\r\n").await;
    let line = String::from_utf8_lossy(&c.read_line().await).to_string();
    assert!(line.ends_with(" fetch=yes cls=1 size=61\r\n"), "{line}");
    node.shutdown().await;
}

/// `u` (no update) leaves the item as it was: not bumped, not marked fetched, so the next
/// plain fetch still reports no hit and the one after it a hit (memcached's t/metaget.t).
#[tokio::test(flavor = "multi_thread")]
async fn no_update_flag_leaves_the_hit_mark_alone() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"ms nu 3 T100\r\nhit\r\n", b"HD\r\n").await;
    c.expect(b"mg nu u h\r\n", b"HD h0\r\n").await;
    c.expect(b"mg nu h\r\n", b"HD h0\r\n").await;
    c.expect(b"mg nu h\r\n", b"HD h1\r\n").await;
    node.shutdown().await;
}

/// The counters each request moves, as memcached 1.6.18 moves them (compared request by
/// request on Debian's memcached): `mg` with `T` and `gat` count touches and no get, an item
/// `N` vivifies counts as a hit (and `ma`'s as no miss), an incr/decr whose number fits in the
/// old value is no new item for `total_items`, and only `me` counts in `cmd_meta`.
#[tokio::test(flavor = "multi_thread")]
async fn request_counters_move_as_memcacheds() {
    /// A request, its reply, and the counters it moves (by how much).
    type Step = (&'static [u8], &'static [u8], &'static [(&'static str, u64)]);
    const NAMES: [&str; 10] = [
        "cmd_get",
        "get_hits",
        "get_misses",
        "cmd_touch",
        "touch_hits",
        "touch_misses",
        "total_items",
        "incr_misses",
        "incr_hits",
        "cmd_meta",
    ];
    async fn snapshot(c: &mut Conn) -> Vec<u64> {
        let s = stats(c, "").await;
        NAMES.iter().map(|n| stat(&s, n)).collect()
    }
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"set a 0 0 1\r\nx\r\n", b"STORED\r\n").await;
    c.expect(b"set n 0 0 1\r\n9\r\n", b"STORED\r\n").await;
    let steps: &[Step] = &[
        (
            b"mg a v\r\n",
            b"VA 1\r\nx\r\n",
            &[("cmd_get", 1), ("get_hits", 1)],
        ),
        (
            b"mg a T30 v\r\n",
            b"VA 1\r\nx\r\n",
            &[("cmd_touch", 1), ("touch_hits", 1)],
        ),
        (
            b"mg nx T30 v\r\n",
            b"EN\r\n",
            &[("cmd_get", 1), ("get_misses", 1)],
        ),
        (
            b"mg n1 N30 v\r\n",
            b"VA 0 W\r\n\r\n",
            &[("cmd_get", 1), ("get_hits", 1), ("total_items", 1)],
        ),
        (
            b"gat 10 a nx\r\n",
            b"VALUE a 0 1\r\nx\r\nEND\r\n",
            &[("cmd_touch", 2), ("touch_hits", 1), ("touch_misses", 1)],
        ),
        (b"ma z1 N0 J5\r\n", b"HD\r\n", &[("total_items", 1)]),
        (b"ma z1\r\n", b"HD\r\n", &[("incr_hits", 1)]),
        (
            b"incr n 1\r\n",
            b"10\r\n",
            &[("total_items", 1), ("incr_hits", 1)],
        ),
        (b"incr n 1\r\n", b"11\r\n", &[("incr_hits", 1)]),
        (b"decr n 5\r\n", b"6\r\n", &[]),
    ];
    for (req, reply, moved) in steps {
        let before = snapshot(&mut c).await;
        c.expect(req, reply).await;
        let after = snapshot(&mut c).await;
        let got: Vec<(&str, u64)> = NAMES
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(_, (b, a))| a != b)
            .map(|(n, (b, a))| (*n, a - b))
            .collect();
        assert_eq!(got, moved.to_vec(), "{}", String::from_utf8_lossy(req));
    }
    let before = stat(&stats(&mut c, "").await, "cmd_meta");
    c.send(b"me a\r\n").await;
    assert!(c.read_line().await.starts_with(b"ME a "));
    assert_eq!(stat(&stats(&mut c, "").await, "cmd_meta"), before + 1);
    node.shutdown().await;
}
