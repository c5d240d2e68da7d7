//! `RedisNode::inspect` (the emulator's key browser) and the figures of `RedisNode::stats`:
//! reads run without AUTH, stay out of SLOWLOG, and nothing but reading commands is accepted.

mod common;

use common::{Raw, start_with};

fn args(a: &[&str]) -> Vec<Vec<u8>> {
    a.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[tokio::test]
async fn inspection_reads_without_auth_and_refuses_writes() {
    let node = start_with(|c| c.requirepass = Some("secret".to_string()));
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["AUTH", "secret"]).await, "+OK\r\n");
    c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
        .await;
    c.cmd(&["SLOWLOG", "RESET"]).await;
    c.cmd(&["RPUSH", "l", "a", "b"]).await;
    c.cmd(&["SET", "s", "v", "PX", "50000"]).await;

    let reply = node
        .inspect(&args(&["LRANGE", "l", "0", "-1"]))
        .expect("runs");
    assert_eq!(reply, b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    let ttl = node.inspect(&args(&["pttl", "s"])).expect("runs");
    let ttl: i64 = std::str::from_utf8(&ttl[1..ttl.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 50000, "{ttl}");
    assert!(node.inspect(&args(&["DEL", "l"])).is_err());
    assert!(node.inspect(&args(&["SLOWLOG", "RESET"])).is_err());
    assert!(node.inspect(&args(&[])).is_err());
    // The inspection reads are not in the slow log; the client's own commands are.
    let log = node
        .inspect(&args(&["SLOWLOG", "GET", "100"]))
        .expect("runs");
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("RPUSH"), "{log}");
    assert!(!log.contains("LRANGE") && !log.contains("pttl"), "{log}");
    assert_eq!(c.cmd(&["LLEN", "l"]).await, ":2\r\n");

    let s = node.stats();
    assert_eq!(s.keys, 2);
    assert!(s.total_commands >= 4, "{s:?}");
    assert_eq!(s.maxmemory, 0);
    assert_eq!(s.evicted_keys, 0);
}
