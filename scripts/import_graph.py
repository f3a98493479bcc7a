"""The package's import graph between its subpackages, module-level and function-level imports
alike (read with ``ast``, nothing is imported), and its cycles.

    python scripts/import_graph.py            # edges and cycles of nif_zoo/
    python scripts/import_graph.py --check    # exit 1 if a subpackage cycle exists

Top-level modules (``nif_zoo/cli.py``, ``nif_zoo/reproduce.py``, ...) count as units of their
own; ``nif_zoo/__init__.py`` (lazy re-exports) is left out.
"""
from __future__ import annotations

import argparse
import ast
import collections
import os
import sys

ROOT = os.environ.get("NIF_ZOO_SRC") or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "nif_zoo")


def unit_of(module: str) -> str:
    """nif_zoo.models.model -> models; nif_zoo.cli -> cli."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def imports(path: str):
    """(imported module, line, function-level?) of every nif_zoo import in a file."""
    tree = ast.parse(open(path).read(), path)
    nested = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nif_zoo"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            yield names, node.lineno, id(node) in nested
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("nif_zoo"):
                    yield [a.name], node.lineno, id(node) in nested


def graph():
    edges = collections.defaultdict(list)  # (from unit, to unit) -> [file:line]
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(folder, f)
            src = module_name(path)
            if src == "nif_zoo":
                continue
            for names, line, _ in imports(path):
                # "from nif_zoo import zoo" names the subpackage in the imported name
                target = next((n for n in names[1:] if len(n.split(".")) == 2
                               and os.path.exists(os.path.join(ROOT, n.split(".")[1]))),
                              names[0])
                a, b = unit_of(src), unit_of(target)
                if a != b and b != "nif_zoo":
                    edges[(a, b)].append(f"{os.path.relpath(path, os.path.dirname(ROOT))}:{line}")
    return edges


def cycles(edges):
    """Strongly connected components with more than one unit (Tarjan)."""
    nodes = sorted({u for e in edges for u in e})
    succ = collections.defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 on a cycle")
    args = parser.parse_args()
    edges = graph()
    for (a, b), where in sorted(edges.items()):
        print(f"{a:>10} -> {b:<10} ({len(where)}: {', '.join(where[:3])}"
              f"{', ...' if len(where) > 3 else ''})")
    found = cycles(edges)
    print("cycles:", "; ".join(" <-> ".join(c) for c in found) if found else "none")
    if args.check and found:
        sys.exit(1)


if __name__ == "__main__":
    main()
