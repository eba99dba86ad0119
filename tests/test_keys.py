"""Every bucket key is built in tailorcast/keys.py: a scan of the code finds a key assembled anywhere else.

The scan reads the string constants of every module (f-string parts included, docstrings left out) and
flags those that look like a key or a key's part: ``c/…``, ``shared/…``, ``runs/…``, ``video-``,
``poster-``, ``captions.``, ``index.html``, a live still's ``o/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tailorcast import keys

ROOT = Path(__file__).resolve().parent.parent
CODE = ("tailorcast", "renderer", "microsite", "workers", "store", "public_server", "bench")
KEYS_MODULE = "tailorcast/keys.py"
KEY_PART = re.compile(r"^(c|shared|runs)/|(^|/)(video|poster)-|captions\.|index\.html|(^|/)o/")


def key_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of the string constants that look like bucket keys or their parts; docstrings excluded."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and KEY_PART.search(node.value)]


def test_no_key_is_assembled_outside_keys_py():
    found, seen = [], 0
    for room in CODE:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == KEYS_MODULE:
                continue
            seen += 1
            found += [f"{rel}:{line}: {text!r}" for line, text in key_literals(path.read_text(encoding="utf-8"))]
    assert seen > 50
    assert not found, "bucket keys built outside tailorcast/keys.py (add a function there and call it):\n" + "\n".join(found)


def test_keys_py_builds_every_kind_of_key():
    assert key_literals((ROOT / KEYS_MODULE).read_text(encoding="utf-8")), "the scan would see keys.py's own key parts"


@pytest.mark.parametrize("source,caught", [
    ('key = f"c/{token}/video.mp4"', True),
    ('url = "shared/css/" + digest + ".css"', True),
    ('path = f"runs/{run_id}/manifest.csv"', True),
    ('name = f"video-{rendition}.mp4"', True),
    ('name = "poster-" + rendition + ".jpg"', True),
    ('name = f"captions.{lang}.vtt"', True),
    ('page = prefix + "index.html"', True),
    ('still = prefix + f"o/{rendition}-{n}.png"', True),
    ('def f():\n    """Writes c/<token>/index.html."""\n    return 1', False),  # a docstring is prose
    ('out = tmp / "video.mp4"\nposter = tmp / "poster.jpg"\nlist_file = "segments.txt"', False),  # local files
    ('help = "Output file (default preview.png or preview.mp4)."', False),
])
def test_the_scan_catches_a_key_built_by_hand(source, caught):
    assert bool(key_literals(source)) is caught


def _layout_paths(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if re.match(r"\s*(c|shared|runs)/\S+\s", line)]


def test_readme_bucket_layout_is_the_one_in_keys_py():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Bucket layout\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert m, "README.md has no '## Bucket layout' section"
    assert _layout_paths(m.group(1)) == _layout_paths(keys.__doc__) != []


def test_only_stills_and_captions_are_built_with_the_page():
    assert keys.built_with_the_page("o/wide-0.webp") and keys.built_with_the_page("o/portrait.webp")
    assert keys.built_with_the_page("captions.fr.vtt")
    for kept in ("index.html", "video-wide.mp4", "poster-tall.jpg", "captions.fr.txt", "other/o/x"):
        assert not keys.built_with_the_page(kept), kept


def test_customer_file_names():
    tok = "A" * 32
    assert keys.customer_page(tok) == f"c/{tok}/{keys.PAGE_NAME}" == f"c/{tok}/index.html"
    assert keys.video_name("portrait") == "video-portrait.mp4" and keys.poster_name("landscape") == "poster-landscape.jpg"
    assert keys.live_sheet_file(tok, keys.live_sheet_name("portrait")) == f"c/{tok}/o/portrait.webp"
    assert keys.live_sheet_file(tok, keys.live_sheet_name("portrait", 2)) == f"c/{tok}/o/portrait.2.webp"
    # a rendition's name has no dot: a second sheet of one rendition is never the first of another
    assert keys.live_sheet_name("tall", 1) != keys.live_sheet_name("tall-1")
    import json

    from tailorcast.paths import SCHEMA_PATH

    rendition = json.loads(SCHEMA_PATH.read_text())["properties"]["video"]["properties"]["renditions"]["propertyNames"]
    assert "." not in rendition["pattern"] and rendition["pattern"].startswith("^[a-z]")
    import re

    for bad in ("tall.1", "tall."):  # the schema refuses a rendition named like another's second sheet
        assert not re.search(rendition["pattern"], bad)
    for bad in ("../x", "Wide", "a/b"):
        with pytest.raises(ValueError):
            keys.video_name(bad)
        with pytest.raises(ValueError):
            keys.live_sheet_name(bad)
    with pytest.raises(ValueError):
        keys.live_sheet_name("portrait", -1)
