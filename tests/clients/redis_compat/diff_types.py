#!/usr/bin/env python3
"""Differential check of the data-type families: sends the same deterministic command script
to Debian's redis-server and to ecl-redis-server (both started here on ephemeral loopback
ports, ours reporting the same version) over raw RESP, in RESP2 and RESP3, and prints every
command whose raw reply differs. Exit status 1 when something differs.

Usage: diff_types.py [--ours PATH] [--version 7.0.15]
"""

import argparse
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
rpush l a b c d e
lpush l z
lpushx nol x
rpushx l f
lrange l 0 -1
lrange l -100 100
lrange l 5 1
lrange l x 1
lindex l -1
lindex l 100
lindex l x
lpop l 0
lpop l 2
rpop l 1
lpop nol
lpop nol 3
lpop l -1
lpop l 1 2
llen l
llen nol
lset l 0 A
lset l 99 A
lset nol 0 A
linsert l before c X
linsert l after c Y
linsert l after nope Y
linsert nol after c Y
linsert l middle c Y
rpush p a b c 1 2 3 c c
lpos p c
lpos p c rank 2
lpos p c rank -1
lpos p c count 0
lpos p c count 2 rank -1
lpos p c maxlen 3
lpos p c rank 0
lpos p c count -1
lpos p c maxlen -1
lpos p c foo 1
lpos p zz count 2
lpos nol c
lpos nol c count 1
lrem p 2 c
lrem p -1 c
lrem p 0 zz
ltrim p 1 -2
lrange p 0 -1
ltrim p 10 20
exists p
rpush src 1 2 3
lmove src dst left right
lmove src dst right left
lmove src dst up left
lmove nosrc dst left left
rpoplpush src dst
rpoplpush src dst
lrange dst 0 -1
lmpop 2 nol dst left count 2
lmpop 1 dst right
lmpop 0 dst right
lmpop 3 dst right
lmpop 1 dst middle
lmpop 1 dst left count 0
lmpop 1 dst left count 1 count 1
set str v
lpush str a
lrange str 0 1
blpop str 0.01
blpop nol 0.01
blpop nol -1
blpop nol abc
brpoplpush nol dst 0.01
blmove nol dst left left 0.01
blmpop 0.01 1 nol left
hset h a 1 b 2
hset h a 3
hset h a
hsetnx h a 9
hsetnx h c 9
hmset h d 4
hget h a
hget h zz
hget nokey a
hmget h a zz b
hmget nokey a b
hdel h zz
hlen h
hstrlen h a
hstrlen h zz
hexists h a
hexists h zz
hkeys nokey
hvals nokey
hgetall nokey
hincrby h a 5
hincrby h a x
hincrby h new -3
hincrbyfloat h f 1.5
hincrbyfloat h f 1e3
hincrbyfloat h f 0.1
hincrbyfloat h f x
hincrbyfloat h f inf
hset h s str
hincrby h s 1
hincrbyfloat h s 1
hset h m 9223372036854775807
hincrby h m 1
hgetall h
hkeys h
hvals h
hscan h 0
hscan h 0 match [ab]
hrandfield nokey
hrandfield nokey 5
hrandfield nokey 5 withvalues
hrandfield h 0
hrandfield h 1 foo
hscan nokey 0
hscan h 0 count 0
hscan h x
hget str a
sadd s 3 1 2 2
srem s 9
smembers nokey
sismember s 1
sismember nokey 1
smismember s 1 9
smismember nokey 1
scard s
scard nokey
spop nokey
spop nokey 3
spop s 0
spop s -1
srandmember nokey
srandmember nokey 4
srandmember s 0
srandmember s -9223372036854775808
sadd t 2 3 4
sinter s t nokey
sintercard 2 s t
sintercard 2 s t limit 1
sintercard 2 s t limit -1
sintercard 0 s
sintercard 3 s t
sintercard 2 s t foo
sinterstore d s t
smembers d
sunionstore d s nokey
sdiffstore d s s
exists d
sdiff nokey s
smove s t 1
smove s t 1
smove s str 2
smove nokey t 1
sinter s str
sadd str x
sscan nokey 0
sadd ints 30 -5 100 7 2
smembers ints
sscan ints 0
sunion ints t
sdiff ints t
sinter ints ints
spop ints 0
zadd z 1 a 2 b 3 c
zadd z nx 10 a 4 d
zadd z xx ch 5 a 9 zz
zadd z gt ch 1 a
zadd z lt ch 1 a
zadd z incr 2.5 a
zadd z nx incr 1 a
zadd z xx incr 1 nosuch
zadd z nx xx 1 a
zadd z gt lt 1 a
zadd z gt nx 1 a
zadd z incr 1 a 2 b
zadd z x a
zadd z nx 1
zadd z 1 a 2
zadd z nan a
zadd z +inf top -inf bottom
zincrby z -inf top
zincrby z 1 newm
zincrby z x newm
zscore z top
zscore z bottom
zscore z nosuch
zscore nokey a
zmscore z a nosuch
zmscore nokey a
zcard z
zcard nokey
zcount z -inf +inf
zcount z (1 3
zcount z x 3
zcount z 3 1
zrank z a
zrank z nosuch
zrevrank z a
zrank z a foo
zrange z 0 -1
zrange z 0 -1 withscores
zrange z -2 -1 rev withscores
zrange z (1 3 byscore
zrange z 3 (1 byscore rev
zrange z -inf +inf byscore limit 1 2 withscores
zrange z -inf +inf byscore limit -1 2
zrange z -inf +inf byscore limit 0 -1
zrange z 0 1 limit 0 1
zrange z - + bylex withscores
zrange z x y byscore
zrange z x y bylex
zrange z 0 1 byscore bylex
zrange z 0 x
zrangebyscore z -inf +inf withscores limit 0 2
zrangebyscore z (1 +inf
zrangebyscore z 1 2 limit 0
zrevrangebyscore z +inf -inf limit 1 1 withscores
zrevrange z 0 1 withscores
zrevrange z 0 1 foo
zadd lx 0 a 0 b 0 c 0 d 0 e
zrangebylex lx [b (d
zrangebylex lx - +
zrangebylex lx + -
zrangebylex lx (a [c limit 1 1
zrevrangebylex lx + [c
zrevrangebylex lx (d - limit 0 2
zrangebylex lx b d
zlexcount lx - +
zlexcount lx [b [d
zlexcount lx b d
zrangestore dst2 z 0 1
zrangestore dst2 z 1 3 byscore
zrangestore dst2 z 0 1 withscores
zrange dst2 0 -1 withscores
zrangestore dst2 nokey 0 -1
exists dst2
zremrangebyrank lx 0 0
zremrangebyscore z (5 +inf
zremrangebyscore z x y
zremrangebylex lx [b [c
zremrangebylex lx x y
zrange lx 0 -1
zadd z1 1 a 2 b
zadd z2 3 b 4 c
sadd sz a b
zunion 2 z1 z2 withscores
zunion 2 z1 z2 weights 2 1 withscores
zunion 2 z1 z2 aggregate max withscores
zunion 2 z1 z2 aggregate foo
zunion 2 z1 z2 weights x 1
zunion 2 z1 z2 weights 1
zunion 0 z1
zunion 3 z1 z2
zinter 2 z1 z2 withscores
zinter 2 z1 sz withscores
zinter 2 z1 nokey
zdiff 2 z1 z2 withscores
zdiff 2 z1 z2 weights 1 1
zunionstore out 2 z1 z2
zrange out 0 -1 withscores
zinterstore out 2 z1 z2 aggregate min
zrange out 0 -1 withscores
zdiffstore out 2 z1 z1
exists out
zunionstore out 2 z1 z2 withscores
zintercard 2 z1 z2
zintercard 2 z1 z2 limit 0
zintercard 2 z1 z2 limit -1
zinter 2 z1 str
zadd inf1 +inf a
zadd inf2 -inf a
zunion 2 inf1 inf2 withscores
zpopmin z1
zpopmax z2 5
zpopmin nokey
zpopmin nokey 2
zpopmax z2 -1
zpopmin z1 0
zadd pm 1 a 2 b 3 c
zmpop 2 nokey pm min
zmpop 1 pm max count 10
zmpop 1 pm max
zmpop 1 pm foo
zmpop 1 pm min count 0
bzpopmin nokey 0.01
bzpopmax str 0.01
bzmpop 0.01 1 nokey min
zrandmember nokey
zrandmember nokey 3
zrandmember nokey 3 withscores
zscan nokey 0
multi
blpop nol 0
brpoplpush nol dst 0
blmove nol dst left left 0
blmpop 0 1 nol left
bzpopmin nokey 0
bzmpop 0 1 nokey min
exec
zadd str 1 a
zadd fl 1.1 a 0.1 b 1e20 c 1.5e-7 d 123456789.123 e -0 f 3.0 g
zrange fl 0 -1 withscores
zscore fl a
zincrby fl 0.2 b
zscan fl 0
pfadd hll a b c
pfadd hll a
pfadd hll
pfadd hll2
pfcount hll
pfcount hll hll2 nokey
pfcount nokey
pfmerge hll3 hll hll2
pfcount hll3
get hll2
pfadd str x
pfcount str
pfmerge str hll
pfcount l
object encoding s
object encoding z
object encoding h
object encoding dst
object encoding hll
type hll
"""

RANDOM_OK = {"hrandfield", "srandmember", "spop", "zrandmember"}


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def read_reply(sock, buf):
    """Reads one complete RESP frame; returns (frame, rest)."""
    while True:
        n = frame_len(buf, 0)
        if n is not None:
            return buf[:n], buf[n:]
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk


def frame_len(b, pos):
    if pos >= len(b):
        return None
    end = b.find(b"\r\n", pos)
    if end < 0:
        return None
    t = b[pos:pos + 1]
    head = b[pos + 1:end]
    if t in (b"+", b"-", b":", b"_", b"#", b",", b"("):
        return end + 2 - pos
    n = int(head)
    if t in (b"$", b"=", b"!"):
        if n < 0:
            return end + 2 - pos
        total = end + 2 + n + 2
        return total - pos if len(b) >= total else None
    if n < 0:
        return end + 2 - pos
    if t in (b"%", b"|"):
        n *= 2
    p = end + 2
    for _ in range(n):
        k = frame_len(b, p)
        if k is None:
            return None
        p += k
    return p - pos


def run(port, proto):
    s = socket.create_connection(("127.0.0.1", port))
    buf = b""
    s.sendall(resp(["FLUSHALL"]))
    _, buf = read_reply(s, buf)
    if proto == 3:
        s.sendall(resp(["HELLO", "3"]))
        _, buf = read_reply(s, buf)
    out = []
    for line in SCRIPT.strip().splitlines():
        args = line.split()
        s.sendall(resp(args))
        frame, buf = read_reply(s, buf)
        out.append((line, frame))
    s.close()
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default=str(ROOT / "target" / "debug" / "ecl-redis-server"))
    ap.add_argument("--version", default="7.0.15")
    a = ap.parse_args()
    ref_exe = shutil.which("redis-server")
    if not ref_exe:
        print("redis-server not installed (apt-get install redis-server)")
        return 2
    p1, p2 = free_port(), free_port()
    ref = subprocess.Popen([ref_exe, "--port", str(p1), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no"], stdout=subprocess.DEVNULL)
    ours = subprocess.Popen([a.ours, "--port", str(p2), "--bind", "127.0.0.1", "--version",
                             a.version], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    diffs = 0
    try:
        wait(p1)
        wait(p2)
        for proto in (2, 3):
            for (line, r1), (_, r2) in zip(run(p1, proto), run(p2, proto)):
                if r1 == r2 or line.split()[0].lower() in RANDOM_OK and r1[:1] == r2[:1]:
                    continue
                diffs += 1
                print(f"RESP{proto} {line!r}\n  redis-server: {r1[:200]!r}\n  ours:         {r2[:200]!r}")
    finally:
        ref.terminate()
        ours.terminate()
        ref.wait()
        ours.wait()
    print(f"{diffs} differing replies")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
