"""Where the project's shared data lives, and the rule that confines asset paths."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_DIR / "assets"
FONTS_DIR = ASSETS_DIR / "fonts"
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "template.schema.json"


def resolve_asset(template_root: Path, ref: str) -> Path:
    """``assets:brand/logo.png`` → the shared assets folder; ``img/x.png`` → the template folder.

    Raises ValueError when the path would leave its folder (``../../etc/passwd``).
    """
    if ref.startswith("assets:"):
        base, rel = ASSETS_DIR, ref[len("assets:") :]
    else:
        base, rel = Path(template_root), ref
    base = base.resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise ValueError(f"asset path {ref!r} leaves {'assets/' if ref.startswith('assets:') else 'the template folder'}; keep assets inside it")
    return target
