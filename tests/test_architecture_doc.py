"""docs/ARCHITECTURE.md and the code tell the same story: the module map, the error tree.

Also: every expected error survives pickling, because Ray ships exceptions between processes.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import re
from pathlib import Path

import pytest

from tailorcast import errors

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
ROOMS = ("tailorcast", "renderer", "microsite", "workers", "store", "public_server", "results", "studio")
# Files that are not modules a reader looks for in the map: package markers and migration scripts.
UNLISTED = re.compile(r"(^|/)__init__\.py$|^store/migrations/versions/")


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"docs/ARCHITECTURE.md has no '## {title}' section"
    return m.group(1)


def _map_entries() -> list[str]:
    rows = [line for line in _section("Module map").splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in rows]


def _source_modules() -> set[str]:
    found = set()
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "__pycache__" not in rel and not UNLISTED.search(rel):
                found.add(rel)
    return found


def test_module_map_lists_every_module():
    listed = set(_map_entries())
    missing = sorted(_source_modules() - listed)
    assert not missing, f"docs/ARCHITECTURE.md's module map misses {missing}: add a row for each"


def test_module_map_lists_nothing_that_does_not_exist():
    ghosts = [entry for entry in _map_entries() if not (ROOT / entry).exists()]
    assert not ghosts, f"docs/ARCHITECTURE.md's module map lists {ghosts}, which do not exist: remove or rename them"


def test_module_map_has_no_duplicate_rows():
    entries = _map_entries()
    assert len(entries) == len(set(entries))


def _error_classes() -> set[type]:
    """Every TailorcastError subclass defined in the project's packages."""
    for room in ROOMS:
        pkg = importlib.import_module(room)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{room}."):
            if ".migrations" in info.name:
                continue
            importlib.import_module(info.name)
    seen, todo = set(), [errors.TailorcastError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in ROOMS and sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return seen


def _tree_names(text: str) -> list[str]:
    """Class names on the lines of a drawn tree: the root, or a name after a ├── / └── branch."""
    return re.findall(r"^\s*(?:[│ ]*[├└]── )?([A-Z][A-Za-z]+)(?=\s{2,}|$)", text, re.M)


def test_error_tree_in_the_docs_is_the_one_in_errors_py():
    block = re.search(r"```\n(TailorcastError.*?)```", _section("Errors"), re.S)
    assert block, "the Errors section draws the tree in a code block starting with TailorcastError"
    doc_tree = [line.rstrip() for line in block.group(1).strip().splitlines()]
    code_tree = [line.rstrip()[4:] for line in errors.__doc__.splitlines() if line.startswith("    ") and _tree_names(line)]
    assert doc_tree == code_tree, "docs/ARCHITECTURE.md's error tree differs from tailorcast/errors.py's docstring"


def test_error_tree_names_every_error_class():
    drawn = set(_tree_names(errors.__doc__))
    defined = {cls.__name__ for cls in _error_classes()}
    assert defined <= drawn, f"not drawn in tailorcast/errors.py's tree: {sorted(defined - drawn)}"
    for name in drawn - {"TailorcastError"}:
        assert name in defined, f"{name} is drawn in the error tree but is not a TailorcastError subclass"


def _example_args(cls: type) -> list:
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    args = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        ann = str(p.annotation)
        if "int" in ann and "str" not in ann:
            args.append(7)
        elif "Problem" in ann:
            args.append([errors.Problem("template.yaml:3 scenes[0]", "a problem")])
        elif "bool" in ann:
            args.append(True)
        else:
            args.append(f"value of {p.name}")
    return args


@pytest.mark.parametrize("cls", sorted(_error_classes(), key=lambda c: c.__qualname__), ids=lambda c: c.__name__)
def test_every_error_survives_pickling(cls):
    exc = cls(*_example_args(cls))
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls
    assert str(back) == str(exc)
    assert back.args == exc.args
    assert getattr(back, "retryable", None) == getattr(exc, "retryable", None)
