//! Per-key flags: `COMMAND GETKEYSANDFLAGS` and the key specs of `COMMAND INFO`, read through
//! the `redis` crate from a real node, against the flags Redis 7 documents for each command.

mod common;

use common::{client, start};
use redis::Value;

/// `(key, flags)` pairs from `COMMAND GETKEYSANDFLAGS <args…>`.
async fn keys_and_flags(
    c: &mut redis::aio::MultiplexedConnection,
    args: &[&str],
) -> Vec<(String, Vec<String>)> {
    let mut cmd = redis::cmd("COMMAND");
    cmd.arg("GETKEYSANDFLAGS").arg(args);
    let reply: Vec<(String, Vec<String>)> = cmd.query_async(c).await.unwrap();
    reply
}

/// One case: the command line and the `(key, flags)` pairs Redis reports for it.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static [&'static str])],
);

fn pairs(v: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    v.iter()
        .map(|(k, f)| (k.to_string(), f.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getkeysandflags_reports_per_key_flags() {
    let node = start();
    let mut c = client(&node).await;
    let cases: &[Case] = &[
        (
            &["LMOVE", "mylist1", "mylist2", "left", "left"],
            &[
                ("mylist1", &["RW", "access", "delete"]),
                ("mylist2", &["RW", "insert"]),
            ],
        ),
        (&["SET", "k", "v"], &[("k", &["OW", "update"])]),
        (
            &["SET", "k", "v", "GET"],
            &[("k", &["RW", "access", "update"])],
        ),
        (&["GET", "k"], &[("k", &["RO", "access"])]),
        (
            &["DEL", "a", "b"],
            &[("a", &["RM", "delete"]), ("b", &["RM", "delete"])],
        ),
        (
            &["COPY", "a", "b"],
            &[("a", &["RO", "access"]), ("b", &["OW", "update"])],
        ),
        (
            &["SINTERSTORE", "d", "a", "b"],
            &[
                ("d", &["RW", "update"]),
                ("a", &["RO", "access"]),
                ("b", &["RO", "access"]),
            ],
        ),
        (
            &["ZUNIONSTORE", "d", "2", "a", "b"],
            &[
                ("d", &["OW", "update"]),
                ("a", &["RO", "access"]),
                ("b", &["RO", "access"]),
            ],
        ),
        (
            &["SORT", "k", "STORE", "d"],
            &[("k", &["RO", "access"]), ("d", &["OW", "update"])],
        ),
        (
            &["BITFIELD", "k", "GET", "u8", "0"],
            &[("k", &["RO", "access"])],
        ),
        (&["EXISTS", "k"], &[("k", &["RO"])]),
    ];
    for (args, want) in cases {
        assert_eq!(keys_and_flags(&mut c, args).await, pairs(want), "{args:?}");
    }
    // Shard channels are flagged not_key, so SPUBLISH has no keys to report.
    let err = redis::cmd("COMMAND")
        .arg(&["GETKEYSANDFLAGS", "SPUBLISH", "ch", "msg"])
        .query_async::<Value>(&mut c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no key arguments"), "{err}");
    node.shutdown().await;
}

/// Flag sets of every key spec of one command, from `COMMAND INFO`.
async fn spec_flags(c: &mut redis::aio::MultiplexedConnection, name: &str) -> Vec<Vec<String>> {
    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(name)
        .query_async(c)
        .await
        .unwrap();
    let Value::Array(outer) = info else {
        panic!("{info:?}")
    };
    let Value::Array(fields) = &outer[0] else {
        panic!("{outer:?}")
    };
    let Value::Array(specs) = &fields[8] else {
        panic!("{fields:?}")
    };
    specs
        .iter()
        .map(|s| {
            let items: Vec<Value> = match s {
                Value::Array(a) => a.clone(),
                Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
                other => panic!("{other:?}"),
            };
            let flags = items
                .chunks(2)
                .find(|kv| matches!(&kv[0], Value::BulkString(b) if b == b"flags"))
                .map(|kv| kv[1].clone())
                .unwrap();
            redis::from_redis_value::<Vec<String>>(flags).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_info_key_specs_split_by_role() {
    let node = start();
    let mut c = client(&node).await;
    assert_eq!(
        spec_flags(&mut c, "lmove").await,
        vec![vec!["RW", "access", "delete"], vec!["RW", "insert"]]
    );
    assert_eq!(
        spec_flags(&mut c, "sinterstore").await,
        vec![vec!["RW", "update"], vec!["RO", "access"]]
    );
    assert_eq!(spec_flags(&mut c, "get").await, vec![vec!["RO", "access"]]);
    assert_eq!(
        spec_flags(&mut c, "set").await,
        vec![vec!["RW", "access", "update", "variable_flags"]]
    );
    // Movable-key commands whose first key has a fixed place report it as Redis derives it.
    for name in ["zunionstore", "sort"] {
        let info: Vec<Value> = redis::cmd("COMMAND")
            .arg("INFO")
            .arg(name)
            .query_async(&mut c)
            .await
            .unwrap();
        let Value::Array(fields) = &info[0] else {
            panic!("{info:?}")
        };
        let fls: Vec<i64> = fields[3..6]
            .iter()
            .map(|v| redis::from_redis_value(v.clone()).unwrap())
            .collect();
        assert_eq!(fls, vec![1, 1, 1], "{name}");
    }
    node.shutdown().await;
}
