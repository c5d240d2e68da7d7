"""Hostile, malformed and slow input to the Query API, over raw sockets against the real binary.

This suite starts its own emulators (not the session one): one with short timeouts (header and
body 1 s, 8 connections at most) so slow-client cases finish quickly, and one whose process may
open only a few file descriptors, to drive its accept loop into EMFILE. After every case the
process must still be running and a boto3 client must still get answers.

Case -> what the emulator answers (status, <Code>), and why:
- malformed form encoding (`%zz`, a lone `%`, `&&==`): 200; bad escapes are kept as literal
  text, as a lenient form decoder does, so the parameters that are well formed still work.
- invalid UTF-8 in a value (`%FF%FE`): decoded with U+FFFD replacement; the id then fails the
  identifier rules: 404 CacheClusterNotFound for a Describe (no such cluster).
- duplicate parameters: the first value wins (AWS's Query front end does the same); a repeated
  `Version` whose first value is right is accepted.
- huge parameter count (10,001 pairs): 400 InvalidQueryParameter.
- oversized body (2 MiB, declared by Content-Length): 413 RequestEntityTooLarge and
  `Connection: close`, answered before the body is sent; the same body sent chunked (no
  Content-Length): 413 RequestEntityTooLarge once 1 MiB has arrived. AWS's front end answers
  413 too (with a plain-text body); ours is an ErrorResponse so SDKs show a code.
- truncated body (Content-Length larger than what is sent): 408 RequestTimeout after the body
  timeout, then the connection is closed.
- slow headers (a request head that never completes): the connection is closed after the header
  timeout, without an answer.
- idle keep-alive connection: closed after the header timeout (hyper times the wait for the next
  request head from the end of the previous response).
- more connections than `--api-max-connections`: the extra client waits in the listen backlog
  and is served as soon as a slot frees (here when the header timeout closes an idle one).
- accept hitting EMFILE (descriptor limit of the process): the loop backs off and keeps
  serving; once connections close, new clients are served.
- unknown Action: 400 InvalidAction "Could not find operation Nope for version 2015-02-02".
- missing Version: 400 InvalidAction "Could not find operation DescribeCacheClusters for version
  NO_VERSION_SPECIFIED"; unknown Version 2014-09-30: 400 InvalidAction naming that version.
- GET instead of POST (`GET /?Action=...&Version=...`): 200, as AWS's Query APIs accept GET.
- wrong content type (`application/json` body): the body is not read as parameters, so the
  request has no Action: 400 MissingAction.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSION = "2015-02-02"
TIMEOUT_S = 1.0
MAX_CONNECTIONS = 8
# Liveness bounds for a loaded 2-core machine, not performance assertions.
SETTLE_S = 15.0


def _binary() -> Path:
    env = os.environ.get("ECL_BINARY")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "elasticache-local"
    if not path.exists():
        pytest.skip(f"emulator binary {path} not found: run `cargo build` first")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """An emulator process of this suite, and the means to check it still serves."""

    def __init__(self, extra_args: list[str], tmp_path: Path, preexec=None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "emulator.log"
        first = 31000 + (self.port % 500) * 2
        args = [
            str(_binary()),
            "--listen", f"127.0.0.1:{self.port}",
            "--addressing", "ports",
            "--port-range", f"{first}-{first + 1}",
            "--log", "info",
            *extra_args,
        ]
        env = dict(os.environ, NO_COLOR="1")
        env.pop("ELASTICACHE_LOCAL_LISTEN", None)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, preexec_fn=preexec,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"emulator exited at startup:\n{self.log_tail()}"
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"emulator not healthy:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])

    def client(self):
        return boto3.client(
            "elasticache", region_name="us-east-1", endpoint_url=self.url,
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x" * 40,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=SETTLE_S,
                          read_timeout=SETTLE_S),
        )

    def assert_serving(self) -> None:
        """The process is up and another client's request still succeeds."""
        assert self.proc.poll() is None, f"emulator died:\n{self.log_tail()}"
        out = self.client().describe_cache_clusters()
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert out["CacheClusters"] == []

    def stop(self) -> None:
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(timeout=30)
            assert code == 0, f"exit {code} on SIGTERM:\n{self.log_tail()}"
        self.log.close()
        assert alive, f"emulator died during the tests:\n{self.log_tail()}"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    e = Emulator(
        ["--api-header-timeout", f"{TIMEOUT_S}s", "--api-body-timeout", f"{TIMEOUT_S}s",
         "--api-max-connections", str(MAX_CONNECTIONS)],
        tmp_path_factory.mktemp("bad-input"),
    )
    yield e
    e.stop()


# --------------------------------------------------------------------------------------------
# Raw HTTP


class Reply:
    def __init__(self, raw: bytes):
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 "), f"not an HTTP answer: {raw[:200]!r}"
        self.status = int(lines[0].split(" ")[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = body.decode("utf-8", errors="replace")

    @property
    def code(self) -> str | None:
        m = re.search(r"<Code>([^<]*)</Code>", self.body)
        return m.group(1) if m else None

    @property
    def message(self) -> str | None:
        m = re.search(r"<Message>([^<]*)</Message>", self.body)
        return m.group(1) if m else None


def connect(emu: Emulator) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", emu.port), timeout=SETTLE_S)
    s.settimeout(SETTLE_S)
    return s


def read_reply(s: socket.socket) -> Reply:
    """Reads one answer (head, then Content-Length bytes of body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, f"connection closed before an answer: {buf!r}"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "connection closed mid-answer"
        body += chunk
    return Reply(head + b"\r\n\r\n" + body[:length])


def post(emu: Emulator, body: bytes | str, content_type: str | None = "application/x-www-form-urlencoded",
         method: str = "POST", target: str = "/") -> Reply:
    data = body.encode() if isinstance(body, str) else body
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += f"Content-Length: {len(data)}\r\n\r\n"
    with connect(emu) as s:
        s.sendall(head.encode() + data)
        return read_reply(s)


def closed_by_server(s: socket.socket, within: float) -> bool:
    """True when the server closes `s` (EOF or reset) within `within` seconds."""
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def form(**params) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


# --------------------------------------------------------------------------------------------
# Malformed input


def test_malformed_form_encoding_keeps_the_well_formed_parameters(emu):
    r = post(emu, f"Action=DescribeCacheClusters&Version={VERSION}&&==&Junk=%zz&Lone=%")
    assert r.status == 200, r.body
    assert "<DescribeCacheClustersResponse" in r.body
    emu.assert_serving()


def test_invalid_utf8_is_replaced_and_answered_as_an_unknown_id(emu):
    r = post(emu, f"Action=DescribeCacheClusters&Version={VERSION}&CacheClusterId=%FF%FE")
    assert (r.status, r.code) == (404, "CacheClusterNotFound"), r.body
    emu.assert_serving()


def test_duplicate_parameters_first_value_wins(emu):
    r = post(emu, f"Action=DescribeCacheClusters&Version={VERSION}&Action=Nope&Version=2014-09-30")
    assert r.status == 200, r.body
    r = post(emu, f"Action=Nope&Version={VERSION}&Action=DescribeCacheClusters")
    assert (r.status, r.code) == (400, "InvalidAction"), r.body
    emu.assert_serving()


def test_huge_parameter_count_is_refused(emu):
    many = "&".join(f"P{i}=v" for i in range(10_001))
    r = post(emu, f"Action=DescribeCacheClusters&Version={VERSION}&{many}")
    assert (r.status, r.code) == (400, "InvalidQueryParameter"), r.body
    emu.assert_serving()


def test_oversized_body_is_refused_before_it_is_sent(emu):
    with connect(emu) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 2097152\r\n\r\nAction=DescribeCacheClusters")
        r = read_reply(s)
        assert (r.status, r.code) == (413, "RequestEntityTooLarge"), r.body
        assert r.headers.get("connection") == "close"
        assert closed_by_server(s, SETTLE_S)
    emu.assert_serving()


def test_oversized_chunked_body_is_refused(emu):
    chunk = b"x" * 65536
    with connect(emu) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(40):  # 2.5 MiB, more than the 1 MiB limit
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        r = read_reply(s)
    assert (r.status, r.code) == (413, "RequestEntityTooLarge"), r.body
    emu.assert_serving()


def test_truncated_body_times_out_with_408(emu):
    body = f"Action=DescribeCacheClusters&Version={VERSION}"
    with connect(emu) as s:
        s.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  f"Content-Length: {len(body) + 100}\r\n\r\n{body}".encode())
        started = time.monotonic()
        r = read_reply(s)
        waited = time.monotonic() - started
        assert (r.status, r.code) == (408, "RequestTimeout"), r.body
        assert waited >= TIMEOUT_S * 0.8, waited
        assert closed_by_server(s, SETTLE_S)
    emu.assert_serving()


# --------------------------------------------------------------------------------------------
# Slow and idle clients


def test_slow_headers_are_cut_off(emu):
    with connect(emu) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        for _ in range(3):  # a header line now and then, never the blank line
            time.sleep(TIMEOUT_S / 3)
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
        assert closed_by_server(s, SETTLE_S)
        assert time.monotonic() - started < SETTLE_S
    emu.assert_serving()


def test_idle_keep_alive_connections_are_closed(emu):
    with connect(emu) as s:
        s.sendall(f"GET /?Action=DescribeCacheClusters&Version={VERSION} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        r = read_reply(s)
        assert r.status == 200, r.body
        started = time.monotonic()
        assert closed_by_server(s, SETTLE_S)
        assert time.monotonic() - started >= TIMEOUT_S * 0.8
    emu.assert_serving()


def test_connections_beyond_the_cap_wait_then_get_served(emu):
    idle = [connect(emu) for _ in range(MAX_CONNECTIONS)]
    try:
        started = time.monotonic()
        emu.assert_serving()  # waits until the header timeout frees a slot
        assert time.monotonic() - started < SETTLE_S
    finally:
        for s in idle:
            s.close()
    emu.assert_serving()


# --------------------------------------------------------------------------------------------
# Protocol-level refusals


def test_unknown_action(emu):
    r = post(emu, form(Action="Nope", Version=VERSION))
    assert (r.status, r.code) == (400, "InvalidAction"), r.body
    assert r.message == f"Could not find operation Nope for version {VERSION}"
    emu.assert_serving()


def test_missing_and_unknown_version(emu):
    r = post(emu, form(Action="DescribeCacheClusters"))
    assert (r.status, r.code) == (400, "InvalidAction"), r.body
    assert r.message == "Could not find operation DescribeCacheClusters for version NO_VERSION_SPECIFIED"
    r = post(emu, form(Action="DescribeCacheClusters", Version="2014-09-30"))
    assert (r.status, r.code) == (400, "InvalidAction"), r.body
    assert r.message == "Could not find operation DescribeCacheClusters for version 2014-09-30"
    emu.assert_serving()


def test_get_instead_of_post_is_served(emu):
    r = post(emu, b"", content_type=None, method="GET",
             target=f"/?Action=DescribeCacheClusters&Version={VERSION}")
    assert r.status == 200, r.body
    assert "<DescribeCacheClustersResponse" in r.body
    emu.assert_serving()


def test_wrong_content_type_body_is_not_read(emu):
    r = post(emu, form(Action="DescribeCacheClusters", Version=VERSION), content_type="application/json")
    assert (r.status, r.code) == (400, "MissingAction"), r.body
    emu.assert_serving()


# --------------------------------------------------------------------------------------------
# Out of file descriptors


def _few_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (96, 96))


def test_accept_survives_running_out_of_descriptors(tmp_path):
    e = Emulator(["--api-header-timeout", "2s", "--api-max-connections", "4096"], tmp_path,
                 preexec=_few_descriptors)
    held = []
    try:
        for _ in range(150):  # more than the process can hold: its accepts hit EMFILE
            try:
                held.append(socket.create_connection(("127.0.0.1", e.port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        assert e.proc.poll() is None, f"emulator died:\n{e.log_tail()}"
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            e.assert_serving()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert "cannot accept API connections now" in e.log_path.read_text(errors="replace")
    e.stop()
