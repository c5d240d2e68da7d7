//! The script sandbox against a real node: what redis-server's patched Lua 5.1 refuses or
//! limits (unpack's overflow, bytecode, the read-only metatables, blocking stream reads) and a
//! killed script that catches the kill error, compared with redis-server where the replies do
//! not depend on timing.

mod common;
use common::{Raw, start_busy_after_ms, step};
use std::time::Duration;

/// Scripts that reach Lua 5.1's `unpack` overflow (a crash of the stock interpreter), its
/// chunk loaders, the shared metatables (Redis 7's read-only tables), and stream reads that
/// would block: the replies must be redis-server's, byte
/// for byte.
const LUA_BASE_CASES: &[&str] = &[
    "return redis.pcall('xread','BLOCK',0,'STREAMS','s','$')",
    "return redis.pcall('XREADGROUP','GROUP','g','c','BLOCK',0,'STREAMS','s','>')",
    "return redis.pcall('xread','COUNT','x','BLOCK',0,'STREAMS','s','$')",
    "return redis.pcall('xread','STREAMS','s','0')",
    "setmetatable(_G, {})",
    "local g = getmetatable(_G); g.__index = {}",
    "getmetatable('').__index = function() return 1 end",
    "return {type(getmetatable('')), type(getmetatable('').__index), ('x'):rep(3)}",
    "setmetatable(redis, {})",
    "return tostring(getmetatable(redis))",
    "local t = setmetatable({}, {__metatable = 1}); return getmetatable(t)",
    "return {unpack({1,2,3}, -2, 2147483647)}",
    "return {unpack({1,2,3}, 0, 2147483647)}",
    "return {unpack({1,2,3}, -2147483648, -2)}",
    "return {unpack({1,2,3}, -1, -2)}",
    "return {unpack({1,2,3}, 1, 7996)} and 'ok'",
    "return {unpack({1,2,3}, 1, 7998)} and 'ok'",
    "return {unpack({1,2,3}, 2)}",
    "return {unpack()}",
    "return {unpack({1,2},'x')}",
    "return {unpack({1,2},1.6)}",
    "local u = unpack; local r = {u()}; return r",
    "local a = {} for i = 1, 7999 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
    "local a = {} for i = 1, 8000 do a[i] = 1 end return redis.call('lpush', 'm', unpack(a))",
    "local f, e = loadstring(string.dump(function() return 1 end)); return {tostring(f), e}",
    "return loadstring(string.dump(function() return 1 end))()",
    "return loadstring('return 5')()",
    "return {loadstring('retur 5', 'named')}",
    "return loadstring()",
    "local i=0; return load(function() i=i+1; if i==1 then return 'return 9' end end)()",
    "return {load(function() return {} end)}",
    "return {load(function() error('boom') end)}",
    "return load(5)",
    "local d = string.dump(function() return 1 end); local i = 0; \
     return {load(function() i = i + 1; if i == 1 then return d end end)}",
];

/// The reply to each of [`LUA_BASE_CASES`], then to an EVAL whose body is bytecode.
async fn lua_base_transcript(mut c: Raw) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    for script in LUA_BASE_CASES {
        seen.push(c.cmd_bytes(&[b"EVAL", script.as_bytes(), b"0"]).await);
    }
    let dump = b"return string.dump(function() return 7 end)";
    let reply = c.cmd_bytes(&[b"EVAL", dump, b"0"]).await;
    let body_at = reply.iter().position(|&b| b == b'\n').expect("bulk header") + 1;
    let bytecode = &reply[body_at..reply.len() - 2];
    seen.push(c.cmd_bytes(&[b"EVAL", bytecode, b"0"]).await);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_unpack_and_loaders_match_redis_server() {
    let Some((ours, theirs)) = common::ours_and_theirs(|c, _| lua_base_transcript(c)).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(o),
            String::from_utf8_lossy(t),
            "case {i}"
        );
    }
    // The node survived the overflow and runs no bytecode.
    let last = String::from_utf8_lossy(theirs.last().expect("cases"));
    assert!(last.contains("unexpected symbol near 'char(27)'"), "{last}");
}

/// A script that catches the kill error with pcall in a loop still ends on SCRIPT KILL (every
/// later line raises it, as on redis-server: scripting.tcl's "killed ... even when use pcall"),
/// and the next busy script can be killed as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_kill_stops_a_script_that_catches_it_with_pcall() {
    let node = start_busy_after_ms(100);
    let mut runner = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    let body = "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end";
    for _ in 0..2 {
        runner.send(&["EVAL", body, "0"]).await;
        let mut busy = String::new();
        for _ in 0..100 {
            busy = step(&mut other, &["PING"]).await;
            if busy.starts_with("-BUSY") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(busy.starts_with("-BUSY"), "{busy}");
        assert_eq!(step(&mut other, &["SCRIPT", "KILL"]).await, "+OK\r\n");
        let killed = tokio::time::timeout(Duration::from_secs(5), runner.read())
            .await
            .expect("the killed script answers its caller");
        assert!(
            killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
            "{killed}"
        );
        assert_eq!(step(&mut other, &["PING"]).await, "+PONG\r\n");
    }
    assert_eq!(
        step(&mut runner, &["EVAL", "return 1", "0"]).await,
        ":1\r\n"
    );
}

/// Scripts that hold more Lua values than Lua 5.1's 8,000-slot stack (a large returned table,
/// cmsgpack of a 100,000-entry map) and lua-cjson's settings: the replies
/// are redis-server's, byte for byte. A returned table of 100,000 strings was cut at about
/// 8,000 elements before (scripting.tcl).
const LARGE_AND_CJSON_CASES: &[&str] = &[
    "local t = {} for i = 1, 100000 do t[i] = tostring(i) end return t",
    "local t = {} for i = 1, 20000 do t[tostring(i)] = i end redis.setresp(3) return {map = t}",
    "local t = {} for i = 1, 20000 do t[i] = {tostring(i), {i}} end return t",
    "local m = {} for i = 1, 100000 do m[tostring(i)] = i end \
     local d = cmsgpack.unpack(cmsgpack.pack(m)) local n = 0 \
     for k, v in pairs(d) do if m[k] == v then n = n + 1 end end return n",
    "local r = {tostring(cjson.encode_keep_buffer(false)), cjson.encode_max_depth(1), \
     tostring(pcall(cjson.encode, {a = {1}})), cjson.decode_max_depth(1), \
     select(2, pcall(cjson.decode, '{\"o\": [1]}')), tostring(cjson.encode_invalid_numbers(true)), \
     cjson.encode({0/0, 1/0, -1/0}), cjson.encode_invalid_numbers('null'), cjson.encode({1/0}), \
     tostring(cjson.encode_invalid_numbers(false)), cjson.encode_max_depth(1000), \
     cjson.decode_max_depth(1000), cjson.encode_number_precision(), \
     tostring(cjson.decode_invalid_numbers())} return r",
    "return {big_number = '12\\r\\n34'}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_returns_cmsgpack_and_cjson_settings_match_redis_server() {
    let transcript = |mut c: Raw, _| async move {
        let mut log = Vec::new();
        for body in LARGE_AND_CJSON_CASES {
            log.push(c.cmd_bytes(&[b"EVAL", body.as_bytes(), b"0"]).await);
        }
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            o == t,
            "case {i}: ours {} bytes, theirs {} bytes",
            o.len(),
            t.len()
        );
    }
    assert!(theirs[0].starts_with(b"*100000\r\n"));
}

/// A script returning a table that contains itself: nested one-element arrays down to Redis'
/// stack limit, then its error, as redis-server writes them (scripting.tcl's "recursive
/// object"); read as raw bytes, since the reply nests about 8,000 levels deep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recursive_table_converts_to_the_stack_limit_as_on_redis_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let transcript = |addr: std::net::SocketAddr| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let body = "local a = {} local b = {a} a[1] = b return a";
        let req = format!(
            "*3\r\n$4\r\nEVAL\r\n${}\r\n{body}\r\n$1\r\n0\r\n",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while !got.ends_with(b"-ERR reached lua stack limit\r\n") && !got.ends_with(b"*0\r\n") {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    let Some((ours, theirs)) = common::ours_and_theirs_at(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs);
}

/// How script errors count in INFO errorstats and commandstats, as on redis-server 7.0.15
/// (scripting.tcl's "Consistent eval error reporting"): an error counts once, where it arises
/// (the command the script called, or its refusal), not again as the script's reply; an error
/// table the script makes and returns counts; the script's call is failed either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_errors_count_once_as_on_redis_server() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["CONFIG", "SET", "maxmemory", "1"],
            &["EVAL", "return redis.call('set','x','y')", "1", "x"],
        ),
        (
            &[],
            &[
                "EVAL",
                "local t = redis.pcall('set','x','y') return t['err']",
                "1",
                "x",
            ],
        ),
        (
            &[],
            &["EVAL", "return redis.pcall('set','x','y')", "1", "x"],
        ),
        (
            &["CONFIG", "SET", "maxmemory", "0"],
            &["EVAL", "return redis.call('select',99)", "0"],
        ),
        (
            &[],
            &[
                "EVAL",
                "local t = redis.pcall('select',99) return t['err']",
                "0",
            ],
        ),
        (
            &[],
            &["EVAL_RO", "return redis.call('set','x','y')", "1", "x"],
        ),
        (
            &[],
            &[
                "EVAL_RO",
                "local t = redis.pcall('set','x','y') return t['err']",
                "1",
                "x",
            ],
        ),
        (
            &["SET", "Sicily", "1"],
            &[
                "EVAL",
                "return redis.call('GEOADD', 'Sicily', '13.36', '38.11', 'Palermo')",
                "1",
                "x",
            ],
        ),
        (
            &[],
            &[
                "EVAL",
                "return redis.error_reply('MY_ERR_CODE custom msg')",
                "0",
            ],
        ),
        (&[], &["EVAL", "return redis.error_reply('')", "0"]),
        (
            &[],
            &[
                "EVAL",
                "return {redis.error_reply('A one'), {err='B two'}}",
                "0",
            ],
        ),
        (&[], &["EVAL", "error('plain')", "0"]),
    ];
    let transcript = |mut c: Raw, _| async move {
        let mut log = Vec::new();
        for (setup, script) in cases {
            if !setup.is_empty() {
                c.cmd(setup).await;
            }
            c.cmd(&["CONFIG", "RESETSTAT"]).await;
            log.push(c.cmd(script).await);
            let errorstats = c.cmd(&["INFO", "errorstats"]).await;
            let commandstats = c.cmd(&["INFO", "commandstats"]).await;
            let stats = c.cmd(&["INFO", "stats"]).await;
            let keep = |l: &&str| {
                l.starts_with("errorstat_")
                    || l.starts_with("total_error_replies")
                    || (l.starts_with("cmdstat_")
                        && !l.starts_with("cmdstat_info")
                        && !l.starts_with("cmdstat_config"))
            };
            // Counters only (times differ), in name order (commandstats' order is the
            // server's own).
            let counters = |l: &str| {
                let fields = l.split(',').filter(|f| !f.starts_with("usec"));
                fields.collect::<Vec<_>>().join(",")
            };
            let mut lines: Vec<String> = [errorstats, commandstats, stats]
                .iter()
                .flat_map(|s| s.lines().filter(keep).map(counters).collect::<Vec<_>>())
                .collect();
            lines.sort();
            log.push(lines.join(" | "));
        }
        log
    };
    let Some((ours, theirs)) = common::ours_and_theirs(transcript).await else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    common::assert_same_steps("script error counts", &ours, &theirs);
}
