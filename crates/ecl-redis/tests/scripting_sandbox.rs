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
