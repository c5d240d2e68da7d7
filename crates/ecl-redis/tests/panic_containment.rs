//! Panic containment through real sockets: a command that panics halfway through a multi-key
//! write (the hidden `ECL.FAULT` command, compiled in by the `fault-injection` feature the tests
//! enable) answers `-ERR`, leaves the node broken (every command refused, INFO reporting it)
//! while other nodes keep serving, and never poisons the node lock.

mod common;
use common::{Raw, start};

fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim_end().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_mid_write_breaks_only_that_node() {
    let node = start();
    let other = start();
    let mut c = Raw::connect(&node).await;
    let mut o = Raw::connect(&other).await;
    assert_eq!(c.cmd(&["SET", "before", "1"]).await, "+OK\r\n");
    let info = c.cmd(&["INFO", "stats"]).await;
    assert_eq!(info_field(&info, "ecl_node_broken").as_deref(), Some("0"));
    assert_eq!(node.broken(), None);

    let reply = c
        .cmd(&["ECL.FAULT", "PANIC-MID-MSET", "a", "1", "b", "2"])
        .await;
    assert!(reply.starts_with("-ERR command panicked ("), "{reply}");
    assert!(reply.contains("node is now broken"), "{reply}");

    // The half-applied write is not served: every data command is refused, on this
    // connection and on new ones.
    for args in [
        &["GET", "a"][..],
        &["GET", "before"],
        &["SET", "x", "1"],
        &["PING"],
    ] {
        let r = c.cmd(args).await;
        assert!(r.starts_with("-ERR node is broken: "), "{args:?}: {r}");
    }
    let mut fresh = Raw::connect(&node).await;
    let r = fresh.cmd(&["DBSIZE"]).await;
    assert!(r.starts_with("-ERR node is broken: "), "{r}");

    // INFO still answers and reports it, and so does the node's API.
    let info = fresh.cmd(&["INFO", "stats"]).await;
    assert_eq!(info_field(&info, "ecl_node_broken").as_deref(), Some("1"));
    let reason = info_field(&info, "ecl_node_broken_reason").expect("reason field");
    assert!(reason.contains("fault injection"), "{reason}");
    assert!(node.broken().is_some_and(|r| r.contains("fault injection")));

    // The lock is not poisoned and the other node is untouched.
    assert!(node.stats().keys >= 1);
    assert_eq!(o.cmd(&["SET", "k", "v"]).await, "+OK\r\n");
    assert_eq!(o.cmd(&["GET", "k"]).await, "$1\r\nv\r\n");
    assert_eq!(other.broken(), None);
    node.shutdown().await;
    other.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_inside_exec_breaks_the_node() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["MULTI"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v"]).await, "+QUEUED\r\n");
    c.send(&["ECL.FAULT", "PANIC-MID-MSET", "a", "1", "b", "2"])
        .await;
    let queued = c.read().await;
    assert_eq!(queued, "+QUEUED\r\n");
    c.send(&["EXEC"]).await;
    let exec = c.read().await;
    assert!(exec.contains("-ERR command panicked ("), "{exec}");
    assert!(node.broken().is_some());
    let r = c.cmd(&["GET", "k"]).await;
    assert!(r.starts_with("-ERR node is broken: "), "{r}");
    node.shutdown().await;
}
