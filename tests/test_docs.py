"""The docs keep up with the code.

Every layer type, animation, filter, field type, schema key and enum value that exists in code must be
documented in docs/templates.md as a code span (`` `pop` ``) or a heading, and every CLI command in
README.md. The tutorial template embedded in docs/templates.md (fenced blocks preceded by
``<!-- file: NAME -->``) must load, pass the font check and preview a frame.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.samples import ROOT

TEMPLATES_MD = ROOT / "docs" / "templates.md"
README_MD = ROOT / "README.md"
SCHEMA = json.loads((ROOT / "tailorcast" / "schema" / "template.schema.json").read_text())

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.S | re.M)
_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_FILE_BLOCK = re.compile(r"^<!--\s*file:\s*(?P<name>[^\s>]+)\s*-->\s*\n(?P<fence>`{3,})[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)


def documented_names(path: Path) -> set[str]:
    """Code spans outside fenced blocks, and headings (with their backticks removed)."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    names = {m.group(2).strip() for m in _SPAN.finditer(text)}
    names |= {h.replace("`", "").strip() for h in _HEADING.findall(text)}
    return names


@pytest.fixture(scope="module")
def template_doc() -> set[str]:
    return documented_names(TEMPLATES_MD)


@pytest.fixture(scope="module")
def readme_doc() -> set[str]:
    return documented_names(README_MD)


def _undocumented(names, documented: set[str]) -> list[str]:
    return sorted(n for n in names if n not in documented)


def test_the_span_finder_needs_a_code_span_not_a_substring(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("pop goes here, `fade` here\n\n```yaml\nenter: `wipe`\n```\n\n### `chart`\n")
    assert documented_names(md) >= {"fade", "chart"}
    assert "pop" not in documented_names(md) and "wipe" not in documented_names(md)


# --- names that exist in code --------------------------------------------------------------------


def test_every_layer_type_is_documented(template_doc):
    from renderer.overlays import LAYER_TYPES

    assert not _undocumented(LAYER_TYPES, template_doc), "add these layer types to docs/templates.md"


def test_every_animation_is_documented(template_doc):
    from tailorcast.spec.model import EFFECTS

    assert not _undocumented(EFFECTS, template_doc), "add these animations to docs/templates.md"


def test_every_filter_is_documented(template_doc):
    from tailorcast.expressions import FILTERS

    assert not _undocumented(FILTERS, template_doc), "add these filters to docs/templates.md"


def test_every_field_type_is_documented(template_doc):
    from tailorcast.spec.model import FIELD_TYPES

    assert not _undocumented(FIELD_TYPES, template_doc), "add these field types to docs/templates.md"


def test_every_context_name_is_documented(template_doc):
    from tailorcast.expressions import SHARED_NAMES
    from tailorcast.spec.model import CONTEXT_NAMES

    assert not _undocumented(CONTEXT_NAMES | SHARED_NAMES, template_doc), "add these expression names to docs/templates.md"


def test_every_cli_command_is_in_the_readme(readme_doc):
    from tailorcast.cli import main

    missing = [c for c in main.commands if c not in readme_doc and not any(s.startswith(f"tailorcast {c} ") or s == f"tailorcast {c}" for s in readme_doc)]
    assert not missing, "add these commands to README.md (as `tailorcast <command> …`)"


# --- the JSON Schema -----------------------------------------------------------------------------


def _props(*path: str) -> dict:
    node = SCHEMA
    for part in path:
        node = node[part]
    return node["properties"]


@pytest.mark.parametrize("where,path", [
    ("top level", ()),
    ("layer", ("$defs", "layer")),
    ("scene", ("$defs", "scene")),
    ("style", ("$defs", "style")),
    ("box", ("$defs", "box")),
    ("field", ("$defs", "field")),
    ("video", ("properties", "video")),
])
def test_every_schema_key_is_documented(template_doc, where, path):
    assert not _undocumented(_props(*path), template_doc), f"add these {where} keys to docs/templates.md"


def _walk(node, path=()):
    """(path, key) for every property, and (path, value) for every enum value, anywhere in the schema."""
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            yield path, key
            yield from _walk(sub, path + (key,))
        for value in node.get("enum", []):
            yield path, value
        for key, sub in node.items():
            if key != "properties":
                yield from _walk(sub, path + (key,) if key not in ("$defs", "items", "additionalProperties", "oneOf") else path)
    elif isinstance(node, list):
        for sub in node:
            yield from _walk(sub, path)


def test_every_key_and_enum_value_anywhere_in_the_schema_is_documented(template_doc):
    missing = sorted({f"{'.'.join(p) or '(top)'}: {name}" for p, name in _walk(SCHEMA) if str(name) not in template_doc})
    assert not missing, "document these schema keys / values in docs/templates.md"


# --- the tutorial --------------------------------------------------------------------------------


def tutorial_files() -> dict[str, str]:
    files = {m.group("name"): m.group("body") for m in _FILE_BLOCK.finditer(TEMPLATES_MD.read_text(encoding="utf-8"))}
    assert "template.yaml" in files, "the tutorial's template.yaml must follow a <!-- file: template.yaml --> line"
    return files


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tutorial") / "hello-bill"
    for name, body in tutorial_files().items():
        path = root / name
        assert root in path.resolve().parents
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return root


def test_tutorial_has_every_file_a_template_needs(tutorial):
    import yaml

    spec = yaml.safe_load((tutorial / "template.yaml").read_text())
    needed = {"template.yaml", spec.get("page", "page.html")} | {f"strings/{loc}.yaml" for loc in spec["locales"]}
    assert needed <= {str(p.relative_to(tutorial)) for p in tutorial.rglob("*") if p.is_file()}


def test_tutorial_template_validates(tutorial):
    from renderer.checks import check_template
    from tailorcast.spec.load import load_template

    template = load_template(tutorial)
    check_template(template)
    assert {r.name for r in template.video.renditions} == {"portrait", "landscape"}
    assert [v.name for v in template.variants] == ["urgent", "calm"]


def test_tutorial_rows_are_valid_and_preview(tutorial):
    from renderer.preview import preview_still
    from tailorcast.context import customer_context
    from tailorcast.customers import find_row, read_customers
    from tailorcast.errors import RowError
    from tailorcast.spec.load import load_template

    template = load_template(tutorial)
    csv = tutorial / "sample-customers.csv"
    rows = list(read_customers(template, csv))
    assert rows and not [r for r in rows if isinstance(r, RowError)]
    ctx = customer_context(template, find_row(template, csv, 4))
    assert ctx["dir"] == "rtl" and ctx["variant"] == "urgent"
    for rendition, size in (("portrait", (360, 640)), ("landscape", (640, 360))):
        img, scene, at = preview_still(template, ctx, "amount", None, rendition)
        assert (img.size, scene) == (size, "amount")
