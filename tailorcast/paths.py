"""Where the project's shared data lives, and the rule that confines every file a template names.

A template names files (its page, the pages it includes, its strings, its assets); each is read only after
:func:`confined` has resolved it, symbolic links included, and found it inside its folder: the template
folder, or the shared ``assets/`` for ``assets:`` references.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_DIR / "assets"
FONTS_DIR = ASSETS_DIR / "fonts"
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "template.schema.json"


def confined(folder: Path | str, rel: str, what: str, where: str = "the template folder") -> Path:
    """``folder/rel`` with every link resolved; ValueError naming ``what`` when that leaves ``folder``.

    Absolute paths, ``..`` that climbs out, a link that points out and a NUL are all refused here, before
    anything is opened.
    """
    if not isinstance(rel, str) or not rel or "\0" in rel or Path(rel).is_absolute():
        raise ValueError(f"{what} {rel!r} is not a relative path inside {where}; name the file relative to it, like 'img/logo.png'")
    base = Path(folder).resolve()
    try:
        target = (base / rel).resolve()
    except (OSError, RuntimeError) as exc:  # a link loop, a name the file system refuses
        raise ValueError(f"{what} {rel!r} cannot be resolved ({exc}); fix the path or the link") from None
    if target != base and base not in target.parents:
        raise ValueError(f"{what} {rel!r} leaves {where} (after following links); keep the file inside it")
    return target


def resolve_asset(template_root: Path, ref: str) -> Path:
    """``assets:brand/logo.png`` → the shared assets folder; ``img/x.png`` → the template folder.

    Raises ValueError when the path would leave its folder (``../../etc/passwd``, a link pointing out).
    """
    if ref.startswith("assets:"):
        return confined(ASSETS_DIR, ref[len("assets:") :], "asset path", "assets/")
    return confined(template_root, ref, "asset path")
