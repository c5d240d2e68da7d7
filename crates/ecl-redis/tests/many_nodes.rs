//! One process holds 1,000 nodes on a two-worker runtime: every node listens and answers, and
//! shutting them all down releases their ports.

mod common;
use common::{Raw, start};

fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_nodes_on_two_threads() {
    // One listener per node plus a client socket per probed node; stay inside the fd limit.
    let n = 1000.min(open_file_limit().saturating_sub(200));
    let nodes: Vec<_> = (0..n).map(|_| start()).collect();
    for (i, node) in nodes.iter().enumerate() {
        if i % 50 == 0 {
            let mut c = Raw::connect(node).await;
            assert_eq!(c.cmd(&["SET", "k", &i.to_string()]).await, "+OK\r\n");
            assert_eq!(
                c.cmd(&["GET", "k"]).await,
                format!("${}\r\n{}\r\n", i.to_string().len(), i)
            );
        }
    }
    let addrs: Vec<_> = nodes.iter().map(|n| n.local_addr()).collect();
    for node in nodes {
        node.shutdown().await;
    }
    for a in addrs.iter().step_by(97) {
        assert!(
            tokio::net::TcpStream::connect(a).await.is_err(),
            "{a} closed"
        );
    }
}

/// A node nobody used for a while is parked by the cron thread (its cron would find nothing
/// to do); the first command after that hands it back, so a key set then still expires
/// actively, with no later command touching the node before the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_idle_node_wakes_for_the_next_client_and_expires_its_keys() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    // Sixteen flat ops/sec samples (1.6 s) make a node without TTLs quiet.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(c.cmd(&["SET", "k", "v", "PX", "200"]).await, "+OK\r\n");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let info = c.cmd(&["INFO", "stats"]).await;
    assert!(info.contains("expired_keys:1\r\n"), "{info}");
    node.shutdown().await;
}
