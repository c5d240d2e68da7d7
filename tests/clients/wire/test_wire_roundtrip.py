"""Wire round trip of every ElastiCache operation against botocore's own serializer and parser.

For each of the model's operations:
- input: a maximal input (every member, lists of two, nested structures, every scalar type)
  is serialized by botocore's query serializer, decoded by our decoder (through the generated
  typed structs) and compared with the original;
- empty lists: the same with every list that may be empty set to [] (botocore sends `Name=`);
- output: a maximal output is encoded by our XML encoder (through the typed structs) and parsed
  by botocore's query parser, then compared with the original;
- errors: every modeled exception round-trips to the right botocore exception class and HTTP status.

Run with `python3 -m pytest tests/clients/wire` after `cargo build`.
"""

import urllib.parse

import boto3
import botocore.parsers
import botocore.serialize
import pytest

from conftest import probe  # noqa: F401  (fixture)
from wire_values import Builder, to_json


def _operations():
    import botocore.session

    model = botocore.session.get_session().get_service_model("elasticache")
    return sorted(model.operation_names)


OPERATIONS = _operations()


def form_body(service_model, op_name, params, validate=True):
    serializer = botocore.serialize.create_serializer("query", include_validation=validate)
    request = serializer.serialize_to_request(params, service_model.operation_model(op_name))
    body = request["body"]
    assert isinstance(body, dict)
    # What botocore's AWSRequest does with a dict body.
    return urllib.parse.urlencode(body, doseq=True, encoding="utf-8")


def decode(probe, op_name, body):  # noqa: F811
    answer = probe.ask({"op": op_name, "decode": body})
    assert "ok" in answer, f"{op_name}: decoder refused {body!r}: {answer}"
    return answer["ok"]


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_input_round_trip(probe, service_model, op_name):  # noqa: F811
    shape = service_model.operation_model(op_name).input_shape
    params = Builder().value(shape, op_name)
    body = form_body(service_model, op_name, params)
    assert decode(probe, op_name, body) == to_json(params)


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_input_empty_lists(probe, service_model, op_name):  # noqa: F811
    shape = service_model.operation_model(op_name).input_shape
    params = Builder(empty_lists=True).value(shape, op_name)
    body = form_body(service_model, op_name, params)
    assert decode(probe, op_name, body) == to_json(params)


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_input_minimal(probe, service_model, op_name):  # noqa: F811
    """Only the required members: nothing else appears in the decoded value."""
    shape = service_model.operation_model(op_name).input_shape
    full = Builder().value(shape, op_name)
    params = {k: v for k, v in full.items() if k in shape.required_members}
    body = form_body(service_model, op_name, params)
    assert decode(probe, op_name, body) == to_json(params)
    for missing in shape.required_members:
        partial = {k: v for k, v in params.items() if k != missing}
        answer = probe.ask({"op": op_name, "decode": form_body(service_model, op_name, partial, validate=False)})
        assert answer.get("error", {}).get("code") == "MissingParameter", answer
        assert answer["error"]["message"] == f"The request must contain the parameter {missing}"


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_output_round_trip(probe, service_model, op_name):  # noqa: F811
    op = service_model.operation_model(op_name)
    parser = botocore.parsers.create_parser("query")
    output = Builder().value(op.output_shape, op_name) if op.output_shape else None
    answer = probe.ask({"op": op_name, "encode": to_json(output)})
    assert "xml" in answer, f"{op_name}: encoder refused: {answer}"
    xml = answer["xml"]
    assert xml.startswith(f"<{op_name}Response ")
    parsed = parser.parse(
        {"body": xml.encode("utf-8"), "headers": {}, "status_code": 200}, op.output_shape
    )
    assert parsed.pop("ResponseMetadata")["RequestId"] == "ecl-wire-probe-request"
    assert parsed == (output or {})
    if op.output_shape is None:
        assert "Result>" not in xml
    else:
        assert f"<{op_name}Result>" in xml


@pytest.mark.parametrize("op_name", OPERATIONS)
def test_output_empty_lists(probe, service_model, op_name):  # noqa: F811
    op = service_model.operation_model(op_name)
    if op.output_shape is None:
        pytest.skip("no output shape")
    parser = botocore.parsers.create_parser("query")
    output = Builder(empty_lists=True).value(op.output_shape, op_name)
    answer = probe.ask({"op": op_name, "encode": to_json(output)})
    parsed = parser.parse(
        {"body": answer["xml"].encode("utf-8"), "headers": {}, "status_code": 200}, op.output_shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed == output


def _exception_shapes():
    import botocore.session

    model = botocore.session.get_session().get_service_model("elasticache")
    return sorted(model.error_shapes, key=lambda s: s.name)


@pytest.mark.parametrize("shape", _exception_shapes(), ids=lambda s: s.name)
def test_error_round_trip(probe, shape):  # noqa: F811
    client = boto3.client(
        "elasticache", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    answer = probe.ask({"error": shape.name, "message": f"{shape.name} <&> happened"})
    assert "xml" in answer, answer
    assert answer["status"] == shape.metadata["error"]["httpStatusCode"]
    parser = botocore.parsers.create_parser("query")
    parsed = parser.parse(
        {"body": answer["xml"].encode("utf-8"), "headers": {}, "status_code": answer["status"]},
        None,
    )
    error = parsed["Error"]
    assert error["Code"] == shape.metadata["error"]["code"]
    assert error["Message"] == f"{shape.name} <&> happened"
    sender = shape.metadata["error"].get("senderFault", True)
    assert error["Type"] == ("Sender" if sender else "Receiver")
    assert parsed["ResponseMetadata"]["RequestId"] == "ecl-wire-probe-request"
    assert client.exceptions.from_code(error["Code"]).__name__ == shape.name


def test_every_operation_is_covered():
    assert len(OPERATIONS) == 75


def test_reduced_model_is_reproducible(tmp_path):
    """api-models/ is exactly what tools/reduce_model.py makes from the installed botocore."""
    import subprocess
    import sys

    from conftest import ROOT

    out, readme = tmp_path / "model.json", tmp_path / "README.md"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "reduce_model.py"), "--out", str(out), "--readme", str(readme)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (ROOT / "api-models" / "elasticache-2015-02-02.json").read_bytes()
    assert readme.read_text() == (ROOT / "api-models" / "README.md").read_text()
