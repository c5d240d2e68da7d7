"""The status page (``GET /``), its live refresh and the key browser, seen by a real browser.

Resources are created through boto3 and filled through redis-py; the pages are rendered by
headless Chromium (``--dump-dom`` runs the page's script, so the DOM checked is what a user
sees after the live refresh ran). The screenshot of the page is written to
``$ECL_ARTIFACTS_DIR`` (``scripts/test.sh`` points it at its log directory) or pytest's tmp
dir, and its path printed.

Live refresh is checked without trusting a reload: the page as the server rendered it before
keys were written is served again from a small local proxy (which relays everything else, the
JSON included, to the emulator), so the new key count can only appear in that DOM through the
script's poll of ``status.json``.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import redis

from helpers import ADDRESSING, FAST_WAITER, wait_available

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; CI installs it)",
)

# Virtual time the page may run before the DOM is dumped: the script polls every 2 s.
VIRTUAL_TIME_MS = 5000


def chromium(url: str, profile: Path, *extra: str) -> str:
    """Loads ``url`` in headless Chromium and answers the DOM after the script ran."""
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}", *extra, url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(url: str, profile: Path) -> str:
    return chromium(url, profile, "--dump-dom")


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def status_json(endpoint_url: str) -> dict:
    return json.loads(get(f"{endpoint_url}/_elasticache_local/status.json"))


def node_figures(endpoint_url: str, key: str) -> dict:
    return next(n for n in status_json(endpoint_url)["nodes"] if n["key"] == key)


def artifacts_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("ECL_ARTIFACTS_DIR") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


class StalePageProxy:
    """Serves a saved copy of the page at ``/`` and relays every other GET to the emulator."""

    def __init__(self, page: str, upstream: str):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path == "/":
                    body, ctype = page.encode(), "text/html; charset=utf-8"
                    code = 200
                else:
                    outer.relayed.append(self.path)
                    try:
                        with urllib.request.urlopen(upstream + self.path, timeout=10) as r:
                            code, body = r.status, r.read()
                            ctype = r.headers.get("Content-Type", "application/json")
                    except urllib.error.HTTPError as e:
                        code, body, ctype = e.code, e.read(), "text/plain"
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.relayed: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fleet(ec, resources, uid, endpoint_url):
    """A Redis cluster with keys of every type, a replication group with a replica, and a
    Memcached cluster; answers their ids and the Redis node's key and endpoint."""
    redis_id = resources.cluster(ec, uid("sp-redis"))
    mc_id = resources.cluster(ec, uid("sp-mc"))
    gid = uid("sp-rg")
    for cid, engine in ((redis_id, "redis"), (mc_id, "memcached")):
        ec.create_cache_cluster(CacheClusterId=cid, Engine=engine, CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    ec.create_replication_group(
        ReplicationGroupId=gid, ReplicationGroupDescription="status page", Engine="redis",
        CacheNodeType="cache.t3.micro", NumCacheClusters=2,
    )
    try:
        node = wait_available(ec, redis_id)["CacheNodes"][0]["Endpoint"]
        wait_available(ec, mc_id)
        ec.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
        r = redis.Redis(host=node["Address"], port=node["Port"], socket_timeout=10)
        r.set("greeting", "hello " + "x" * 500)
        r.set("session:<script>alert(1)</script>", "v", ex=600)
        r.rpush("queue", "a", "b", "c")
        r.sadd("tags", "red")
        r.zadd("board", {"alice": 42})
        r.hset("user:1", mapping={"name": "ada"})
        r.xadd("events", {"kind": "login"})
        # Node keys are `account/region/cluster/0001`; the account is the one the dummy keys map to.
        key = next(n["key"] for n in status_json(endpoint_url)["nodes"] if n["key"].endswith(f"/{redis_id}/0001"))
        account = key.split("/", 1)[0]
        yield {
            "account": account, "redis": redis_id, "memcached": mc_id, "group": gid, "client": r,
            "key": key,
            "replica_key": f"{account}/us-east-1/{gid}-002/0001",
        }
    finally:
        ec.delete_replication_group(ReplicationGroupId=gid)


def test_status_page_shows_resources_and_refreshes_live(fleet, endpoint_url, tmp_path, record_property):
    figures = node_figures(endpoint_url, fleet["key"])
    assert figures["keys"] == 7 and figures["role"] == "primary" and figures["engine"] == "redis"
    replica = node_figures(endpoint_url, fleet["replica_key"])
    assert replica["role"] == "replica" and replica["replication_lag"] is not None

    dom = dump_dom(endpoint_url + "/", tmp_path / "profile")
    for rid in (fleet["redis"], fleet["memcached"], fleet["group"], fleet["key"], fleet["replica_key"]):
        assert rid in dom, f"{rid} not on the page"
    row = dom.split(f'data-node="{fleet["key"]}"', 1)[1].split("</tr>", 1)[0]
    assert '<td data-f="keys">7</td>' in row, row
    assert "/ 384.0 MiB" in row or "MiB" in row, row
    assert "replica of" in dom and "memcached" in dom
    assert "refreshed " in dom, "the page's script did not poll status.json"

    shot = artifacts_dir(tmp_path) / f"status-page-{ADDRESSING}.png"
    chromium(endpoint_url + "/", tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1400,1000")
    assert shot.exists() and shot.stat().st_size > 10_000
    print(f"status page screenshot: {shot}")
    record_property("screenshot", str(shot))

    # Live refresh: the page rendered now says 7 keys; after three more writes the JSON says 10,
    # and the same (stale) page shows 10 once its script has polled.
    stale = get(endpoint_url + "/")
    assert f'data-node="{fleet["key"]}"' in stale
    for i in range(3):
        fleet["client"].set(f"later:{i}", i)
    assert node_figures(endpoint_url, fleet["key"])["keys"] == 10
    with StalePageProxy(stale, endpoint_url) as proxy:
        dom2 = dump_dom(proxy.url + "/", tmp_path / "profile-live")
    assert any(p.startswith("/_elasticache_local/status.json") for p in proxy.relayed), proxy.relayed
    row = dom2.split(f'data-node="{fleet["key"]}"', 1)[1].split("</tr>", 1)[0]
    assert '<td data-f="keys">10</td>' in row, row


def test_key_browser_shows_keys_ttls_previews_and_slowlog(fleet, endpoint_url, tmp_path):
    base = f"{endpoint_url}/_elasticache_local/nodes/{urllib.parse.quote(fleet['key'], safe='')}/keys"
    fleet["client"].config_set("slowlog-log-slower-than", 0)
    fleet["client"].get("greeting")
    dom = dump_dom(base, tmp_path / "profile")
    rows = dom.split('<table id="keys">', 1)[1].split("</table>", 1)[0]
    for key in ("greeting", "queue", "tags", "board", "user:1", "events"):
        assert f'<td class="id">{key}</td>' in rows, key
    # A hostile key name is text, never markup.
    assert "session:&lt;script&gt;alert(1)&lt;/script&gt;" in rows
    assert "<script>alert" not in dom
    session = rows.split("session:&lt;script&gt;", 1)[1].split("</tr>", 1)[0]
    ttl = float(session.split('<td class="ttl">', 1)[1].split(" s<", 1)[0])
    assert 500 < ttl <= 600, session
    assert "no expiry" in rows.split('<td class="id">queue</td>', 1)[1].split("</tr>", 1)[0]
    previews = {
        "queue": "a, b, c", "tags": "red", "board": "alice=42", "user:1": "name=ada", "events": "{kind=login}",
    }
    for key, preview in previews.items():
        row = rows.split(f'<td class="id">{key}</td>', 1)[1].split("</tr>", 1)[0]
        assert preview in row, (key, row)
    greeting = rows.split('<td class="id">greeting</td>', 1)[1].split("</tr>", 1)[0]
    assert "hello xxx" in greeting and "…" in greeting and "x" * 200 not in greeting
    slowlog = dom.split('<table id="slowlog">', 1)[1].split("</table>", 1)[0]
    assert "GET greeting" in slowlog, slowlog

    # Pattern and type filters.
    only_lists = dump_dom(base + "?type=list&pattern=*", tmp_path / "profile2")
    rows = only_lists.split('<table id="keys">', 1)[1].split("</table>", 1)[0]
    assert '<td class="id">queue</td>' in rows and "greeting" not in rows
    by_pattern = get(base + "?pattern=user:*")
    rows = by_pattern.split('<table id="keys">', 1)[1].split("</table>", 1)[0]
    assert "user:1" in rows and "queue" not in rows


def test_memcached_node_page_shows_stats_only(fleet, endpoint_url):
    key = f"{fleet['account']}/us-east-1/{fleet['memcached']}/0001"
    page = get(f"{endpoint_url}/_elasticache_local/nodes/{urllib.parse.quote(key, safe='')}/keys")
    assert 'data-f="engine">memcached<' in page
    assert '<table id="keys">' not in page
    assert node_figures(endpoint_url, key)["maxmemory"] > 0


def test_query_api_keeps_get_with_action(endpoint_url):
    body = get(f"{endpoint_url}/?Action=DescribeCacheClusters&Version=2015-02-02")
    assert "<DescribeCacheClustersResponse" in body
