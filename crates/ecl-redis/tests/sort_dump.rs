//! SORT/SORT_RO and DUMP/RESTORE over the wire, using payloads captured from a real Redis 7.0.

mod common;
use common::{Raw, start_with};

fn from_hex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// Real Redis 7.0 DUMP of a list `a b 12345 ccc`.
const LIST: &str = "12010216160000000400816102816202f13930038363636304ff0a0015475e2d0fa1d94e";
/// Real Redis 7.0 DUMP of the intset {1, 2, 300}.
const INTSET: &str = "0b0e0200000003000000010002002c010a00e510b28e7b9529aa";

fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let h = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let n: usize = std::str::from_utf8(&reply[1..h]).unwrap().parse().unwrap();
    reply[h + 2..h + 2 + n].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_sort_and_dump_round_trip() {
    let node = start_with(|c| c.engine_version = "7.0.7".into());
    let mut c = Raw::connect(&node).await;
    let list = from_hex(LIST);
    assert_eq!(
        c.cmd_bytes(&[b"RESTORE", b"l", b"0", &list]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd_bytes(&[b"RESTORE", b"l", b"0", &list]).await,
        b"-BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(c.cmd(&["TYPE", "l"]).await, "+list\r\n");
    assert_eq!(
        c.cmd(&["SORT", "l"]).await,
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT", "l", "ALPHA"]).await,
        "*4\r\n$5\r\n12345\r\n$1\r\na\r\n$1\r\nb\r\n$3\r\nccc\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT_RO", "l", "ALPHA", "DESC", "LIMIT", "1", "2"])
            .await,
        "*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    let set = from_hex(INTSET);
    assert_eq!(
        c.cmd_bytes(&[b"RESTORE", b"s", b"0", &set]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT", "s", "DESC"]).await,
        "*3\r\n$3\r\n300\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    c.cmd(&[
        "MSET", "w_1", "30", "w_2", "10", "w_300", "20", "o_1", "one", "o_2", "two",
    ])
    .await;
    assert_eq!(
        c.cmd(&["SORT", "s", "BY", "w_*"]).await,
        "*3\r\n$1\r\n2\r\n$3\r\n300\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT", "s", "BY", "w_*", "GET", "#", "GET", "o_*"])
            .await,
        "*6\r\n$1\r\n2\r\n$3\r\ntwo\r\n$3\r\n300\r\n$-1\r\n$1\r\n1\r\n$3\r\none\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT", "s", "BY", "nosort", "STORE", "dst"]).await,
        ":3\r\n"
    );
    assert_eq!(c.cmd(&["TYPE", "dst"]).await, "+list\r\n");
    // Redis 7.0 stores SORT results in a quicklist whatever their size.
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "dst"]).await,
        "$9\r\nquicklist\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT", "dst"]).await,
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$3\r\n300\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT_RO", "s", "STORE", "x"]).await,
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "SORT", "s", "STORE", "x"])
            .await,
        "*2\r\n$1\r\ns\r\n$1\r\nx\r\n"
    );
    c.cmd(&["SET", "str", "v"]).await;
    assert_eq!(
        c.cmd(&["SORT", "str"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );

    // Our DUMP restores into ourselves (and, as checked by hand, into Redis 7.0).
    let dumped = bulk_payload(&c.cmd_bytes(&[b"DUMP", b"l"]).await);
    assert_eq!(
        c.cmd_bytes(&[b"RESTORE", b"l2", b"5000", &dumped]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["SORT", "l2", "ALPHA"]).await,
        c.cmd(&["SORT", "l", "ALPHA"]).await
    );
    let pttl = c.cmd(&["PTTL", "l2"]).await;
    assert!(pttl.starts_with(':') && pttl != ":-1\r\n", "{pttl}");
    let mut bad = dumped.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    assert_eq!(
        c.cmd_bytes(&[b"RESTORE", b"l3", b"0", &bad]).await,
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(
        c.cmd(&["RESTORE", "l3", "-1", "x"]).await,
        "-ERR Invalid TTL value, must be >= 0\r\n"
    );
    assert_eq!(c.cmd(&["DUMP", "nokey"]).await, "$-1\r\n");
    node.shutdown().await;
}

/// From 7.2 a small SORT … STORE result is a listpack, as for any list that fits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_store_encoding_on_72() {
    let node = start_with(|c| c.engine_version = "7.2.4".into());
    let mut c = Raw::connect(&node).await;
    c.cmd(&["RPUSH", "l", "3", "1", "2"]).await;
    assert_eq!(c.cmd(&["SORT", "l", "STORE", "d"]).await, ":3\r\n");
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "d"]).await,
        "$8\r\nlistpack\r\n"
    );
    node.shutdown().await;
}

/// SORT reads numeric weights as strtod reads the C string (replies as redis-server 7.0.15
/// gives them): leading white space skipped, the text ends at a NUL, an empty weight is 0;
/// trailing text and out-of-range values (ERANGE, subnormals included) are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_weights_read_as_strtod() {
    let node = start_with(|_| {});
    let mut c = Raw::connect(&node).await;
    c.cmd_bytes(&[b"RPUSH", b"l", b" 3", b"\t2", b"1\x00x", b"", b"0x10"])
        .await;
    assert_eq!(
        c.cmd_bytes(&[b"SORT", b"l"]).await,
        b"*5\r\n$0\r\n\r\n$3\r\n1\x00x\r\n$2\r\n\t2\r\n$2\r\n 3\r\n$4\r\n0x10\r\n".to_vec()
    );
    let refused = "-ERR One or more scores can't be converted into double\r\n";
    for bad in ["1 ", "1e400", "1e-310", "nan", " "] {
        c.cmd(&["DEL", "b"]).await;
        c.cmd(&["RPUSH", "b", bad]).await;
        assert_eq!(c.cmd(&["SORT", "b"]).await, refused, "{bad:?}");
    }
}

/// SORT converts a listpack sorted set it reads to a skiplist, for good (even when it then
/// fails on a weight), without touching its WATCH version (as redis-server 7.0.15 does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_converts_sorted_sets_to_skiplist() {
    let node = start_with(|_| {});
    let mut c = Raw::connect(&node).await;
    let skiplist = "$8\r\nskiplist\r\n";
    c.cmd(&["ZADD", "z", "1", "a", "0", "1"]).await;
    c.cmd(&["WATCH", "z"]).await;
    assert_eq!(
        c.cmd(&["SORT", "z", "LIMIT", "0", "1", "ALPHA"]).await,
        "*1\r\n$1\r\n1\r\n"
    );
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "z"]).await, skiplist);
    c.cmd(&["MULTI"]).await;
    assert_eq!(c.cmd(&["EXEC"]).await, "*0\r\n");
    c.cmd(&["ZADD", "w", "1", "a"]).await;
    assert_eq!(
        c.cmd(&["SORT_RO", "w"]).await,
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "w"]).await, skiplist);
}
