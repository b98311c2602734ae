"""The layers' rules, read from the source: imports point lstm -> mapping -> crossbar, and nothing outside
crossbar touches a private name of a crossbar object (it asks crossbar through a public method)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORBIDDEN = {"crossbar": ("mapping", "lstm"), "mapping": ("lstm",)}


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
              "from crossbar.read import _chunks\n"
              "a = crossbar.CrossbarArray\n"
              "g = a._conductance\n"
              "h = getattr(a, '_signal_conductance')()\n"
              "hasattr(a, '_plan')\n"
              "getattr(a, 'conductance')\n")
    found = _private_uses(ast.parse(source), _crossbar_private_names(), "snippet")
    assert sorted(f.split(": ", 1)[1] for f in found) == sorted([
        "import _chunks", "._conductance", "getattr(..., '_signal_conductance')", "hasattr(..., '_plan')"])


@pytest.mark.parametrize("package", ["mapping", "lstm", "benchmarks"])
def test_no_private_name_of_crossbar_is_used_outside_it(package):
    private = _crossbar_private_names()
    found = []
    for path in _python_files(package):
        found += _private_uses(ast.parse(path.read_text()), private, path.relative_to(ROOT))
    assert not found, "private names of crossbar used outside it:\n" + "\n".join(found)
