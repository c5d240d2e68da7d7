//! Strings, bitmaps and generic key commands against a real node (exact replies).

mod common;
use common::{Raw, start};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_options() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["SET", "k", "v1", "NX"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v2", "NX"]).await, "$-1\r\n");
    assert_eq!(
        c.cmd(&["SET", "k", "v3", "XX", "GET"]).await,
        "$2\r\nv1\r\n"
    );
    assert_eq!(c.cmd(&["SET", "nokey", "v", "XX"]).await, "$-1\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v4", "EX", "100"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["TTL", "k"]).await, ":100\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v5", "KEEPTTL"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["TTL", "k"]).await, ":100\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v6"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["TTL", "k"]).await, ":-1\r\n");
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX", "0"]).await,
        "-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX", "x"]).await,
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "EX", "1", "PX", "1"]).await,
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "PXAT", "99999999999999"]).await,
        "+OK\r\n"
    );
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]).await, ":99999999999999\r\n");
    assert_eq!(
        c.cmd(&["SETEX", "s", "-1", "v"]).await,
        "-ERR invalid expire time in 'setex' command\r\n"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_errors() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["INCR", "n"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["INCRBY", "n", "-5"]).await, ":-4\r\n");
    assert_eq!(c.cmd(&["DECRBY", "n", "6"]).await, ":-10\r\n");
    assert_eq!(
        c.cmd(&["SET", "big", "9223372036854775807"]).await,
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["INCR", "big"]).await,
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(c.cmd(&["SET", "s", "abc"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["INCR", "s"]).await,
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        c.cmd(&["INCRBYFLOAT", "s", "1"]).await,
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(c.cmd(&["INCRBYFLOAT", "f", "10.5"]).await, "$4\r\n10.5\r\n");
    assert_eq!(c.cmd(&["INCRBYFLOAT", "f", "0.1"]).await, "$4\r\n10.6\r\n");
    assert_eq!(
        c.cmd(&["INCRBYFLOAT", "f", "5.0e3"]).await,
        // As redis-server 7.0 answers: the sum is taken in long double.
        "$22\r\n5010.60000000000000009\r\n"
    );
    assert_eq!(c.cmd(&["APPEND", "s", "de"]).await, ":5\r\n");
    assert_eq!(c.cmd(&["STRLEN", "s"]).await, ":5\r\n");
    assert_eq!(c.cmd(&["GETRANGE", "s", "1", "-2"]).await, "$3\r\nbcd\r\n");
    assert_eq!(c.cmd(&["SETRANGE", "s", "7", "X"]).await, ":8\r\n");
    assert_eq!(c.cmd(&["GET", "s"]).await, "$8\r\nabcde\0\0X\r\n");
    assert_eq!(c.cmd(&["MSETNX", "s", "1", "t", "2"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["MSET", "a"]).await,
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(c.cmd(&["GETDEL", "s"]).await, "$8\r\nabcde\0\0X\r\n");
    assert_eq!(c.cmd(&["EXISTS", "s"]).await, ":0\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lcs_and_bits() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["MSET", "key1", "ohmytext", "key2", "mynewtext"])
        .await;
    assert_eq!(c.cmd(&["LCS", "key1", "key2"]).await, "$6\r\nmytext\r\n");
    assert_eq!(c.cmd(&["LCS", "key1", "key2", "LEN"]).await, ":6\r\n");
    assert_eq!(
        c.cmd(&[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN"
        ])
        .await,
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(c.cmd(&["SETBIT", "b", "7", "1"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["GETBIT", "b", "7"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["GET", "b"]).await, "$1\r\n\x01\r\n");
    assert_eq!(
        c.cmd(&["SETBIT", "b", "7", "2"]).await,
        "-ERR bit is not an integer or out of range\r\n"
    );
    c.cmd(&["SET", "mykey", "foobar"]).await;
    assert_eq!(c.cmd(&["BITCOUNT", "mykey"]).await, ":26\r\n");
    assert_eq!(c.cmd(&["BITCOUNT", "mykey", "1", "1"]).await, ":6\r\n");
    assert_eq!(
        c.cmd(&["BITCOUNT", "mykey", "5", "30", "BIT"]).await,
        ":17\r\n"
    );
    c.cmd(&["SET", "p", "\u{00ff}"]).await;
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$3\r\n\xff\xf0\x00\r\n")
        .await;
    assert_eq!(c.read().await, "+OK\r\n");
    assert_eq!(c.cmd(&["BITPOS", "p", "0"]).await, ":12\r\n");
    assert_eq!(
        c.cmd(&["BITPOS", "p", "1", "2", "-1", "BYTE"]).await,
        ":-1\r\n"
    );
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$2\r\nff\r\n$3\r\n\xff\xff\xff\r\n")
        .await;
    c.read().await;
    assert_eq!(c.cmd(&["BITPOS", "ff", "0"]).await, ":24\r\n");
    assert_eq!(c.cmd(&["BITPOS", "ff", "0", "0", "-1"]).await, ":-1\r\n");
    c.cmd(&["SET", "k1", "foobar"]).await;
    c.cmd(&["SET", "k2", "abcdef"]).await;
    assert_eq!(c.cmd(&["BITOP", "AND", "dest", "k1", "k2"]).await, ":6\r\n");
    assert_eq!(c.cmd(&["GET", "dest"]).await, "$6\r\n`bc`ab\r\n");
    assert_eq!(
        c.cmd(&["BITOP", "NOT", "dest", "k1", "k2"]).await,
        "-ERR BITOP NOT must be called with a single source key.\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "BITFIELD", "bf", "INCRBY", "i5", "100", "1", "GET", "u4", "0"
        ])
        .await,
        "*2\r\n:1\r\n:0\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "BITFIELD", "bf2", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "5", "OVERFLOW", "SAT",
            "INCRBY", "u2", "102", "5"
        ])
        .await,
        "*2\r\n$-1\r\n:3\r\n"
    );
    assert_eq!(
        c.cmd(&["BITFIELD_RO", "bf", "SET", "u4", "0", "1"]).await,
        "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_family_and_clock() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["SET", "k", "v"]).await;
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "XX"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "NX"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "GT"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "LT"]).await, ":1\r\n");
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "50", "NX", "XX"]).await,
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "50", "GT", "LT"]).await,
        "-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "50", "FOO"]).await,
        "-ERR Unsupported option FOO\r\n"
    );
    assert!(c.cmd(&["PTTL", "k"]).await.starts_with(":"));
    assert_eq!(c.cmd(&["PERSIST", "k"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["TTL", "k"]).await, ":-1\r\n");
    assert_eq!(c.cmd(&["TTL", "nokey"]).await, ":-2\r\n");
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]).await, ":-1\r\n");
    c.cmd(&["PEXPIRE", "k", "1500"]).await;
    c.cmd(&["SET", "untouched", "v", "PX", "1500"]).await;
    assert_eq!(c.cmd(&["DBSIZE"]).await, ":2\r\n");
    node.advance_clock(Duration::from_secs(2));
    assert_eq!(c.cmd(&["GET", "k"]).await, "$-1\r\n", "lazy expiry");
    // Active expiry reclaims the key nobody touches; poll DBSIZE (bounded) rather than sleep.
    let mut gone = false;
    for _ in 0..100 {
        if c.cmd(&["DBSIZE"]).await == ":0\r\n" {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "active expiry removed the untouched key");
    let info = c.cmd(&["INFO", "stats"]).await;
    assert!(info.contains("expired_keys:2"), "{info}");
    assert_eq!(c.cmd(&["EXPIRE", "k", "10"]).await, ":0\r\n");
    c.cmd(&["SET", "k", "v"]).await;
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "-1"]).await,
        ":1\r\n",
        "past expiry deletes"
    );
    assert_eq!(c.cmd(&["EXISTS", "k"]).await, ":0\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_commands() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.cmd(&["MSET", "user:1", "a", "user:2", "b", "other", "c"])
        .await;
    let keys = c.cmd(&["KEYS", "user:*"]).await;
    assert!(keys.starts_with("*2\r\n") && keys.contains("user:1") && keys.contains("user:2"));
    assert_eq!(c.cmd(&["TYPE", "other"]).await, "+string\r\n");
    assert_eq!(c.cmd(&["TYPE", "none"]).await, "+none\r\n");
    assert_eq!(
        c.cmd(&["RENAME", "none", "x"]).await,
        "-ERR no such key\r\n"
    );
    assert_eq!(c.cmd(&["RENAME", "other", "renamed"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["RENAMENX", "renamed", "user:1"]).await, ":0\r\n");
    assert_eq!(c.cmd(&["COPY", "renamed", "copy"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["COPY", "renamed", "copy"]).await, ":0\r\n");
    assert_eq!(
        c.cmd(&["COPY", "renamed", "copy", "REPLACE"]).await,
        ":1\r\n"
    );
    assert_eq!(
        c.cmd(&["COPY", "renamed", "renamed"]).await,
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(c.cmd(&["MOVE", "copy", "1"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["SELECT", "1"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "copy"]).await, "$1\r\nc\r\n");
    assert_eq!(
        c.cmd(&["SELECT", "16"]).await,
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]).await, ":3\r\n");
    assert_eq!(c.cmd(&["SELECT", "0"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["RANDOMKEY"]).await, "$4\r\ncopy\r\n");
    assert_eq!(c.cmd(&["TOUCH", "copy", "nope"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["DEL", "copy", "nope"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["RANDOMKEY"]).await, "$-1\r\n");
    c.cmd(&["SET", "n", "12345"]).await;
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "n"]).await, "$3\r\nint\r\n");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "missing"]).await, "$-1\r\n");
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "n"]).await, ":0\r\n");
    assert!(
        c.cmd(&["OBJECT", "FREQ", "n"])
            .await
            .starts_with("-ERR An LFU maxmemory policy is not selected")
    );
    assert_eq!(c.cmd(&["FLUSHALL"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["FLUSHALL", "ASYNC"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["WAIT", "0", "0"]).await, ":0\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_covers_everything_with_filters() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    for i in 0..300 {
        c.cmd(&["SET", &format!("key:{i}"), "v"]).await;
    }
    c.cmd(&["SET", "other", "v"]).await;
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 1000);
        let r = c
            .cmd(&[
                "SCAN", &cursor, "MATCH", "key:*", "COUNT", "20", "TYPE", "string",
            ])
            .await;
        let lines: Vec<&str> = r.split("\r\n").collect();
        cursor = lines[2].to_string();
        for (i, l) in lines.iter().enumerate().skip(5) {
            if i % 2 == 1 && !l.is_empty() {
                seen.insert(l.to_string());
            }
        }
        // Concurrent writes between calls must not hide stable keys.
        c.cmd(&["SET", &format!("tmp:{rounds}"), "v"]).await;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    assert!(seen.iter().all(|k| k.starts_with("key:")));
    assert_eq!(c.cmd(&["SCAN", "abc"]).await, "-ERR invalid cursor\r\n");
    assert_eq!(
        c.cmd(&["SCAN", "0", "COUNT", "0"]).await,
        "-ERR syntax error\r\n"
    );
    node.shutdown().await;
}

/// OBJECT ENCODING follows how Redis builds each string, not just its length: SET-like
/// commands give int/embstr, in-place edits and BITOP/HyperLogLog give raw, INCRBYFLOAT a
/// plain string (embstr even when integer-like).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_encodings_follow_how_the_value_was_built() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let steps: &[(&[&str], &str, &str)] = &[
        (&["SET", "a", "12"], "a", "int"),
        (&["SET", "b", "hello"], "b", "embstr"),
        (&["APPEND", "a", "3"], "a", "raw"),
        (&["APPEND", "d", "5"], "d", "int"),
        (&["APPEND", "e", "hi"], "e", "embstr"),
        (&["SETRANGE", "b", "0", "J"], "b", "raw"),
        (&["SETBIT", "g", "3", "1"], "g", "raw"),
        (&["PFADD", "h", "x", "y"], "h", "raw"),
        (&["INCR", "a"], "a", "int"),
        (&["INCRBYFLOAT", "l", "3"], "l", "embstr"),
        (&["BITOP", "OR", "n", "g", "g"], "n", "raw"),
        (&["SET", "o", "abc"], "o", "embstr"),
        (&["BITFIELD", "o", "GET", "u8", "0"], "o", "embstr"),
        (&["BITFIELD", "o", "SET", "u8", "0", "1"], "o", "raw"),
        (&["COPY", "b", "b2"], "b2", "raw"),
        (&["SET", "b", "again"], "b", "embstr"),
    ];
    for (cmd, key, want) in steps {
        let r = c.cmd(cmd).await;
        assert!(!r.starts_with('-'), "{cmd:?}: {r}");
        let enc = c.cmd(&["OBJECT", "ENCODING", key]).await;
        assert_eq!(enc, format!("${}\r\n{want}\r\n", want.len()), "{cmd:?}");
    }
    node.shutdown().await;
}

/// OBJECT REFCOUNT: Redis answers `INT_MAX` for its shared integer objects (0..9999 built by
/// SET-like commands, INCR, APPEND creating the key) unless an LRU/LFU policy with a memory
/// limit forbids sharing; a COPY is an object of its own (values as redis-server 7.0.15 gives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refcount_of_shared_integers() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let shared = ":2147483647\r\n";
    let steps: &[(&[&str], &str, &str)] = &[
        (&["SET", "a", "5"], "a", shared),
        (&["SET", "b", "10000"], "b", ":1\r\n"),
        (&["SET", "c", "-0"], "c", ":1\r\n"),
        (&["INCR", "d"], "d", shared),
        (&["APPEND", "e", "9999"], "e", shared),
        (&["APPEND", "a", "1"], "a", ":1\r\n"),
        (&["SET", "f", "7"], "f", shared),
        (&["COPY", "f", "g"], "g", ":1\r\n"),
        (&["RENAME", "f", "h"], "h", shared),
        (&["INCRBYFLOAT", "i", "2"], "i", ":1\r\n"),
        (&["CONFIG", "SET", "maxmemory", "1gb"], "h", shared),
        (
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            "l",
            "$-1\r\n",
        ),
        (&["SET", "j", "8"], "j", ":1\r\n"),
        (
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
            "l",
            "$-1\r\n",
        ),
        (&["SET", "k", "8"], "k", shared),
        (&["RPUSH", "l", "1"], "l", ":1\r\n"),
    ];
    for (cmd, key, want) in steps {
        let r = c.cmd(cmd).await;
        assert!(!r.starts_with('-'), "{cmd:?}: {r}");
        assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", key]).await, *want, "{cmd:?}");
    }
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "nokey"]).await, "$-1\r\n");
    node.shutdown().await;
}

/// OBJECT REFCOUNT inside EXEC: Redis keeps a queued command's arguments until EXEC ends, and
/// SET-like commands store their argument object itself, so such a value counts 2 until then
/// (also after RENAME and MOVE); an edit (APPEND, SETRANGE), a COPY or a SET run by a script
/// gives an object of its own (values as redis-server 7.0.15 gives them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refcount_of_values_set_inside_exec() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let script = "redis.call('set','s','zz') return redis.call('object','refcount','s')";
    let steps: &[(&[&str], &str)] = &[
        (&["SET", "a", "x"], "a"),
        (&["SET", "b", "123456"], "b"),
        (&["MSET", "c", "x", "d", "y"], "d"),
        (&["SETNX", "e", "x"], "e"),
        (&["SETEX", "f", "100", "x"], "f"),
        (&["GETSET", "g", "x"], "g"),
        (&["APPEND", "h", "x"], "h"),
        (&["APPEND", "a", "y"], "a"),
        (&["RENAME", "b", "i"], "i"),
        (&["COPY", "c", "j"], "j"),
        (&["SET", "k", "5"], "k"),
        (&["EVAL", script, "0"], "c"),
    ];
    assert_eq!(c.cmd(&["MULTI"]).await, "+OK\r\n");
    for (cmd, key) in steps {
        assert_eq!(c.cmd(cmd).await, "+QUEUED\r\n");
        assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", key]).await, "+QUEUED\r\n");
    }
    let want = [
        "+OK\r\n:2\r\n",
        "+OK\r\n:2\r\n",
        "+OK\r\n:2\r\n",
        ":1\r\n:2\r\n",
        "+OK\r\n:2\r\n",
        "$-1\r\n:2\r\n",
        ":1\r\n:2\r\n",
        ":2\r\n:1\r\n",
        "+OK\r\n:2\r\n",
        ":1\r\n:1\r\n",
        "+OK\r\n:2147483647\r\n",
        ":1\r\n:2\r\n",
    ];
    assert_eq!(c.cmd(&["EXEC"]).await, format!("*24\r\n{}", want.concat()));
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "i"]).await, ":1\r\n");
    assert_eq!(c.cmd(&["OBJECT", "REFCOUNT", "s"]).await, ":1\r\n");
    node.shutdown().await;
}

/// INCRBYFLOAT adds in long double as Redis does (values as redis-server 7.0 answers them),
/// and treats numerals beyond the long-double range as invalid floats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incrbyfloat_uses_long_double_text() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    c.cmd(&["SET", "w", "1001.5"]).await;
    assert_eq!(
        c.cmd(&["INCRBYFLOAT", "w", "0.1"]).await,
        bulk("1001.59999999999999998")
    );
    c.cmd(&["SET", "w", "10.50"]).await;
    assert_eq!(c.cmd(&["INCRBYFLOAT", "w", "0.1"]).await, bulk("10.6"));
    assert_eq!(c.cmd(&["INCRBYFLOAT", "w", "-5"]).await, bulk("5.6"));
    c.cmd(&["SET", "w", "5.0e3"]).await;
    assert_eq!(c.cmd(&["INCRBYFLOAT", "w", "2.0e2"]).await, bulk("5200"));
    for want in ["0.1", "0.2", "0.3", "0.4", "0.5"] {
        assert_eq!(c.cmd(&["INCRBYFLOAT", "q", "0.1"]).await, bulk(want));
    }
    // 1e400 is finite as a long double; 2e4932 is not.
    c.cmd(&["SET", "big", "1e400"]).await;
    let r = c.cmd(&["INCRBYFLOAT", "big", "1e400"]).await;
    assert!(r.starts_with("$401\r\n2000"), "{r}");
    assert_eq!(
        c.cmd(&["INCRBYFLOAT", "big", "2e4932"]).await,
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        c.cmd(&["INCRBYFLOAT", "big", "inf"]).await,
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    node.shutdown().await;
}

/// `DEBUG SET-ACTIVE-EXPIRE 0` stops the periodic cycle from removing expired keys (they stay
/// counted until accessed, as in Redis's own tests); `1` turns it back on.
#[tokio::test]
async fn debug_set_active_expire_switches_the_background_cycle() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await, "+OK\r\n");
    for i in 0..5 {
        c.cmd(&["SET", &format!("k{i}"), "v", "PX", "1"]).await;
    }
    // Several periodic cycles (10 per second) pass: nothing is removed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.cmd(&["DBSIZE"]).await, ":5\r\n");
    // An access expires the key it touches.
    assert_eq!(c.cmd(&["GET", "k0"]).await, "$-1\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]).await, ":4\r\n");
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).await, "+OK\r\n");
    let mut size = String::new();
    for _ in 0..50 {
        size = c.cmd(&["DBSIZE"]).await;
        if size == ":0\r\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(size, ":0\r\n");
}

/// `rdb_changes_since_last_save` in an `INFO persistence` reply.
fn dirty_of(info: &str) -> i64 {
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

/// Each command's reply and how much it raised the dirty count, in order.
async fn bit_writes_transcript(mut c: Raw) -> Vec<(String, i64)> {
    let script: &[&[&str]] = &[
        &["SETBIT", "a", "0", "0"],
        &["SETBIT", "a", "0", "0"],
        &["SETBIT", "a", "0", "1"],
        &["SETBIT", "a", "100", "0"],
        &["BITFIELD", "b", "SET", "i5", "0", "0"],
        &["BITFIELD", "b", "SET", "i5", "0", "0"],
        &[
            "BITFIELD", "b", "SET", "i5", "0", "1", "SET", "i5", "5", "0",
        ],
        &[
            "BITFIELD", "b", "SET", "i5", "0", "1", "SET", "u8", "100", "0",
        ],
        &["BITFIELD", "b", "INCRBY", "i5", "0", "0"],
        &[
            "BITFIELD", "b", "SET", "i5", "0", "1", "INCRBY", "u4", "0", "1",
        ],
        &["BITFIELD", "c", "OVERFLOW", "FAIL", "SET", "u2", "0", "9"],
        &["STRLEN", "c"],
        &[
            "BITFIELD", "d", "OVERFLOW", "FAIL", "SET", "u2", "0", "9", "SET", "u2", "0", "1",
        ],
        &["GET", "d"],
        &["BITFIELD", "e", "GET", "u8", "0"],
        &["EXISTS", "e"],
    ];
    let mut seen = Vec::new();
    for args in script {
        let before = dirty_of(&c.cmd(&["INFO", "persistence"]).await);
        let reply = c.cmd(args).await;
        let after = dirty_of(&c.cmd(&["INFO", "persistence"]).await);
        seen.push((reply, after - before));
    }
    seen
}

/// SETBIT and BITFIELD count (and signal) only writes that change the string, or create or
/// grow it, as redis-server 7.0 does (bitops.tcl); a BITFIELD whose every write overflows still
/// creates a missing key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_writes_count_changes_as_redis_server_does() {
    let Some((ours, theirs)) = common::ours_and_theirs(|c, _| bit_writes_transcript(c)).await
    else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours, theirs);
    assert_eq!(theirs[1].1, 0, "an unchanged bit is no change: {theirs:?}");
}
