#!/usr/bin/env python3
"""Reduce botocore's ElastiCache service model to what the wire layer needs.

Reads `elasticache/2015-02-02/service-2.json` (or `.json.gz`) from the installed botocore
package and writes `api-models/elasticache-2015-02-02.json`: metadata, operations (input and
output shapes, result wrapper, errors) and shapes (type, members, required, list members,
constraints, enums, error codes), without any documentation text. Output is deterministic
(sorted keys, two-space indent) so that re-running the script on the same botocore version
produces a byte-identical file; `api-models/README.md` records the provenance.

Usage: python3 tools/reduce_model.py [--source PATH] [--out PATH] [--readme PATH]
"""

import argparse
import gzip
import hashlib
import json
import os
import sys

SERVICE = "elasticache"
API_VERSION = "2015-02-02"

# Whitelists: everything not named here (documentation, examples, deprecation prose) is dropped.
METADATA_KEYS = {
    "apiVersion", "endpointPrefix", "protocol", "protocols", "serviceFullName", "serviceId",
    "signatureVersion", "uid", "xmlNamespace",
}
SHAPE_KEYS = {
    "type", "required", "flattened", "min", "max", "pattern", "enum", "error", "exception",
    "wrapper", "locationName", "synthetic",
}
MEMBER_KEYS = {"shape", "locationName", "flattened", "xmlAttribute", "xmlNamespace"}
ERROR_KEYS = {"code", "httpStatusCode", "senderFault"}


def find_source():
    """Locate service-2.json(.gz) inside the installed botocore package."""
    import botocore  # imported lazily so --source works without botocore installed

    base = os.path.join(os.path.dirname(botocore.__file__), "data", SERVICE, API_VERSION)
    for name in ("service-2.json", "service-2.json.gz"):
        path = os.path.join(base, name)
        if os.path.exists(path):
            return path, botocore.__version__
    sys.exit(f"no service-2.json(.gz) under {base}")


def load(path):
    raw = open(path, "rb").read()
    digest = hashlib.sha256(raw).hexdigest()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw), digest


def reduce_member(member):
    return {k: v for k, v in member.items() if k in MEMBER_KEYS}


def reduce_shape(shape):
    out = {k: v for k, v in shape.items() if k in SHAPE_KEYS}
    if "error" in out:
        out["error"] = {k: v for k, v in out["error"].items() if k in ERROR_KEYS}
    if "members" in shape:
        out["members"] = {n: reduce_member(m) for n, m in shape["members"].items()}
    if "member" in shape:
        out["member"] = reduce_member(shape["member"])
    return out


def reduce_operation(op):
    out = {"name": op["name"], "http": op.get("http", {})}
    if "input" in op:
        out["input"] = {"shape": op["input"]["shape"]}
    if "output" in op:
        out["output"] = {
            k: v for k, v in op["output"].items() if k in ("shape", "resultWrapper")
        }
    out["errors"] = [e["shape"] for e in op.get("errors", [])]
    return out


def reduce_model(model):
    return {
        "metadata": {k: v for k, v in model["metadata"].items() if k in METADATA_KEYS},
        "operations": {n: reduce_operation(o) for n, o in model["operations"].items()},
        "shapes": {n: reduce_shape(s) for n, s in model["shapes"].items()},
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="path to service-2.json or service-2.json.gz")
    parser.add_argument(
        "--out", default=os.path.join(root, "api-models", f"{SERVICE}-{API_VERSION}.json")
    )
    parser.add_argument("--readme", default=os.path.join(root, "api-models", "README.md"))
    args = parser.parse_args()

    if args.source:
        source, version = args.source, "unknown (explicit --source)"
    else:
        source, version = find_source()
    model, digest = load(source)
    reduced = reduce_model(model)
    text = json.dumps(reduced, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)

    # Provenance: the path is recorded relative to the botocore package so it is
    # machine-independent.
    rel = source
    marker = os.sep + "botocore" + os.sep
    if marker in source:
        rel = "botocore/" + source.split(marker, 1)[1].replace(os.sep, "/")
    with open(args.readme, "w", encoding="utf-8") as f:
        f.write(README.format(
            version=version, source=rel, sha=digest,
            ops=len(reduced["operations"]), shapes=len(reduced["shapes"]),
            out_sha=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        ))
    print(f"wrote {args.out}: {len(reduced['operations'])} operations, "
          f"{len(reduced['shapes'])} shapes")


README = """# api-models

`elasticache-2015-02-02.json` is the Amazon ElastiCache service model (API version 2015-02-02),
reduced to what the wire layer needs: metadata, operations (input/output shape, result wrapper,
errors) and shapes (type, members, required, list members and their location names, constraints,
enums, error codes). All documentation text is removed.

It is the single source of truth for the wire: `build.rs` generates the typed Rust structs, the
operation dispatch and the error catalogue from it, and the generic query decoder / XML encoder in
`src/control/protocol/` walk it at run time.

## Provenance

| | |
|---|---|
| Source package | botocore {version} (PyPI) |
| Source file | `{source}` |
| Source sha256 | `{sha}` |
| Reduced file sha256 | `{out_sha}` |
| Operations / shapes | {ops} / {shapes} |

Regenerate (deterministic, sorted keys):

```sh
python3 tools/reduce_model.py
```

The model is part of botocore, Copyright Amazon.com, Inc. or its affiliates, licensed under the
Apache License 2.0; see `NOTICE`.
"""

if __name__ == "__main__":
    main()
