//! HyperLogLog against a real node: PFADD/PFCOUNT/PFMERGE, estimate accuracy, the `HYLL`
//! string representation (GET/SET round trip) and errors.

mod common;
use common::{Raw, client, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_count_merge_and_representation() {
    let node = start();
    let mut r = client(&node).await;
    for batch in 0..20 {
        let mut cmd = redis::cmd("PFADD");
        cmd.arg("h1");
        for i in 0..1000 {
            cmd.arg(format!("e{}", batch * 1000 + i));
        }
        let _: i64 = cmd.query_async(&mut r).await.unwrap();
    }
    let n: i64 = redis::cmd("PFCOUNT")
        .arg("h1")
        .query_async(&mut r)
        .await
        .unwrap();
    assert!((n - 20_000).abs() < 20_000 * 3 / 100, "estimate {n}");
    let mut cmd = redis::cmd("PFADD");
    cmd.arg("h2");
    for i in 10_000..30_000 {
        cmd.arg(format!("e{i}"));
    }
    let _: i64 = cmd.query_async(&mut r).await.unwrap();
    let u: i64 = redis::cmd("PFCOUNT")
        .arg("h1")
        .arg("h2")
        .query_async(&mut r)
        .await
        .unwrap();
    assert!((u - 30_000).abs() < 30_000 * 3 / 100, "union estimate {u}");
    let _: () = redis::cmd("PFMERGE")
        .arg("m")
        .arg("h1")
        .arg("h2")
        .query_async(&mut r)
        .await
        .unwrap();
    let m: i64 = redis::cmd("PFCOUNT")
        .arg("m")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(m, u);
    // The value is a string in Redis' layout and survives GET/SET.
    let raw: Vec<u8> = redis::cmd("GET")
        .arg("m")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(&raw[..4], b"HYLL");
    let _: () = redis::cmd("SET")
        .arg("copy")
        .arg(&raw)
        .query_async(&mut r)
        .await
        .unwrap();
    let c: i64 = redis::cmd("PFCOUNT")
        .arg("copy")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(c, m);
    let t: String = redis::cmd("TYPE")
        .arg("copy")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(t, "string");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_sets_and_errors() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["PFADD", "h", "a", "b", "c"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["PFADD", "h", "a"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["PFADD", "empty"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["PFCOUNT", "h"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["PFCOUNT", "empty", "nokey"]).await, ":0\r\n");
    c.cmd(&["SET", "s", "hello"]).await;
    assert_eq!(
        c.cmd(&["PFADD", "s", "x"]).await,
        "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"
    );
    c.cmd(&["LPUSH", "l", "x"]).await;
    assert_eq!(
        c.cmd(&["PFCOUNT", "l"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

/// PFADD with no elements checks only the HLL header, as Redis does: a sparse HLL whose
/// payload is corrupt answers 0, a string that is not an HLL answers WRONGTYPE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pfadd_without_elements_checks_the_header() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["PFADD", "h"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["SETRANGE", "h", "100", "a"]).await, ":101\r\n");
    assert_eq!(c.cmd(&["PFADD", "h"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["PFCOUNT", "h"]).await,
        "-INVALIDOBJ Corrupted HLL object detected\r\n"
    );
    c.cmd(&["SET", "s", "HYLL"]).await;
    assert_eq!(
        c.cmd(&["PFADD", "s"]).await,
        "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"
    );
}
