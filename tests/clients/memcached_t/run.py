#!/usr/bin/env python3
"""memcached's own Perl test-suite (t/*.t) against Debian's memcached 1.6.18 and against our
engine (ecl-memcached-server), file by file, in the same run: a held-out suite nobody here
chose, as tests/clients/redis_tcl is for the Redis engine.

Steps: take the suite from Debian's source package of the installed memcached (`apt-get source
memcached`, which needs a `deb-src` entry in the apt sources and dpkg-dev; kept under
target/memcached_t/), build our release server unless --binary names one, then run every file
with `prove -v` twice. The suite starts its server itself, as `./timedrun 600 ./memcached-debug
ARGS` in the source tree: this script puts two small shell scripts there, a `timedrun` that
runs its command, and a `memcached-debug` that starts either Debian's memcached or ours
(chosen by MEMCACHED_T_KIND) with the suite's arguments. For ours they go through
`python3 run.py --translate ours`, which drops what has no meaning for a node and passes the
rest:

- `-u root`, `-o relaxed_privileges` (privileges), `-U N` (a node has no UDP: udp.t is left
  out), and the `-o` options that tune memcached's slab allocator and LRU threads, which a
  node has not (no_lru_crawler, slab_chunk_max, no_modern, ...): the tests then check the
  protocol, not the allocator;
- everything else (`-p -l -m -t -I -c -M -C -F -o idle_timeout=N`) goes to
  ecl-memcached-server, which refuses what it does not know, so such a test fails and shows.

`memcached-debug -h` prints Debian memcached's help for both kinds, without its unix-socket
lines, so the suite connects over TCP to both (a node listens on TCP only), and without its
extstore lines, so the extstore parts of a file are skipped on both (ElastiCache's memcached
has no extstore). Both kinds answer the other feature questions alike (SASL, TLS, proxy:
their files are left out of FILES).

Each test's outcome is read from the TAP lines (`ok N - name`, `not ok N - name`, a skip
counts as passed), matched by name and occurrence; a test that ran on memcached and not on
ours (the file died first) counts as failed. Writes summary.md
(files side by side, every test that passes on memcached and not on ours) and exits 1 when
there is such a test outside EXPECTED_DIFFERENCES. Exit 77 when the suite cannot run here
(no perl `prove`, no memcached, or the source package cannot be fetched).

    python3 tests/clients/memcached_t/run.py [--files ci|getset,cas] [--binary PATH]
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from held_out import write_summary  # noqa: E402
WORK = ROOT / "target" / "memcached_t"
# The files that test the protocol and the server's behaviour through it. Left out: the
# allocator and its threads (slabs*, lru, lru-maintainer, slabhang, refhang),
# extstore, SASL, TLS, proxy, UDP, unix sockets, daemonize, restart files and
# the stress script.
FILES = (
    "00-startup 64bit binary binary-get bogus-commands cas chunked-items conn-limits dash-M "
    "dyn-maxbytes lru-crawler "
    "evictions expirations flags flush-all getandtouch getset idle-timeout incrdecr issue_104 "
    "issue_108 "
    "issue_14 issue_140 issue_152 issue_163 issue_183 issue_192 issue_22 issue_260 issue_29 "
    "issue_3 issue_41 issue_42 issue_50 issue_61 issue_67 issue_68 issue_70 item_size_max "
    "malicious-commands maxconns metaget misbehave multiversioning noreply quit "
    "shutdown stats stats-conns stats-detail strtol-testing touch watcher watcher_connid"
).split()
CI_FILES = FILES
# Tests that pass on memcached and cannot pass on a node, by file: the tests' names (as
# summary.md lists them) or "*" for the whole file, and the reason.
EXPECTED_DIFFERENCES = {
    "00-startup": ("*", "starts memcached with command-line options a node has not (-b backlog, "
                   "-B protocol, -R requests per event, -c -1, -t 0) and checks their errors"),
    "issue_50": ("*", "starts memcached with -B binary (protocol restriction), which a node "
                 "has not"),
    "issue_61": ("*", "starts memcached with -R 1 (requests per event) and counts conn_yields"),
    "issue_67": ("*", "starts memcached with UDP and TCP port combinations (-U, -p 0, -p -1); a "
                 "node listens on its endpoint's TCP port only"),
    "stats-conns": (["udp port number is correct"], "a node has no UDP listener"),
    "shutdown": ("*", "the shutdown command (-A); ElastiCache has no way to stop a node from a "
                 "client"),
    "conn-limits": ("*", "-o read_buf_mem_limit: memcached's cap on its read-buffer pool, which "
                    "a node has not (its connections' buffers are bounded per connection)"),
    "maxconns": ("*", "memcached refuses a connection by descriptor number (its own ~30 "
                 "descriptors count against -c); a node counts client connections, so the "
                 "suite's 1,024 sockets reach its limit only at the end"),
    "64bit": (["expected (faked) value of total_malloced", "hit size limit"],
              "memcached's slab preallocation with -m 4098: a node allocates per item"),
    "dyn-maxbytes": (["check evicted", "stats slabs total_malloced increased",
                      "total_malloced reduced to 8388608"],
                     "slab pages: memcached fits fewer 65 KiB items in 3 MB and grows or "
                     "shrinks total_malloced by 1 MB pages; a node counts item bytes"),
    "lru-crawler": (["slab1 now has 0 used chunks"],
                    "stats slabs lists only classes holding items (memcached keeps listing a "
                    "class whose page is allocated, with 0 used chunks)"),
    "issue_22": (["check evicted", "check evicted #3"],
                 "memcached fits fewer 65 KiB items in 3 MB (its slab pages), so it evicts "
                 "earlier; a node counts item bytes"),
    "stats": (["after flush and a get, get_flushed is 1"],
              "a node frees the items of flush_all at once, so a later get is a miss, where "
              "memcached finds the flushed item and counts get_flushed"),
    "watcher": (["attempted watch gave client error with no_watch option set"],
                "starts memcached with -W (watch commands refused), an option a node has not"),
    "flush-all": (["failed to set value after flush with no CAS at least once"],
                  "memcached without CAS (-C) may hide a value set in the same second as a "
                  "flush_all; a node never loses a store that follows a flush"),
}
# `-o` options of memcached's allocator and its threads' tuning: meaningless for a node (the LRU
# crawler and maintainer switches pass through: a node has both).
ALLOCATOR_OPTIONS = {
    "relaxed_privileges", "slab_chunk_max", "slab_reassign",
    "slab_automove", "no_slab_reassign", "no_slab_automove", "lru_segmented",
    "no_lru_segmented", "hash_algorithm", "no_hashexpand", "hashpower", "temporary_ttl",
    "hot_lru_pct", "warm_lru_pct", "hot_max_factor", "warm_max_factor", "tail_repair_time",
    "no_inline_ascii_resp", "no_chunked_items", "track_sizes", "no_maxconns_fast",
    "maxconns_fast", "worker_logbuf_size", "watcher_logbuf_size", "read_buf_mem_limit",
    "lru_crawler_sleep", "lru_crawler_tocrawl", "slab_automove_window", "slab_automove_ratio",
    "slab_automove_freeratio", "sock_cookie_id",
}
# Numbers in test names that each server picks for itself: watcher_connid names its tests
# after the connection id that `stats conns` showed.
SERVER_NUMBERS = re.compile(r"(connection id )\d+")
TAP = re.compile(r"^(not ok|ok) (\d+)(?: - ([^#]*))?(?:#\s*(\w+))?")


def log(msg):
    print(f"[memcached_t] {msg}", flush=True)


def translate(argv, kind):
    """memcached's arguments as the suite passes them -> the ones `kind` is started with.
    Debian's memcached, built without seccomp, refuses `-o relaxed_privileges` (which the
    suite always adds), so that one goes for both kinds."""
    dropped = ALLOCATOR_OPTIONS if kind == "ours" else {"relaxed_privileges"}
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if kind == "ours" and arg in ("-u", "-U") and i + 1 < len(argv):
            i += 2
            continue
        if arg == "-o" and i + 1 < len(argv):
            kept = [o for o in argv[i + 1].split(",")
                    if o and o.split("=")[0] not in dropped]
            if kept:
                out += ["-o", ",".join(kept)]
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def suite_dir():
    """The suite of the installed memcached's source package (fetched once)."""
    found = sorted(WORK.glob("memcached-1.6.*/t/lib/MemcachedTest.pm"))
    if not found:
        WORK.mkdir(parents=True, exist_ok=True)
        log("fetching Debian's memcached source package (apt-get source memcached)")
        done = subprocess.run(["apt-get", "source", "-qq", "memcached"], cwd=WORK)
        found = sorted(WORK.glob("memcached-1.6.*/t/lib/MemcachedTest.pm"))
        if done.returncode != 0 or not found:
            log("apt-get source memcached failed: add 'deb-src' to the apt sources and "
                "install dpkg-dev")
            sys.exit(77)
    return found[-1].parents[2]


def install_shims(suite, binary):
    """`timedrun` and `memcached-debug` in the source tree (see the module text)."""
    help_text = subprocess.run(["memcached", "-h"], capture_output=True, text=True).stdout
    hidden = ("unix-socket", "unix-mask", "ext_path")
    help_text = "\n".join(line for line in help_text.splitlines()
                          if not any(word in line for word in hidden))
    (suite / "memcached-help.txt").write_text(help_text + "\n")
    timedrun = suite / "timedrun"
    timedrun.write_text("#!/bin/sh\n# timedrun SECONDS COMMAND...: runs COMMAND.\n"
                        "shift\nexec \"$@\"\n")
    debug = suite / "memcached-debug"
    debug.write_text(f"""#!/bin/sh
# Written by tests/clients/memcached_t/run.py: the suite's server, memcached or ours.
here="$(dirname "$0")"
if [ "$1" = "-h" ]; then cat "$here/memcached-help.txt"; exit 0; fi
if [ "$MEMCACHED_T_KIND" = ours ]; then
  exec {binary} $(python3 {Path(__file__).resolve()} --translate ours "$@")
fi
exec memcached $(python3 {Path(__file__).resolve()} --translate theirs "$@")
""")
    for f in (timedrun, debug):
        f.chmod(0o755)


def run_file(suite, kind, name, out):
    """{test key: 'ok' | 'err'} of one file against `kind`."""
    log_file = out / f"{kind}-{name}.log"
    env = dict(os.environ, MEMCACHED_T_KIND=kind)
    # A file that waits for a reply it never gets (a command a server lacks) is stopped after
    # two minutes with everything it started: prove runs in a process group of its own, and
    # the whole group (prove, the test, its servers) goes, so nothing outlives the run.
    with open(log_file, "w") as f:
        proc = subprocess.Popen(["prove", "-v", f"t/{name}.t"], cwd=suite, stdout=f,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            f.write("\n[memcached_t] stopped after 120 s\n")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    results, seen = {}, {}
    for line in log_file.read_text(errors="replace").splitlines():
        if m := TAP.match(line):
            # Tests are matched by name and occurrence, not number: a file's count can differ
            # between the servers (a test per stat line, say) without the later ones shifting.
            name = (m.group(3) or "").strip()[:120] or "(unnamed)"
            # Some names carry a number the server chose (a connection's id).
            name = SERVER_NUMBERS.sub(r"\1N", name)
            seen[name] = seen.get(name, 0) + 1
            key = f"{name} #{seen[name]}" if seen[name] > 1 else name
            skipped = (m.group(4) or "").lower() == "skip"
            results[key] = "ok" if m.group(1) == "ok" or skipped else "err"
    return results


def lost_tests(theirs, ours):
    """Tests that pass on memcached and not on ours (a test ours never ran counts)."""
    return [t for t, r in theirs.items() if r == "ok" and ours.get(t) != "ok"]


def is_expected(name, test):
    """Whether `test` of file `name` is an expected difference."""
    tests, _ = EXPECTED_DIFFERENCES.get(name, ([], ""))
    return tests == "*" or test in tests


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--translate":
        print(" ".join(translate(sys.argv[3:], sys.argv[2])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", default=",".join(FILES))
    ap.add_argument("--binary", help="our ecl-memcached-server (default: build the release one)")
    ap.add_argument("--out", default=str(WORK / "results"))
    args = ap.parse_args()
    for tool in ("prove", "memcached"):
        if shutil.which(tool) is None:
            log(f"{tool} is not installed")
            return 77
    suite = suite_dir()
    binary = Path(args.binary) if args.binary else ROOT / "target/release/ecl-memcached-server"
    if not args.binary:
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "ecl-memcached", "--bin",
                        "ecl-memcached-server"], cwd=ROOT, check=True)
    install_shims(suite, binary.resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, only_theirs, expected = [], [], []
    names = CI_FILES if args.files == "ci" else args.files.split(",")
    for name in names:
        theirs = run_file(suite, "theirs", name, out)
        ours = run_file(suite, "ours", name, out)
        lost = lost_tests(theirs, ours)
        if any(not is_expected(name, t) for t in lost):
            # The suite's harness picks a free port, starts the server and connects; run beside
            # other suites, another process can take that port in between, and a server that
            # refused its options then looks started (seen once: item_size_max's "-I 256m").
            # A file that loses tests is run once more; a real difference loses them again.
            log(f"{name}: {len(lost)} tests pass only on memcached; running the file again")
            ours = run_file(suite, "ours", name, out)
            lost = lost_tests(theirs, ours)
        for t in lost:
            (expected if is_expected(name, t) else only_theirs).append((name, t))
        ok = lambda res: sum(r == "ok" for r in res.values())  # noqa: E731
        rows.append((name, ok(theirs), len(theirs), ok(ours), len(ours), len(lost)))
        log(f"{name}: memcached {ok(theirs)}/{len(theirs)} ok, ours {ok(ours)}/{len(ours)} ok, "
            f"{len(lost)} pass only on memcached")
    write_summary(out, "file", "memcached", rows, only_theirs,
                  [(n, t, EXPECTED_DIFFERENCES[n][1]) for n, t in expected])
    log(f"summary: {out / 'summary.md'}; {len(only_theirs)} tests pass only on memcached")
    return 1 if only_theirs else 0


if __name__ == "__main__":
    sys.exit(main())
