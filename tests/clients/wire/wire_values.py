"""Maximal values for botocore shapes, shared by the wire suites."""

import datetime

SPECIAL = "a b+c&d=e%f<g>'\"é€"  # exercises form encoding and XML escaping
PATTERN_VALUES = {
    r".*\S.*": "on ~* +@all",
    r"\d+": "0012",
    "[a-zA-Z]*": "redis",
    r"[a-zA-Z][a-zA-Z0-9\-]*": "user-01",
}
TIMESTAMP = datetime.datetime(2024, 2, 29, 23, 59, 58, 123000, tzinfo=datetime.timezone.utc)


class Builder:
    """Builds maximal values for shapes: every member set, lists of two items."""

    def __init__(self, empty_lists=False):
        self.empty_lists = empty_lists
        self.counter = 0

    def value(self, shape, name, depth=0):
        assert depth < 20, "recursive shape"
        t = shape.type_name
        self.counter += 1
        if t == "structure":
            return {m: self.value(s, m, depth + 1) for m, s in shape.members.items()}
        if t == "list":
            meta = shape.metadata
            if self.empty_lists and meta.get("min", 0) == 0:
                return []
            count = 2 if meta.get("max", 2) >= 2 else 1
            return [self.value(shape.member, name, depth + 1) for _ in range(count)]
        if t == "string":
            if shape.enum:
                return shape.enum[self.counter % len(shape.enum)]
            pattern = shape.metadata.get("pattern")
            if pattern:
                return PATTERN_VALUES[pattern]
            value = f"{name}-{self.counter}-{SPECIAL}"
            return value[: shape.metadata.get("max", len(value))]
        if t in ("integer", "long"):
            return 1000 + self.counter
        if t == "boolean":
            return self.counter % 2 == 0
        if t in ("double", "float"):
            return self.counter + 0.25
        if t == "timestamp":
            return TIMESTAMP + datetime.timedelta(seconds=self.counter)
        raise AssertionError(f"unexpected type {t}")


def to_json(value):
    """Python value → the JSON our codecs use (timestamps as AWS ISO-8601 strings)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        v = value.astimezone(datetime.timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    return value
