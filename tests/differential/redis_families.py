"""Focused generators of the Redis differential oracle for the command families the general
grammar leaves out: Lua scripting, Redis 7 functions, geo, streams, and blocking commands woken
by a write from another connection. Each family draws its commands from the same COMMAND DOCS
grammar as redis_oracle.py, with value pools of its own (valid and edge coordinates, explicit
stream IDs, a pool of Lua scripts and libraries), so replies stay deterministic: no `*` stream
IDs, no idle-time thresholds that depend on the clock (times that do appear are compared within
a tolerance by redis_oracle.same).

Woken blocking uses two step kinds besides plain commands: `(10 + c, args)` sends args on
connection c without reading (rendered `@c& ...`) and waits until the server counts the client
as blocked (or a reply is already there); `(c, [b"<read>"])` reads that pending reply later
(rendered `@c<`).
"""

import hashlib

# ---- geo --------------------------------------------------------------------------------------
GEO_KEYS = [b"g1", b"g1", b"g2", b"k1", b""]
PLACES = [(b"13.361389", b"38.115556", b"Palermo"), (b"15.087269", b"37.502669", b"Catania"),
          (b"2.2945", b"48.8584", b"eiffel"), (b"-122.27652", b"37.805186", b"oak"),
          (b"180", b"85.05112878", b"ne"), (b"-180", b"-85.05112878", b"sw"), (b"0", b"0", b"zero"),
          (b"-0", b"-0", b"nzero"), (b"179.9999999", b"0.0000001", b"edge")]
LONS = [p[0] for p in PLACES] + [b"180.0000001", b"-180.0000001", b"x", b"1e2", b"inf"]
LATS = [p[1] for p in PLACES] + [b"85.05112879", b"-85.05112879", b"90", b"nan", b"(1"]
GEO_MEMBERS = [p[2] for p in PLACES] + [b"nosuch", b""]
GEO_POOLS = {
    "longitude": LONS, "latitude": LATS, "member": GEO_MEMBERS,
    "radius": [b"0", b"1", b"100", b"200", b"5000", b"20000000", b"-1", b"1e9", b"0.5"],
    "width": [b"0", b"400", b"1000", b"40000000", b"-1", b"2.5"],
    "height": [b"0", b"400", b"1000", b"40000000", b"-1"],
    "count": [b"0", b"1", b"2", b"3", b"-1", b"100"],
}
GEO_CMDS = ["geoadd", "geodist", "geohash", "geopos", "georadius", "georadius_ro", "georadiusbymember",
            "georadiusbymember_ro", "geosearch", "geosearchstore", "zrange", "zscore", "type"]


def geo_creator(g):
    rng = g.rng
    out = [b"GEOADD", rng.choice(GEO_KEYS[:3])]
    for lon, lat, m in rng.sample(PLACES, rng.randint(2, 6)):
        out += [lon, lat, m]
    return out


# ---- streams ----------------------------------------------------------------------------------
S_KEYS = [b"s1", b"s1", b"s2", b"k1"]
IDS = [b"1-1", b"1-2", b"2-0", b"3", b"5-*", b"0-1", b"0-0", b"0", b"$", b">", b"-", b"+", b"(1-1",
       b"18446744073709551615-18446744073709551615", b"18446744073709551615-*", b"1-x", b"10-5", b"4-1"]
S_POOLS = {
    "id": IDS, "start": IDS, "end": IDS, "last-id": IDS, "max_deleted_entry_id": IDS,
    "threshold": [b"0", b"1", b"2", b"3", b"2-0", b"-1", b"x"],
    "group": [b"g1", b"g1", b"g2"], "groupname": [b"g1", b"g1", b"g2"],
    "consumer": [b"c1", b"c2"], "consumername": [b"c1", b"c2"],
    "min-idle-time": [b"0", b"0", b"3600000", b"-1", b"x"],
    "ms": [b"0", b"1000", b"-1"], "unix-time-milliseconds": [b"0", b"-5"],
    "milliseconds": [b"10", b"20"], "count": [b"0", b"1", b"2", b"3", b"-1", b"100"],
    "entries_added": [b"0", b"5", b"100", b"-1"], "entries_read": [b"0", b"1", b"3", b"-1"],
    "field": [b"f", b"g", b""], "value": [b"v", b"1", b""],
}
S_CMDS = ["xadd", "xrange", "xrevrange", "xread", "xreadgroup", "xgroup|create", "xgroup|setid",
          "xgroup|destroy", "xgroup|createconsumer", "xgroup|delconsumer", "xack", "xpending", "xclaim",
          "xautoclaim", "xinfo|stream", "xinfo|groups", "xinfo|consumers", "xlen", "xdel", "xtrim",
          "xsetid", "type", "del"]


def stream_creator(g):
    rng = g.rng
    k = rng.choice(S_KEYS[:3])
    return rng.choice([
        [b"XADD", k, rng.choice([b"1-1", b"2-1", b"3-0", b"4-*", b"7"]), b"f", rng.choice([b"v", b"1"])],
        [b"XADD", k, b"MAXLEN", rng.choice([b"2", b"~", b"="]) if rng.random() < 0.5 else b"1",
         rng.choice([b"8-1", b"9-0"]), b"a", b"b"],
        [b"XGROUP", b"CREATE", k, rng.choice([b"g1", b"g2"]), rng.choice([b"0", b"$", b"1-1"]), b"MKSTREAM"],
        [b"XREADGROUP", b"GROUP", b"g1", rng.choice([b"c1", b"c2"]), b"COUNT", rng.choice([b"1", b"2"]),
         b"STREAMS", k, b">"],
    ])


def fix_stream(args):
    """No server-chosen IDs: XADD `*` becomes an explicit ID."""
    if args[0] == b"XADD":
        return [b"6-1" if a == b"*" else a for a in args]
    return args


# ---- scripting --------------------------------------------------------------------------------
SCRIPTS = [
    # The read-only environment: libraries, rawset, pairs, getmetatable, removed globals.
    b"string.foo = 1 return 1",
    b"redis.call = nil return 1",
    b"rawset(cjson, 'x', 1) return cjson.x",
    b"local n = 0 for k in pairs(redis) do n = n + 1 end return n",
    b"return {type(getmetatable(string)), getmetatable('a').__index == string, ('ab'):rep(2)}",
    b"print('x') return 1",
    b"return type(setfenv)",
    b"KEYS[1] = 'x' return KEYS",
    b"return redis.call('SET', KEYS[1], ARGV[1])",
    b"return redis.call('GET', KEYS[1])",
    b"return redis.call('INCR', KEYS[1])",
    b"return redis.call('LRANGE', KEYS[1], 0, -1)",
    b"return redis.call('HGETALL', KEYS[1])",
    b"return redis.pcall('INCR', KEYS[1])",
    b"return redis.call('NOSUCH')",
    b"return redis.pcall('NOSUCH', 1)",
    b"return redis.call('GET')",
    b"return redis.call('GET', {})",
    b"return {1, 2.7, 'x', true, false, nil, 3}",
    b"return 3.99",
    b"return -3.99",
    b"return true",
    b"return false",
    b"return nil",
    b"return {err='My Error'}",
    b"return {ok='fine'}",
    b"return redis.error_reply('boom')",
    b"return redis.error_reply('-ERR x')",
    b"return redis.status_reply('DONE')",
    b"return {double=3.5}",
    b"return {map={a=1}}",
    b"return {set={a=true}}",
    b"return {{1, {2, 'x'}}, {}}",
    b"error('boom')",
    b"error({err='TBL'})",
    b"return cjson.encode({1, 2, {a=1}})",
    b"return cjson.encode(cjson.decode('[1,2.5,\"x\",{\"a\":[true,null]},-0,1e300]'))",
    b"local t = cjson.decode('{\"a\":[1,2,{\"b\":false}]}') return {t.a[1], t.a[2], tostring(t.a[3].b)}",
    b"return cjson.decode('[1,2')",
    b"return cmsgpack.unpack(cmsgpack.pack({1, 2, 3, 'a', -1, 300, 70000, 2^40}))",
    b"return cmsgpack.pack({1, 'a', true, -5, 1.5})",
    b"return {bit.tohex(65535), bit.band(0xff, 0x0f), bit.bxor(5, 3), bit.lshift(1, 40), bit.bnot(0)}",
    b"return {struct.pack('>I2', 258), struct.unpack('<i4', struct.pack('<i4', -7))}",
    b"return {struct.unpack('!4 b i >d c0 s', struct.pack('!4 b i >d c0 s', -1, 70000, 1.5, 'ab', ARGV[1] or 'z'))}",
    b"return {struct.size('!8 b d i2 c3'), struct.size(ARGV[1] or 'x'), struct.pack('>I3 i9 B', 2^20, -2, 300)}",
    b"return {struct.unpack('bc0 I2', ARGV[1] or '\\3abc\\1\\2', 1)}",
    b"return struct.pack(ARGV[1] or 'z', 1, 'x')",
    b"return struct.unpack('>i4', ARGV[1] or 'ab', tonumber(ARGV[2]) or 0)",
    b"return struct.size('s')",
    b"return redis.sha1hex('')",
    b"return {tostring(1e15), tostring(0.1), string.format('%.17g', 0.1), tostring(1/0)}",
    b"redis.setresp(3) return redis.call('HGETALL', KEYS[1])",
    b"redis.setresp(3) return redis.call('SMEMBERS', KEYS[1])",
    b"redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'a')",
    b"return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    b"return redis.call('TYPE', KEYS[1])",
    b"return redis.call('SET', KEYS[1], 'v', 'XX')",
    b"return #KEYS + #ARGV * 10",
    b"return ARGV",
    b"return tonumber(ARGV[1]) + 1",
    b"return redis.call('EXPIRE', KEYS[1], 100)",
    b"return redis.REDIS_VERSION",
    b"return redis.replicate_commands()",
    b"return math.random(100)",
    b"return string.rep('x', 3) .. 1",
    b"return loadstring('return 1')",
    b"local x = ",
    b"return 1 +",
    b"retrun 1",
    b"x = 1",
    b"return redis.call('EVAL', 'return 1', 0)",
    b"return redis.call('MULTI')",
    b"return redis.call('BLPOP', KEYS[1], 0)",
    b"return redis.pcall('LPUSH', KEYS[1], 'a')",
]
SCRIPT_BY_SHA = {hashlib.sha1(s).hexdigest().encode(): s for s in SCRIPTS}
S_ARGS = [b"k1", b"k2", b"1", b"10", b"x", b"", b"3.5", b"-1"]


# cjson.decode on JSON texts damaged at random: lua-cjson's tokenizer decides what decodes and
# how an error names the token and its position (strtod prefixes, `+1`/hex/inf/nan, NUL ends,
# surrogate pairs, nesting limits).
JSON_TEXTS = [b'{"a":[1,2,{"b":null}],"c":"x\\u00e9y","d":1.5e3,"e":true}',
              b'["\\ud83d\\ude00","\\n\\/",0x1F,+1,01,-0,1.5e,2E+3,0x1p-3]', b'[[[[[[1]]]]]]',
              b'{"k\\u0000":"\\udc00"}', b' [ true , false , null ] ', b'"str"', b'-12.5e-3', b'{}']
JSON_SCRIPT = (b"local ok, r = pcall(cjson.decode, ARGV[1]) "
               b"if not ok then return {err=r} end return cjson.encode(r)")


def damaged_json(rng):
    b = bytearray(rng.choice(JSON_TEXTS))
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(b) + 1)
        r = rng.random()
        if r < 0.4 and i < len(b):
            b[i] = rng.choice(b'{}[]",:0123456789.eE+-\\u tfnixXpP\x00\xff')
        elif r < 0.7 and i < len(b):
            del b[i]
        else:
            b.insert(i, rng.choice(b'{}[]",:0.eE+-\\u tfnx'))
    return bytes(b)


# cmsgpack.unpack/unpack_one/unpack_limit on damaged MessagePack (type codes Redis's
# lua-cmsgpack refuses, nil and NaN map keys, missing bytes), and struct.unpack with random
# formats and data (argument errors name the function as the call site does: '?' in pcall).
MSGPACK_TEXTS = [b"\x93\x01\xa3two\x81\xa1k\xc3", b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
                 b"\x84\xa1a\x93\x01\x02\x81\xa1b\xc0\xa1c\xa4x\xc3\xa9y\xa1d\xcd\x05\xdc\xa1e\xc3",
                 b"\xdc\x00\x02\x01\x02\xde\x00\x01\xd9\x01a\xd0\xff", b"\x01\x02\x03"]
MSGPACK_SCRIPTS = [
    b"local ok, r = pcall(cmsgpack.unpack, ARGV[1]) if not ok then return {err=r} end return cjson.encode({r})",
    b"return {pcall(cmsgpack.unpack_one, ARGV[1], tonumber(ARGV[2]))}",
    b"return {pcall(cmsgpack.unpack_limit, ARGV[1], tonumber(ARGV[2]), 1)}",
]
STRUCT_SCRIPT = (b"local ok, a, b, c = pcall(struct.unpack, ARGV[1], ARGV[2]) "
                 b"if not ok then return {err=a} end return {tostring(a), tostring(b), tostring(c)}")


def damaged(rng, texts, alphabet):
    b = bytearray(rng.choice(texts))
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(b) + 1)
        r = rng.random()
        if r < 0.4 and i < len(b):
            b[i] = rng.choice(alphabet)
        elif r < 0.7 and i < len(b):
            del b[i]
        else:
            b.insert(i, rng.choice(alphabet))
    return bytes(b)


def library_line(rng):
    """A script decoding damaged input with cjson, cmsgpack or struct."""
    r = rng.random()
    if r < 0.5:
        return [b"EVAL", JSON_SCRIPT, b"0", damaged_json(rng)]
    if r < 0.8:
        data = damaged(rng, MSGPACK_TEXTS, bytes(range(256)))
        return [b"EVAL", rng.choice(MSGPACK_SCRIPTS), b"0", data, rng.choice([b"0", b"1", b"3", b"-1", b"x"])]
    fmt = bytes(rng.choice(b"bBhHlLiIfdsc0123456789<>!x ") for _ in range(rng.randint(1, 5)))
    return [b"EVAL", STRUCT_SCRIPT, b"0", fmt, bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))]


def script_line(g):
    rng = g.rng
    if rng.random() < 0.15:
        return library_line(rng)
    s = rng.choice(SCRIPTS)
    nk = rng.choice([0, 1, 1, 1, 2])
    keys = [rng.choice([b"k1", b"k2", b"{t}k"]) for _ in range(nk)]
    argv = [rng.choice(S_ARGS) for _ in range(rng.randint(0, 2))]
    numkeys = str(nk).encode() if rng.random() < 0.93 else rng.choice([b"-1", b"5", b"x", b"3"])
    r = rng.random()
    if r < 0.55:
        return [rng.choice([b"EVAL", b"EVAL", b"EVAL_RO"]), s, numkeys] + keys + argv
    if r < 0.80:
        sha = hashlib.sha1(s).hexdigest().encode()
        sha = sha if rng.random() < 0.85 else rng.choice([b"ffff", sha.upper(), b"0" * 40])
        return [rng.choice([b"EVALSHA", b"EVALSHA_RO"]), sha, numkeys] + keys + argv
    if r < 0.90:
        return [b"SCRIPT", b"LOAD", s]
    if r < 0.96:
        return [b"SCRIPT", b"EXISTS"] + [hashlib.sha1(rng.choice(SCRIPTS)).hexdigest().encode(), b"x"]
    return [b"SCRIPT", b"FLUSH"] + rng.choice([[], [b"ASYNC"], [b"SYNC"], [b"x"]])


# ---- functions --------------------------------------------------------------------------------
LIBS = [
    b"#!lua name=lib1\nredis.register_function('f1', function(keys, args) return redis.call('GET', keys[1]) end)",
    b"#!lua name=lib1\nredis.register_function('f1', function(keys, args) return #args end)",
    b"#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) return a end, "
    b"flags={'no-writes'}, description='echo'}",
    b"#!lua name=lib3\nredis.register_function('f3', function(k, a) return redis.call('INCR', k[1]) end)\n"
    b"redis.register_function{function_name='f3ro', callback=function(k, a) return redis.call('GET', k[1]) end, "
    b"flags={'no-writes', 'allow-oom'}}",
    b"#!lua name=lib4\nredis.register_function('f4', function(k, a) return {1, 'x', {err='E'}} end)",
    b"redis.register_function('f5', function() return 1 end)",
    b"#!js name=lib5\nx",
    b"#!lua\nredis.register_function('f5', function() return 1 end)",
    b"#!lua name=lib6\nreturn 1",
    b"#!lua name=lib7\nredis.register_function('f1', function() return 1 end)",
    b"#!lua name=lib8\nredis.register_function('f8', function() return 1 end)\n"
    b"redis.register_function('f8', function() return 2 end)",
    b"#!lua name=lib9\nredis.register_function('bad name', function() return 1 end)",
    b"#!lua name=lib10\nredis.call('PING')",
    b"#!lua name=lib11\nlocal x = ",
    b"#!lua name=lib12 foo=bar\nredis.register_function('f12', function() return 1 end)",
    b"#!lua name=lib13\nredis.register_function{function_name='f13', callback=function() return 1 end, flags={'bad'}}",
]
FUNCS = [b"f1", b"f2", b"f3", b"f3ro", b"f4", b"f8", b"nosuch"]


def function_line(g, dump):
    rng = g.rng
    r = rng.random()
    if r < 0.30:
        return [b"FUNCTION", b"LOAD"] + ([b"REPLACE"] if rng.random() < 0.3 else []) + [rng.choice(LIBS)]
    if r < 0.62:
        nk = rng.choice([0, 1, 1])
        args = [rng.choice([b"FCALL", b"FCALL", b"FCALL_RO"]), rng.choice(FUNCS),
                str(nk).encode() if rng.random() < 0.95 else b"-1"]
        return args + [rng.choice([b"k1", b"k2"]) for _ in range(nk)] + [rng.choice(S_ARGS)] * rng.randint(0, 2)
    if r < 0.74:
        out = [b"FUNCTION", b"LIST"]
        if rng.random() < 0.4:
            out.append(b"WITHCODE")
        if rng.random() < 0.4:
            out += [b"LIBRARYNAME", rng.choice([b"lib1", b"lib*", b"x", b"*"])]
        return out
    if r < 0.82:
        return [b"FUNCTION", b"DELETE", rng.choice([b"lib1", b"lib2", b"lib3", b"nosuch"])]
    if r < 0.86:
        return [b"FUNCTION", b"FLUSH"] + rng.choice([[], [b"ASYNC"], [b"SYNC"], [b"x"]])
    if r < 0.94:
        return [b"FUNCTION", b"RESTORE", rng.choice([dump, dump, b"junk", dump[:-1]])] + rng.choice(
            [[], [b"FLUSH"], [b"APPEND"], [b"REPLACE"], [b"x"]])
    return rng.choice([[b"FUNCTION", b"STATS"], [b"FUNCTION", b"KILL"], [b"FUNCTION", b"DUMP", b"x"],
                       [b"FUNCTION", b"DUMP"], [b"FUNCTION", b"DUMP"]])


# ---- woken blocking ---------------------------------------------------------------------------
def blocker(g, key):
    """A blocking command on key with a short timeout (so an unwoken one ends quickly)."""
    rng = g.rng
    return rng.choice([
        [b"BLPOP", key, b"0.2"], [b"BRPOP", b"nokey", key, b"0.2"], [b"BLMOVE", key, b"dst", b"LEFT", b"RIGHT", b"0.2"],
        [b"BRPOPLPUSH", key, key, b"0.2"], [b"BZPOPMIN", key, b"0.2"], [b"BZPOPMAX", key, b"0.2"],
        [b"BLMPOP", b"0.2", b"1", key, b"LEFT", b"COUNT", b"2"], [b"BZMPOP", b"0.2", b"1", key, b"MIN"],
        [b"XREAD", b"BLOCK", b"200", b"STREAMS", key, b"$"],
        [b"XREAD", b"COUNT", b"1", b"BLOCK", b"200", b"STREAMS", key, b"2-0"],
        [b"XREADGROUP", b"GROUP", b"g1", b"c1", b"BLOCK", b"200", b"STREAMS", key, b">"],
    ])


def multi_blocker(g, key, other):
    """A blocking command on two keys: Redis serves it from the key signalled first."""
    return g.rng.choice([
        [b"XREAD", b"BLOCK", b"200", b"STREAMS", key, other, b"$", b"$"],
        [b"XREAD", b"COUNT", b"1", b"BLOCK", b"200", b"STREAMS", other, key, b"0-0", b"2-0"],
        [b"XREADGROUP", b"GROUP", b"g1", b"c1", b"BLOCK", b"200", b"STREAMS", key, other, b">", b">"],
        [b"XREADGROUP", b"GROUP", b"g1", b"c1", b"BLOCK", b"200", b"STREAMS", other, key, b">", b"0"],
        [b"BLPOP", key, other, b"0.2"], [b"BZPOPMIN", other, key, b"0.2"],
        [b"BLMPOP", b"0.2", b"2", key, other, b"RIGHT"], [b"BZMPOP", b"0.2", b"2", other, key, b"MAX"],
    ])


def two_key_waker(g, key, other):
    """A transaction writing both keys (in either order): which key is signalled first."""
    rng = g.rng
    steps = []
    for k in rng.sample([key, other], 2):
        steps.append(rng.choice([
            [b"XADD", k, b"9-3", b"f", b"v"], [b"XGROUP", b"DESTROY", k, b"g1"], [b"DEL", k],
            [b"SET", k, b"str"], [b"LPUSH", k, b"a"], [b"ZADD", k, b"1", b"a"],
            [b"XGROUP", b"CREATE", k, b"g1", b"$", b"MKSTREAM"],
        ]))
    return [[b"MULTI"]] + steps + [[b"EXEC"]]


def waker(g, key):
    rng = g.rng
    return rng.choice([
        [[b"LPUSH", key, b"a"]], [[b"RPUSH", key, b"a", b"b", b"c"]], [[b"ZADD", key, b"1", b"a", b"2", b"b"]],
        [[b"XADD", key, b"9-1", b"f", b"v"]], [[b"SET", key, b"str"]], [[b"DEL", key]],
        [[b"MULTI"], [b"LPUSH", key, b"x"], [b"EXEC"]],
        [[b"MULTI"], [b"RPUSH", key, b"x"], [b"LPOP", key], [b"EXEC"]],
        [[b"MULTI"], [b"ZADD", key, b"5", b"z"], [b"DEL", key], [b"ZADD", key, b"6", b"y"], [b"EXEC"]],
        [[b"MULTI"], [b"XADD", key, b"9-2", b"f", b"v"], [b"EXEC"]],
        [[b"LPUSH", b"other", b"a"]], [[b"RENAME", b"other", key]],
        [[b"XGROUP", b"DESTROY", key, b"g1"]], [[b"FLUSHALL"]],
        [[b"SADD", key, b"a"]], [[b"LPUSH", key, b"a"], [b"LPUSH", key, b"b"]],
    ])


def blocking_sequence(g, creators):
    rng, seq = g.rng, []
    key = rng.choice([b"bk", b"bk", b"bk2"])
    other = b"bk2" if key == b"bk" else b"bk"
    two = rng.random() < 0.35
    for _ in range(rng.randint(0, 2)):
        seq.append((1, rng.choice(creators)(g, key)))
    for _ in range(rng.randint(0, 2) if two else 0):
        seq.append((1, rng.choice(creators)(g, other)))
    waiters = [2] if rng.random() < 0.7 else [2, 3]
    for c in waiters:
        seq.append((10 + c, multi_blocker(g, key, other) if two else blocker(g, key)))
    for step in two_key_waker(g, key, other) if two and rng.random() < 0.7 else waker(g, key):
        seq.append((1, step))
    for c in waiters:
        seq.append((c, [b"<read>"]))
    for _ in range(rng.randint(0, 2)):
        seq.append((1, rng.choice([[b"LRANGE", key, b"0", b"-1"], [b"ZRANGE", key, b"0", b"-1"],
                                   [b"XRANGE", key, b"-", b"+"], [b"TYPE", key], [b"LRANGE", b"dst", b"0", b"-1"],
                                   [b"XPENDING", key, b"g1"]])))
    return seq


BLOCK_CREATORS = [
    lambda g, k: [b"RPUSH", k, b"x"],
    lambda g, k: [b"ZADD", k, b"3", b"q"],
    lambda g, k: [b"XADD", k, b"1-1", b"f", b"v"],
    lambda g, k: [b"XGROUP", b"CREATE", k, b"g1", b"$", b"MKSTREAM"],
    lambda g, k: [b"SET", k, b"s"],
]


# HyperLogLog: PFADD/PFMERGE edit a sparse HLL's bytes in place (the bytes GET shows depend on
# the order of updates, and a payload damaged after the opcode an element lands in is still
# updated), promote to dense past hll-sparse-max-bytes, and PFCOUNT rewrites the cached
# cardinality in the header; junk comes from SETRANGE/APPEND on the HLL strings.
HLL_KEYS = [b"h1", b"h2", b"h3"]

# SETRANGE or APPEND junk, then one more byte (0x80, a one-register VAL) if the opcodes from
# byte 16 on end inside a two-byte XZERO. Such a cut XZERO makes redis-server read past the
# string's end: the first time the sds terminator (0), after an update that lands in it a byte
# hllSparseSet's memcpy left there (it writes the whole new sequence after shrinking the length).
# That memory is not part of the value (DEBUG RELOAD drops it), so it is not emulated and not
# generated; every other damage is (found at seed 2573, README "Second pass").
HLL_DAMAGE = (b"if ARGV[1] == 'APPEND' then redis.call('APPEND', KEYS[1], ARGV[3]) "
              b"else redis.call('SETRANGE', KEYS[1], ARGV[2], ARGV[3]) end "
              b"local s, i = redis.call('GET', KEYS[1]), 17 "
              b"while i <= #s do local b = s:byte(i) if b >= 64 and b < 128 then i = i + 2 else i = i + 1 end end "
              b"if i > #s + 1 then redis.call('APPEND', KEYS[1], '\\128') end "
              b"return #s")


def hll_line(g):
    rng = g.rng
    k = rng.choice(HLL_KEYS)
    r = rng.random()
    if r < 0.45:
        n = rng.choice([0, 1, 2, 5, 20, 200, 1500])
        return [b"PFADD", k] + [b"e%d" % rng.randint(0, 20000) for _ in range(n)]
    if r < 0.55:
        return [b"PFMERGE", k] + rng.sample(HLL_KEYS + [b"h4"], rng.randint(0, 2))
    if r < 0.65:
        return [b"PFCOUNT"] + rng.sample(HLL_KEYS, rng.randint(1, 2))
    if r < 0.8:
        junk = bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 3)))
        if r < 0.75:
            return [b"EVAL", HLL_DAMAGE, b"1", k, b"SETRANGE", b"%d" % rng.choice([4, 15, 16, 17, 18, 20, 40, 100]), junk]
        return [b"EVAL", HLL_DAMAGE, b"1", k, b"APPEND", b"0", junk]
    if r < 0.85:
        return [b"OBJECT", b"ENCODING", k] if rng.random() < 0.5 else [b"STRLEN", k]
    return [b"GET", k]
