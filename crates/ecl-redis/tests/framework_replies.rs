//! Replies and statistics that real job-queue frameworks (tests/frameworks: BullMQ, Celery, RQ)
//! showed differing from redis-server 7.0.15, each pinned here after its fix.

mod common;
use common::{Raw, start};

/// An unknown subcommand (CLIENT SETINFO, which ioredis sends on every connection and 7.0 does
/// not know) is an error reply counted in errorstats, but no command's rejected call: no
/// `cmdstat_client` line appears. A known subcommand at the wrong arity is still counted on
/// both the container and the subcommand, as redis-server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_subcommand_is_no_rejected_call() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let reply = c.cmd(&["CLIENT", "SETINFO", "lib-name", "ioredis"]).await;
    assert!(
        reply.starts_with("-ERR unknown subcommand 'SETINFO'"),
        "{reply}"
    );
    let reply = c.cmd(&["CONFIG", "NOSUCH"]).await;
    assert!(reply.starts_with("-ERR unknown subcommand"), "{reply}");
    c.cmd(&["CONFIG"]).await;
    c.cmd(&["CONFIG", "GET"]).await;
    let stats = c.cmd(&["INFO", "commandstats"]).await;
    assert!(!stats.contains("cmdstat_client:"), "{stats}");
    assert!(
        stats.contains("cmdstat_config:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,"),
        "{stats}"
    );
    assert!(
        stats.contains("cmdstat_config|get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,"),
        "{stats}"
    );
    let errors = c.cmd(&["INFO", "errorstats"]).await;
    assert!(errors.contains("errorstat_ERR:count=4"), "{errors}");
    node.shutdown().await;
}
