"""The shape of the house (issue 12): the import graph of gateway/ points one way, with no circle,
counting imports inside functions and under TYPE_CHECKING (a circle there is a circle a newcomer
has to untangle all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(root: Path) -> dict[str, Path]:
    """Every module under root/gateway by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / "gateway").rglob("*.py")):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the gateway modules it imports anywhere in its text. `from a.b import c` counts
    as importing a.b and, where a.b.c is a module, a.b.c too."""
    mods = modules(root)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                hit = known(target)
                if hit is not None and hit != name:
                    graph[name].add(hit)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_circle_in_gateway() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_the_circle_finder_finds_circles_through_functions_and_packages(tmp_path: Path) -> None:
    """The check above can fail: a circle through an import inside a function, one through
    TYPE_CHECKING, one through a relative import, and a package that imports its own user."""
    files = {
        "gateway/__init__.py": "",
        "gateway/a.py": "def f():\n    from gateway import b\n",
        "gateway/b.py": "import gateway.a\n",
        "gateway/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import X\n",
        "gateway/d.py": "from gateway.c import Y\n",
        "gateway/p/__init__.py": "from gateway.p.q import run\n",
        "gateway/p/q.py": "from gateway.e import thing\n",
        "gateway/e.py": "from gateway.p import q\n",
        "gateway/alone.py": "import gateway.a\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert sorted(cycles(import_graph(tmp_path))) == [
        ["gateway.a", "gateway.b"],
        ["gateway.c", "gateway.d"],
        ["gateway.e", "gateway.p", "gateway.p.q"],
    ]


# The edges (the console's pages and API handlers, the command line) call services, never the
# store: a handler that reaches into gateway/store is a second place where a rule can be forgotten.
# The wiring that builds the stores is gateway/context.py and gateway/services/console.py.
EDGES = ("gateway.staff", "gateway.cli")


def store_imports_of_edges(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (module, target)
        for module, targets in graph.items()
        if module.startswith(EDGES)
        for target in targets
        if target == "gateway.store" or target.startswith("gateway.store.")
    }


def test_no_edge_imports_the_store() -> None:
    assert store_imports_of_edges(import_graph(ROOT)) == set(), "edges importing the store"


def test_the_edge_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    files = {
        "gateway/__init__.py": "",
        "gateway/store/__init__.py": "",
        "gateway/store/users.py": "",
        "gateway/staff/__init__.py": "",
        "gateway/staff/page.py": "def f():\n    from gateway.store.users import X\n",
        "gateway/cli/__init__.py": "from gateway import store\n",
        "gateway/services.py": "import gateway.store.users\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert store_imports_of_edges(import_graph(tmp_path)) == {
        ("gateway.staff.page", "gateway.store.users"),
        ("gateway.cli", "gateway.store"),
    }


# The fields of a flag order (gateway.orders), which a function takes as one value, not spelled
# out again as its own parameters on the way from a front end to the rules.
ORDER_FIELDS = {"atena_number", "basis", "auto_response_disabled", "non_disclosure"}


def functions_taking_an_order_apart(root: Path) -> list[str]:
    found = []
    for name, path in modules(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
                if params >= ORDER_FIELDS:
                    found.append(f"{name}.{node.name}")
    return sorted(found)


def test_flag_and_release_orders_travel_as_one_value() -> None:
    assert functions_taking_an_order_apart(ROOT) == []


def readme_layout(root: Path) -> set[str]:
    """The modules and packages README's "How it is built" names at the first level of gateway/."""
    text = (root / "README.md").read_text(encoding="utf-8")
    block = text.split("## How it is built", 1)[1].split("```", 2)[1]
    named = set()
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            head = line.strip().split("  ", 1)[0]
            named.update(part.strip() for part in head.split(","))
    return named


def test_the_readme_names_every_module_of_the_tree_and_nothing_else() -> None:
    gateway = ROOT / "gateway"
    tree = {p.name for p in gateway.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    tree |= {
        f"{p.name}/"
        for p in gateway.iterdir()
        if p.is_dir() and p.name != "__pycache__" and not p.name.endswith(".egg-info")
    }
    assert readme_layout(ROOT) == tree
