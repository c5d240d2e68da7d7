//! Redis 7 functions against a real node: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/
//! KILL and FCALL/FCALL_RO replies compared byte for byte with an installed redis-server
//! 7.0.15 (skipped when none is installed), FUNCTION DUMP payloads restored across both
//! servers, libraries replicated (stream and full copy) and kept in RDB images, BUSY and
//! FUNCTION KILL while a function runs, and `redis.set_repl` keeping effects off replicas.

mod common;
use common::{Raw, start, start_busy_after_ms, start_with};
use ecl_redis::RedisNode;
use std::time::Duration;

/// A library with functions covering arguments, errors, flags and writes.
const LIB: &str = "#!lua name=lib\n\
redis.register_function('echo', function(keys, args) return {keys, args} end)\n\
redis.register_function('boom', function(keys, args) error('boom') end)\n\
redis.register_function('bad', function(keys, args) return redis.call('nosuch') end)\n\
redis.register_function('put', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
redis.register_function{function_name='peek', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}, description='reads'}\n\
redis.register_function('globals', function(keys, args) return KEYS end)\n\
redis.register_function('reply', function(keys, args) return redis.error_reply('MY err') end)\n\
redis.register_function('thrown', function(keys, args) return error({err='XX y'}) end)\n\
redis.register_function('nested', function(keys, args) return redis.call('fcall', 'echo', 0) end)\n\
redis.register_function('resp3', function(keys, args) redis.setresp(3) return redis.call('hgetall', 'h') end)\n\
redis.register_function('reg', function() redis.register_function('x', function() end) end)\n";

/// The command sequence sent to both servers, in order, on one connection.
const CASES: &[&[&str]] = &[
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "DUMP"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=x"],
    &["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=x-1\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!foo name=z\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!foo name=z-\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z foo=bar\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z name=y\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!LUA   name=ws \nredis.register_function('wsf', function() return 'ws' end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function('f-1', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.call('set','a','b')",
    ],
    &["FUNCTION", "LOAD", "#!lua name=z\nlocal x = redis.setresp"],
    &["FUNCTION", "LOAD", "#!lua name=z\nlocal x = math.random()"],
    &["FUNCTION", "LOAD", "#!lua name=z\nx = 1"],
    &["FUNCTION", "LOAD", "#!lua name=z\nredis.foo = 1"],
    &["FUNCTION", "LOAD", "#!lua name=z\nlocal a = nil + 1"],
    &["FUNCTION", "LOAD", "#!lua name=z\n+++"],
    &["FUNCTION", "LOAD", "#!lua name=z\nwhile true do end"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function('g', function() end) redis.register_function('G', function() end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function('g')",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function('g', 1)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function(function() end, 'g')",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function()",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function('a', 'b', 'c')",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{function_name='g'}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{callback=function() end}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{function_name='g', callback=function() end, foo=1}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{function_name='g', callback=function() end, flags='no-writes'}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{function_name='g', callback=2}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{'g', function() end}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{function_name='g', callback=function() end, flags={'bad'}}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function{function_name='g', callback=function() end, flags={1}}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=num\nredis.register_function{function_name=1, callback=function() return 'one' end, description=2}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=allflags\nredis.register_function{function_name='af', callback=function() end, flags={'allow-oom','allow-stale','no-cluster','allow-cross-slot-keys','no-writes'}}",
    ],
    &["FUNCTION", "LIST", "LIBRARYNAME", "allflags"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "NUM", "WITHCODE"],
    &["FCALL", "1", "0"],
    &["FUNCTION", "FLUSH", "SYNC"],
    &["FUNCTION", "LOAD", LIB],
    &["FUNCTION", "LOAD", LIB],
    &["FUNCTION", "LOAD", "REPLACE", LIB],
    &["FUNCTION", "LOAD", "foo", LIB],
    &["FUNCTION", "LOAD", "replace"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=other\nredis.register_function('ECHO', function() return 1 end)",
    ],
    &["FCALL", "echo", "2", "a", "b", "c"],
    &["FCALL", "ECHO", "0"],
    &["FCALL", "boom", "0"],
    &["FCALL", "bad", "0"],
    &["FCALL", "put", "1", "k", "v"],
    &["FCALL", "peek", "1", "k", "v"],
    &["FCALL_RO", "put", "1", "k", "v"],
    &["FCALL_RO", "peek", "1", "k", "v"],
    &["FCALL", "globals", "0"],
    &["FCALL", "reply", "0"],
    &["FCALL", "thrown", "0"],
    &["FCALL", "nested", "0"],
    &["HSET", "h", "a", "1"],
    &["FCALL", "resp3", "0"],
    &["FCALL", "reg", "0"],
    &["FCALL", "nosuch", "0"],
    &["FCALL", "nosuch", "x"],
    &["FCALL", "echo", "-1"],
    &["FCALL", "echo", "5"],
    &["FCALL", "echo", "x"],
    &["FCALL", "echo"],
    &["EVAL", "return redis.call('fcall', 'echo', 0)", "0"],
    &["EVAL", "return redis.replicate_commands()", "0"],
    &["EVAL", "return redis.breakpoint()", "0"],
    &["EVAL", "return redis.debug('x')", "0"],
    &["EVAL", "return redis.acl_check_cmd('get', 'a')", "0"],
    &[
        "EVAL",
        "return redis.acl_check_cmd('config', 'get', 'x')",
        "0",
    ],
    &["EVAL", "return redis.acl_check_cmd('nosuch')", "0"],
    &["EVAL", "return redis.acl_check_cmd()", "0"],
    &["EVAL", "return redis.acl_check_cmd({})", "0"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=legacy\nredis.register_function('legacy', function() return {type(redis.replicate_commands), type(redis.breakpoint), type(redis.acl_check_cmd), redis.acl_check_cmd('set', 'k', 'v')} end)",
    ],
    &["FCALL", "legacy", "0"],
    &[
        "ACL", "SETUSER", "limited", "on", "nopass", "+@all", "-set", "~a*",
    ],
    &["AUTH", "limited", "x"],
    &["EVAL", "return redis.acl_check_cmd('set', 'a1', 'v')", "0"],
    &["EVAL", "return redis.acl_check_cmd('get', 'b1')", "0"],
    &["EVAL", "return redis.acl_check_cmd('get', 'a1')", "0"],
    &["FCALL", "legacy", "0"],
    &["AUTH", "default", "x"],
    &["ACL", "DELUSER", "limited"],
    &[
        "EVAL",
        "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
        "0",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=keys\nredis.register_function('rkeys', function() local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t end)",
    ],
    &["FCALL", "rkeys", "0"],
    &["FUNCTION", "DELETE", "keys"],
    &["FUNCTION", "DELETE", "legacy"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "STATS", "x"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "LIST", "LIBRARYNAME"],
    &["FUNCTION", "LIST", "foo"],
    &["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
    // Redis lists a library's functions in hash order: only one-function libraries are
    // compared whole.
    &["FUNCTION", "LIST", "LIBRARYNAME", "OTH*", "WITHCODE"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "?t*er"],
    &["FUNCTION", "DELETE", "nosuch"],
    &["FUNCTION", "DELETE", "LIB"],
    &["FUNCTION", "DELETE"],
    &["FUNCTION", "FLUSH", "foo"],
    &["FUNCTION", "FLUSH", "ASYNC", "x"],
    &["FUNCTION", "RESTORE", "abc"],
    &["FUNCTION", "RESTORE", "abc", "foo"],
    &["FUNCTION", "RESTORE", "abc", "append", "x"],
    &["FUNCTION", "NOSUCH"],
    &["FUNCTION"],
    &["FCALL", "echo", "1", "x"],
    &["HELLO", "3"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "other"],
    &["FUNCTION", "STATS"],
    &["FCALL", "echo", "1", "k", "v"],
    &["FCALL", "resp3", "0"],
    &["FUNCTION", "DELETE", "other"],
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "DUMP"],
    &["FUNCTION", "STATS"],
];

/// The reference redis-server, when it is installed and is 7.0.x (the texts compared are 7.0's).
fn redis_server() -> Option<common::ReferenceRedis> {
    redis_server_7_0(&[])
}

/// redis-server 7.0.x with extra options, when installed.
fn redis_server_7_0(extra: &[&str]) -> Option<common::ReferenceRedis> {
    let out = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    if !String::from_utf8_lossy(&out.stdout).contains("v=7.0.") {
        return None;
    }
    common::ReferenceRedis::start(extra)
}

async fn connect_port(port: u16) -> Raw {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Raw::connect_addr(([127, 0, 0, 1], port).into()).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port}");
}

async fn cmd(c: &mut Raw, args: &[&[u8]]) -> Vec<u8> {
    c.cmd_bytes(args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_match_redis_server_7_0() {
    let Some(server) = redis_server() else {
        eprintln!("redis-server 7.0 not installed: differential functions test skipped");
        return;
    };
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut theirs = connect_port(server.port).await;
    let mut ours = Raw::connect(&node).await;
    let mut mismatches = Vec::new();
    for case in CASES {
        let args: Vec<&[u8]> = case.iter().map(|a| a.as_bytes()).collect();
        let (a, b) = (cmd(&mut theirs, &args).await, cmd(&mut ours, &args).await);
        // HELLO's reply carries the client id, which differs by nature.
        if case[0] == "HELLO" {
            continue;
        }
        if a != b {
            mismatches.push(format!(
                "{case:?}\n  redis-server: {:?}\n  ours:         {:?}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(CASES.len() >= 100, "{} cases", CASES.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A one-function library named `name` whose function `<name>_f` returns `value`.
fn small_lib(name: &str, value: &str) -> String {
    format!(
        "#!lua name={name}\nredis.register_function('{name}_f', function() return '{value}' end)"
    )
}

/// The bulk string payload of a `$<n>\r\n<payload>\r\n` reply.
fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let start = reply.iter().position(|&b| b == b'\n').expect("bulk header") + 1;
    reply[start..reply.len() - 2].to_vec()
}

/// FUNCTION DUMP of redis-server 7.0.15 restores on ours and ours restores on redis-server,
/// with each restore policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_payloads_restore_across_redis_server_and_ours() {
    let Some(server) = redis_server() else {
        eprintln!("redis-server 7.0 not installed: payload interop test skipped");
        return;
    };
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut theirs = connect_port(server.port).await;
    let mut ours = Raw::connect(&node).await;
    // Long enough code that LZF compression is used in the payload.
    let long = format!(
        "#!lua name=long\nredis.register_function('long_f', function() return '{}' end)",
        "abc".repeat(200)
    );
    for code in [small_lib("a", "from-redis"), long.clone()] {
        let r = cmd(&mut theirs, &[b"FUNCTION", b"LOAD", code.as_bytes()]).await;
        assert!(r.starts_with(b"$"), "{}", String::from_utf8_lossy(&r));
    }
    let payload = bulk_payload(&cmd(&mut theirs, &[b"FUNCTION", b"DUMP"]).await);
    assert_eq!(
        cmd(&mut ours, &[b"FUNCTION", b"RESTORE", &payload]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        cmd(&mut ours, &[b"FCALL", b"a_f", b"0"]).await,
        b"$10\r\nfrom-redis\r\n"
    );
    let long_reply = cmd(&mut ours, &[b"FCALL", b"long_f", b"0"]).await;
    assert_eq!(bulk_payload(&long_reply), "abc".repeat(200).as_bytes());
    // APPEND (the default) refuses a library that exists; REPLACE and FLUSH take it.
    let again = cmd(&mut ours, &[b"FUNCTION", b"RESTORE", &payload]).await;
    assert!(
        again == b"-ERR Library a already exists\r\n"
            || again == b"-ERR Library long already exists\r\n",
        "{}",
        String::from_utf8_lossy(&again)
    );
    for policy in [&b"REPLACE"[..], b"FLUSH"] {
        assert_eq!(
            cmd(&mut ours, &[b"FUNCTION", b"RESTORE", &payload, policy]).await,
            b"+OK\r\n"
        );
    }
    // And back: ours dumps, redis-server restores over a flushed set.
    let code = small_lib("b", "from-ours");
    cmd(&mut ours, &[b"FUNCTION", b"LOAD", code.as_bytes()]).await;
    let ours_payload = bulk_payload(&cmd(&mut ours, &[b"FUNCTION", b"DUMP"]).await);
    assert_eq!(
        cmd(
            &mut theirs,
            &[b"FUNCTION", b"RESTORE", &ours_payload, b"FLUSH"]
        )
        .await,
        b"+OK\r\n"
    );
    assert_eq!(
        cmd(&mut theirs, &[b"FCALL", b"b_f", b"0"]).await,
        b"$9\r\nfrom-ours\r\n"
    );
    let long_reply = cmd(&mut theirs, &[b"FCALL", b"long_f", b"0"]).await;
    assert_eq!(bulk_payload(&long_reply), "abc".repeat(200).as_bytes());
    assert_eq!(
        cmd(&mut theirs, &[b"FCALL", b"a_f", b"0"]).await,
        b"$10\r\nfrom-redis\r\n"
    );
}

/// An RDB file with function libraries written by redis-server loads on ours, and one ours
/// writes loads on redis-server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdb_files_carry_libraries_both_ways() {
    let dir = std::env::temp_dir().join(format!("ecl-fn-rdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let d = dir.to_string_lossy().to_string();
    let Some(server) = redis_server_7_0(&["--dir", &d, "--dbfilename", "theirs.rdb"]) else {
        eprintln!("redis-server 7.0 not installed: RDB interop test skipped");
        return;
    };
    let mut theirs = connect_port(server.port).await;
    let code = small_lib("fromredis", "r");
    cmd(&mut theirs, &[b"FUNCTION", b"LOAD", code.as_bytes()]).await;
    cmd(&mut theirs, &[b"SET", b"k", b"v"]).await;
    assert_eq!(cmd(&mut theirs, &[b"SAVE"]).await, b"+OK\r\n");
    let img = std::fs::read(dir.join("theirs.rdb")).expect("redis-server saved");
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let stats = node.load_rdb(&img).expect("their file loads");
    assert_eq!(stats.functions.len(), 1);
    let mut ours = Raw::connect(&node).await;
    assert_eq!(
        cmd(&mut ours, &[b"FCALL", b"fromredis_f", b"0"]).await,
        b"$1\r\nr\r\n"
    );
    // Ours: add a library, DEBUG RELOAD keeps both, then redis-server loads our image.
    let code = small_lib("fromours", "o");
    cmd(&mut ours, &[b"FUNCTION", b"LOAD", code.as_bytes()]).await;
    assert_eq!(cmd(&mut ours, &[b"DEBUG", b"RELOAD"]).await, b"+OK\r\n");
    assert_eq!(
        cmd(&mut ours, &[b"FCALL", b"fromours_f", b"0"]).await,
        b"$1\r\no\r\n"
    );
    std::fs::write(dir.join("ours.rdb"), node.snapshot_rdb()).expect("write image");
    drop(theirs);
    drop(server);
    let Some(server) = redis_server_7_0(&["--dir", &d, "--dbfilename", "ours.rdb"]) else {
        return;
    };
    let mut theirs = connect_port(server.port).await;
    for (f, v) in [("fromredis_f", "r"), ("fromours_f", "o")] {
        let mut want = b"$1\r\n".to_vec();
        want.extend_from_slice(v.as_bytes());
        want.extend_from_slice(b"\r\n");
        assert_eq!(
            cmd(&mut theirs, &[b"FCALL", f.as_bytes(), b"0"]).await,
            want
        );
    }
    assert_eq!(cmd(&mut theirs, &[b"GET", b"k"]).await, b"$1\r\nv\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn replica_of(p: &RedisNode) -> RedisNode {
    let r = start();
    let addr = p.local_addr();
    r.replicate_from(p, (addr.ip().to_string(), addr.port()));
    r
}

/// Libraries reach replicas in the full copy and through the stream (FUNCTION LOAD, DELETE,
/// RESTORE, FLUSH); FCALL's writes reach them as effects; a replica refuses a writing function
/// and runs a `no-writes` one; `redis.set_repl` keeps chosen effects off replicas, in EVAL
/// and in functions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libraries_and_effects_replicate() {
    let p = start();
    let mut pc = Raw::connect(&p).await;
    let lib = "#!lua name=rep\n\
        redis.register_function('incr2', function(keys) redis.call('incr', keys[1]) return redis.call('incr', keys[1]) end)\n\
        redis.register_function{function_name='get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n\
        redis.register_function('quiet', function(keys, args) redis.call('set', keys[1], 'both') redis.set_repl(redis.REPL_NONE) redis.call('set', keys[2], 'primary-only') redis.set_repl(redis.REPL_ALL) return redis.call('set', keys[3], 'both') end)";
    assert_eq!(pc.cmd(&["FUNCTION", "LOAD", lib]).await, "$3\r\nrep\r\n");
    // Full copy: the replica attaches after the library was loaded.
    let r = replica_of(&p).await;
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    let mut rc = Raw::connect(&r).await;
    assert_eq!(pc.cmd(&["FCALL", "incr2", "1", "n"]).await, ":2\r\n");
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    assert_eq!(rc.cmd(&["FCALL", "get", "1", "n"]).await, "$1\r\n2\r\n");
    assert_eq!(
        rc.cmd(&["FCALL", "incr2", "1", "n"]).await,
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(
        rc.cmd(&["FUNCTION", "DELETE", "rep"]).await,
        "-READONLY You can't write against a read only replica.\r\n"
    );
    // Stream: a library loaded now, then deleted, restored and flushed.
    let more = "#!lua name=more\nredis.register_function{function_name='m', callback=function() return 'm' end, flags={'no-writes'}}";
    assert_eq!(pc.cmd(&["FUNCTION", "LOAD", more]).await, "$4\r\nmore\r\n");
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    assert_eq!(rc.cmd(&["FCALL", "m", "0"]).await, "$1\r\nm\r\n");
    let dump = pc.cmd_bytes(&[b"FUNCTION", b"DUMP"]).await;
    let payload = bulk_payload(&dump);
    assert_eq!(pc.cmd(&["FUNCTION", "DELETE", "more"]).await, "+OK\r\n");
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    assert_eq!(
        rc.cmd(&["FCALL", "m", "0"]).await,
        "-ERR Function not found\r\n"
    );
    assert_eq!(
        pc.cmd_bytes(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    assert_eq!(rc.cmd(&["FCALL", "m", "0"]).await, "$1\r\nm\r\n");
    // redis.set_repl: the middle write stays on the primary, in a function and in EVAL.
    assert_eq!(
        pc.cmd(&["FCALL", "quiet", "3", "a", "b", "c"]).await,
        "+OK\r\n"
    );
    let script = "redis.set_repl(redis.REPL_AOF) redis.call('set', KEYS[1], 'primary-only') \
                  redis.set_repl(redis.REPL_REPLICA) return redis.call('set', KEYS[2], 'both')";
    assert_eq!(pc.cmd(&["EVAL", script, "2", "e1", "e2"]).await, "+OK\r\n");
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    for (key, on_replica) in [
        ("a", true),
        ("b", false),
        ("c", true),
        ("e1", false),
        ("e2", true),
    ] {
        assert_ne!(
            pc.cmd(&["GET", key]).await,
            "$-1\r\n",
            "{key} on the primary"
        );
        let got = rc.cmd(&["GET", key]).await;
        assert_eq!(got != "$-1\r\n", on_replica, "{key} on the replica: {got}");
    }
    assert_eq!(pc.cmd(&["FUNCTION", "FLUSH"]).await, "+OK\r\n");
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    assert_eq!(rc.cmd(&["FUNCTION", "LIST"]).await, "*0\r\n");
}

/// A function past `busy-reply-threshold`: other clients get the FUNCTION flavour of BUSY,
/// FUNCTION STATS shows it, SCRIPT KILL is refused and FUNCTION KILL stops it; a function
/// that wrote is UNKILLABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_functions_answer_busy_and_function_kill_stops_them() {
    const BUSY: &str = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    let node = start_busy_after_ms(100);
    let mut runner = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    let lib = "#!lua name=busy\n\
        redis.register_function('spin', function() while true do end end)\n\
        redis.register_function('wspin', function() redis.call('set', 'x', '1') while true do end end)";
    assert_eq!(
        other.cmd(&["FUNCTION", "LOAD", lib]).await,
        "$4\r\nbusy\r\n"
    );
    runner.send(&["FCALL", "spin", "0"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(other.cmd(&["GET", "a"]).await, BUSY);
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]).await, BUSY);
    let stats = other.cmd(&["FUNCTION", "STATS"]).await;
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:")
            && stats.ends_with("$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:2\r\n"),
        "{stats}"
    );
    assert_eq!(other.cmd(&["FUNCTION", "KILL"]).await, "+OK\r\n");
    let killed = tokio::time::timeout(Duration::from_secs(5), runner.read())
        .await
        .expect("the killed function answers its caller");
    assert_eq!(
        killed,
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    assert_eq!(
        other.cmd(&["FUNCTION", "KILL"]).await,
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    // While an EVAL script is busy, FUNCTION KILL is the wrong kill.
    runner.send(&["EVAL", "while true do end", "0"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        other.cmd(&["FUNCTION", "KILL"]).await,
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]).await, "+OK\r\n");
    runner.read().await;
    runner.send(&["FCALL", "wspin", "0"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        other.cmd(&["FUNCTION", "KILL"]).await,
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    tokio::time::timeout(Duration::from_secs(10), node.shutdown())
        .await
        .expect("a node whose function loops still stops");
}

/// MONITOR shows FCALL then the function's commands as coming from `lua`; the slowlog has the
/// FCALL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_and_slowlog_show_fcall() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let lib = "#!lua name=m\nredis.register_function('setit', function(keys, args) redis.call('set', keys[1], args[1]) return redis.call('get', keys[1]) end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]).await, "$1\r\nm\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
            .await,
        "+OK\r\n"
    );
    let mut m = Raw::connect(&node).await;
    assert_eq!(m.cmd(&["MONITOR"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "setit", "1", "k", "v"]).await,
        "$1\r\nv\r\n"
    );
    let fcall = m.read().await;
    assert!(
        fcall.contains("\"FCALL\" \"setit\" \"1\" \"k\" \"v\""),
        "{fcall}"
    );
    assert!(!fcall.contains(" lua]"), "{fcall}");
    let set = m.read().await;
    assert!(set.contains(" lua] \"set\" \"k\" \"v\""), "{set}");
    let get = m.read().await;
    assert!(get.contains(" lua] \"get\" \"k\""), "{get}");
    // The slowlog has the FCALL from the client and the function's commands from Redis'
    // connection-less Lua client (`?:0`), as redis-server 7.0 logs them.
    let log = c.cmd(&["SLOWLOG", "GET", "10"]).await;
    assert!(log.contains("$5\r\nFCALL\r\n$5\r\nsetit\r\n"), "{log}");
    assert!(
        log.contains("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\n?:0\r\n$0\r\n\r\n"),
        "{log}"
    );
    // ACL: the family is @scripting; INFO counts the libraries.
    let info = c.cmd(&["COMMAND", "INFO", "FCALL"]).await;
    assert!(info.contains("@scripting"), "{info}");
    let cat = c.cmd(&["ACL", "CAT", "scripting"]).await;
    for name in ["fcall", "fcall_ro", "function|load", "function|kill"] {
        assert!(cat.contains(&format!("\r\n{name}\r\n")), "{name}: {cat}");
    }
    for container in ["SCRIPT", "FUNCTION"] {
        let help = c.cmd(&[container, "HELP"]).await;
        assert!(
            help.starts_with(&format!(
                "*{}\r\n+{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
                if container == "SCRIPT" { 11 } else { 20 }
            )),
            "{help}"
        );
    }
    // lua-time-limit is the old name of busy-reply-threshold.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "lua-time-limit", "1234"]).await,
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "busy-reply-threshold"]).await,
        "*2\r\n$20\r\nbusy-reply-threshold\r\n$4\r\n1234\r\n"
    );
    let mem = c.cmd(&["INFO", "memory"]).await;
    assert!(
        mem.contains("number_of_functions:1\r\nnumber_of_libraries:1\r\n"),
        "{mem}"
    );
}

/// Cluster mode: FCALL's declared keys are routed like EVAL's (CROSSSLOT, MOVED), a function
/// without `allow-cross-slot-keys` stays in one slot, `no-cluster` functions are refused;
/// over `maxmemory` a function that may write needs `allow-oom`; a 6.2 node has no functions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_memory_and_version_rules() {
    use ecl_redis::cluster::key_slot;
    use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology};
    let nodes: Vec<RedisNode> = (0..2)
        .map(|_| start_with(|c| c.cluster_enabled = true))
        .collect();
    let ranges = [(0u16, 8191u16), (8192, 16383)];
    let shards = (0..2)
        .map(|i| ClusterShard {
            shard_id: format!("{:040x}", i + 1),
            slots: vec![ranges[i]],
            primary: ClusterNodeInfo {
                node_id: nodes[i].node_id(),
                ip: "127.0.0.1".into(),
                port: nodes[i].local_addr().port(),
                hostname: None,
            },
            replicas: vec![],
        })
        .collect();
    let topo = ClusterTopology { shards };
    for n in &nodes {
        n.set_cluster_topology(topo.clone());
    }
    let names: Vec<String> = (0..200).map(|i| format!("key{i}")).collect();
    let local: Vec<&str> = names
        .iter()
        .filter(|k| key_slot(k.as_bytes()) <= 8191)
        .map(String::as_str)
        .collect();
    let remote = names
        .iter()
        .find(|k| key_slot(k.as_bytes()) > 8191)
        .map_or("", String::as_str);
    let (l1, l2) = (local[0], local[1]);
    assert_ne!(key_slot(l1.as_bytes()), key_slot(l2.as_bytes()));
    let mut c = Raw::connect(&nodes[0]).await;
    let lib = "#!lua name=cl\n\
        redis.register_function('two', function(keys, args) redis.call('set', keys[1], '1') return redis.call('set', args[1], '2') end)\n\
        redis.register_function{function_name='two_any', callback=function(keys, args) redis.call('set', keys[1], '1') return redis.call('set', args[1], '2') end, flags={'allow-cross-slot-keys'}}\n\
        redis.register_function{function_name='nocl', callback=function() return 1 end, flags={'no-cluster'}}";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]).await, "$2\r\ncl\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "two", "2", l1, remote]).await,
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    let moved = c.cmd(&["FCALL", "two", "1", remote]).await;
    assert!(moved.starts_with("-MOVED "), "{moved}");
    let err = c.cmd(&["FCALL", "two", "1", l1, l2]).await;
    assert_eq!(
        err,
        "-ERR Script attempted to access keys that do not hash to the same slot script: two, on @user_function:2.\r\n"
    );
    assert_eq!(c.cmd(&["FCALL", "two_any", "1", l1, l2]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "nocl", "0"]).await,
        "-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n"
    );

    let node = start_with(|c| c.maxmemory = 2 * 1024 * 1024);
    let mut c = Raw::connect(&node).await;
    let lib = "#!lua name=mem\n\
        redis.register_function('fill', function() for i = 1, 3000 do redis.call('set', 'k' .. i, string.rep('x', 1000)) end return 1 end)\n\
        redis.register_function{function_name='oomok', callback=function() return redis.call('set', 'a', 'b') end, flags={'allow-oom'}}\n\
        redis.register_function{function_name='reader', callback=function() return redis.call('get', 'a') end, flags={'no-writes'}}";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]).await, "$3\r\nmem\r\n");
    assert_eq!(c.cmd(&["FCALL", "fill", "0"]).await, ":1\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "fill", "0"]).await,
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(c.cmd(&["FCALL", "oomok", "0"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["FCALL", "reader", "0"]).await, "$1\r\nb\r\n");

    let old = start_with(|c| c.engine_version = "6.2.6".into());
    let mut c = Raw::connect(&old).await;
    let reply = c.cmd(&["FUNCTION", "LIST"]).await;
    assert!(
        reply.starts_with("-ERR unknown command 'FUNCTION'"),
        "{reply}"
    );
    let reply = c.cmd(&["FCALL", "f", "0"]).await;
    assert!(reply.starts_with("-ERR unknown command 'FCALL'"), "{reply}");
}

/// A library whose load-time code never ends is stopped after 500 ms however it arrives
/// (FUNCTION LOAD as in Redis, and FUNCTION RESTORE too), and the node goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_load_time_code_times_out() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let code = "#!lua name=loop\nwhile true do end";
    let want = "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", code]).await, want);
    let payload = ecl_redis::rdb::functions::dump_payload(&[code.as_bytes().to_vec()], 70000);
    let reply = c.cmd_bytes(&[b"FUNCTION", b"RESTORE", &payload]).await;
    assert_eq!(String::from_utf8_lossy(&reply), want);
    assert_eq!(c.cmd(&["FUNCTION", "LIST"]).await, "*0\r\n");
    assert_eq!(c.cmd(&["PING"]).await, "+PONG\r\n");
}

/// Library metadata and the load-time API as redis' functions.tcl checks them, compared with
/// redis-server 7.0.15: the engine is what follows `#!` (so `#! name=x` names engine ''), the
/// line splits as redis-cli splits (quotes), `register_function` kept past the load raises
/// Redis' error, and DEBUG RELOAD's NOFLUSH / MERGE / NOSAVE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_metadata_and_debug_reload_match_redis_server() {
    let Some(real) = common::ReferenceRedis::start(&["--enable-debug-command", "yes"]) else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let lib1 = "#!lua name=lib1\nlocal lib = redis\n\
        lib.register_function('f1', function () return 1 end)\n\
        lib.register_function('f2', function () lib.register_function('f3', function () return 1 end) end)\n";
    let steps: [&[&str]; 12] = [
        &[
            "FUNCTION",
            "LOAD",
            "#! name=test\nredis.register_function('foo', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=\"quoted\"\nredis.register_function('q', function() return 1 end)",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=\"open\nredis.register_function('o', function() return 1 end)",
        ],
        &["FUNCTION", "LOAD", lib1],
        &["FCALL", "f2", "0"],
        &["DEBUG", "RELOAD", "NOFLUSH"],
        &["DEBUG", "RELOAD", "NOFLUSH", "MERGE"],
        &["DEBUG", "RELOAD", "BOGUS"],
        &["FUNCTION", "DELETE", "quoted"],
        &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"],
        &["DEBUG", "RELOAD"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "quoted"],
    ];
    let run = |mut c: Raw| async move {
        let mut log = vec![c.cmd(&["SAVE"]).await];
        for args in steps {
            log.push(c.cmd(args).await);
        }
        log
    };
    let theirs = run(real.connect().await).await;
    let dir = std::env::temp_dir().join(format!("ecl-reload-{}", std::process::id()));
    let node = start_with(|cfg| cfg.data_dir = Some(dir.clone()));
    let ours = run(Raw::connect(&node).await).await;
    assert_eq!(ours, theirs);
    assert!(
        theirs[6].contains("Error trying to load the RDB"),
        "{theirs:?}"
    );
    node.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
