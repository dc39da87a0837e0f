"""The project's structure as a whole: no import cycle between its modules, no module over 500 lines.

The import graph is read from the source with `ast` (module-level and function-level imports alike:
an import deferred into a function still makes the two modules depend on each other). A node is a
module of the project (`metrics.retrieval`, `utils`, a package's `__init__` as the package's name);
`from pkg import name` is an edge to `pkg.name` when that is a module, else to `pkg` itself.
"""

import ast
import graphlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {"tests", ".git", ".venv", "__pycache__", ".pytest_cache"}
MAX_LINES = 500


def _project_modules(root=ROOT):
    """{dotted module name: path} for every .py file of the project (symbolic links excluded: they
    point at a module that is listed under its own name)."""
    modules = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        rel = os.path.relpath(folder, root)
        parts = [] if rel == "." else rel.split(os.sep)
        for name in sorted(files):
            path = os.path.join(folder, name)
            if not name.endswith(".py") or os.path.islink(path):
                continue
            stem = name[:-3]
            dotted = ".".join(parts if stem == "__init__" else parts + [stem])
            modules[dotted] = path
    return modules


def _is_package(dotted, modules):
    return modules[dotted].endswith("__init__.py")


def _resolve(base, modules):
    """The project module an import of `base` loads itself (its longest prefix that is a module)."""
    parts = base.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph(modules):
    graph = {}
    for dotted, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        package = dotted if _is_package(dotted, modules) else dotted.rpartition(".")[0]
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [_resolve(alias.name, modules) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".") if package else []
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module
                targets = []
                for alias in node.names:
                    sub = "{}.{}".format(base, alias.name) if base else alias.name
                    targets.append(sub if sub in modules else _resolve(base, modules) if base else None)
            else:
                continue
            edges.update(t for t in targets if t is not None and t != dotted)
        graph[dotted] = edges
    return graph


def find_cycle(graph):
    """A cycle of the graph (a list of nodes, first == last), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        return e.args[1]
    return None


def test_graph_sees_the_imports_that_are_there():
    modules = _project_modules()
    graph = import_graph(modules)
    # absolute, relative and from-package imports all become edges
    assert "utils" in graph["compute_class_embedding"]
    assert {"metrics.retrieval", "metrics.classification"} <= graph["metrics"]
    assert "models.methods" in graph["models.heads"]
    assert {"datasets.base", "datasets.images"} <= graph["datasets.files"]
    assert "datasets.common" not in graph["datasets.files"]  # common only re-exports the old names now


def test_cycle_finder_can_fail(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .a import f\n")
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("import pkg.a\n")
    (tmp_path / "top.py").write_text("import pkg\n")
    graph = import_graph(_project_modules(str(tmp_path)))
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "top": {"pkg"}}
    assert sorted(set(find_cycle(graph))) == ["pkg.a", "pkg.b"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_anywhere():
    cycle = find_cycle(import_graph(_project_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(_project_modules()))
def test_module_is_at_most_500_lines(module):
    with open(_project_modules()[module], encoding="utf-8") as f:
        assert sum(1 for _ in f) <= MAX_LINES
