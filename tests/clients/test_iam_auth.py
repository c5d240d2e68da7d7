"""IAM authentication of RBAC users (``AuthenticationMode Type=iam``) with tokens from botocore.

Tokens are built by ``examples/iam_auth/iam_auth.py`` (botocore's own SigV4 presigner, as for
ElastiCache on AWS) and sent by redis-py over TLS as ``AUTH <user id> <token>``. The session's
emulator runs without ``--iam-credentials``, so the dummy pair ``test``/``test`` signs valid
tokens; one test starts a second emulator with explicit pairs.

Everything runs in a region of its own (``eu-central-2``).
"""

from __future__ import annotations

import datetime
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import mock

import boto3
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import helpers
from helpers import FAST_WAITER

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "iam_auth" / "iam_auth.py"
sys.path.insert(0, str(EXAMPLE.parent))

from iam_auth import generate_iam_auth_token  # noqa: E402

REGION = "eu-central-2"
# The engine's WRONGPASS reply, word for word (redis-py strips the code).
WRONGPASS = "invalid username-password pair or user is disabled."
# An access key id signing with a secret that is neither `test` nor the key id itself.
UNKNOWN_KEY = "AKIAIOSFODNN7EXAMPLE"


def session(key: str = "test", secret: str = "test") -> boto3.Session:
    return boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)


def iam_user(client, user_id: str, access: str = "on ~* +@all") -> None:
    client.create_user(
        UserId=user_id, UserName=user_id, Engine="redis", AccessString=access, AuthenticationMode={"Type": "iam"}
    )


def wait_group_active(client, group_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.describe_user_groups(UserGroupId=group_id)["UserGroups"][0]["Status"] != "active":
        assert time.monotonic() < deadline, f"user group {group_id} never became active"
        time.sleep(0.05)


def create_group(client, gid: str, user_group: str) -> dict:
    client.create_replication_group(
        ReplicationGroupId=gid,
        ReplicationGroupDescription="iam",
        CacheNodeType="cache.t3.micro",
        Engine="redis",
        NumCacheClusters=1,
        TransitEncryptionEnabled=True,
        UserGroupIds=[user_group],
    )
    client.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    return client.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]


def download_ca(endpoint_url: str, directory: Path) -> str:
    path = directory / "ca.pem"
    path.write_bytes(urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read())
    return str(path)


def connect(rg: dict, ca_file: str, user: str, token: str, **extra) -> redis.Redis:
    primary = rg["NodeGroups"][0]["PrimaryEndpoint"]
    return redis.Redis(
        host=primary["Address"],
        port=primary["Port"],
        ssl=True,
        ssl_ca_certs=ca_file,
        username=user,
        password=token,
        socket_timeout=10,
        decode_responses=True,
        # redis-py retries AuthenticationError (a ConnectionError) with backoff by default.
        retry=Retry(NoBackoff(), 0),
        **extra,
    )


def auth_result(client: redis.Redis) -> str:
    """`whoami` when the token was admitted, else the engine's refusal."""
    try:
        return client.acl_whoami()
    except redis.AuthenticationError as err:
        return str(err)


def token_signed_at(when: datetime.datetime, *args, **kwargs) -> str:
    """A token whose X-Amz-Date is `when` (botocore reads the clock through this function)."""
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        return generate_iam_auth_token(*args, **kwargs)


@pytest.fixture(scope="module")
def iam_setup(make_client, tmp_path_factory, endpoint_url):
    """Two IAM users in one user group, attached to two TLS replication groups."""
    client = make_client(region=REGION)
    tag = f"{random.getrandbits(32):08x}"
    alice, bob, ug = f"alice-{tag}", f"bob-{tag}", f"ug-{tag}"
    iam_user(client, alice)
    iam_user(client, bob, access="on ~bob:* +@all")
    client.create_user_group(UserGroupId=ug, Engine="redis", UserIds=["default", alice, bob])
    wait_group_active(client, ug)
    gid, other = f"iam-{tag}", f"iam-other-{tag}"
    groups = {}
    try:
        groups = {gid: create_group(client, gid, ug), other: create_group(client, other, ug)}
        ca = download_ca(endpoint_url, tmp_path_factory.mktemp("iam"))
        yield {"alice": alice, "bob": bob, "gid": gid, "other": other, "groups": groups, "ca": ca}
    finally:
        for g in (gid, other):
            try:
                client.delete_replication_group(ReplicationGroupId=g)
                client.get_waiter("replication_group_deleted").wait(ReplicationGroupId=g, WaiterConfig=FAST_WAITER)
            except Exception:  # best effort: creation may have failed
                pass


def test_a_botocore_token_admits_its_user(iam_setup):
    s = iam_setup
    rg = s["groups"][s["gid"]]
    token = generate_iam_auth_token(s["gid"], s["alice"], REGION, session())
    assert token.startswith(f"{s['gid']}/?Action=connect&User={s['alice']}&")
    client = connect(rg, s["ca"], s["alice"], token)
    assert client.acl_whoami() == s["alice"]
    assert client.set("k", "v") is True
    # The user's access string applies: bob may touch bob:* only.
    bob = connect(rg, s["ca"], s["bob"], generate_iam_auth_token(s["gid"], s["bob"], REGION, session()))
    assert bob.set("bob:1", "x") is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        bob.get("k")
    # HELLO 3 AUTH takes the token too; the same token opens several connections.
    resp3 = connect(rg, s["ca"], s["alice"], token, protocol=3)
    assert resp3.get("k") == "v"


def test_refused_tokens_get_wrongpass(iam_setup):
    s = iam_setup
    rg, alice, bob, gid = s["groups"][s["gid"]], s["alice"], s["bob"], s["gid"]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    good = generate_iam_auth_token(gid, alice, REGION, session())
    cases = {
        "expired": token_signed_at(now - datetime.timedelta(minutes=20), gid, alice, REGION, session()),
        "signed in the future": token_signed_at(now + datetime.timedelta(minutes=20), gid, alice, REGION, session()),
        "another user": generate_iam_auth_token(gid, bob, REGION, session()),
        "another group": generate_iam_auth_token(s["other"], alice, REGION, session()),
        "another region": generate_iam_auth_token(gid, alice, "us-west-2", session()),
        "serverless": generate_iam_auth_token(gid, alice, REGION, session(), serverless=True),
        "lifetime above 900 s": generate_iam_auth_token(gid, alice, REGION, session(), expires_in=3600),
        "wrong secret": generate_iam_auth_token(gid, alice, REGION, session("test", "not-test")),
        "unknown key pair": generate_iam_auth_token(gid, alice, REGION, session(UNKNOWN_KEY, "wJalrXUtnFEMI")),
        "tampered signature": good[:-1] + ("0" if good[-1] != "0" else "1"),
        "tampered user": good.replace(f"User={alice}", f"User={bob}"),
        "no signature": good.split("&X-Amz-Signature=")[0],
    }
    refused = {name: auth_result(connect(rg, s["ca"], alice, token)) for name, token in cases.items()}
    # Bob's token is no token of alice, but it is bob's.
    refused["bob's token as bob"] = auth_result(connect(rg, s["ca"], bob, cases["another user"]))
    assert refused == {**{name: WRONGPASS for name in cases}, "bob's token as bob": bob}
    # The same user's token for the other group opens that group.
    assert auth_result(connect(s["groups"][s["other"]], s["ca"], alice, cases["another group"])) == alice
    # A token signed with `<key id>`/`<key id>` is a dummy pair too, and 12 minutes old is still valid.
    same = token_signed_at(now - datetime.timedelta(minutes=12), gid, alice, REGION, session("testing", "testing"))
    assert auth_result(connect(rg, s["ca"], alice, same)) == alice


def test_the_example_script_connects(endpoint_url, uid):
    name = uid("iam-ex")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--endpoint-url", endpoint_url, "--region", REGION, "--name", name],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"connected as {name}: hello from IAM"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The second emulator's IAM session limit (ElastiCache's is 12 hours).
SESSION_SECONDS = 3


@pytest.fixture
def emulator_with_credentials(tmp_path):
    """A second emulator that knows one IAM key pair only (`--iam-credentials`) and closes IAM
    connections after SESSION_SECONDS (`--iam-session-seconds`)."""
    if os.environ.get("ECL_ENDPOINT"):
        pytest.skip("needs to start its own emulator")
    binary = Path(os.environ.get("ECL_BINARY", REPO_ROOT / "target" / "debug" / "elasticache-local"))
    port = _free_port()
    args = [str(binary), "--listen", f"127.0.0.1:{port}"]
    if helpers.ADDRESSING == "loopback":
        args += ["--addressing", "loopback", "--loopback-base", f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.1"]
    else:
        first = random.randint(20000, 31000)
        args += ["--addressing", "ports", "--port-range", f"{first}-{first + 99}"]
    env = dict(
        os.environ,
        ELASTICACHE_LOCAL_IAM_CREDENTIALS="AKIAIAMEXAMPLE:iam-secret-1",
        ELASTICACHE_LOCAL_IAM_SESSION_SECONDS=str(SESSION_SECONDS),
    )
    log = open(tmp_path / "emulator.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "second emulator did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_listed_credentials_replace_the_dummy_pairs(emulator_with_credentials, tmp_path):
    url = emulator_with_credentials
    client = boto3.client(
        "elasticache", region_name=REGION, endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test"
    )
    iam_user(client, "carol")
    client.create_user_group(UserGroupId="ug-carol", Engine="redis", UserIds=["default", "carol"])
    wait_group_active(client, "ug-carol")
    rg = create_group(client, "listed", "ug-carol")
    ca = download_ca(url, tmp_path)
    listed = generate_iam_auth_token("listed", "carol", REGION, session("AKIAIAMEXAMPLE", "iam-secret-1"))
    assert auth_result(connect(rg, ca, "carol", listed)) == "carol"
    dummy = generate_iam_auth_token("listed", "carol", REGION, session())
    assert auth_result(connect(rg, ca, "carol", dummy)) == WRONGPASS
    wrong = generate_iam_auth_token("listed", "carol", REGION, session("AKIAIAMEXAMPLE", "iam-secret-2"))
    assert auth_result(connect(rg, ca, "carol", wrong)) == WRONGPASS


def test_iam_connections_close_at_the_session_limit_unless_renewed(emulator_with_credentials, tmp_path):
    url = emulator_with_credentials
    client = boto3.client(
        "elasticache", region_name=REGION, endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test"
    )
    iam_user(client, "dave")
    client.create_user_group(UserGroupId="ug-dave", Engine="redis", UserIds=["default", "dave"])
    wait_group_active(client, "ug-dave")
    rg = create_group(client, "sessions", "ug-dave")
    ca = download_ca(url, tmp_path)
    signer = session("AKIAIAMEXAMPLE", "iam-secret-1")

    def token() -> str:
        return generate_iam_auth_token("sessions", "dave", REGION, signer)

    lapsing = connect(rg, ca, "dave", token(), single_connection_client=True)
    renewing = connect(rg, ca, "dave", token(), single_connection_client=True)
    assert lapsing.ping() and renewing.ping()
    time.sleep(SESSION_SECONDS / 2)
    # AUTH with a fresh token starts a new session, as on ElastiCache.
    assert renewing.execute_command("AUTH", "dave", token())
    time.sleep(SESSION_SECONDS * 2 / 3)
    with pytest.raises(redis.ConnectionError):
        lapsing.ping()
    assert renewing.ping()
    # A new connection with a fresh token is admitted as before.
    assert auth_result(connect(rg, ca, "dave", token())) == "dave"


def test_create_user_accepts_no_password_required_false_beside_iam(make_client):
    """Terraform sends NoPasswordRequired=false with every CreateUser; AWS accepts it beside
    AuthenticationMode, and refuses `true`."""
    client = make_client(region=REGION)
    user_id = f"tf-style-{random.getrandbits(32):08x}"
    out = client.create_user(
        UserId=user_id,
        UserName=user_id,
        Engine="redis",
        AccessString="on ~* +@all",
        AuthenticationMode={"Type": "iam"},
        NoPasswordRequired=False,
    )
    assert out["Authentication"] == {"Type": "iam"}
    client.delete_user(UserId=user_id)
    with pytest.raises(client.exceptions.InvalidParameterCombinationException):
        client.create_user(
            UserId=f"{user_id}-x",
            UserName=f"{user_id}-x",
            Engine="redis",
            AccessString="on ~* +@all",
            AuthenticationMode={"Type": "iam"},
            NoPasswordRequired=True,
        )
