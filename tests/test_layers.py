"""Every import follows the rooms table of docs/ARCHITECTURE.md (read from the doc, so they cannot drift).

Imports are read with ast, at module level and inside functions; relative imports are resolved to
their room. tailorcast/cli.py, the front door, may import every room.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
FRONT_DOOR = "tailorcast/cli.py"
EVERYTHING = "everything"
ABOVE = "<relative import above the room>"


def rooms_table(text: str) -> dict[str, set[str] | None]:
    """{room: rooms it may import} from the doc's '## Rooms' table; None means every room."""
    m = re.search(r"^## Rooms\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "docs/ARCHITECTURE.md has no '## Rooms' section"
    table: dict[str, set[str] | None] = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        allowed = None if cells[1] == EVERYTHING else set(re.findall(r"`([a-z_]+)`", cells[1]))
        for room in re.findall(r"`([a-z_]+)`", cells[0]):
            table[room] = allowed
    assert table, "the Rooms section has no `| room | may import |` rows"
    return table


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, wherever it is (functions included)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                if not base:  # climbs out of its room: no room may do that
                    out.append((node.lineno, ABOVE))
                    continue
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def violations(source: str, path: str, table: dict[str, set[str] | None]) -> list[str]:
    """Arrows from the module at ``path`` (relative to the repository) that the table does not allow."""
    if path == FRONT_DOOR:
        return []
    parts = Path(path).with_suffix("").parts
    is_package = parts[-1] == "__init__"
    module = ".".join(parts[:-1] if is_package else parts)
    room, allowed = parts[0], table[parts[0]]
    bad = []
    for line, name in imported_modules(source, module, is_package):
        if name == ABOVE:
            bad.append(f"{path}:{line}: a relative import that leaves its room; import the other room by name")
            continue
        target = name.split(".")[0]
        if target in table and target != room and allowed is not None and target not in allowed:
            bad.append(f"{path}:{line} imports {name}: room '{room}' may import only "
                       f"{', '.join(sorted(allowed)) or 'the standard library and third-party packages'}")
    return bad


def _code_rooms() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in ("tests", "bench"))


def test_every_room_is_in_the_table():
    table = rooms_table(DOC.read_text(encoding="utf-8"))
    assert set(_code_rooms()) <= set(table), f"packages missing from the Rooms table: {set(_code_rooms()) - set(table)}"
    assert {"tailorcast", "renderer", "microsite", "workers", "store", "public_server"} <= set(table)


def test_the_doc_names_the_front_door():
    m = re.search(r"^## Rooms\n(.*?)(?=^## |\Z)", DOC.read_text(encoding="utf-8"), re.S | re.M)
    assert m and f"`{FRONT_DOOR}`" in m.group(1)


def test_every_import_follows_the_rooms_table():
    table = rooms_table(DOC.read_text(encoding="utf-8"))
    bad, seen = [], 0
    for room in _code_rooms():
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            bad += violations(path.read_text(encoding="utf-8"), rel, table)
            seen += 1
    assert seen > 50
    assert not bad, "imports against the rooms of docs/ARCHITECTURE.md:\n" + "\n".join(bad)


TABLE = {"tailorcast": set(), "renderer": {"tailorcast"}, "microsite": {"tailorcast", "renderer"}, "tests": None}


@pytest.mark.parametrize("path,source,caught", [
    ("tailorcast/spec.py", "import renderer.video\n", True),
    ("tailorcast/spec.py", "def f():\n    from renderer.video import render_video\n", True),  # hidden in a function
    ("tailorcast/payments/epc.py", "from microsite import build\n", True),
    ("renderer/video.py", "from microsite.player import player_data\n", True),  # an arrow back up
    ("renderer/video.py", "from tailorcast.keys import video_name\nimport numpy\nfrom . import cache\n", False),
    ("renderer/video.py", "from ..microsite import build\n", True),  # relative, into another room
    ("tailorcast/payments/links.py", "from .. import keys\nfrom ..spec import model\n", False),
    ("microsite/build.py", "import renderer.text\n", False),
    ("tailorcast/cli.py", "from workers.run import run_billing\n", False),  # the front door
    ("tests/test_x.py", "import workers\n", False),
])
def test_the_check_catches_an_arrow_against_the_table(path, source, caught):
    assert bool(violations(source, path, TABLE)) is caught


def test_the_table_is_read_from_markdown():
    text = "## Rooms\n\n| room | may import |\n|---|---|\n| `a` | (nothing) |\n| `b` | `a` |\n| `t`, `u` | everything |\n\n## Next\n| `z` | `a` |\n"
    assert rooms_table(text) == {"a": set(), "b": {"a"}, "t": None, "u": None}
