//! Lua scripting against a real node: EVAL/EVALSHA/EVAL_RO/SCRIPT replies compared byte for
//! byte with an installed redis-server 7.0.15 (skipped when none is installed), the script
//! cache, MONITOR's view of a script, and effects replication (a replica receives the script's
//! writes wrapped in MULTI/EXEC, never the EVAL).

mod common;
use common::{Raw, frame_len, start, start_busy_after_ms, start_with, step};
use ecl_redis::RedisNode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The command sequence sent to both servers, in order, on one connection (it switches to
/// RESP3 with HELLO 3 halfway, so both protocols are covered).
const CASES: &[&[&str]] = &[
    // Read-only libraries and the globals redis-server 7.0.15 leaves out.
    &["EVAL", "string.foo = 1 return 1", "0"],
    &["EVAL", "redis.call = nil return 1", "0"],
    &["EVAL", "rawset(cjson, 'x', 1) return cjson.x", "0"],
    &[
        "EVAL",
        "local n = 0 for k in pairs(string) do n = n + 1 end return n",
        "0",
    ],
    &[
        "EVAL",
        "return {type(getmetatable(string)), getmetatable('a').__index == string}",
        "0",
    ],
    &["EVAL", "print('x') return 1", "0"],
    &["EVAL", "return type(setfenv)", "0"],
    &[r##"EVAL"##, r##"return x"##, r##"0"##],
    &[r##"EVAL"##, r##"x=1"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call('nosuch')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call('get')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('get','a','b')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return 1 +"##, r##"0"##],
    &[r##"EVAL"##, r##"error('boom')"##, r##"0"##],
    &[r##"EVAL"##, r##"error({err='X y'})"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"redis.call('set','k','v'); return redis.call('lpush','k','x')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local t = redis.pcall('lpush','k','x'); return t['err']"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('incr',KEYS[1])"##,
        r##"1"##,
        r##"cnt"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=no-writes
return redis.call('set','a','b')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL_RO"##,
        r##"return redis.call('set','a','b')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return string.rep('x', -1, 5, 6)"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return math.random(0)"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"local t = {} t[1]=1 t[3]=3 return t"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({a={1,2,3},b='x/y',c=true})"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode(cjson.decode('{"a":[1,2,{"b":null}],"c":"\u00e9"}'))"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({[1]=1,[2]=2,[20]=3})"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({1.5, 0.1, 1e20, -3, 123456789012345})"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cjson.decode('[1,2')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return {bit.tobit(4294967295), bit.bnot(0), bit.lshift(1,31), bit.rshift(-1,28), bit.arshift(-256,4), bit.bxor(5,3,1), bit.tohex(-1,-4), bit.bswap(1)}"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return _G.x"##, r##"0"##],
    &[r##"EVAL"##, r##"_G.y = 2"##, r##"0"##],
    &[r##"EVAL"##, r##"redis = nil"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"local function f() error('deep') end
local x = 1
f()"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return pcall(function() error({err='E1'}) end)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local ok, e = pcall(redis.call, 'nosuch'); return {tostring(ok), type(e)}"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('hset','h','a','1','b','2')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('hgetall','h')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) return redis.call('hgetall','h')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) local t = redis.call('hgetall','h') return t.map.a"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) return redis.call('smembers','nokey')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('object','encoding','h')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('config','get','maxmemory')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('blpop','nolist','0')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.call('multi')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return loadstring('return 1')()"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return unpack({1,2,3})"##, r##"0"##],
    &[r##"EVAL"##, r##"return select('#', 1, 2)"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return string.format('%5.2f', 3.14159)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return table.concat({1,2,3}, ',')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return tonumber('0x10')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call('get', 1.5)"##, r##"0"##],
    &[r##"SET"##, r##"num"##, r##"10"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('get','num') + 1"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.status_reply()"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.error_reply(1)"##, r##"0"##],
    &[
        r##"EVALSHA"##,
        r##"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return 1"##, r##"x"##],
    &[r##"EVAL"##, r##"return {1,2,3,nil,5}"##, r##"0"##],
    &[r##"EVAL"##, r##"return {err=1}"##, r##"0"##],
    &[r##"EVAL"##, r##"return {ok=1}"##, r##"0"##],
    &[r##"EVAL"##, r##"return 9007199254740993"##, r##"0"##],
    &[r##"EVAL"##, r##"return -0.5"##, r##"0"##],
    &[r##"EVAL"##, r##"return 1e30"##, r##"0"##],
    &[r##"EVAL"##, r##"return {{{{1}}}}"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.sha1hex('abc')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.sha1hex()"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.log(redis.LOG_NOTICE)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.error_reply('My err')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.error_reply('-My err')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.error_reply('my err')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return {err='lower x'}"##, r##"0"##],
    &[r##"EVAL"##, r##"error({err='lower x'})"##, r##"0"##],
    &[r##"EVAL"##, r##"error('MYCODE boom')"##, r##"0"##],
    &[r##"EVAL"##, r##"error()"##, r##"0"##],
    &[r##"EVAL"##, r##"error(12)"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.pcall('nosuch')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.status_reply('FINE')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return {1,'a',{2,3},true,false}"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return true"##, r##"0"##],
    &[r##"EVAL"##, r##"return false"##, r##"0"##],
    &[r##"EVAL"##, r##"return nil"##, r##"0"##],
    &[r##"EVAL"##, r##"return 3.99"##, r##"0"##],
    &[r##"EVAL"##, r##"return -3.99"##, r##"0"##],
    &[r##"EVAL"##, r##"return 'x'"##, r##"0"##],
    &[r##"EVAL"##, r##"return type(debug)"##, r##"0"##],
    &[r##"EVAL"##, r##"return {1,2,3,'ciao',{1,2}}"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('get','nokey')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return type(redis.call('get','nokey'))"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.sha1hex('')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.REDIS_VERSION_NUM"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.REDIS_VERSION"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3); return redis.call('hgetall','nokey')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3); return {map={a=1}}"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return {map={a=1}}"##, r##"0"##],
    &[r##"EVAL"##, r##"return {double=3.5}"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3); return {double=3.5}"##,
        r##"0"##,
    ],
    &[r##"HELLO"##, r##"3"##],
    &[r##"EVAL"##, r##"return {double=3.5}"##, r##"0"##],
    &[r##"EVAL"##, r##"return {map={a=1}}"##, r##"0"##],
    &[r##"EVAL"##, r##"return {set={a=true}}"##, r##"0"##],
    &[r##"EVAL"##, r##"return true"##, r##"0"##],
    &[r##"EVAL"##, r##"return false"##, r##"0"##],
    &[r##"EVAL"##, r##"return nil"##, r##"0"##],
    &[r##"EVAL"##, r##"return {big_number='123'}"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.error_reply('My err').err"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return {err='-x y'}"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call()"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.pcall()"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('set','f',{})"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.call('set','f',3.14159) return redis.call('get','f')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.call('set','f',0.1) return redis.call('get','f')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.call('set','f',1e20) return redis.call('get','f')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.call('set','f',10) return redis.call('get','f')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('subscribe','x')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.setresp(4)"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.setresp()"##, r##"0"##],
    &[r##"EVAL"##, r##"redis.setresp(3); return true"##, r##"0"##],
    &[r##"EVAL"##, r##"redis.setresp(3); return false"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3); return redis.call('get','nokey')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3); return type(redis.call('get','nokey'))"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return math.random(100)..' '..math.random(100)..' '..math.random()"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return tostring(math.random())"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.set_repl(redis.REPL_ALL)"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.set_repl(9)"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.log(redis.LOG_WARNING, 'hi')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return {redis.LOG_DEBUG,redis.LOG_VERBOSE,redis.LOG_NOTICE,redis.LOG_WARNING,redis.REPL_NONE,redis.REPL_AOF,redis.REPL_SLAVE,redis.REPL_REPLICA,redis.REPL_ALL}"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.status_reply('x').ok"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.call('ping')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call('ping').ok"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('set','x','y','nx','px')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=no-writes,allow-oom
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=bogus
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua name=x
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!python
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('eval','return 1','0')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('select','1')"##,
        r##"0"##,
    ],
    &[r##"SCRIPT"##, r##"LOAD"##, r##"return 1"##],
    &[
        r##"SCRIPT"##,
        r##"EXISTS"##,
        r##"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"##,
        r##"ffffffffffffffffffffffffffffffffffffffff"##,
    ],
    &[r##"SCRIPT"##, r##"FLUSH"##, r##"ASYNC"##],
    &[r##"SCRIPT"##, r##"FLUSH"##, r##"BAD"##],
    &[r##"SCRIPT"##, r##"KILL"##],
    &[r##"SCRIPT"##, r##"LOAD"##, r##"return +"##],
    &[
        r##"EVALSHA"##,
        r##"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({1,2,{a=1}})"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.decode('[1,2,{"a":1.5}]')[3].a"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return bit.band(7,3)..bit.tohex(255)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return #KEYS..#ARGV"##,
        r##"2"##,
        r##"a"##,
        r##"b"##,
        r##"c"##,
    ],
    &[
        r##"EVAL"##,
        r##"return {KEYS[1],ARGV[1]}"##,
        r##"1"##,
        r##"a"##,
        r##"b"##,
    ],
    &[
        r##"EVAL"##,
        r##"local ok, e = pcall(redis.call, 'nosuch'); return e"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local ok, e = pcall(redis.call, 'lpush', 'k', 'x'); return e"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local t = redis.status_reply() return type(t)"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.log('x', 'y')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.log(9, 'y')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.sha1hex(1, 2)"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.sha1hex(12)"##, r##"0"##],
    &[r##"EVAL"##, r##"return cjson.decode('{"a" 1}')"##, r##"0"##],
    &[r##"EVAL"##, r##"return cjson.decode('x')"##, r##"0"##],
    &[r##"EVAL"##, r##"return cjson.decode('[1,]')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return cjson.encode(function() end)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({[true]=1})"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cjson.encode(0/0)"##, r##"0"##],
    &[r##"EVAL"##, r##"return cjson.encode({})"##, r##"0"##],
    &[r##"EVAL"##, r##"return cjson.encode('\1\127')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({cjson.null})"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.pcall('get', {})"##, r##"0"##],
    &[r##"EVAL"##, r##"return bit.band('x')"##, r##"0"##],
    &[r##"EVAL"##, r##"return bit.tohex(65535, 2)"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.setresp(3.5)"##, r##"0"##],
    &[r##"SCRIPT"##, r##"FLUSH"##],
    &[r##"SCRIPT"##, r##"LOAD"##, r##"return {KEYS[1], ARGV[1]}"##],
    &[
        r##"EVALSHA"##,
        r##"7b9c8a3f7e0dc4a57b8d1f3e8dd6a5e1b0a2c8f1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return {KEYS[1], ARGV[1]}"##,
        r##"1"##,
        r##"k"##,
        r##"v"##,
    ],
    &[
        r##"EVALSHA_RO"##,
        r##"1c5f5bd12b3a6d6bd5b4f8e0d1e7cd8d3dcbde1d"##,
        r##"0"##,
    ],
    &[r##"SCRIPT"##, r##"EXISTS"##, r##"a"##, r##"b"##],
    &[r##"SCRIPT"##, r##"FLUSH"##, r##"SYNC"##],
    &[r##"SCRIPT"##, r##"FLUSH"##, r##"ASYNC"##, r##"x"##],
    &[r##"SCRIPT"##, r##"HELP2"##],
    &[
        r##"EVAL_RO"##,
        r##"return redis.call('get','a')"##,
        r##"1"##,
        r##"a"##,
    ],
    &[
        r##"EVAL_RO"##,
        r##"return redis.pcall('incr','a')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=no-writes
return redis.call('get','a')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=allow-stale,allow-cross-slot-keys
return redis.call('set','a','1')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=no-writes
return redis.pcall('del','a')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua  flags=no-writes
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!luax
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"#!lua flags=no-writes,nope
return 1"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local t = {} for i = 1, 5 do t[i] = i * 1.5 end return t"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return #ARGV"##,
        r##"0"##,
        r##"a"##,
        r##"b"##,
    ],
    &[
        r##"EVAL"##,
        r##"return string.len(ARGV[1])"##,
        r##"0"##,
        r##"é"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('rpush','lst','a','b','c')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('lrange','lst',0,-1)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('lpop','lst',10)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('lpop','lst')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('zadd','z',1.5,'a',2,'b')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('zrange','z',0,-1,'withscores')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) return redis.call('zrange','z',0,-1,'withscores')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) return redis.call('zscore','z','a')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) return redis.call('zscore','z','a').double"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('incrbyfloat','f2','1.5')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('exists','nokey','z')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.call('type','z')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('type','z').ok"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('sadd','s','x','y')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) return redis.call('smembers','s')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"redis.setresp(3) local s = redis.call('smembers','s') return s.set.x"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('del','lst','z','s','h','f2')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.decode('"a\\u0041\\n"')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.encode({['a b']=1})"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cjson.decode('{"x":1}').x"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cjson.decode('true')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return cjson.encode(cjson.decode('[]'))"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cjson.encode({{},{1}})"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return type(cjson.decode('null'))"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return bit.bor(1,2,4,8)"##, r##"0"##],
    &[r##"EVAL"##, r##"return bit.tohex(-1)"##, r##"0"##],
    &[r##"EVAL"##, r##"return bit.rol(1, 33)"##, r##"0"##],
    &[r##"EVAL"##, r##"return bit.band(2^32+5, 7)"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"local a = 0 for i=1,100 do a = a + i end return a"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.pcall('nosuch', 'x')['err']"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local r = redis.pcall('nosuch') return type(r)"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return {1, {err='inner'}, 3}"##, r##"0"##],
    &[r##"EVAL"##, r##"return {1, {ok='inner'}, 3}"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return setmetatable({}, {__index=function() return 1 end})[5]"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"print = 1"##, r##"0"##],
    &[r##"EVAL"##, r##"local s = 'x' return s:upper()"##, r##"0"##],
    &[r##"EVAL"##, r##"return math.floor(3.7)"##, r##"0"##],
    &[r##"EVAL"##, r##"return math.huge"##, r##"0"##],
    &[r##"EVAL"##, r##"return -math.huge"##, r##"0"##],
    &[r##"EVAL"##, r##"return 0/0"##, r##"0"##],
    &[r##"EVAL"##, r##"return 2^53"##, r##"0"##],
    &[r##"EVAL"##, r##"return '12' + 1"##, r##"0"##],
    &[r##"EVAL"##, r##"return ('x'):rep(3)"##, r##"0"##],
    &[r##"EVAL"##, r##"local t = {} t.x = 1 return t"##, r##"0"##],
    &[r##"EVAL"##, r##"return {}"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('echo', 'hi')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.call('ECHO', 12)"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call('auth', 'x')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('client', 'list')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('watch', 'x')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('script', 'load', 'return 1')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('command', 'count') > 0"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return redis.call('object')"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('config', 'nope')"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return redis.call('get', 'a', 'b', 'c')"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cmsgpack.pack({1,2,3})"##, r##"0"##],
    &[r##"EVAL"##, r##"return cmsgpack.pack({a=1})"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return cmsgpack.pack(1.5, -1, -100, 300, 70000, 5000000000, -40000, 0.1, 'abc', true, false)"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cmsgpack.pack(string.rep('x', 40))"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cmsgpack.pack({})"##, r##"0"##],
    &[
        r##"EVAL"##,
        r##"return cmsgpack.unpack(cmsgpack.pack({1,{2,3},'x'}))"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"local a, b = cmsgpack.unpack(cmsgpack.pack(7, 'y')) return {a, b}"##,
        r##"0"##,
    ],
    &[
        r##"EVAL"##,
        r##"return cmsgpack.unpack(cmsgpack.pack({name='Joe'})).name"##,
        r##"0"##,
    ],
    &[r##"EVAL"##, r##"return cmsgpack.pack()"##, r##"0"##],
    &[r##"MULTI"##],
    &[r##"EVAL"##, r##"return redis.call('incr','mx')"##, r##"0"##],
    &[r##"EVAL"##, r##"return redis.call('get','mx')"##, r##"0"##],
    &[r##"EXEC"##],
    &[r##"EVAL"##, r##"return redis.call('incr','mx')"##, r##"0"##],
    &[r##"GET"##, r##"mx"##],
    &[r##"WATCH"##, r##"wk"##],
    &[
        r##"EVAL"##,
        r##"return redis.call('set','wk','1')"##,
        r##"0"##,
    ],
    &[r##"MULTI"##],
    &[r##"GET"##, r##"wk"##],
    &[r##"EXEC"##],
];

/// A connection to any address, reading whole RESP frames.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn connect(port: u16) -> Option<Conn> {
        for _ in 0..100 {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
                return Some(Conn {
                    stream,
                    buf: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    async fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&b).await.expect("write");
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut tmp = vec![0u8; 65536];
            let n = self.stream.read(&mut tmp).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }
}
/// The reference redis-server, when it is installed and is 7.0.x (the texts compared are 7.0's).
fn redis_server() -> Option<common::ReferenceRedis> {
    let out = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    if !String::from_utf8_lossy(&out.stdout).contains("v=7.0.") {
        return None;
    }
    common::ReferenceRedis::start(&[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_match_redis_server_7_0() {
    let Some(server) = redis_server() else {
        eprintln!("redis-server 7.0 not installed: differential scripting test skipped");
        return;
    };
    let node = start_with(|c| c.engine_version = "7.0.15".into());
    let mut theirs = Conn::connect(server.port).await.expect("redis-server up");
    let mut ours = Conn::connect(node.local_addr().port())
        .await
        .expect("node up");
    let mut mismatches = Vec::new();
    let mut compared_scripts = 0;
    for case in CASES {
        let (a, b) = (theirs.cmd(case).await, ours.cmd(case).await);
        // HELLO's reply carries the client id, which differs by nature.
        if case[0] == "HELLO" {
            continue;
        }
        if case[0].starts_with("EVAL") {
            compared_scripts += 1;
        }
        if a != b {
            mismatches.push(format!(
                "{case:?}\n  redis-server: {:?}\n  ours:         {:?}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(
        compared_scripts >= 60,
        "{compared_scripts} scripts compared"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_cache_load_exists_flush() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    let body = "return ARGV[1] .. KEYS[1]";
    let sha = "ea3ea8dd5bfa1bd3e6e56e5b78a7c0b5dbd7ec2b";
    let loaded = c.cmd(&["SCRIPT", "LOAD", body]).await;
    let sha_got = loaded.lines().nth(1).unwrap_or("").to_string();
    assert_eq!(sha_got.len(), 40, "{loaded}");
    assert_ne!(sha_got, sha, "a made-up sha is not the script's");
    assert_eq!(
        c.cmd(&["EVALSHA", &sha_got, "1", "k", "v-"]).await,
        "$3\r\nv-k\r\n"
    );
    // Any case of the digest names the script.
    let upper = sha_got.to_ascii_uppercase();
    assert_eq!(
        c.cmd(&["EVALSHA", &upper, "1", "k", "x"]).await,
        "$2\r\nxk\r\n"
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &sha_got, sha]).await,
        "*2\r\n:1\r\n:0\r\n"
    );
    // EVAL of the same body is the same cached script.
    assert_eq!(c.cmd(&["EVAL", body, "1", "a", "b"]).await, "$2\r\nba\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["EVALSHA", &sha_got, "0"]).await,
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", &sha_got]).await, "*1\r\n:0\r\n");
    assert_eq!(
        c.cmd(&["SCRIPT", "KILL"]).await,
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_sees_its_own_database_and_writes_reach_keyspace() {
    let node = start();
    let mut c = Raw::connect(&node).await;
    assert_eq!(c.cmd(&["SELECT", "2"]).await, "+OK\r\n");
    let script = "redis.call('set', KEYS[1], ARGV[1]) redis.call('select', '5') \
                  redis.call('set', KEYS[1], 'in5') return redis.call('get', KEYS[1])";
    assert_eq!(
        c.cmd(&["EVAL", script, "1", "k", "v"]).await,
        "$3\r\nin5\r\n"
    );
    // SELECT inside the script does not change the caller's database.
    assert_eq!(c.cmd(&["GET", "k"]).await, "$1\r\nv\r\n");
    assert_eq!(c.cmd(&["SELECT", "5"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]).await, "$3\r\nin5\r\n");
    // CLIENT REPLY SKIP skips the EVAL's reply, not the replies the script reads.
    c.send(&["CLIENT", "REPLY", "SKIP"]).await;
    c.send(&["EVAL", "return redis.call('incr', 'n') + 10", "0"])
        .await;
    assert_eq!(c.cmd(&["GET", "n"]).await, "$1\r\n1\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('incr', 'n') + 10", "0"])
            .await,
        ":12\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_shows_eval_then_the_scripts_commands_from_lua() {
    let node = start();
    let mut m = Raw::connect(&node).await;
    assert_eq!(m.cmd(&["MONITOR"]).await, "+OK\r\n");
    let mut c = Raw::connect(&node).await;
    let script = "redis.call('set', 'a', '1') return redis.call('get', 'a')";
    assert_eq!(c.cmd(&["EVAL", script, "0"]).await, "$1\r\n1\r\n");
    let eval = m.read().await;
    assert!(eval.contains("\"EVAL\" \""), "{eval}");
    assert!(!eval.contains(" lua]"), "{eval}");
    let set = m.read().await;
    assert!(set.contains(" lua] \"set\" \"a\" \"1\""), "{set}");
    let get = m.read().await;
    assert!(get.contains(" lua] \"get\" \"a\""), "{get}");
}

async fn replica_pair() -> (RedisNode, RedisNode) {
    let p = start();
    let r = start();
    let addr = p.local_addr();
    r.replicate_from(&p, (addr.ip().to_string(), addr.port()));
    (p, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_receive_the_scripts_effects_not_the_eval() {
    let (p, r) = replica_pair().await;
    let mut pc = Raw::connect(&p).await;
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    let mut mon = Raw::connect(&r).await;
    assert_eq!(mon.cmd(&["MONITOR"]).await, "+OK\r\n");
    // The primary's random sequence has moved on: re-running the EVAL on the replica would
    // store other numbers than the primary did.
    for _ in 0..3 {
        pc.cmd(&["EVAL", "return math.random(1000000)", "0"]).await;
    }
    let script = "redis.call('set', KEYS[1], math.random(1000000)) \
                  return redis.call('incr', KEYS[2])";
    assert_eq!(pc.cmd(&["EVAL", script, "2", "r", "n"]).await, ":1\r\n");
    // A script that writes nothing sends nothing.
    pc.cmd(&["EVAL", "return redis.call('get', 'r')", "0"])
        .await;
    assert_eq!(pc.cmd(&["WAIT", "1", "5000"]).await, ":1\r\n");
    // The in-process replica applies each MULTI/EXEC unit whole under its lock, so its MONITOR
    // shows the unit's commands (after the SELECT that starts the stream), never the EVAL.
    let mut words = Vec::new();
    let mut lines = Vec::new();
    while words.len() < 2 {
        let Ok(l) = tokio::time::timeout(Duration::from_secs(5), mon.read()).await else {
            panic!("replica's MONITOR saw only {lines:?}");
        };
        let w = l.split('"').nth(1).unwrap_or("").to_ascii_lowercase();
        if w != "select" {
            words.push(w);
        }
        lines.push(l);
    }
    assert_eq!(words, ["set", "incr"], "replica saw: {lines:?}");
    let mut rc = Raw::connect(&r).await;
    let (on_p, on_r) = (pc.cmd(&["GET", "r"]).await, rc.cmd(&["GET", "r"]).await);
    assert_eq!(on_p, on_r);
    assert_eq!(rc.cmd(&["GET", "n"]).await, "$1\r\n1\r\n");
    // On the replica: a script declaring it may write is refused up front, a legacy one when
    // it writes, a read-only one runs.
    let ro = "-READONLY You can't write against a read only replica.";
    assert_eq!(
        rc.cmd(&["EVAL", "#!lua\nreturn 1", "0"]).await,
        format!("{ro}\r\n")
    );
    let legacy = rc
        .cmd(&["EVAL", "return redis.call('incr', 'n')", "0"])
        .await;
    assert!(legacy.starts_with(&format!("{ro} script: ")), "{legacy}");
    assert_eq!(
        rc.cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get', 'n')",
            "0"
        ])
        .await,
        "$1\r\n1\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_rules_follow_the_script_flags() {
    let node = start_with(|c| c.maxmemory = 2 * 1024 * 1024);
    let mut c = Raw::connect(&node).await;
    // Without a shebang, a script that already wrote goes on past the limit (as redis-server
    // 7.0 does: stopping it halfway would leave a partial write).
    let fill = "for i = 1, 3000 do redis.call('set', 'k' .. i, string.rep('x', 1000)) end return 1";
    assert_eq!(c.cmd(&["EVAL", fill, "0"]).await, ":1\r\n");
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.";
    // Declared flags without allow-oom: refused before running, and not cached.
    let strict = "#!lua\nreturn redis.call('set', 'a', 'b')";
    assert_eq!(c.cmd(&["EVAL", strict, "0"]).await, format!("{oom}\r\n"));
    let info = c.cmd(&["INFO", "memory"]).await;
    assert!(info.contains("number_of_cached_scripts:1\r\n"), "{info}");
    let allowed = "#!lua flags=allow-oom\nreturn redis.call('set', 'a', 'b')";
    assert_eq!(c.cmd(&["EVAL", allowed, "0"]).await, "+OK\r\n");
    let reader = "#!lua flags=no-writes\nreturn redis.call('get', 'a')";
    assert_eq!(c.cmd(&["EVAL", reader, "0"]).await, "$1\r\nb\r\n");
    // A legacy script's first write over the limit fails inside the script.
    let first = c
        .cmd(&["EVAL", "return redis.call('set', 'a', 'c')", "0"])
        .await;
    assert!(first.starts_with(&format!("{oom} script: ")), "{first}");
}

/// Three primaries splitting the slots as ElastiCache does; returns them (the first serves
/// slots 0-5461).
fn three_primaries() -> Vec<RedisNode> {
    use ecl_redis::{ClusterNodeInfo, ClusterShard, ClusterTopology};
    let nodes: Vec<RedisNode> = (0..3)
        .map(|_| start_with(|c| c.cluster_enabled = true))
        .collect();
    let ranges = [(0u16, 5461u16), (5462, 10922), (10923, 16383)];
    let shards = (0..3)
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
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_checks_declared_and_touched_keys() {
    use ecl_redis::cluster::key_slot;
    let nodes = three_primaries();
    let mut c = Raw::connect(&nodes[0]).await;
    let names: Vec<String> = (0..500).map(|i| format!("key{i}")).collect();
    let local: Vec<&String> = names
        .iter()
        .filter(|k| key_slot(k.as_bytes()) <= 5461)
        .collect();
    let (l1, l2) = (local[0].as_str(), local[1].as_str());
    assert_ne!(key_slot(l1.as_bytes()), key_slot(l2.as_bytes()));
    let remote = names
        .iter()
        .find(|k| key_slot(k.as_bytes()) > 5461)
        .map_or("", |k| k.as_str());
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "2", l1, remote]).await,
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    let moved = c.cmd(&["EVAL", "return 1", "1", remote]).await;
    assert!(moved.starts_with("-MOVED "), "{moved}");
    // Scripts without a shebang may touch local keys of other slots (Redis 7.0's legacy rule).
    let two = "redis.call('set', KEYS[1], '1') return redis.call('set', ARGV[1], '2')";
    assert_eq!(c.cmd(&["EVAL", two, "1", l1, l2]).await, "+OK\r\n");
    let strict = format!("#!lua\n{two}");
    let err = c.cmd(&["EVAL", &strict, "1", l1, l2]).await;
    assert!(
        err.starts_with(
            "-ERR Script attempted to access keys that do not hash to the same slot script: "
        ) && err.ends_with(", on @user_script:2.\r\n"),
        "{err}"
    );
    let allowed = format!("#!lua flags=allow-cross-slot-keys\n{two}");
    assert_eq!(c.cmd(&["EVAL", &allowed, "1", l1, l2]).await, "+OK\r\n");
    let far = c
        .cmd(&["EVAL", "return redis.call('get', ARGV[1])", "0", remote])
        .await;
    assert!(
        far.starts_with(
            "-ERR Script attempted to access a non local key in a cluster node script: "
        ),
        "{far}"
    );
    assert_eq!(
        c.cmd(&["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"])
            .await,
        "-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n"
    );
}

/// A script past `busy-reply-threshold` makes other clients get BUSY (texts as redis-server
/// 7.0.15 answers them); SCRIPT KILL stops a script that has not written, and the killed
/// script's caller gets the kill error; one that wrote is UNKILLABLE, and stopping the node
/// stops it anyway (no thread kept by a stopped node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_scripts_answer_busy_and_script_kill_stops_them() {
    const BUSY: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    let node = start_busy_after_ms(100);
    let mut runner = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    assert_eq!(step(&mut other, &["PING"]).await, "+PONG\r\n");
    assert_eq!(step(&mut runner, &["PING"]).await, "+PONG\r\n");
    let body = "while true do end";
    runner.send(&["EVAL", body, "0"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(step(&mut other, &["GET", "a"]).await, BUSY);
    // A connection opened while the script is busy is answered too (as `redis-cli SCRIPT
    // KILL` needs): BUSY, and SCRIPT KILL stops the script.
    let mut late = Raw::connect(&node).await;
    assert_eq!(step(&mut late, &["GET", "a"]).await, BUSY);
    assert_eq!(step(&mut late, &["SCRIPT", "KILL"]).await, "+OK\r\n");
    let sha = other_sha(body);
    let killed = tokio::time::timeout(Duration::from_secs(5), runner.read())
        .await
        .expect("the killed script answers its caller");
    assert_eq!(
        killed,
        format!(
            "-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n"
        )
    );
    assert_eq!(step(&mut other, &["PING"]).await, "+PONG\r\n");
    assert_eq!(step(&mut late, &["PING"]).await, "+PONG\r\n");
    assert_eq!(
        step(&mut other, &["SCRIPT", "KILL"]).await,
        "-NOTBUSY No scripts in execution right now.\r\n"
    );

    // A script that wrote cannot be killed; stopping the node ends it.
    runner
        .send(&["EVAL", "redis.call('set','x','1') while true do end", "0"])
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        step(&mut other, &["SCRIPT", "KILL"]).await,
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    assert_eq!(step(&mut other, &["INCR", "n"]).await, BUSY);
    tokio::time::timeout(Duration::from_secs(10), node.shutdown())
        .await
        .expect("a node whose script loops still stops");
}

/// On a node with a password, a busy script answers a client that has not authenticated
/// NOAUTH (Redis checks authentication before BUSY), registered or opened during the script;
/// AUTH runs while the script is busy (Redis allows it), and the client's next command gets
/// BUSY until the script ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_scripts_answer_noauth_before_authentication() {
    const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
    let node = start_with(|cfg| {
        cfg.requirepass = Some("pw".into());
        cfg.parameters
            .push(("busy-reply-threshold".into(), "100".into()));
    });
    let mut runner = Raw::connect(&node).await;
    let mut admin = Raw::connect(&node).await;
    let mut stranger = Raw::connect(&node).await;
    assert_eq!(step(&mut runner, &["AUTH", "pw"]).await, "+OK\r\n");
    assert_eq!(step(&mut admin, &["AUTH", "pw"]).await, "+OK\r\n");
    assert_eq!(step(&mut stranger, &["PING"]).await, NOAUTH);
    runner.send(&["EVAL", "while true do end", "0"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(step(&mut stranger, &["SCRIPT", "KILL"]).await, NOAUTH);
    let mut late = Raw::connect(&node).await;
    assert_eq!(step(&mut late, &["SCRIPT", "KILL"]).await, NOAUTH);
    assert_eq!(step(&mut stranger, &["AUTH", "pw"]).await, "+OK\r\n");
    let busy = step(&mut stranger, &["GET", "a"]).await;
    assert!(busy.starts_with("-BUSY "), "{busy}");
    assert_eq!(step(&mut admin, &["SCRIPT", "KILL"]).await, "+OK\r\n");
    let killed = tokio::time::timeout(Duration::from_secs(5), runner.read())
        .await
        .expect("the killed script answers its caller");
    assert!(killed.starts_with("-ERR Script killed"), "{killed}");
    assert_eq!(step(&mut stranger, &["GET", "a"]).await, "$-1\r\n");
    assert_eq!(step(&mut late, &["AUTH", "pw"]).await, "+OK\r\n");
}

/// The SHA-1 of a script body, as SCRIPT LOAD names it.
fn other_sha(body: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, body.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What other clients get while a script is busy, on one server: each command's reply from a
/// client that was in MULTI before the script, one registered during it and one that never
/// authenticated (on a node with password `pw`), then after SCRIPT KILL.
async fn replies_around_a_busy_script(addr: std::net::SocketAddr) -> Vec<(String, String)> {
    let connect = || async {
        let mut c = Raw::connect_addr(addr).await;
        assert_eq!(step(&mut c, &["AUTH", "pw"]).await, "+OK\r\n");
        c
    };
    let mut in_multi = connect().await;
    assert_eq!(step(&mut in_multi, &["MULTI"]).await, "+OK\r\n");
    let mut runner = connect().await;
    runner
        .send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
        .await;
    // Busy once another connection gets BUSY (a loaded machine may take a while).
    let mut probe = connect().await;
    for _ in 0..200 {
        if step(&mut probe, &["PING"]).await.starts_with("-BUSY ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut other = connect().await;
    let mut stranger = Raw::connect_addr(addr).await;
    let mut seen = Vec::new();
    let script: &[(&str, &[&str])] = &[
        ("other", &["FOO"]),
        ("other", &["GET"]),
        ("other", &["GET", "x"]),
        ("multi", &["SET", "y", "2"]),
        ("other", &["AUTH", "nope"]),
        ("other", &["HELLO", "3"]),
        ("other", &["HELLO", "2"]),
        ("other", &["CLIENT", "SETNAME", "n"]),
        ("other", &["MULTI"]),
        ("other", &["MULTI"]),
        ("other", &["DISCARD"]),
        ("other", &["EXEC"]),
        ("other", &["WATCH", "k"]),
        ("other", &["UNWATCH"]),
        ("other", &["SCRIPT", "KILL", "x"]),
        ("other", &["FUNCTION", "KILL"]),
        ("other", &["FUNCTION", "STATS"]),
        ("other", &["FUNCTION", "STATS", "x"]),
        ("stranger", &["FOO"]),
        ("stranger", &["GET", "x"]),
        ("stranger", &["HELLO"]),
        ("stranger", &["SCRIPT", "KILL"]),
        ("stranger", &["AUTH", "pw"]),
        ("stranger", &["GET", "x"]),
        ("stranger", &["RESET"]),
        ("stranger", &["GET", "x"]),
        ("other", &["SCRIPT", "KILL"]),
        ("runner", &[]),
        ("multi", &["SET", "x", "1"]),
        ("multi", &["EXEC"]),
        ("other", &["PING"]),
        ("stranger", &["QUIT"]),
    ];
    for (who, args) in script {
        if *who == "runner" {
            // The killed script's caller is answered; from here on nothing is busy.
            let killed = tokio::time::timeout(Duration::from_secs(5), runner.read()).await;
            let killed = killed.map(|k| k[..32].to_string()).unwrap_or_default();
            seen.push(("runner".into(), killed));
            continue;
        }
        let c = match *who {
            "other" => &mut other,
            "multi" => &mut in_multi,
            _ => &mut stranger,
        };
        let mut reply = step(c, args).await;
        if args[0] == "HELLO" && reply.contains("$2\r\nid\r\n:") {
            // Client ids are numbered differently (Redis counts its Lua clients).
            reply = "HELLO map".to_string();
        }
        seen.push((format!("{who} {}", args.join(" ")), reply));
    }
    let gone = tokio::time::timeout(Duration::from_secs(2), stranger.closed()).await;
    seen.push((
        "stranger after QUIT".into(),
        format!("closed: {}", gone.is_ok()),
    ));
    seen
}

/// The replies other clients get around a busy script are redis-server 7.0.15's, byte for
/// byte: errors for unknown commands and bad arity before NOAUTH, NOAUTH before BUSY; AUTH,
/// HELLO, MULTI, DISCARD, WATCH, UNWATCH, RESET and QUIT run; EXEC is refused with EXECABORT,
/// and a BUSY inside MULTI aborts the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_script_replies_match_redis_server() {
    let node = start_with(|cfg| {
        cfg.engine_version = "7.0.15".into();
        cfg.requirepass = Some("pw".into());
        cfg.parameters
            .push(("busy-reply-threshold".into(), "100".into()));
    });
    let ours = replies_around_a_busy_script(node.local_addr()).await;
    assert!(
        ours.iter()
            .any(|(c, r)| c == "other FOO" && r.starts_with("-ERR unknown command")),
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .any(|(c, r)| c == "multi EXEC" && r.starts_with("-EXECABORT"))
    );
    assert_eq!(ours.last().map(|x| x.1.as_str()), Some("closed: true"));
    let Some(real) =
        common::ReferenceRedis::start(&["--requirepass", "pw", "--busy-reply-threshold", "100"])
    else {
        eprintln!("redis-server not installed: comparison skipped");
        return;
    };
    drop(real.connect().await);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], real.port));
    let theirs = replies_around_a_busy_script(addr).await;
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(o, t);
    }
    assert_eq!(ours.len(), theirs.len());
    tokio::time::timeout(Duration::from_secs(10), node.shutdown())
        .await
        .expect("node stops");
}

/// A client served between a busy script's steps sees none of the script's effects happen
/// halfway: a waiter on a list the script pushes to and then empties is not served by the
/// visit (Redis serves waiters when the script ends, when the list is gone again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_during_a_busy_script_serve_no_waiter_halfway() {
    let node = start_busy_after_ms(50);
    let mut waiter = Raw::connect(&node).await;
    let mut runner = Raw::connect(&node).await;
    let mut other = Raw::connect(&node).await;
    waiter.send(&["BLPOP", "q", "0"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let body = "redis.call('lpush', 'q', 'x') \
        local t0 = redis.call('time') \
        while true do \
          local t = redis.call('time') \
          if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 2000000 then break end \
        end \
        redis.call('del', 'q') return 1";
    runner.send(&["EVAL", body, "0"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let busy = step(&mut other, &["PING"]).await;
    assert!(busy.starts_with("-BUSY "), "{busy}");
    let done = tokio::time::timeout(Duration::from_secs(10), runner.read()).await;
    assert_eq!(done.expect("the script ends"), ":1\r\n");
    let early = tokio::time::timeout(Duration::from_millis(200), waiter.read()).await;
    assert!(
        early.is_err(),
        "the waiter was served mid-script: {early:?}"
    );
    assert_eq!(step(&mut other, &["RPUSH", "q", "y"]).await, ":1\r\n");
    let served = tokio::time::timeout(Duration::from_secs(5), waiter.read()).await;
    assert_eq!(served.expect("served"), "*2\r\n$1\r\nq\r\n$1\r\ny\r\n");
}

/// A connection accepted while a script runs but before it is busy is answered once the
/// script is busy (it waited for the lock to read `maxclients` until the script ended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_opened_before_the_script_is_busy_gets_busy() {
    let node = start_busy_after_ms(300);
    let mut runner = Raw::connect(&node).await;
    runner
        .send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut early = Raw::connect(&node).await;
    let busy = step(&mut early, &["PING"]).await;
    assert!(busy.starts_with("-BUSY "), "{busy}");
    assert_eq!(step(&mut early, &["SCRIPT", "KILL"]).await, "+OK\r\n");
    let killed = tokio::time::timeout(Duration::from_secs(10), runner.read()).await;
    let killed = killed.expect("answered");
    assert!(killed.starts_with("-ERR Script killed"), "{killed}");
}
