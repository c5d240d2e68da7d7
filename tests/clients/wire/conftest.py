"""Fixtures of the wire round-trip suite: the ecl-wire-probe process and the botocore model."""

import json
import os
import pathlib
import subprocess

import botocore.session
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def probe_path():
    """The probe binary: $ECL_WIRE_PROBE, else target/debug/ecl-wire-probe (after `cargo build`)."""
    path = os.environ.get("ECL_WIRE_PROBE") or str(ROOT / "target" / "debug" / "ecl-wire-probe")
    if not os.path.exists(path):
        pytest.fail(f"{path} not found: run `cargo build` first or set ECL_WIRE_PROBE")
    return path


class Probe:
    """One long-lived probe process speaking JSON lines."""

    def __init__(self, path):
        self.proc = subprocess.Popen(
            [path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )

    def ask(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "ecl-wire-probe exited"
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def probe():
    p = Probe(probe_path())
    yield p
    p.close()


@pytest.fixture(scope="session")
def service_model():
    return botocore.session.get_session().get_service_model("elasticache")
