"""RBAC users and user groups (CreateUser ... DescribeUserGroups) through boto3.

Everything runs in a region of its own (``eu-south-1``) so the user and user group quotas and
the listings are not disturbed by other suites.
"""

from __future__ import annotations

import time
import urllib.request

import pytest
import redis

from helpers import FAST_WAITER, aws_error, create_redis, delete_groups, node_endpoints, wait_available

REGION = "eu-south-1"
PASSWORD = "a-long-password-0001"
PASSWORD_2 = "a-long-password-0002"


@pytest.fixture(scope="module")
def rb(make_client):
    return make_client(region=REGION)


def wait_user_status(client, user_id: str, want: str | None, timeout: float = 20) -> None:
    """Polls DescribeUsers until the user has `want` (None: until UserNotFound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            user = client.describe_users(UserId=user_id)["Users"][0]
        except client.exceptions.UserNotFoundFault:
            if want is None:
                return
        else:
            if user["Status"] == want:
                return
        time.sleep(0.05)
    raise AssertionError(f"user {user_id} never reached {want}")


def wait_group_status(client, group_id: str, want: str | None, timeout: float = 20) -> dict | None:
    """Polls DescribeUserGroups until the group has `want` (None: until UserGroupNotFound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            group = client.describe_user_groups(UserGroupId=group_id)["UserGroups"][0]
        except client.exceptions.UserGroupNotFoundFault:
            if want is None:
                return None
        else:
            if group["Status"] == want:
                return group
        time.sleep(0.05)
    raise AssertionError(f"user group {group_id} never reached {want}")


def create_user(client, user_id: str, name: str | None = None, **extra) -> dict:
    params = {
        "UserId": user_id,
        "UserName": name or user_id,
        "Engine": "redis",
        "AccessString": "on ~* +@all",
        "Passwords": [PASSWORD],
    }
    params.update(extra)
    return client.create_user(**{k: v for k, v in params.items() if v is not None})


def test_default_user_is_always_listed(rb):
    users = {u["UserId"]: u for u in rb.describe_users()["Users"]}
    default = users["default"]
    assert default["UserName"] == "default"
    assert default["AccessString"] == "on ~* +@all"
    assert default["Authentication"]["Type"] == "no-password"
    assert default["Status"] == "active"
    assert default["Engine"] == "redis"
    assert default["MinimumEngineVersion"] == "6.0"
    assert default["ARN"] == "arn:aws:elasticache:eu-south-1:000000000000:user:default"


def test_create_describe_modify_delete_user(rb, uid):
    user_id = uid("usr")
    out = create_user(rb, user_id, Tags=[{"Key": "team", "Value": "a"}])
    assert out["UserId"] == user_id
    assert out["Status"] == "active"
    assert out["Authentication"] == {"Type": "password", "PasswordCount": 1}
    assert out["ARN"] == f"arn:aws:elasticache:{REGION}:000000000000:user:{user_id}"
    assert out["UserGroupIds"] == []
    tags = rb.list_tags_for_resource(ResourceName=out["ARN"])["TagList"]
    assert tags == [{"Key": "team", "Value": "a"}]

    listed = rb.describe_users(Filters=[{"Name": "user-id", "Values": [user_id]}])["Users"]
    assert [u["UserId"] for u in listed] == [user_id]
    assert all(u["Engine"] == "redis" for u in rb.describe_users(Engine="redis")["Users"])

    mod = rb.modify_user(UserId=user_id, AccessString="on ~app:* +get", Passwords=[PASSWORD, PASSWORD_2])
    assert mod["Status"] == "modifying"
    assert mod["AccessString"] == "on ~app:* +get"
    assert mod["Authentication"] == {"Type": "password", "PasswordCount": 2}
    wait_user_status(rb, user_id, "active")
    app = rb.modify_user(UserId=user_id, AppendAccessString="+set")
    assert app["AccessString"] == "on ~app:* +get +set"
    wait_user_status(rb, user_id, "active")

    gone = rb.delete_user(UserId=user_id)
    assert gone["Status"] == "deleting"
    wait_user_status(rb, user_id, None)
    with aws_error(rb, "UserNotFound", 404, "UserNotFoundFault"):
        rb.describe_users(UserId=user_id)


def test_authentication_modes(rb, uid):
    nopass = create_user(rb, uid("np"), Passwords=None, NoPasswordRequired=True)
    assert nopass["Authentication"]["Type"] == "no-password"
    iam_id = uid("iam")
    iam = create_user(rb, iam_id, Passwords=None, AuthenticationMode={"Type": "iam"})
    assert iam["Authentication"]["Type"] == "iam"
    pw = create_user(rb, uid("pw"), Passwords=None, AuthenticationMode={"Type": "password", "Passwords": [PASSWORD]})
    assert pw["Authentication"] == {"Type": "password", "PasswordCount": 1}
    valkey = create_user(rb, uid("vk"), Engine="VALKEY")
    assert valkey["Engine"] == "valkey"
    for user in (nopass, iam, pw, valkey):
        rb.delete_user(UserId=user["UserId"])


def test_user_errors(rb, uid):
    user_id = uid("dup")
    create_user(rb, user_id, name=f"name-{user_id}")
    with aws_error(rb, "UserAlreadyExists", 400, "UserAlreadyExistsFault"):
        create_user(rb, user_id)
    with aws_error(rb, "DuplicateUserName", 400, "DuplicateUserNameFault"):
        create_user(rb, uid("other"), name=f"name-{user_id}")
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_user(rb, uid("x"), NoPasswordRequired=True)
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_user(rb, uid("x"), AuthenticationMode={"Type": "password", "Passwords": [PASSWORD]})
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, uid("x"), Passwords=["short"])
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, uid("x"), Passwords=[PASSWORD, PASSWORD_2, PASSWORD + "3"])
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, uid("x"), Engine="memcached")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, uid("x"), AccessString="on >secret ~* +@all")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, uid("x"), AccessString="on ~* +no-such-command")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        rb.modify_user(UserId=user_id, AppendAccessString="+@no-such-category")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, "1-starts-with-a-digit")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        create_user(rb, uid("iam"), name="other-name", Passwords=None, AuthenticationMode={"Type": "iam"})
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        rb.modify_user(UserId=user_id, AccessString="on", AppendAccessString="+get")
    with aws_error(rb, "UserNotFound", 404, "UserNotFoundFault"):
        rb.modify_user(UserId=uid("nobody"), AccessString="on")
    with aws_error(rb, "UserNotFound", 404, "UserNotFoundFault"):
        rb.delete_user(UserId=uid("nobody"))
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        rb.modify_user(UserId="default", AccessString="on ~* +@all")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        rb.delete_user(UserId="default")
    rb.delete_user(UserId=user_id)


def test_user_group_lifecycle(rb, uid):
    alice, new_default = uid("alice"), uid("newdef")
    create_user(rb, alice)
    create_user(rb, new_default, name="default")
    group_id = uid("grp")
    out = rb.create_user_group(
        UserGroupId=group_id, Engine="redis", UserIds=["default", alice], Tags=[{"Key": "k", "Value": "v"}]
    )
    assert out["Status"] == "creating"
    assert out["UserIds"] == ["default", alice]
    assert out["MinimumEngineVersion"] == "6.0"
    assert out["ReplicationGroups"] == []
    assert out["ARN"] == f"arn:aws:elasticache:{REGION}:000000000000:usergroup:{group_id}"
    assert rb.list_tags_for_resource(ResourceName=out["ARN"])["TagList"] == [{"Key": "k", "Value": "v"}]
    wait_group_status(rb, group_id, "active")
    assert rb.describe_users(UserId=alice)["Users"][0]["UserGroupIds"] == [group_id]

    # Swap the built-in default user for one of ours, in one call.
    mod = rb.modify_user_group(UserGroupId=group_id, UserIdsToAdd=[new_default], UserIdsToRemove=["default"])
    assert mod["Status"] == "modifying"
    assert mod["PendingChanges"] == {"UserIdsToAdd": [new_default], "UserIdsToRemove": ["default"]}
    group = wait_group_status(rb, group_id, "active")
    assert sorted(group["UserIds"]) == sorted([alice, new_default])
    assert "PendingChanges" not in group

    # Deleting a member leaves the group; the default-named member cannot go.
    with aws_error(rb, "DefaultUserAssociatedToUserGroup", 400, "DefaultUserAssociatedToUserGroupFault"):
        rb.delete_user(UserId=new_default)
    rb.delete_user(UserId=alice)
    assert rb.describe_user_groups(UserGroupId=group_id)["UserGroups"][0]["UserIds"] == [new_default]

    assert rb.delete_user_group(UserGroupId=group_id)["Status"] == "deleting"
    wait_group_status(rb, group_id, None)
    wait_user_status(rb, alice, None)
    rb.delete_user(UserId=new_default)


def test_user_group_errors(rb, uid):
    alice, twin = uid("alice"), uid("twin")
    create_user(rb, alice)
    create_user(rb, twin, name="default")
    nopass = uid("np")
    create_user(rb, nopass, Passwords=None, NoPasswordRequired=True)
    group_id = uid("grp")
    with aws_error(rb, "DefaultUserRequired", 400, "DefaultUserRequired"):
        rb.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=[alice])
    with aws_error(rb, "DuplicateUserName", 400, "DuplicateUserNameFault"):
        rb.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=["default", twin])
    with aws_error(rb, "UserNotFound", 404, "UserNotFoundFault"):
        rb.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=["default", uid("nobody")])
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        rb.create_user_group(UserGroupId=group_id, Engine="valkey", UserIds=[twin, nopass])
    rb.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=["default", alice])
    with aws_error(rb, "UserGroupAlreadyExists", 400, "UserGroupAlreadyExistsFault"):
        rb.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=["default"])
    wait_group_status(rb, group_id, "active")
    with aws_error(rb, "DefaultUserRequired", 400, "DefaultUserRequired"):
        rb.modify_user_group(UserGroupId=group_id, UserIdsToRemove=["default"])
    with aws_error(rb, "DuplicateUserName", 400, "DuplicateUserNameFault"):
        rb.modify_user_group(UserGroupId=group_id, UserIdsToAdd=[twin])
    with aws_error(rb, "UserGroupNotFound", 404, "UserGroupNotFoundFault"):
        rb.modify_user_group(UserGroupId=uid("nogroup"), UserIdsToAdd=[alice])
    with aws_error(rb, "UserGroupNotFound", 404, "UserGroupNotFoundFault"):
        rb.delete_user_group(UserGroupId=uid("nogroup"))
    with aws_error(rb, "UserGroupNotFound", 404, "UserGroupNotFoundFault"):
        rb.describe_user_groups(UserGroupId=uid("nogroup"))
    rb.delete_user_group(UserGroupId=group_id)
    wait_group_status(rb, group_id, None)
    for user in (alice, twin, nopass):
        rb.delete_user(UserId=user)


def test_user_and_user_group_quotas(make_client, uid):
    client = make_client(region=REGION, access_key="111122223333")
    existing = len(client.describe_user_groups()["UserGroups"])
    made = []
    for _ in range(100 - existing):
        gid = uid("q")
        client.create_user_group(UserGroupId=gid, Engine="redis", UserIds=["default"])
        made.append(gid)
    with aws_error(client, "UserGroupQuotaExceeded", 400, "UserGroupQuotaExceededFault"):
        client.create_user_group(UserGroupId=uid("q"), Engine="redis", UserIds=["default"])
    for gid in made:
        wait_group_status(client, gid, "active")
        client.delete_user_group(UserGroupId=gid)
    users = []
    while len(users) + 1 < 1000:
        uid_ = uid("u")
        create_user(client, uid_, Passwords=None, NoPasswordRequired=True)
        users.append(uid_)
    with aws_error(client, "UserQuotaExceeded", 400, "UserQuotaExceededFault"):
        create_user(client, uid("u"))
    for user in users:
        client.delete_user(UserId=user)


# --------------------------------------------------------------------------------------------
# Replication groups: user groups attached, AUTH token strategies


@pytest.fixture
def rgs(rb):
    created: list[str] = []
    yield created
    delete_groups(rb, created)


def create_rg(client, rgs, gid: str, **extra) -> dict:
    params = {
        "ReplicationGroupId": gid,
        "ReplicationGroupDescription": "rbac",
        "CacheNodeType": "cache.t3.micro",
        "Engine": "redis",
        "NumCacheClusters": 1,
        "TransitEncryptionEnabled": True,
    }
    params.update(extra)
    client.create_replication_group(**params)
    rgs.append(gid)
    return wait_rg(client, gid)


def wait_rg(client, gid: str) -> dict:
    client.get_waiter("replication_group_available").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    return client.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]


def rbac_setup(client, uid) -> tuple[str, str]:
    """A user `reader` (get only, keys app:*) and an active user group holding it and `default`."""
    user_id, group_id = uid("reader"), uid("ug")
    create_user(client, user_id, AccessString="on ~app:* -@all +get +ping")
    client.create_user_group(UserGroupId=group_id, Engine="redis", UserIds=["default", user_id])
    wait_group_status(client, group_id, "active")
    return user_id, group_id


def test_user_group_attach_rules(rb, rgs, uid):
    user_id, group_id = rbac_setup(rb, uid)
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_rg(rb, rgs, uid("rg"), UserGroupIds=[group_id], AuthToken=PASSWORD)
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        create_rg(rb, rgs, uid("rg"), UserGroupIds=[group_id], TransitEncryptionEnabled=False)
    with aws_error(rb, "UserGroupNotFound", 404, "UserGroupNotFoundFault"):
        create_rg(rb, rgs, uid("rg"), UserGroupIds=[uid("nogroup")])

    gid = uid("rg")
    group = create_rg(rb, rgs, gid, UserGroupIds=[group_id])
    assert group["UserGroupIds"] == [group_id]
    assert group["AuthTokenEnabled"] is False
    ug = rb.describe_user_groups(UserGroupId=group_id)["UserGroups"][0]
    assert ug["ReplicationGroups"] == [gid]
    with aws_error(rb, "InvalidUserGroupState", 400, "InvalidUserGroupStateFault"):
        rb.delete_user_group(UserGroupId=group_id)
    # A token cannot come back while the user group stays attached.
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        rb.modify_replication_group(ReplicationGroupId=gid, AuthToken=PASSWORD, ApplyImmediately=True)

    out = rb.modify_replication_group(ReplicationGroupId=gid, UserGroupIdsToRemove=[group_id], ApplyImmediately=True)
    rg = out["ReplicationGroup"]
    assert rg["PendingModifiedValues"]["UserGroups"] == {"UserGroupIdsToAdd": [], "UserGroupIdsToRemove": [group_id]}
    rg = wait_rg(rb, gid)
    assert rg["UserGroupIds"] == []
    assert "UserGroups" not in rg["PendingModifiedValues"]
    assert rb.describe_user_groups(UserGroupId=group_id)["UserGroups"][0]["ReplicationGroups"] == []
    rb.delete_replication_group(ReplicationGroupId=gid)
    rb.get_waiter("replication_group_deleted").wait(ReplicationGroupId=gid, WaiterConfig=FAST_WAITER)
    rb.delete_user_group(UserGroupId=group_id)
    wait_group_status(rb, group_id, None)
    rb.delete_user(UserId=user_id)


def test_auth_token_strategy_rules(rb, rgs, uid):
    open_gid = uid("open")
    create_rg(rb, rgs, open_gid)
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        rb.modify_replication_group(
            ReplicationGroupId=open_gid, AuthToken=PASSWORD, AuthTokenUpdateStrategy="SET", ApplyImmediately=True
        )
    old_gid = uid("old")
    create_rg(rb, rgs, old_gid, AuthToken=PASSWORD, EngineVersion="4.0.10")
    with aws_error(rb, "InvalidParameterValue", 400, "InvalidParameterValueException"):
        rb.modify_replication_group(ReplicationGroupId=old_gid, AuthToken=PASSWORD_2, ApplyImmediately=True)
    gid = uid("tok")
    create_rg(rb, rgs, gid, AuthToken=PASSWORD)
    # DELETE is only for moving to RBAC: it needs user groups to add.
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        rb.modify_replication_group(ReplicationGroupId=gid, AuthTokenUpdateStrategy="DELETE", ApplyImmediately=True)
    _, group_id = rbac_setup(rb, uid)
    # ... and user groups cannot be added while the token stays.
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        rb.modify_replication_group(ReplicationGroupId=gid, UserGroupIdsToAdd=[group_id], ApplyImmediately=True)
    moved = rb.modify_replication_group(
        ReplicationGroupId=gid,
        AuthTokenUpdateStrategy="DELETE",
        UserGroupIdsToAdd=[group_id],
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert moved["AuthTokenEnabled"] is False
    assert wait_rg(rb, gid)["UserGroupIds"] == [group_id]
    # And back: a token with every user group removed.
    back = rb.modify_replication_group(
        ReplicationGroupId=gid,
        AuthToken=PASSWORD_2,
        AuthTokenUpdateStrategy="ROTATE",
        RemoveUserGroups=True,
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert back["AuthTokenEnabled"] is True
    assert wait_rg(rb, gid)["UserGroupIds"] == []


@pytest.fixture(scope="module")
def ca_file(endpoint_url, tmp_path_factory) -> str:
    pem = urllib.request.urlopen(f"{endpoint_url}/_elasticache_local/ca.pem", timeout=10).read()
    path = tmp_path_factory.mktemp("rbac-tls") / "ca.pem"
    path.write_bytes(pem)
    return str(path)


def connect(rg: dict, ca_file: str, **auth) -> redis.Redis:
    primary = rg["NodeGroups"][0]["PrimaryEndpoint"]
    return redis.Redis(
        host=primary["Address"], port=primary["Port"], ssl=True, ssl_ca_certs=ca_file, socket_timeout=10, **auth
    )


# The engine's replies, word for word (redis-py strips the WRONGPASS / NOAUTH code).
WRONGPASS = "invalid username-password pair or user is disabled."
# redis-py opens with HELLO; unauthenticated, the engine answers it with this NOAUTH reply.
NOAUTH = (
    "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH "
    "<user> <pass> option can be used to authenticate the client and select the RESP protocol version "
    "at the same time"
)


def auth_error(client: redis.Redis) -> str:
    """The engine's answer to a PING from a client whose AUTH fails or is missing."""
    try:
        client.ping()
    except redis.AuthenticationError as err:
        return str(err)
    return "accepted"


def modify_token(client, gid: str, **params) -> dict:
    client.modify_replication_group(ReplicationGroupId=gid, ApplyImmediately=True, **params)
    return wait_rg(client, gid)


def test_auth_token_set_and_delete_are_live(rb, rgs, uid, ca_file):
    gid = uid("live")
    rg = create_rg(rb, rgs, gid, AuthToken=PASSWORD)
    held = connect(rg, ca_file, password=PASSWORD)
    held.set("k", "v")
    rg = modify_token(rb, gid, AuthToken=PASSWORD_2, AuthTokenUpdateStrategy="SET")
    assert rg["AuthTokenEnabled"] is True
    # The node kept running: the connected client still works, new clients need the new token.
    assert held.get("k") == b"v"
    assert connect(rg, ca_file, password=PASSWORD_2).get("k") == b"v"
    assert auth_error(connect(rg, ca_file, password=PASSWORD)) == WRONGPASS
    assert auth_error(connect(rg, ca_file)) == NOAUTH


def wait_until(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition never held")


def test_users_authenticate_and_access_strings_are_enforced(rb, rgs, uid, ca_file):
    user_id, group_id = rbac_setup(rb, uid)
    gid = uid("acl")
    rg = create_rg(rb, rgs, gid, UserGroupIds=[group_id])
    # The built-in default user of the group: no password, full access.
    anonymous = connect(rg, ca_file)
    assert anonymous.set("app:1", "one") is True
    reader = connect(rg, ca_file, username=user_id, password=PASSWORD)
    assert reader.get("app:1") == b"one"
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.set("app:1", "two")
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.get("other")
    assert auth_error(connect(rg, ca_file, username=user_id, password=PASSWORD_2)) == WRONGPASS

    # Users are managed through the API only: the engine's user-changing ACL subcommands are
    # gone, even for the default user with +@all; the read-only ones answer.
    for args in (["SETUSER", "intruder", "on", "nopass", "+@all"], ["DELUSER", user_id], ["SAVE"], ["LOAD"]):
        with pytest.raises(redis.ResponseError, match="unknown subcommand"):
            anonymous.execute_command("ACL", *args)
    assert sorted(anonymous.acl_users()) == sorted(["default", user_id])
    assert anonymous.acl_whoami() == "default"

    # ModifyUser reaches the connected client: +set is allowed from now on.
    rb.modify_user(UserId=user_id, AppendAccessString="+set")
    wait_user_status(rb, user_id, "active")
    assert reader.set("app:1", "two") is True
    # New passwords: the old one stops working for new connections.
    rb.modify_user(UserId=user_id, Passwords=[PASSWORD_2])
    wait_user_status(rb, user_id, "active")
    assert auth_error(connect(rg, ca_file, username=user_id, password=PASSWORD)) == WRONGPASS
    assert connect(rg, ca_file, username=user_id, password=PASSWORD_2).get("app:1") == b"two"

    # An access string without `on` leaves the user off, as on ElastiCache.
    rb.modify_user(UserId=user_id, AccessString="~app:* +@all")
    wait_user_status(rb, user_id, "active")
    assert auth_error(connect(rg, ca_file, username=user_id, password=PASSWORD_2)) == WRONGPASS
    rb.modify_user(UserId=user_id, AccessString="on ~app:* +@all")
    wait_user_status(rb, user_id, "active")
    assert connect(rg, ca_file, username=user_id, password=PASSWORD_2).get("app:1") == b"two"

    # Redis 7 access strings may add sets of permissions in parentheses (selectors): a command
    # runs when one set allows all of it.
    rb.modify_user(UserId=user_id, AccessString="on ~app:* +get (~cache:* +@all)")
    wait_user_status(rb, user_id, "active")
    selective = connect(rg, ca_file, username=user_id, password=PASSWORD_2)
    assert selective.get("app:1") == b"two"
    assert selective.set("cache:1", "c") is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        selective.set("app:1", "three")
    with pytest.raises(redis.exceptions.NoPermissionError):
        selective.mget("app:1", "cache:1")
    # redis-py hands each selector over as the flat field/value list the node sent.
    selectors = [dict(zip(s[::2], s[1::2])) for s in anonymous.acl_getuser(user_id)["selectors"]]
    assert [(s["keys"], s["commands"]) for s in selectors] == [("~cache:*", "+@all")], selectors
    with pytest.raises(rb.exceptions.InvalidParameterValueException):
        rb.modify_user(UserId=user_id, AccessString="on ~app:* (~cache:* +get")

    # Leaving the group removes the user from the nodes.
    rb.modify_user_group(UserGroupId=group_id, UserIdsToRemove=[user_id])
    wait_group_status(rb, group_id, "active")
    assert auth_error(connect(rg, ca_file, username=user_id, password=PASSWORD_2)) == WRONGPASS
    assert anonymous.get("app:1") == b"two"


def test_auth_token_rotate_keeps_both_tokens_until_set(rb, rgs, uid, ca_file):
    gid = uid("rot")
    rg = create_rg(rb, rgs, gid, AuthToken=PASSWORD)
    held = connect(rg, ca_file, password=PASSWORD)
    held.set("k", "v")
    answer = rb.modify_replication_group(
        ReplicationGroupId=gid, AuthToken=PASSWORD_2, AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True
    )["ReplicationGroup"]
    assert answer["PendingModifiedValues"]["AuthTokenStatus"] == "ROTATING"
    rg = wait_rg(rb, gid)
    assert "AuthTokenStatus" not in rg["PendingModifiedValues"]
    assert connect(rg, ca_file, password=PASSWORD).get("k") == b"v"
    assert connect(rg, ca_file, password=PASSWORD_2).get("k") == b"v"
    assert held.get("k") == b"v"
    rg = modify_token(rb, gid, AuthToken=PASSWORD_2, AuthTokenUpdateStrategy="SET")
    assert auth_error(connect(rg, ca_file, password=PASSWORD)) == WRONGPASS
    assert connect(rg, ca_file, password=PASSWORD_2).get("k") == b"v"


def test_rotate_on_an_open_group_then_set_requires_the_token(rb, rgs, uid, ca_file):
    gid = uid("open")
    rg = create_rg(rb, rgs, gid)
    rg = modify_token(rb, gid, AuthToken=PASSWORD, AuthTokenUpdateStrategy="ROTATE")
    assert rg["AuthTokenEnabled"] is True
    # Until SET, clients without the token are still served, and the token works.
    assert connect(rg, ca_file).ping() is True
    assert connect(rg, ca_file, password=PASSWORD).ping() is True
    rg = modify_token(rb, gid, AuthToken=PASSWORD, AuthTokenUpdateStrategy="SET")
    assert auth_error(connect(rg, ca_file)) == NOAUTH
    assert connect(rg, ca_file, password=PASSWORD).ping() is True


def test_moving_from_auth_to_rbac_and_back(rb, rgs, uid, ca_file):
    user_id, group_id = rbac_setup(rb, uid)
    gid = uid("move")
    rg = create_rg(rb, rgs, gid, AuthToken=PASSWORD)
    rg = modify_token(rb, gid, AuthTokenUpdateStrategy="DELETE", UserGroupIdsToAdd=[group_id])
    assert connect(rg, ca_file).set("app:k", "v") is True
    assert connect(rg, ca_file, username=user_id, password=PASSWORD).get("app:k") == b"v"
    rg = modify_token(rb, gid, AuthToken=PASSWORD_2, AuthTokenUpdateStrategy="ROTATE", RemoveUserGroups=True)
    rg = modify_token(rb, gid, AuthToken=PASSWORD_2, AuthTokenUpdateStrategy="SET")
    assert auth_error(connect(rg, ca_file, username=user_id, password=PASSWORD)) == WRONGPASS
    assert connect(rg, ca_file, password=PASSWORD_2).get("app:k") == b"v"


def test_standalone_cluster_token_rotation_is_live(rb, resources, uid, ca_file):
    cid = uid("solo")
    create_redis(rb, resources, cid, TransitEncryptionEnabled=True, AuthToken=PASSWORD)
    # DELETE is for replication groups moving to RBAC; a standalone cluster cannot.
    with aws_error(rb, "InvalidParameterCombination", 400, "InvalidParameterCombinationException"):
        rb.modify_cache_cluster(CacheClusterId=cid, AuthTokenUpdateStrategy="DELETE", ApplyImmediately=True)
    answer = rb.modify_cache_cluster(
        CacheClusterId=cid, AuthToken=PASSWORD_2, AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True
    )["CacheCluster"]
    assert answer["PendingModifiedValues"]["AuthTokenStatus"] == "ROTATING"
    wait_available(rb, cid)
    c = rb.describe_cache_clusters(CacheClusterId=cid, ShowCacheNodeInfo=True)["CacheClusters"][0]
    ((host, port),) = node_endpoints(c).values()
    for token in (PASSWORD, PASSWORD_2):
        node = redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca_file, password=token, socket_timeout=10)
        assert node.ping() is True
