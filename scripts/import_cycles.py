#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a circle.

The rule (docs/architecture.md, "Where code lives"): inside each crate, imports go one way,
from the modules that run things (connections, nodes, handlers) down to the state and the
formats they use. A circle means two modules can no longer be read, tested or changed alone.

Two graphs are checked per crate, both built from `crate::` and `super::` paths outside
`#[cfg(test)]` modules (tests may reach across layers to build what they need):
  - top-level modules (`src/engine/**` is one node `engine`);
  - files (`src/engine/replication.rs` is one node `engine::replication`).
A parent `mod.rs` re-exporting what its children define is a hub, not an edge: its relative
paths (`txn::COMMANDS`) are module declarations and registrations, not imports.

Usage: scripts/import_cycles.py [crate-src-dir ...]   (default: every crate of the workspace)
Exit status 1 and one line per circle when any is found.
"""

import collections
import os
import re
import sys

DEFAULT_ROOTS = ["src", "crates/ecl-redis/src", "crates/ecl-memcached/src", "crates/ecl-net/src"]
TEST_MODULE = re.compile(r"\n#\[cfg\(test\)\]\s*\n(?:pub )?mod \w+")
PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")
BRACED = re.compile(r"\b(crate|super)((?:::\w+)*)::\{([^}]*)\}")


def modules(root):
    """Module path (`engine::replication`) -> file, for every .rs file outside bin/."""
    found = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if not name.endswith(".rs") or rel.startswith("bin" + os.sep):
                continue
            path = rel[:-3].replace(os.sep, "::")
            path = path[: -len("::mod")] if path.endswith("::mod") else path
            if path not in ("lib", "main"):
                found[path] = os.path.join(root, rel)
    return found


def source_without_tests(file):
    text = open(file, encoding="utf-8").read()
    cut = TEST_MODULE.search(text)
    text = text[: cut.start()] if cut else text
    return "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("//"))


def file_edges(found):
    """Edges between files: the longest module path a `crate::`/`super::` path names."""

    def resolve(path):
        parts = path.split("::")
        for i in range(len(parts), 0, -1):
            if "::".join(parts[:i]) in found:
                return "::".join(parts[:i])
        return None

    edges = collections.defaultdict(set)
    for mod, file in found.items():
        text = source_without_tests(file)
        parent = "::".join(mod.split("::")[:-1])
        base = {"crate": "", "super": parent}
        named = []
        for m in BRACED.finditer(text):
            prefix = (base[m.group(1)] + m.group(2)).strip(":")
            for item in m.group(3).split(","):
                item = item.strip().split(" ")[0]
                if item:
                    named.append(prefix if item == "self" else f"{prefix}::{item}".strip(":"))
        named += [(base[m.group(1)] + m.group(2)).strip(":") for m in PATH.finditer(text)]
        for path in named:
            target = resolve(path)
            # A module's own ancestors are hubs (see the module docs), not dependencies.
            if target and target != mod and not mod.startswith(target + "::"):
                edges[mod].add(target)
    return edges


def circles(nodes, edges):
    """Strongly connected components of more than one node (iterative Tarjan)."""
    index, low, on_stack, stack, result, counter = {}, {}, set(), [], [], [0]
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def check(root):
    found = modules(root)
    by_file = file_edges(found)
    top = lambda m: m.split("::")[0]
    by_module = collections.defaultdict(set)
    for a, targets in by_file.items():
        by_module[top(a)].update(top(b) for b in targets if top(b) != top(a))
    problems = [f"{root}: modules {' <-> '.join(c)}" for c in circles(sorted({top(m) for m in found}), by_module)]
    problems += [f"{root}: files {' <-> '.join(c)}" for c in circles(sorted(found), by_file)]
    return problems


def main():
    roots = sys.argv[1:] or DEFAULT_ROOTS
    problems = [p for root in roots for p in check(root)]
    for p in problems:
        print(f"import circle: {p}")
    if not problems:
        print(f"no import circles in {', '.join(roots)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
