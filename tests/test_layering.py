"""The layers' rules, read from the source: imports point xbar -> lstm -> mapping -> crossbar, inside
crossbar from the physics' upper layers to its lower ones (numerics <- devices <- circuits <- read <- array
<- the fitting tool), with no cycle between modules; and nothing outside crossbar touches a private name of a
crossbar object (it asks crossbar through a public method)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORBIDDEN = {"crossbar": ("mapping", "lstm", "xbar"), "mapping": ("lstm", "xbar"), "lstm": ("xbar",)}


def _python_files(package):
    return sorted((ROOT / package).rglob("*.py"))


def _imported_modules(tree):
    for node in ast.walk(tree):  # inside functions too
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    for path in _python_files(package):
        for module in _imported_modules(ast.parse(path.read_text())):
            top = module.split(".")[0]
            assert top not in FORBIDDEN[package], f"{path.relative_to(ROOT)} imports {module}"


def _crossbar_private_names():
    """Private attributes crossbar objects set on themselves, and crossbar's private module-level names."""
    names = set()
    for path in _python_files("crossbar"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                            and t.attr.startswith("_") and not t.attr.startswith("__")):
                        names.add(t.attr)
        for node in ast.walk(tree):  # private methods of crossbar's classes
            if isinstance(node, ast.ClassDef):
                names.update(f.name for f in node.body if isinstance(f, ast.FunctionDef)
                             and f.name.startswith("_") and not f.name.startswith("__"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_"):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id.startswith("_")
                             and not t.id.startswith("__"))
    return names


def test_the_private_name_list_sees_crossbar_state():
    names = _crossbar_private_names()
    assert {"_g0", "_conductance", "_row_conductance", "_write_start", "_plan"} <= names


_REFLECTION = ("getattr", "setattr", "hasattr", "delattr")


def _private_uses(tree, private, where):
    """Uses in ``tree`` of crossbar's private names: attributes (``obj._name``), names reached by reflection
    with a string (``getattr(obj, "_name")``) and imports (``from crossbar... import _name``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in private:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{where}:{node.lineno}: .{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _REFLECTION
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and node.args[1].value in private
              and not (isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls"))):
            found.append(f"{where}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crossbar"):
            found += [f"{where}:{node.lineno}: import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_the_check_sees_private_names_reached_every_way():
    source = ("import crossbar\n"
              "from crossbar.read.plan import _chunks\n"
              "a = crossbar.CrossbarArray\n"
              "g = a._conductance\n"
              "h = getattr(a, '_signal_conductance')()\n"
              "hasattr(a, '_plan')\n"
              "getattr(a, 'conductance')\n")
    found = _private_uses(ast.parse(source), _crossbar_private_names(), "snippet")
    assert sorted(f.split(": ", 1)[1] for f in found) == sorted([
        "import _chunks", "._conductance", "getattr(..., '_signal_conductance')", "hasattr(..., '_plan')"])


@pytest.mark.parametrize("package", ["mapping", "lstm", "xbar", "benchmarks"])
def test_no_private_name_of_crossbar_is_used_outside_it(package):
    private = _crossbar_private_names()
    found = []
    for path in _python_files(package):
        found += _private_uses(ast.parse(path.read_text()), private, path.relative_to(ROOT))
    assert not found, "private names of crossbar used outside it:\n" + "\n".join(found)


# ------------------------------------------------------------------ no import cycles between modules
PACKAGES = ("crossbar", "mapping", "lstm", "xbar")

KNOWN_CYCLES = {}
"""Cycles not yet broken, ``{name: (first module, second module)}``: the first module's import of the second
closes each, and they are left out of the graph :func:`test_no_import_cycles` checks. None now: issue 29 broke
the last (``crossbar.array.crossbar_array -> crossbar.read.plan -> crossbar.array.crossbar_array``: the state both share is in
:mod:`crossbar.read.state`)."""


def _modules(root, packages):
    """``{dotted name: (path, is a package)}`` of every module of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _import_graph(root=ROOT, packages=PACKAGES):
    """``{module: {(imported module, line)}}`` between the packages' modules: every import statement, at
    module level, inside functions and under ``TYPE_CHECKING`` alike, relative ones resolved; ``from m
    import n`` names the submodule ``m.n`` where there is one, else ``m``. A module's own packages are not
    counted (Python runs a package's ``__init__`` before its modules anyway)."""
    modules = _modules(root, packages)
    graph = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[:len(package) - (node.level - 1)]
                    base = ".".join(package + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # import a.b.c of a function or class: module a.b
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add((target, node.lineno))
    return graph


def _a_cycle(graph):
    """One import cycle of ``graph``, each step named with its lines, or None: the shortest cycle through
    the first module (in name order) that is on one."""
    edges = {m: sorted({t for t, _ in targets}) for m, targets in graph.items()}
    for start in sorted(edges):
        parent, frontier = {start: None}, [start]
        while frontier:
            following = []
            for module in frontier:
                for target in edges.get(module, ()):
                    if target == start:
                        path = [module]
                        while parent[path[-1]] is not None:
                            path.append(parent[path[-1]])
                        return _name_steps(graph, path[::-1] + [start])
                    if target not in parent:
                        parent[target] = module
                        following.append(target)
            frontier = following
    return None


def _name_steps(graph, path):
    steps = []
    for a, b in zip(path, path[1:]):
        lines = sorted(line for t, line in graph[a] if t == b)
        steps.append(f"{a} (line {', '.join(map(str, lines))}) -> {b}")
    return steps


def _without_known(graph):
    return {m: {(t, line) for t, line in targets
                if not any(m == first and t == second for first, second in KNOWN_CYCLES.values())}
            for m, targets in graph.items()}


def test_no_import_cycles():
    cycle = _a_cycle(_without_known(_import_graph()))
    assert cycle is None, "an import cycle between modules:\n  " + "\n  ".join(cycle)


def test_the_cycle_check_sees_local_and_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("import numpy\nfrom . import b\n\ndef f():\n    return b\n")
    (package / "b.py").write_text("def g():\n    from .sub.c import h\n    return h\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                          "    from ..a import f\n")
    graph = _import_graph(tmp_path, ("pkg",))
    assert {t for t, _ in graph["pkg.a"]} == {"pkg.b"} and {t for t, _ in graph["pkg.sub.c"]} == {"pkg.a"}
    cycle = _a_cycle(graph)
    assert cycle == ["pkg.a (line 2) -> pkg.b", "pkg.b (line 2) -> pkg.sub.c", "pkg.sub.c (line 3) -> pkg.a"]
    (package / "sub" / "c.py").write_text("import numpy\n")
    assert _a_cycle(_import_graph(tmp_path, ("pkg",))) is None


# ------------------------------------------------------------------ the layers inside crossbar
CROSSBAR_LAYERS = (
    ("crossbar.thread_environment", "crossbar.validation", "crossbar.settings", "crossbar.files", "crossbar.registry"),
    ("crossbar.numerics",),
    ("crossbar.devices",),
    ("crossbar.circuits",),
    ("crossbar.read",),
    ("crossbar.array",),
    ("crossbar.specs", "crossbar.presets", "crossbar"),
    ("crossbar.fitting",),
)
"""crossbar's parts from the lowest to the highest; a module imports only from its own layer or lower ones."""


def _layer_of(module):
    best, layer = -1, None
    for k, prefixes in enumerate(CROSSBAR_LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), k
    return layer


def test_crossbar_layers_import_downwards():
    graph = _import_graph(ROOT, ("crossbar",))
    unplaced = sorted(m for m in graph if _layer_of(m) is None)
    assert not unplaced, f"modules of crossbar in no layer: {unplaced}"
    upward = [f"{m} (line {line}) -> {t}" for m, targets in graph.items() for t, line in sorted(targets)
              if _layer_of(t) > _layer_of(m)]
    assert not upward, "crossbar modules importing a higher layer:\n  " + "\n  ".join(sorted(upward))


def test_the_layer_check_sees_an_upward_import():
    graph = _import_graph(ROOT, ("crossbar",))
    graph["crossbar.numerics.rounding"].add(("crossbar.read.plan", 1))
    upward = [m for m, targets in graph.items() for t, _ in targets if _layer_of(t) > _layer_of(m)]
    assert upward == ["crossbar.numerics.rounding"]
