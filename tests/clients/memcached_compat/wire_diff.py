#!/usr/bin/env python3
"""Byte-for-byte differential check of the wire protocols: sends the same request sequences
(text, meta, binary; including malformed ones) to a stock memcached and to ecl-memcached, and
compares the raw replies. Both servers must be freshly started (CAS values are compared too).

Usage: wire_diff.py <memcached-port> <ecl-memcached-port>; exits 1 on any difference.
"""
import socket
import struct
import sys
import time

P1, P2 = int(sys.argv[1]), int(sys.argv[2])


def run(port, data):
    """Sends data on a new connection and collects everything until the server goes quiet."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    out = b""
    s.settimeout(0.4)
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                out += b"<CLOSED>"
                break
            out += d
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


K=b'k'*251
text_cases=[
b'set a 0 0 1\r\nx\r\nget a b\r\ngets a\r\nset\r\nset a 0 0\r\nset a 0 0 1 2 3\r\nset a x 0 1\r\nx\r\nset a 0 0 -1\r\nset a 0 0 1\r\nxyz\r\nget\r\n',
b'set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n x\r\nincr a 1\r\nincr zz 1\r\nincr n -1\r\nset n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\nget n\r\n',
b'touch a x\r\ntouch a 10\r\ngat x a\r\ngat 10\r\ngat 10 a\r\ndelete a 0\r\ndelete a 5\r\ndelete a noreply\r\ndelete a\r\nflush_all x\r\nflush_all 0\r\nflush_all noreply\r\nversion\r\nverbosity\r\nverbosity 1\r\nverbosity x\r\nfoo\r\nstats foo\r\nshutdown\r\nconfig get cluster\r\n',
b'get '+K+b'\r\nversion\r\n', b'set '+K+b' 0 0 1\r\nx\r\nversion\r\n',
b'set b 0 0 2000000\r\n' + b'x'*2000000 + b'\r\nversion\r\n',
b'set b 0 0 2000000 noreply\r\n' + b'x'*2000000 + b'\r\nversion\r\n',
b'set c 0 0 1\r\nc\r\nset c 0 0 2000000\r\n' + b'x'*2000000 + b'\r\nget c\r\n',
b'x'*3000 + b'\r\nversion\r\n', b'get ' + b'a '*3000 + b'\r\nversion\r\n', b'x'*3000, b'get '+b'a '*2000,
b'set q 0 0 1 noreply\r\nxyz\r\nincr q x noreply\r\nincr zz 1 noreply\r\nset q 0 0 1\r\nx\r\nincr q 1 noreply\r\nmn\r\n',
b'cas q 0 0 1\r\ncas q 0 0 1 x\r\nx\r\ncas q 0 0 1 999\r\ny\r\ncas zz 0 0 1 1\r\ny\r\nappend zz 0 0 1\r\ny\r\nprepend q 5 5 1\r\nA\r\ngets q\r\n',
b'ms mk 2 T90 F5\r\nhi\r\nmg mk s v f t c k O123 h l\r\nmg mk\r\nmg missing v\r\nmg missing v q\r\nmg mk v q k\r\nmn\r\nmg mk h l t\r\nms mk 2 c\r\nhi\r\nms mk 2 I\r\nhi\r\nms mk S2\r\nhi\r\n',
b'mg viv s N30 t v\r\nmg viv s t v c\r\nmg viv s N30 t q\r\nms viv 3 T30\r\nabc\r\nmg viv v R30 t\r\nmg viv v R31 t\r\nmg viv v R31 t\r\nmd viv I T30\r\nmg viv v c\r\nmg viv v c\r\nms viv 3 T60\r\nnew\r\nmg viv v\r\nme nokey\r\n',
b'ma cnt\r\nma cnt N0 J10 v t\r\nma cnt v\r\nma cnt MD D20 v c\r\nma cnt M- v\r\nma cnt MI D5 q\r\nma cnt q v\r\nma cnt Mx\r\nma cnt Dx\r\nms s 2\r\nab\r\nma s\r\nma cnt C1 v\r\nma cnt t v N0\r\nmn\r\n',
b'ms a64 2 b\r\nhi\r\nms YTY0 2 b\r\nhi\r\nmg YTY0 b k v\r\nmg a64 v\r\nmd YTY0 b q\r\nmd YTY0 b q\r\nmd YTY0 b\r\nmn\r\n',
b'ms m 1 ME\r\na\r\nms m 1 ME\r\nb\r\nms m 1 MA\r\nc\r\nms m 1 MP\r\nd\r\nms nope 1 MA\r\nx\r\nmg nope v\r\nms m 1 MR\r\nz\r\nms zz 1 MR\r\nz\r\nms m 1 MS F7 c k O9 q\r\nq\r\nms m 1 MX\r\nq\r\nmg m v f\r\nms m 1 C1\r\nx\r\nms zz2 1 C1\r\nx\r\nmg m c\r\n',
b'mg\r\nmg k v v\r\nmg k !\r\nmg k zz\r\nms k\r\nms k x\r\nms k 2 T\r\nhi\r\nms k 2 Tx\r\nhi\r\nma nf q\r\nmd nf q\r\nms nf 1 C5 q\r\nx\r\nmd k C1\r\nmg k v f c s\r\nma k v\r\nmg k v O12345678901234567890123456789012345\r\nmn\r\n',
b'ms k 2 T-1\r\nhi\r\nmg k v\r\nms k 2 T0 F4294967295\r\nhi\r\nmg k f t\r\nms k 2 F4294967296\r\nhi\r\nmg k t T100\r\nmg k t\r\nme\r\n',
b'md k z\r\nma k z\r\nma k v v\r\nmd k q q\r\nmg missing O5 k\r\nms k 2 z\r\nhi\r\nms k 2 T1 T2\r\nhi\r\nmg missing O5 k q\r\nmn\r\nma k N0 Jx\r\nmg k Tx\r\nmg k Nx\r\nms k 2 Fx\r\nhi\r\nms k 2 Cx\r\nhi\r\nmd k Cx\r\nms kk 2 s k b\r\nhi\r\nmd kk O1 k\r\nms '+K+b' 2\r\nhi\r\nmn\r\n',
b'set f 4294967296 0 1\r\nx\r\nset f -1 0 1\r\nx\r\nset f 4294967295 0 1\r\nx\r\nget f\r\nset f 0 abc 1\r\nx\r\nset f 0 -5 1\r\nx\r\nget f\r\nset f 0 0 01\r\nx\r\nset f +1 0 1\r\nx\r\nget f\r\nincr f 18446744073709551616\r\ntouch f -1\r\nget f\r\nflush_all -1\r\nflush_all 5 noreply\r\nflush_all 0\r\n',
b'set x 0 0 1\n1\nget x\nincr x 1\n\r\n \r\nget  x \r\nstats reset\r\nstats detail\r\nstats detail on\r\nstats sizes\r\nquit\r\nversion\r\n',
b'set big 0 0 1\r\nx\r\nappend big 0 0 1048500\r\n' + b'x'*1048500 + b'\r\nget big\r\nset z 0 0 1\r\nx\r\nmg z s v l h\r\nmg z s v l h\r\nadd z 0 0 1\r\ny\r\nreplace nope 0 0 1\r\ny\r\n',
b'set v 0 0 1048000\r\n'+b'x'*1048000+b'\r\nset v 0 0 1048576\r\n'+b'x'*1048576+b'\r\nset v 0 0 1048500\r\n'+b'x'*1048500+b'\r\nmn\r\n',
b'gets a b c d\r\ngat 100 x y\r\ngats 100 x y\r\ntouch zz 1\r\nincr\r\ndecr a\r\ndelete\r\ntouch a\r\nappend a 0 0 1 noreply\r\nx\r\nmn\r\n',
b'set ap 0 0 600000\r\n'+b'x'*600000+b'\r\nappend ap 0 0 600000\r\n'+b'y'*600000+b'\r\nmg ap s\r\nset bb 0 0 5\r\nhello\r\nms bb 2000000\r\n'+b'z'*2000000+b'\r\nmg bb s\r\nset cc 0 0 1\r\nc\r\nms cc 2000000 MA\r\n'+b'z'*2000000+b'\r\nmg cc s\r\n',
b'set sp 0 0 3\r\n 12\r\nincr sp 1\r\nset big 0 0 20\r\n18446744073709551616\r\nincr big 1\r\nset neg 0 0 2\r\n-1\r\nincr neg 1\r\nset e 0 0 0\r\n\r\nincr e 1\r\n',
b'set a 1 0 1\r\na\r\nset b 2 0 1\r\nb\r\ngets a b a\r\ntouch a 0 noreply\r\nverbosity 1 noreply\r\nflush_all 0 noreply\r\nget a\r\n',
b'mg ZGVm b k v\r\nms ZGVm 1 b k c\r\nx\r\nmg ZGVm b k s O77\r\nma bm N0 b\r\nma Ym0= N0 b k v\r\nmd Ym0= b k\r\nmn\r\n',
b'ms q 1 q\r\na\r\nms q 1 q ME\r\nb\r\nmd q q\r\nmd q q\r\nmg q q v\r\nma q q\r\nmn\r\n',
b'get a\r\nget a  \r\nget\ta\r\n  get a\r\nGET a\r\nset a 0 0 1 \r\nx\r\n',
]

# Every flag letter, bare and with a number, on each meta command. `E` and `x` are left out:
# this engine implements them as the newer 1.6 documentation describes, 1.6.18 rejects them.
_flag_matrix = b"set fk 0 0 1\r\n1\r\n"
for _c in "abcdfghijklmnopqrstuvwyzABCDFGHIJKLMNOPQRSTUVWXYZ":
    for _tok in (_c, _c + "5"):
        _flag_matrix += (
            f"mg fk {_tok}\r\nms fk 1 {_tok}\r\n1\r\nmd fk {_tok}\r\n"
            f"set fk 0 0 1\r\n1\r\nma fk {_tok}\r\nmn\r\n"
        ).encode()
text_cases.append(_flag_matrix)

def pkt(op,key=b'',extras=b'',value=b'',cas=0,opaque=0xdeadbeef):
    return struct.pack('>BBHBBHIIQ',0x80,op,len(key),len(extras),0,0,len(key)+len(extras)+len(value),opaque,cas)+extras+key+value
def _unused_run(port,data):
    s=socket.create_connection(("127.0.0.1",port)); s.sendall(data); time.sleep(0.2); s.settimeout(0.3)
    out=b''
    try:
        while True:
            d=s.recv(1<<20)
            if not d: out+=b'<CLOSED>'; break
            out+=d
    except Exception: pass
    return out
def parse(b):
    res=[]
    while len(b)>=24 and b[0]==0x81:
        m,op,kl,el,dt,st,bl,op2,cas=struct.unpack('>BBHBBHIIQ',b[:24])
        body=b[24:24+bl]; b=b[24+bl:]
        res.append((hex(op),st,kl,el,'cas' if cas else 0,body[:60]))
    if b: res.append(b[:40])
    return res
SET=lambda k,v,f=0,e=0,cas=0,op=1: pkt(op,k,struct.pack('>II',f,e),v,cas)
bcases=[
 pkt(0,b'nokey')+pkt(0xc,b'nokey')+pkt(9,b'nokey')+pkt(0xd,b'nokey')+pkt(0xa),
 SET(b'a',b'hello',5)+pkt(0,b'a')+pkt(0xc,b'a')+pkt(9,b'a')+pkt(0xd,b'a')+pkt(0xa),
 SET(b'a',b'x')+SET(b'a',b'y',op=2)+SET(b'zz',b'y',op=3)+SET(b'a',b'y',cas=999)+SET(b'nn',b'y',cas=5)+pkt(0xe,b'a',b'',b'APP')+pkt(0xf,b'zz',b'',b'P')+pkt(0,b'a'),
 SET(b'a',b'x',op=0x11)+SET(b'a',b'y',op=0x12)+pkt(0x14,b'nope')+pkt(4,b'a')+pkt(4,b'a')+pkt(0xa),
 pkt(5,b'c',struct.pack('>QQI',1,10,0))+pkt(5,b'c',struct.pack('>QQI',5,10,0))+pkt(6,b'c',struct.pack('>QQI',100,0,0))+pkt(5,b'd',struct.pack('>QQI',1,0,0xffffffff))+SET(b's',b'abc')+pkt(5,b's',struct.pack('>QQI',1,0,0))+pkt(0x15,b'c',struct.pack('>QQI',1,0,0))+pkt(0,b'c'),
 pkt(0xb)+pkt(0x8)+pkt(0x18)+pkt(0x8,b'',struct.pack('>I',10))+pkt(0x50)+pkt(0x7)+pkt(0xa),
 SET(b't',b'v')+pkt(0x1c,b't',struct.pack('>I',100))+pkt(0x1d,b't',struct.pack('>I',100))+pkt(0x23,b't',struct.pack('>I',100))+pkt(0x1e,b'nope',struct.pack('>I',100))+pkt(0x1c,b'nope',struct.pack('>I',100))+pkt(0x24,b'nope',struct.pack('>I',1))+pkt(0xa),
 pkt(0,b'k'*251)+pkt(0,b'')+pkt(1,b'a',b'',b'v')+pkt(0xa),
 SET(b'big',b'x'*2000000)+pkt(0xa),
 pkt(0x10,b'nope')+pkt(0x10,b'reset'),
 pkt(0x17)+pkt(0xa),
 b'\x81'+b'\0'*23,
 pkt(0x20)+pkt(0x21,b'PLAIN',b'',b'\0a\0b'),
 pkt(4,b'a',b'',b'',5)+SET(b'a',b'v')+pkt(4,b'a',b'',b'',5),
]


def parse(b):
    res = []
    while len(b) >= 24 and b[0] == 0x81:
        _, op, kl, el, _, st, bl, opq, cas = struct.unpack(">BBHBBHIIQ", b[:24])
        res.append((op, st, kl, el, opq, cas, b[24:24 + bl]))
        b = b[24 + bl:]
    if b:
        res.append(b)
    return res


same = 0
total = 0
for name, cases, view in (("text/meta", text_cases, lambda x: x), ("binary", bcases, parse)):
    for i, c in enumerate(cases):
        total += 1
        a, o = view(run(P1, c)), view(run(P2, c))
        if a == o:
            same += 1
        else:
            print(f"DIFF {name} case {i}: {c[:100]!r}")
            print("  memcached:", repr(a)[:500])
            print("  ours:     ", repr(o)[:500])
print(f"wire cases identical: {same}/{total}")
sys.exit(0 if same == total else 1)
