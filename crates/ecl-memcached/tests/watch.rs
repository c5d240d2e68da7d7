//! `watch`: log watchers, with the lines memcached 1.6.18 writes for fetches, stores,
//! evictions and connections (formats checked by hand against Debian's memcached 1.6.18, and
//! by its own t/watcher.t and t/watcher_connid.t in tests/clients/memcached_t).

mod common;

use common::{Conn, start, start_with, stat, stats};

/// The next log line without its `ts=... gid=... ` prefix (checked on the way).
async fn next_event(w: &mut Conn) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        line.extend_from_slice(&w.read_n(1).await);
    }
    let line = String::from_utf8_lossy(&line).trim_end().to_string();
    let mut parts = line.splitn(3, ' ');
    let ts = parts.next().unwrap_or_default();
    let gid = parts.next().unwrap_or_default();
    let (secs, micros) = ts
        .strip_prefix("ts=")
        .and_then(|t| t.split_once('.'))
        .unwrap_or_else(|| panic!("no ts in {line:?}"));
    assert!(
        secs.parse::<u64>().is_ok() && micros.parse::<u32>().is_ok(),
        "{line}"
    );
    assert!(
        gid.strip_prefix("gid=")
            .is_some_and(|g| g.parse::<u64>().is_ok()),
        "{line}"
    );
    parts.next().unwrap_or_default().to_string()
}

/// The `N` of `N:addr tcp:<peer>` in `stats conns` for the connection asking.
async fn own_conn_number(c: &mut Conn) -> String {
    let local = c
        .stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let conns = stats(c, "conns").await;
    conns
        .iter()
        .find(|(k, v)| k.ends_with(":addr") && v == &format!("tcp:{local}"))
        .and_then(|(k, _)| k.split(':').next())
        .unwrap_or_else(|| panic!("not in stats conns: {conns:?}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn fetchers_and_mutations_log_each_lookup_and_store() {
    let node = start_with(|c| c.max_item_size = 1024);
    let mut c = Conn::connect(node.local_addr()).await;
    let cfd = own_conn_number(&mut c).await;
    let mut w = Conn::connect(node.local_addr()).await;
    w.expect(b"watch fetchers mutations\r\n", b"OK\r\n").await;
    c.expect(b"set vfoo 0 100 4\r\nvbar\r\n", b"STORED\r\n")
        .await;
    c.expect(b"get vfoo\r\n", b"VALUE vfoo 0 4\r\nvbar\r\nEND\r\n")
        .await;
    c.expect(b"add vfoo 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")
        .await;
    c.expect(b"ms k%x 2 T0\r\nhi\r\n", b"HD\r\n").await;
    // A store begins with a lookup of the key, as memcached's does.
    for want in [
        format!("type=item_get key=vfoo status=not_found clsid=0 cfd={cfd} size=0"),
        format!("type=item_store key=vfoo status=stored cmd=set ttl=100 clsid=1 cfd={cfd} size=4"),
        format!("type=item_get key=vfoo status=found clsid=1 cfd={cfd} size=4"),
        format!("type=item_get key=vfoo status=found clsid=1 cfd={cfd} size=4"),
        format!(
            "type=item_store key=vfoo status=not_stored cmd=add ttl=0 clsid=1 cfd={cfd} size=1"
        ),
        format!("type=item_get key=k%25x status=not_found clsid=0 cfd={cfd} size=0"),
        format!("type=item_store key=k%25x status=stored cmd=set ttl=0 clsid=1 cfd={cfd} size=2"),
    ] {
        assert_eq!(next_event(&mut w).await, want);
    }
    // A value over the item size limit: refused, logged without class, size or TTL.
    c.send(format!("set big 0 0 2000 noreply\r\n{}\r\n", "x".repeat(2000)).as_bytes())
        .await;
    assert_eq!(
        next_event(&mut w).await,
        format!("type=item_store key=big status=too_large cmd=set ttl=0 clsid=0 cfd={cfd} size=0")
    );
    let s = stats(&mut c, "").await;
    assert_eq!(stat(&s, "log_watchers"), 1);
    assert_eq!(stat(&s, "log_watcher_sent"), stat(&s, "log_worker_written"));
    assert!(stat(&s, "log_watcher_sent") >= 8);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connevents_log_opens_and_closes_with_their_reason() {
    let node = start();
    let mut w = Conn::connect(node.local_addr()).await;
    w.expect(b"watch connevents\r\n", b"OK\r\n").await;
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
    let local = c.stream.local_addr().map(|a| a.port()).unwrap_or_default();
    c.send(b"quit\r\n").await;
    let opened = next_event(&mut w).await;
    assert!(
        opened.starts_with(&format!(
            "type=conn_new rip=127.0.0.1 rport={local} transport=tcp cfd="
        )),
        "{opened}"
    );
    let closed = next_event(&mut w).await;
    assert!(
        closed.starts_with(&format!(
            "type=conn_close rip=127.0.0.1 rport={local} transport=tcp reason=normal cfd="
        )),
        "{closed}"
    );
    // An HTTP request closes the connection as a protocol error.
    let mut h = Conn::connect(node.local_addr()).await;
    h.send(b"GET / HTTP/1.1\r\n").await;
    assert!(h.is_closed().await);
    assert!(next_event(&mut w).await.starts_with("type=conn_new "));
    let closed = next_event(&mut w).await;
    assert!(closed.contains(" reason=error cfd="), "{closed}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn evictions_name_the_evicted_item() {
    let node = start_with(|c| c.memory_limit = 1 << 20);
    let mut w = Conn::connect(node.local_addr()).await;
    w.expect(b"watch evictions\r\n", b"OK\r\n").await;
    let mut c = Conn::connect(node.local_addr()).await;
    let value = vec![b'v'; 100 * 1024];
    for i in 0..20 {
        c.send(format!("set n,k{i} 0 0 {}\r\n", value.len()).as_bytes())
            .await;
        c.send(&value).await;
        c.expect(b"\r\n", b"STORED\r\n").await;
    }
    let evicted = next_event(&mut w).await;
    assert!(
        evicted.starts_with("type=eviction key=n%2Ck")
            && evicted.contains(" fetch=no ttl=-1 la=")
            && evicted.ends_with(" size=102400"),
        "{evicted}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_requests_are_checked_as_memcached_checks_them() {
    let node = start();
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(b"watch bogus\r\n", b"ERROR\r\n").await;
    // `noreply` is read as a stream name too (ERROR), and silences the reply.
    c.expect(b"watch noreply\r\nversion\r\n", b"VERSION 1.6.22\r\n")
        .await;
    // Behind a reply memcached has not sent yet: refused. Behind a get or mn, whose replies
    // it sends at once: accepted.
    c.expect(
        b"version\r\nwatch\r\n",
        b"VERSION 1.6.22\r\nERROR cannot pipeline other commands before watch\r\n",
    )
    .await;
    c.expect(b"get a\r\nwatch\r\n", b"END\r\nOK\r\n").await;
    // Now a watcher of fetchers (the default): requests are ignored, lookups logged.
    c.send(b"get ignored\r\n").await;
    let mut d = Conn::connect(node.local_addr()).await;
    d.expect(b"get seen\r\n", b"END\r\n").await;
    let line = next_event(&mut c).await;
    assert!(
        line.starts_with("type=item_get key=seen status=not_found"),
        "{line}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_watchers_at_most_and_closed_ones_leave() {
    let node = start();
    let mut watchers = Vec::new();
    for _ in 0..20 {
        let mut w = Conn::connect(node.local_addr()).await;
        w.expect(b"watch\r\n", b"OK\r\n").await;
        watchers.push(w);
    }
    let mut c = Conn::connect(node.local_addr()).await;
    c.expect(
        b"watch\r\n",
        b"WATCHER_TOO_MANY log watcher limit reached\r\n",
    )
    .await;
    // The refused connection still serves requests.
    c.expect(b"version\r\n", b"VERSION 1.6.22\r\n").await;
    assert_eq!(stat(&stats(&mut c, "").await, "log_watchers"), 20);
    drop(watchers);
    for _ in 0..200 {
        if stat(&stats(&mut c, "").await, "log_watchers") == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(stat(&stats(&mut c, "").await, "log_watchers"), 0);
    c.expect(b"watch mutations\r\n", b"OK\r\n").await;
    node.shutdown().await;
}
