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


@pytest.mark.parametrize("package", ["mapping", "lstm", "benchmarks"])
def test_no_private_name_of_crossbar_is_used_outside_it(package):
    private = _crossbar_private_names()
    found = []
    for path in _python_files(package):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private:
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crossbar"):
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, "private names of crossbar used outside it:\n" + "\n".join(found)
