//! Wire-level behaviour: RESP2/RESP3 framing, inline commands, pipelining, protocol errors,
//! table-driven errors (unknown command, arity), AUTH/HELLO.

mod common;
use common::{Raw, start, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_echo_inline_and_pipelining() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
    assert_eq!(c.cmd(&["ping", "hi"]).await, "$2\r\nhi\r\n");
    c.send_raw(b"PING\r\nECHO \"a b\"\r\n").await;
    assert_eq!(c.read().await, "+PONG\r\n");
    assert_eq!(c.read().await, "$3\r\na b\r\n");
    // 100 pipelined commands in one write, replies in order.
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$1\r\n{}\r\n",
                i % 10,
                i % 10
            )
            .as_bytes(),
        );
    }
    c.send_raw(&batch).await;
    for _ in 0..100 {
        assert_eq!(c.read().await, "+OK\r\n");
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_writes_are_reassembled() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let req = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    for chunk in req.chunks(3) {
        c.send_raw(chunk).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(c.read().await, "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "key"]).await, "$5\r\nvalue\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_driven_errors() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["NOPE", "a", "b"]).await,
        "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        c.cmd(&["GET"]).await,
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET"]).await,
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "bogus"]).await,
        "-ERR unknown subcommand 'bogus'. Try CONFIG HELP.\r\n"
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "NX", "XX"]).await,
        "-ERR syntax error\r\n"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_error_closes_connection() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    c.send_raw(b"*1\r\n+PING\r\n").await;
    assert_eq!(
        c.read().await,
        "-ERR Protocol error: expected '$', got '+'\r\n"
    );
    assert!(c.closed().await);
    let mut c = Raw::connect(&node).await;
    c.send_raw(b"*1\r\n$-3\r\n").await;
    assert_eq!(
        c.read().await,
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(c.closed().await);
    let mut c = Raw::connect(&node).await;
    c.send_raw(b"SET k \"unterminated\r\n").await;
    assert_eq!(
        c.read().await,
        "-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto_max_bulk_len_is_enforced() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1048576"])
            .await,
        "+OK\r\n"
    );
    c.send_raw(b"*2\r\n$3\r\nGET\r\n$1048577\r\n").await;
    assert_eq!(
        c.read().await,
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_hello_and_types() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let hello = c.cmd(&["HELLO", "3"]).await;
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.1.0\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"));
    assert_eq!(c.cmd(&["GET", "missing"]).await, "_\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]).await,
        "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        c.cmd(&["HELLO", "4"]).await,
        "-NOPROTO unsupported protocol version\r\n"
    );
    let hello2 = c.cmd(&["HELLO", "2"]).await;
    assert!(hello2.starts_with("*14\r\n"));
    assert_eq!(c.cmd(&["GET", "missing"]).await, "$-1\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_rules() {
    let node = start_with(|c| c.requirepass = Some("s3cret".into()));
    let mut c = Raw::connect(&node).await;
    assert_eq!(
        c.cmd(&["GET", "k"]).await,
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.cmd(&["PING"]).await,
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]).await,
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "s3cret"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
    let mut d = Raw::connect(&node).await;
    let h = d
        .cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "me"])
        .await;
    assert!(h.starts_with("%7"), "{h}");
    assert_eq!(d.cmd(&["CLIENT", "GETNAME"]).await, "$2\r\nme\r\n");
    let mut e = Raw::connect(&node).await;
    // Before AUTH, oversized multibulk requests are refused.
    e.send_raw(b"*20\r\n").await;
    assert_eq!(
        e.read().await,
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    node.shutdown().await;

    let open = start();
    let mut c = Raw::connect(&open).await;
    assert_eq!(
        c.cmd(&["AUTH", "x"]).await,
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    open.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_gating_hides_newer_commands() {
    let node = start_with(|c| c.engine_version = "6.0.5".into());
    let mut c = Raw::connect(&node).await;
    assert!(
        c.cmd(&["GETDEL", "k"])
            .await
            .starts_with("-ERR unknown command 'GETDEL'")
    );
    assert!(
        c.cmd(&["LCS", "a", "b"])
            .await
            .starts_with("-ERR unknown command")
    );
    assert_eq!(
        c.cmd(&["SET", "k", "v", "GET"]).await,
        "-ERR syntax error\r\n"
    );
    node.shutdown().await;
    let node = start_with(|c| c.engine_version = "7.2.4".into());
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["GETDEL", "k"]).await, "$-1\r\n");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crate_round_trip() {
    let node = start();
    let mut con = common::client(&node).await;
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .query_async(&mut con)
        .await
        .unwrap();
    let v: i64 = redis::cmd("INCRBY")
        .arg("a")
        .arg(41)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(v, 42);
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg("a")
        .arg("zz")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(got, vec![Some("42".to_string()), None]);
    assert_eq!(node.stats().keys, 1);
    assert!(node.stats().connected_clients >= 1);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections() {
    let node = start();
    let addr = node.local_addr();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
    node.shutdown().await;
    assert!(c.closed().await);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_takes_the_node_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = start();
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: &[u8] = b"*$:+-\r\n0123456789-\"' abcSETGETMULTIEXECHELLO3\\x";
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(node.local_addr())
            .await
            .unwrap();
        let len = (next() % 300) as usize;
        let junk: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() as usize) % alphabet.len()])
            .collect();
        let _ = s.write_all(&junk).await;
        let _ = s.shutdown().await;
        let mut sink = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(2), s.read_to_end(&mut sink)).await;
    }
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
    node.shutdown().await;
}

/// DEBUG PROTOCOL's test values of every RESP type, in RESP2 and RESP3, directly and through a
/// script in either protocol (`redis.setresp`, with DEBUG SET-DISABLE-DENY-SCRIPTS), and a
/// script's `big_number` with line breaks: byte for byte as redis-server 7.0.15 (redis'
/// scripting.tcl protocol-parsing tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_protocol_and_script_conversions_match_redis_server() {
    let Some(real) = common::ReferenceRedis::start(&["--enable-debug-command", "yes"]) else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    const TYPES: [&str; 14] = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false", "bogus",
    ];
    let run = |mut c: Raw| async move {
        let mut log = vec![c.cmd(&["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"]).await];
        for proto in ["2", "3"] {
            c.cmd(&["HELLO", proto]).await;
            for t in TYPES {
                log.push(c.cmd(&["DEBUG", "PROTOCOL", t]).await);
                // A push arrives before the reply that follows it.
                if t == "push" && proto == "3" {
                    log.push(c.read().await);
                }
                for lua in ["2", "3"] {
                    let script = format!(
                        "redis.setresp({lua}); return redis.call('debug', 'protocol', '{t}')"
                    );
                    log.push(c.cmd(&["EVAL", &script, "0"]).await);
                }
            }
            log.push(
                c.cmd(&["EVAL", "return {big_number='123\r\n123'}", "0"])
                    .await,
            );
        }
        log.push(c.cmd(&["DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0"]).await);
        log.push(
            c.cmd(&[
                "EVAL",
                "return redis.call('debug', 'protocol', 'true')",
                "0",
            ])
            .await,
        );
        log
    };
    let theirs = run(real.connect().await).await;
    let node = start();
    let ours = run(Raw::connect(&node).await).await;
    common::assert_same_steps("DEBUG PROTOCOL", &ours, &theirs);
    node.shutdown().await;
}
