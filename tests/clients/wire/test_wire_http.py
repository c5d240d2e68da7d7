"""Every operation end to end over HTTP: a real boto3 client (SigV4-signed, botocore's own
serializer, retry and parsing stack) against our router, served by `ecl-wire-probe --serve`.

The probe's server answers each operation either from a file of canned outputs or, for
operations not in the file, with an `InvalidParameterValue` error whose message is the JSON of
what the server decoded plus the account and region it derived from the signature. So:
- `test_http_input`: boto3 sends a maximal input; the error message must be exactly that input,
  with account 123456789012 and region eu-central-1 taken from the credential scope;
- `test_http_output`: the server answers a maximal output; boto3 must return exactly it, with the
  request id of the `x-amzn-RequestId` header;
- `test_http_errors`: canned modeled errors reach boto3 as the right exception class and status.
"""

import json
import subprocess

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from botocore import xform_name

from conftest import probe_path
from wire_values import Builder, to_json
from test_wire_roundtrip import OPERATIONS

ACCOUNT = "123456789012"
REGION = "eu-central-1"
ERROR_CASES = {
    "DescribeCacheClusters": ("CacheClusterNotFoundFault", 404),
    "DeleteCacheSubnetGroup": ("CacheSubnetGroupNotFoundFault", 400),
    "CreateCacheSecurityGroup": ("CacheSecurityGroupQuotaExceededFault", 400),
    "PurchaseReservedCacheNodesOffering": ("ReservedCacheNodeAlreadyExistsFault", 404),
}


class Server:
    def __init__(self, outputs, tmp_path):
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        self.proc = subprocess.Popen(
            [probe_path(), "--serve", "--outputs", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("listening "), line
        self.url = "http://" + line.split()[1]

    def client(self):
        return boto3.client(
            "elasticache",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCOUNT,
            aws_secret_access_key="secret",
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def service_model():
    return boto3.client("elasticache", region_name=REGION).meta.service_model


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    server = Server({}, tmp_path_factory.mktemp("echo"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def output_server(tmp_path_factory, service_model):
    outputs = {}
    for op_name in OPERATIONS:
        shape = service_model.operation_model(op_name).output_shape
        outputs[op_name] = to_json(Builder().value(shape, op_name)) if shape else None
    server = Server(outputs, tmp_path_factory.mktemp("outputs"))
    yield server, outputs
    server.stop()


@pytest.fixture(scope="module")
def error_server(tmp_path_factory):
    outputs = {op: {"$error": error} for op, (error, _status) in ERROR_CASES.items()}
    server = Server(outputs, tmp_path_factory.mktemp("errors"))
    yield server
    server.stop()


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_http_input(echo_server, service_model, op_name):
    params = Builder().value(service_model.operation_model(op_name).input_shape, op_name)
    with pytest.raises(ClientError) as info:
        getattr(echo_server.client(), xform_name(op_name))(**params)
    err = info.value.response
    assert err["Error"]["Code"] == "InvalidParameterValue"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    echoed = json.loads(err["Error"]["Message"])
    assert echoed == {"input": to_json(params), "account": ACCOUNT, "region": REGION}


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_http_output(output_server, service_model, op_name):
    server, outputs = output_server
    op = service_model.operation_model(op_name)
    params = Builder().value(op.input_shape, op_name)
    response = getattr(server.client(), xform_name(op_name))(**params)
    meta = response.pop("ResponseMetadata")
    assert meta["HTTPStatusCode"] == 200
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
    assert meta["HTTPHeaders"]["content-type"] == "text/xml"
    expected = Builder().value(op.output_shape, op_name) if op.output_shape else {}
    assert response == expected


@pytest.mark.parametrize("op_name", sorted(ERROR_CASES))
def test_http_errors(error_server, service_model, op_name):
    shape_name, status = ERROR_CASES[op_name]
    client = error_server.client()
    params = Builder().value(service_model.operation_model(op_name).input_shape, op_name)
    exception = getattr(client.exceptions, shape_name)
    with pytest.raises(exception) as info:
        getattr(client, xform_name(op_name))(**params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert info.value.response["Error"]["Message"] == f"canned {shape_name}"


def test_unknown_action_is_a_plain_client_error(echo_server):
    import urllib.request

    request = urllib.request.Request(echo_server.url + "/", data=b"Action=Nope&Version=2015-02-02")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    body = info.value.read().decode()
    assert "<Code>InvalidAction</Code>" in body
    assert info.value.headers["x-amzn-RequestId"]
