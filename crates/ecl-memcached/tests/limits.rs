//! Memory budget, eviction, `-M`, connection limit, idle timeout, concurrency and shutdown.

mod common;

use std::sync::Arc;

use common::{Conn, start, start_with, stat, stats};

#[tokio::test(flavor = "multi_thread")]
async fn small_node_evicts_within_budget() {
    let budget = 2u64 << 20;
    let node = start_with(|c| c.memory_limit = budget);
    let mut c = Conn::connect(node.local_addr()).await;
    let value = "v".repeat(1000);
    for i in 0..10_000 {
        c.send(format!("set key{i} 0 0 {}\r\n{value}\r\n", value.len()).as_bytes())
            .await;
        assert_eq!(c.read_line().await, b"STORED\r\n");
    }
    let s = stats(&mut c, "").await;
    assert!(
        stat(&s, "bytes") <= budget,
        "bytes {} over budget",
        stat(&s, "bytes")
    );
    assert!(stat(&s, "evictions") > 0);
    assert!(stat(&s, "curr_items") < 10_000);
    assert_eq!(stat(&s, "total_items"), 10_000);
    // The most recent item is still there; the oldest is gone.
    c.expect(
        b"get key9999\r\n",
        format!("VALUE key9999 0 1000\r\n{value}\r\nEND\r\n").as_bytes(),
    )
    .await;
    c.expect(b"get key0\r\n", b"END\r\n").await;
    // `stats items` counts the evictions in the items' class (a 1,000-byte value with its key
    // is a 1,066-byte item: class 12, 1,184-byte chunks), as memcached does, every one of them
    // unfetched; `stats reset` clears them.
    let items = stats(&mut c, "items").await;
    assert_eq!(stat(&items, "items:12:evicted"), stat(&s, "evictions"));
    assert_eq!(
        stat(&items, "items:12:evicted_unfetched"),
        stat(&s, "evictions")
    );
    assert_eq!(stat(&items, "items:12:number"), stat(&s, "curr_items"));
    assert_eq!(stat(&items, "items:12:number_cold"), stat(&s, "curr_items"));
    c.expect(b"stats reset\r\n", b"RESET\r\n").await;
    let items = stats(&mut c, "items").await;
    assert_eq!(stat(&items, "items:12:evicted"), 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn recently_read_items_survive_eviction() {
    let node = start_with(|c| c.memory_limit = 1 << 20);
    let mut c = Conn::connect(node.local_addr()).await;
    let value = "v".repeat(500);
    c.expect(
        format!("set hot 0 0 500\r\n{value}\r\n").as_bytes(),
        b"STORED\r\n",
    )
    .await;
    for i in 0..5_000 {
        c.send(format!("set k{i} 0 0 500\r\n{value}\r\n").as_bytes())
            .await;
        assert_eq!(c.read_line().await, b"STORED\r\n");
        if i % 50 == 0 {
            c.send(b"get hot\r\n").await;
            let _ = c.read_until_line(b"END\r\n").await;
        }
    }
    c.expect(
        b"get hot\r\n",
        format!("VALUE hot 0 500\r\n{value}\r\nEND\r\n").as_bytes(),
    )
    .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn error_on_memory_exhausted_refuses_writes() {
    let node = start_with(|c| {
        c.memory_limit = 1 << 20;
        c.error_on_memory_exhausted = true;
    });
    let mut c = Conn::connect(node.local_addr()).await;
    let value = "v".repeat(1000);
    let mut refused = 0;
    for i in 0..2_000 {
        c.send(format!("set key{i} 0 0 1000\r\n{value}\r\n").as_bytes())
            .await;
        let line = c.read_line().await;
        if line == b"SERVER_ERROR out of memory storing object\r\n" {
            refused += 1;
        } else {
            assert_eq!(line, b"STORED\r\n");
        }
    }
    assert!(refused > 0);
    let s = stats(&mut c, "").await;
    assert_eq!(stat(&s, "evictions"), 0);
    assert!(stat(&s, "bytes") <= 1 << 20);
    c.expect(
        b"get key0\r\n",
        format!("VALUE key0 0 1000\r\n{value}\r\nEND\r\n").as_bytes(),
    )
    .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limit_and_idle_timeout() {
    let node = start_with(|c| c.max_connections = 2);
    let mut a = Conn::connect(node.local_addr()).await;
    let mut b = Conn::connect(node.local_addr()).await;
    a.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
    b.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
    let mut third = Conn::connect(node.local_addr()).await;
    assert_eq!(
        third.read_line().await,
        b"ERROR Too many open connections\r\n"
    );
    assert!(third.is_closed().await);
    drop(a);
    node.shutdown().await;

    let node = start_with(|c| c.idle_timeout_secs = 1);
    let mut idle = Conn::connect(node.local_addr()).await;
    idle.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
    assert!(
        idle.is_closed().await,
        "idle connection is closed by the node"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_clients_see_consistent_counters() {
    let node = Arc::new(start());
    let addr = node.local_addr();
    let mut c = Conn::connect(addr).await;
    c.expect(b"set counter 0 0 1\r\n0\r\n", b"STORED\r\n").await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr).await;
            for i in 0..300 {
                c.send(b"incr counter 1\r\n").await;
                let _ = c.read_line().await;
                let key = format!("t{t}k{i}");
                c.expect(
                    format!("set {key} 0 0 {}\r\n{key}\r\n", key.len()).as_bytes(),
                    b"STORED\r\n",
                )
                .await;
            }
        }));
    }
    for t in tasks {
        assert!(t.await.is_ok());
    }
    c.expect(b"get counter\r\n", b"VALUE counter 0 4\r\n4800\r\nEND\r\n")
        .await;
    c.expect(
        b"get t15k299 t0k0\r\n",
        b"VALUE t15k299 0 7\r\nt15k299\r\nVALUE t0k0 0 4\r\nt0k0\r\nEND\r\n",
    )
    .await;
    assert_eq!(node.stats().curr_items, 16 * 300 + 1);
    if let Ok(node) = Arc::try_unwrap(node) {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_connections_and_listener_and_apply_changes_settings() {
    let node = start();
    let addr = node.local_addr();
    let mut c = Conn::connect(addr).await;
    c.expect(b"set a 0 0 1\r\nx\r\n", b"STORED\r\n").await;
    let mut config = ecl_memcached::MemcachedConfig::for_tests();
    config.engine_version = "1.6.17".into();
    config.disable_flush_all = true;
    config.memory_limit = 8 << 20;
    node.apply(&config);
    c.expect(
        b"version\r\nflush_all\r\n",
        b"VERSION 1.6.17\r\nCLIENT_ERROR flush_all not allowed\r\n",
    )
    .await;
    assert_eq!(node.stats().limit_maxbytes, 8 << 20);
    node.flush_all();
    c.expect(b"get a\r\n", b"END\r\n").await;
    node.shutdown().await;
    assert!(c.is_closed().await);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn lowering_the_budget_evicts_at_once() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    let value = "v".repeat(1000);
    for i in 0..20_000 {
        c.send(format!("set key{i} 0 0 1000 noreply\r\n{value}\r\n").as_bytes())
            .await;
    }
    c.expect(b"mn\r\n", b"MN\r\n").await;
    assert!(node.stats().bytes > 16 << 20);
    let mut config = ecl_memcached::MemcachedConfig::for_tests();
    config.memory_limit = 8 << 20;
    node.apply(&config);
    let st = node.stats();
    assert!(st.bytes <= 8 << 20 && st.evictions > 0, "{st:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_a_small_node_stay_within_budget() {
    let budget = 1u64 << 20;
    let node = Arc::new(start_with(|c| c.memory_limit = budget));
    let addr = node.local_addr();
    let mut tasks = Vec::new();
    for t in 0..8 {
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr).await;
            let value = "x".repeat(500);
            for i in 0..3_000 {
                let key = format!("w{t}:{i}");
                c.expect(
                    format!("set {key} {t} 0 500\r\n{value}\r\n").as_bytes(),
                    b"STORED\r\n",
                )
                .await;
                if i % 10 == 0 {
                    // A read of a recent key sees exactly what was written, or a miss.
                    c.send(format!("get w{t}:{}\r\n", i / 2).as_bytes()).await;
                    let line = c.read_line().await;
                    if line != b"END\r\n" {
                        assert_eq!(line, format!("VALUE w{t}:{} {t} 500\r\n", i / 2).as_bytes());
                        assert_eq!(c.read_n(502).await, format!("{value}\r\n").as_bytes());
                        assert_eq!(c.read_line().await, b"END\r\n");
                    }
                }
            }
        }));
    }
    for t in tasks {
        assert!(t.await.is_ok());
    }
    let st = node.stats();
    assert!(st.bytes <= budget, "{st:?}");
    assert!(st.evictions > 0 && st.curr_items > 0, "{st:?}");
    assert_eq!(st.total_items, 8 * 3_000);
    if let Ok(node) = Arc::try_unwrap(node) {
        node.shutdown().await;
    }
}
