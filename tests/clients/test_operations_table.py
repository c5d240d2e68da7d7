"""README's ElastiCache operations table is kept true by this test.

Every one of the model's 75 operations is sent to the running emulator with a minimal request
that botocore accepts (required members only, values from the wire suites' builder). An operation
the emulator does not implement answers `InvalidAction` "... is not supported by
elasticache-local."; any other answer (success or a validation/NotFound error) means a handler
ran. The README table between the `operations:start`/`operations:end` markers must list exactly
that split. Requests go to a region no other test uses, so nothing they create is seen elsewhere.

Regenerate the table with: ECL_PRINT_OPERATIONS_TABLE=1 pytest tests/clients/test_operations_table.py -s
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import botocore.session
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

sys.path.insert(0, str(Path(__file__).parent / "wire"))
from wire_values import Builder  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_IMPLEMENTED = "is not supported by elasticache-local"
REGION = "ap-southeast-2"


def _minimal_params(shape) -> dict:
    if shape is None:
        return {}
    full = Builder().value(shape, "x")
    return {k: v for k, v in full.items() if k in shape.required_members}


def _implemented(make_client) -> dict[str, bool]:
    client = make_client(region=REGION)
    model = botocore.session.get_session().get_service_model("elasticache")
    result = {}
    for op_name in model.operation_names:
        params = _minimal_params(model.operation_model(op_name).input_shape)
        try:
            getattr(client, xform_name(op_name))(**params)
            result[op_name] = True
        except ClientError as err:
            error = err.response["Error"]
            result[op_name] = not (error.get("Code") == "InvalidAction" and NOT_IMPLEMENTED in error.get("Message", ""))
        except ParamValidationError as err:  # the builder always satisfies botocore; say so loudly
            raise AssertionError(f"{op_name}: botocore rejected the minimal request: {err}") from err
    return result


def _readme_table() -> dict[str, bool]:
    text = README.read_text()
    start, end = text.index("<!-- operations:start -->"), text.index("<!-- operations:end -->")
    rows = {}
    for line in text[start:end].splitlines():
        m = re.match(r"^\|\s*`?([A-Za-z]+)`?\s*\|\s*(yes|no)\s*\|", line)
        if m:
            rows[m.group(1)] = m.group(2) == "yes"
    return rows


def test_readme_operations_table_matches_the_emulator(make_client):
    implemented = _implemented(make_client)
    assert len(implemented) == 75
    if os.environ.get("ECL_PRINT_OPERATIONS_TABLE"):
        print(f"\n{sum(implemented.values())} of {len(implemented)} operations implemented")
        print("| Operation | Implemented |\n|---|---|")
        for op, ok in sorted(implemented.items()):
            print(f"| `{op}` | {'yes' if ok else 'no'} |")
    table = _readme_table()
    assert table == implemented, {
        op: {"readme": table.get(op), "emulator": ok} for op, ok in implemented.items() if table.get(op) != ok
    }
