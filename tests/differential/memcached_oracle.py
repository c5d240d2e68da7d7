"""Memcached side of the differential oracle: a seeded generator of text, meta (mg/ms/md/ma/mn/me
with their flags) and binary-protocol requests (every opcode incl. the quiet variants), with
noreply, CAS, TTL edges, flags edges, large items, wrong data lengths and malformed lines. Each
sequence runs on a fresh connection to each server; every request is followed by a sentinel
(`mn` in text, a NOOP in binary) so each reply is cut exactly, and the raw bytes are compared,
including whether the server closed the connection. Remaining TTLs (`t` flag) may differ by one
second. CAS values are compared byte for byte: both servers start fresh and see the same stores,
and are restarted after any mismatch so their counters agree again.
"""

import ast
import os
import random
import re
import shutil
import socket
import struct

from common import ROOT, Server, ddmin

KEYS = [b"a", b"a", b"b", b"c", b"n", b"k" * 250, b"k" * 251, b"x y", b"\x01"]
VALUES = [b"", b"v", b"hello", b"10", b"18446744073709551615", b"-1", b" 12", b"0"]
FLAGS = [b"0", b"1", b"4294967295", b"4294967296", b"-1", b"x", b"65536"]
EXPS = [b"0", b"0", b"-1", b"1000", b"2592000", b"2592001", b"9999999999", b"4294967396", b"x"]
NUMS = [b"1", b"5", b"0", b"18446744073709551615", b"18446744073709551616", b"-1", b"x", b""]
# `E` and `x` are left out: this engine implements them as newer memcached documents them, 1.6.18
# rejects them (a deliberate difference, see memcached_compat/wire_diff.py).
META_FLAGS = "bcfhklOqstvNTRIMDJCFSPa"
SENTINEL_TEXT = b"mn\r\n"
# What each sequence starts with after flush_all: a delete of every key the generators use
# (the typed pools and the odd-arity tokens; `x y` is two keys).
RESET_KEYS = sorted({t for t in KEYS + [b"x", b"y"] + NUMS + [b"noreply", b"foo", b"1000000001", b"7",
                                                             b"HTTP/1.1", b"ka"]
                     if t and b" " not in t and len(t) <= 250})
RESET_DELETES = [b"delete %s noreply\r\n" % k for k in RESET_KEYS]
NOOP_OPAQUE = 0xFEEDFACE


def value(rng):
    r = rng.random()
    if r < 0.03:
        return b"L" * rng.choice([1048000, 1048577, 2000000])
    return rng.choice(VALUES)


def storage(rng, cmd):
    key, data = rng.choice(KEYS), value(rng)
    n = len(data) if rng.random() < 0.93 else len(data) + rng.choice([-1, 1, 5])
    parts = [cmd, key, rng.choice(FLAGS if rng.random() < 0.2 else [b"0", b"3"]),
             rng.choice(EXPS if rng.random() < 0.3 else [b"0"]), str(n).encode()]
    if cmd == b"cas":
        parts.append(rng.choice([b"1", b"2", b"3", b"0", b"x", b"99"]))
    if rng.random() < 0.2:
        parts.append(b"noreply")
    return b" ".join(parts) + b"\r\n" + data + b"\r\n"


def meta(rng):
    cmd = rng.choice([b"mg", b"mg", b"ms", b"md", b"ma", b"me"])
    flags = []
    for _ in range(rng.randint(0, 4)):
        f = rng.choice(META_FLAGS)
        arg = rng.choice(["", "", "5", "0", "-1", "x", "3"]) if f in "NTRIMDJCFSPO" else ""
        if f == "M":
            arg = rng.choice("EAPRSsIi+-x")
        flags.append((f + arg).encode())
    key = rng.choice(KEYS)
    if cmd == b"ms":
        data = value(rng)
        size = str(len(data)).encode() if rng.random() < 0.95 else b"x"
        return b" ".join([cmd, key, size] + flags) + b"\r\n" + data + b"\r\n"
    return b" ".join([cmd, key] + flags) + b"\r\n"


def text_request(rng):
    r = rng.random()
    if r < 0.3:
        return storage(rng, rng.choice([b"set", b"set", b"add", b"replace", b"append", b"prepend", b"cas"]))
    if r < 0.55:
        return meta(rng)
    if r < 0.62:
        return rng.choice([b"get", b"gets"]) + b" " + b" ".join(rng.sample(KEYS, rng.randint(0, 3))) + b"\r\n"
    if r < 0.67:
        return rng.choice([b"gat", b"gats"]) + b" " + rng.choice(EXPS) + b" " + rng.choice(KEYS) + b"\r\n"
    if r < 0.77:
        tail = b" noreply" if rng.random() < 0.2 else b""
        return rng.choice([b"incr", b"decr"]) + b" " + rng.choice(KEYS) + b" " + rng.choice(NUMS) + tail + b"\r\n"
    if r < 0.83:
        return rng.choice([b"delete ", b"touch "]) + rng.choice(KEYS) + rng.choice([b"", b" 0", b" 10", b" noreply"]) + b"\r\n"
    if r < 0.86:
        return b"flush_all" + rng.choice([b"", b" 0", b" -1", b" noreply", b" x"]) + b"\r\n"
    if r < 0.93:
        return odd_arity(rng)
    junk = [b"", b" ", b"bogus", b"GET a", b"get", b"set a 0 0", b"incr", b"verbosity", b"verbosity 1",
            b"mg", b"ms a", b"x" * 300, b"get " + b"a " * 30, b"set a 0 0 1 2 3", b"quit"]
    return rng.choice(junk) + b"\r\n"


# Every text command by name, each sent with 0 to 5 tokens from the pools after it: arities the
# typed generators above never produce (memccapable's `version foo bar` was one such corner).
TEXT_COMMANDS = [b"get", b"gets", b"gat", b"gats", b"set", b"add", b"replace", b"append", b"prepend",
                 b"cas", b"delete", b"incr", b"decr", b"touch", b"flush_all", b"version", b"verbosity",
                 b"quit", b"mn", b"me", b"mg", b"md", b"ma", b"cache_memlimit",
                 b"version\x00", b"VERSION", b"Get", b"GET / HTTP/1.0", b"POST"]


def odd_arity(rng):
    command = rng.choice(TEXT_COMMANDS)
    pool = KEYS[:5] + NUMS + [b"noreply", b"noreply", b"foo", b"1000000001", b"7", b"HTTP/1.1"]
    if command.startswith(b"m"):
        # A lone `x` or `E` is a meta flag 1.6.18 refuses and this engine takes (a documented
        # difference, see META_FLAGS).
        pool = [t for t in pool if t not in (b"x", b"E")]
    if command == b"flush_all":
        # memcached flushes lazily, and a flush_all whose point lies in the past or the future
        # moves its flush mark, so items an earlier flush_all hid come back until its crawler
        # reclaims them (timing of memcached's own background thread); this engine removed
        # them at the flush. No delay is generated (a documented difference; seeds 3541 with
        # `flush_all 0` then `flush_all 7`, and earlier with a past time).
        pool = [t for t in pool if not (t.isdigit() and int(t) > 0)]
    args = [rng.choice(pool) for _ in range(rng.randint(0, 5))]
    return b" ".join([command] + args) + b"\r\n"


def bin_packet(op, key=b"", extras=b"", val=b"", cas=0, opaque=0):
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0,
                       len(key) + len(extras) + len(val), opaque, cas) + extras + key + val


def bin_request(rng):
    op = rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0C, 0x0D, 0x0E, 0x0F,
                     0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x18, 0x19, 0x1A, 0x1C, 0x1D, 0x1E,
                     0x23, 0x24, 0x07])
    if rng.random() < 0.01:
        op = 0x55                  # unknown opcode (rare: memcached then goes silent, see known.txt)
    key = rng.choice(KEYS[:5] + [b""])
    opaque, cas = rng.randrange(1 << 32), rng.choice([0, 0, 0, 1, 2, 3, 99])
    exp = rng.choice([0, 0, 1000, 0xFFFFFFFF, 2592001])
    if op in (0x01, 0x02, 0x03, 0x11, 0x12, 0x13):
        return bin_packet(op, key, struct.pack(">II", rng.choice([0, 7, 0xFFFFFFFF]), exp), value(rng), cas, opaque)
    if op in (0x05, 0x06, 0x15, 0x16):
        extras = struct.pack(">QQI", rng.choice([1, 5, 0, 2**64 - 1]), rng.choice([0, 10]),
                             rng.choice([0, 0xFFFFFFFF, 100]))
        return bin_packet(op, key, extras, b"", cas, opaque)
    if op in (0x1C, 0x1D, 0x1E, 0x23, 0x24):
        return bin_packet(op, key, struct.pack(">I", exp), b"", cas, opaque)
    if op in (0x08, 0x18):
        return bin_packet(op, b"", rng.choice([b"", struct.pack(">I", 0)]), b"", 0, opaque)
    if op in (0x0E, 0x0F, 0x19, 0x1A):
        return bin_packet(op, key, b"", value(rng), cas, opaque)
    if rng.random() < 0.05:
        return bin_packet(op, key, b"\x00", b"", cas, opaque)    # extras where none belong
    return bin_packet(op, key, b"", b"", cas, opaque)


def generate(rng, length):
    """One sequence: (protocol, [request bytes]); protocol 'text' or 'binary'."""
    if rng.random() < 0.3:
        return "binary", [bin_request(rng) for _ in range(length)]
    return "text", [text_request(rng) for _ in range(length)]


def read_until(sock, done, timeout):
    sock.settimeout(timeout)
    out = b""
    try:
        while not done(out):
            d = sock.recv(1 << 20)
            if not d:
                return out + b"<closed>", True
            out += d
    except socket.timeout:
        return out + b"<timeout>", True
    except ConnectionError:
        return out + b"<closed>", True        # a reset is a close too
    return out, False


def binary_done(buf):
    i = 0
    while len(buf) - i >= 24:
        op, blen, opaque = buf[i + 1], struct.unpack(">I", buf[i + 8:i + 12])[0], struct.unpack(">I", buf[i + 12:i + 16])[0]
        if op == 0x0A and opaque == NOOP_OPAQUE and len(buf) >= i + 24 + blen:
            return True
        i += 24 + blen
    return False


def reply_timeout(req):
    """How long to wait for a request's replies: half a second, plus a second per MB sent, so a
    slow (debug, loaded) server still finishes a large item before we give up on it. A timeout
    that cut a store short would let its effect land during the next request on a new
    connection, a race that looked like a mismatch on CI."""
    return 0.5 + len(req) / 1_000_000


def mn_lines(req):
    """How many `mn` lines a text request holds: each answers MN before the sentinel does."""
    return sum(1 for line in req.split(b"\n") if line.rstrip(b"\r").split(b" ")[0] == b"mn")


def run_sequence(port, proto, reqs):
    """Per request: the raw reply bytes up to and including the sentinel's reply."""
    sock = socket.create_connection(("127.0.0.1", port))
    out = []
    sentinel = SENTINEL_TEXT if proto == "text" else bin_packet(0x0A, opaque=NOOP_OPAQUE)

    def text_done(req):
        want = mn_lines(req) + 1
        return lambda b: b.endswith(b"MN\r\n") and b.count(b"MN\r\n") >= want
    for req in reqs:
        try:
            sock.sendall(req + sentinel)
            done = text_done(req) if proto == "text" else binary_done
            reply, dead = read_until(sock, done, reply_timeout(req))
        except OSError:
            # Closed while we were still sending (memcached resets a connection at once on a
            # line too long). The next request goes on a new connection either way: whether
            # sendall noticed the close depends only on timing.
            reply, dead = b"<closed>", True
        out.append(reply)
        if dead:
            sock.close()
            sock = socket.create_connection(("127.0.0.1", port))
    sock.close()
    return out


def same(a, b):
    if a == b:
        return True
    # memcached closes a connection at once on a line too long and drops replies it had not
    # written yet (how many depends on how the bytes arrived), and while it swallows a data
    # block too large it holds its error back: when both servers close, or both still wait for
    # data, during a request, what each wrote before is not compared.
    for end in (b"<closed>", b"<timeout>"):
        if a.endswith(end) and b.endswith(end):
            return True
    ta, tb = a.split(b" "), b.split(b" ")
    if len(ta) != len(tb):
        return False
    return all(x == y or same_clock_token(x, y) for x, y in zip(ta, tb))


# Tokens that are clock readings in seconds: mg's `t<n>` (TTL left) and `l<n>` (seconds since
# the last access), me's `exp=` and `la=` (expiry and last access relative to now). A request
# that crosses a second boundary on one server and not the other reads them one apart (seed
# 1324: a request that waits out the read timeout between a store and `mg a l` puts the access
# age right at a second boundary on a loaded machine).
CLOCK_TOKENS = (b"t", b"l", b"exp=", b"la=")


def same_clock_token(x, y):
    xs, ys = x.rstrip(b"\r\nMN"), y.rstrip(b"\r\nMN")
    if x[len(xs):] != y[len(ys):]:
        return False
    for name in CLOCK_TOKENS:
        if xs.startswith(name) and ys.startswith(name):
            nx, ny = xs[len(name):], ys[len(name):]
            if nx.lstrip(b"-").isdigit() and ny.lstrip(b"-").isdigit():
                return abs(int(nx) - int(ny)) <= 1
    return False


def first_mismatch(ref, ours, proto, reqs, fresh=False):
    if fresh:
        ref.restart()
        ours.restart()
    for srv in (ref, ours):
        # flush_all alone is not a clean slate on memcached (see odd_arity): every key the
        # generator uses is deleted as well.
        run_sequence(srv.port, "text", [b"flush_all\r\n"] + RESET_DELETES)
    ra, rb = run_sequence(ref.port, proto, reqs), run_sequence(ours.port, proto, reqs)
    for i, (a, b) in enumerate(zip(ra, rb)):
        if not same(a, b):
            return i, a, b
    return None


def family(proto, req):
    if proto == "binary":
        return "bin:0x%02x" % req[1]
    return "text:" + req.split(b" ")[0].split(b"\r\n")[0][:12].decode(errors="replace")


def start_servers(ours_bin):
    exe = shutil.which("memcached")
    if not exe:
        return None
    ref = Server("memcached", lambda p: [exe, "-u", "nobody", "-l", "127.0.0.1", "-p", str(p), "-U", "0",
                                         "-t", "2", "-m", "64"])
    ours = Server("ecl-memcached", lambda p: [ours_bin, "--listen", "127.0.0.1", "--port", str(p), "--memory",
                                               "64", "--threads", "2", "--version", "1.6.18"])
    return ref, ours


RUN = re.compile(rb"(.)\1{63,}", re.S)


def render_bytes(data):
    """A bytes literal a reader can take in: runs of 64+ equal bytes become `b'L' * 1048577`."""
    parts, at = [], 0
    for m in RUN.finditer(data):
        if m.start() > at:
            parts.append(repr(data[at:m.start()]))
        parts.append("%r * %d" % (m.group(1), m.end() - m.start()))
        at = m.end()
    if at < len(data) or not parts:
        parts.append(repr(data[at:]))
    return " + ".join(parts)


def eval_bytes(text):
    """The inverse of render_bytes: bytes literals joined by `+`, each maybe `* count`."""
    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return ev(node.left) + ev(node.right)
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
                and isinstance(node.right, ast.Constant) and isinstance(node.right.value, int)):
            return ev(node.left) * node.right.value
        raise ValueError("not a reproducer request: %s" % text[:80])
    return ev(ast.parse(text, mode="eval").body)


def render(proto, reqs):
    head = "# protocol: %s\n" % proto
    return head + "\n".join(render_bytes(r) for r in reqs)


def parse_block(block):
    """A reproducer block: `# protocol: text|binary`, then one bytes literal per request;
    other `#` lines are comments. None for a block of comments only."""
    proto, reqs = None, []
    for line in block.splitlines():
        if line.startswith("# protocol:"):
            proto = line.split(":", 1)[1].strip()
        elif line.strip() and not line.startswith("#"):
            reqs.append(eval_bytes(line))
    return (proto, reqs) if proto and reqs else None


def replay(ref, ours, path):
    failures = []
    blocks = [parse_block(b) for b in path.read_text().split("\n\n")]
    blocks = [b for b in blocks if b]
    for proto, reqs in blocks:
        m = first_mismatch(ref, ours, proto, reqs, fresh=True)
        if m:
            failures.append((render(proto, reqs), m))
    return len(blocks), failures


def reproduces(ref, ours, proto, reqs, tries=2):
    """Whether a mismatching sequence mismatches again on freshly started servers."""
    return any(first_mismatch(ref, ours, proto, reqs, fresh=True) for _ in range(tries))


EXECUTED = {"sequences": 0, "commands": 0}  # fuzzed requests (not replayed, not shrinking trials)


def fuzz(ref, ours, seed, count, log, known=frozenset()):
    rng = random.Random(seed)
    found = {}
    for _ in range(count):
        proto, reqs = generate(rng, rng.randint(4, 16))
        EXECUTED["sequences"] += 1
        EXECUTED["commands"] += len(reqs)
        m = first_mismatch(ref, ours, proto, reqs)
        if not m:
            if not cas_in_step(ref, ours):
                cas_diverged(ref, ours, proto, reqs, log, found)
            continue
        fam = family(proto, reqs[m[0]])
        if not reproduces(ref, ours, proto, reqs):
            # Timing on a loaded machine (a reply cut by the read timeout, a close racing the
            # next request), not a deviation: shown, counted apart, not failing.
            unstable = log.setdefault("unstable", {})
            unstable[fam] = unstable.get(fam, 0) + 1
            print("memcached: %s mismatched once and not on fresh servers twice (step %d: "
                  "reference %r, ours %r)" % (fam, m[0], m[1][:160], m[2][:160]))
            if os.environ.get("ECL_ORACLE_UNSTABLE_LOG"):
                with open(os.environ["ECL_ORACLE_UNSTABLE_LOG"], "a") as f:
                    f.write("# %s step %d: reference %r, ours %r\n%s\n\n"
                            % (fam, m[0], m[1][:300], m[2][:300], render(proto, reqs[:m[0] + 1])))
            continue
        log[fam] = log.get(fam, 0) + 1
        if fam not in found and fam not in known:
            def failing(s):
                mm = first_mismatch(ref, ours, proto, s, fresh=True)
                return mm is not None and family(proto, s[mm[0]]) == fam
            small = ddmin(reqs[:m[0] + 1], failing)
            found[fam] = ((proto, small), first_mismatch(ref, ours, proto, small, fresh=True))
        ref.restart()
        ours.restart()
    return found


# The CAS counter is process-wide and no flush_all resets it: a request that takes a CAS id on
# one server and not on the other without a visible reply (noreply, a quiet binary command)
# shows up only as CAS values one apart in some later sequence, far from its cause. After each
# sequence that matched, both servers store a probe item and its CAS values are compared, so a
# divergence is caught (and shrunk) in the sequence that caused it.
CAS_PROBE = [b"set __cas_probe 0 0 1\r\nx\r\n", b"gets __cas_probe\r\n"]


def probe_cas(reply):
    """The CAS of the probe's `gets` reply, None when the probe item is not there."""
    fields = reply.split(b"\r\n", 1)[0].split(b" ")
    return fields[4] if len(fields) == 5 and fields[0] == b"VALUE" else None


def cas_in_step(ref, ours):
    """Whether both servers hand out the same next CAS id. A probe item that a delayed
    flush_all swallowed on one server (memcached's clock ticks at its own phase, ours at the
    wall clock's second, so an item stored near a flush point's second can be flushed on one
    only) says nothing about the counters: that is no mismatch of theirs."""
    a, b = (probe_cas(run_sequence(srv.port, "text", CAS_PROBE)[1]) for srv in (ref, ours))
    return a is None or b is None or a == b


def cas_diverged(ref, ours, proto, reqs, log, found):
    """The CAS counters parted during `reqs`: a deviation when fresh servers part again (shrunk
    to the requests that do it), else timing (a TTL crossing a second boundary on one server
    before a noreply store), counted apart. Either way both servers restart in step."""
    def failing(s):
        return first_mismatch(ref, ours, proto, s, fresh=True) is None and not cas_in_step(ref, ours)
    fam = "cas-counter"
    if not (failing(reqs) or failing(reqs)):
        unstable = log.setdefault("unstable", {})
        unstable[fam] = unstable.get(fam, 0) + 1
        print("memcached: the CAS counters parted once and not on fresh servers twice")
    else:
        log[fam] = log.get(fam, 0) + 1
        if fam not in found:
            small = ddmin(reqs, failing)
            # The reproducer ends with the probe in its own protocol (binary replies carry CAS).
            probe = CAS_PROBE if proto == "text" else [
                bin_packet(0x01, b"__cas_probe", extras=bytes(8), val=b"x"),
                bin_packet(0x00, b"__cas_probe")]
            found[fam] = ((proto, small + probe), None)
    ref.restart()
    ours.restart()


DEFAULT_REPRO = ROOT / "tests" / "differential" / "reproducers" / "memcached.txt"
