"""Versions as folders on disk: exported once per digest, checked once per digest.

A version is exported to ``<work>/versions/<digest>/<template>/`` (written to a
temporary folder, then renamed), so previews load it and runs read an exported
copy of exactly the approved files. Checking a version is what ``tailorcast
validate`` does (schema, rules, fonts); its problems come back with file and line.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from renderer.checks import check_template
from store.versions import VersionRow, Versions
from tailorcast.errors import TemplateError
from tailorcast.spec.load import load_template
from tailorcast.spec.model import Template

from .zips import check_path

IMPORT_AUTHOR = "import"
TEXT_SUFFIXES = (".yaml", ".yml", ".html", ".css", ".csv", ".jsonl", ".json", ".txt", ".md", ".vtt")
EDITABLE = re.compile(r"(template\.yaml|page\.html|strings/[A-Za-z_-]+\.ya?ml)")  # used with fullmatch: "$" would accept a trailing newline
_WHERE = re.compile(r"(?P<file>[^\s:]+?)(?::(?P<line>\d+))?(?:\s+(?P<path>.*))?")
_YAML_LINE = re.compile(r"line (\d+)")
# Checks by version digest, for every studio in this process: the same files always get the same answer (the fonts
# and the checks are code, the same for the life of the process).
_CHECKED: dict[str, "Check"] = {}
_CHECKED_LOCK = threading.Lock()
TEMPLATES_KEPT = 32  # loaded templates kept per studio (each save is a version: without a bound they pile up)


@dataclass(frozen=True)
class Finding:
    """One problem ``tailorcast validate`` reports, placed at its file and line (0: the whole file)."""

    file: str
    line: int
    path: str
    message: str


@dataclass(frozen=True)
class Check:
    valid: bool
    findings: tuple[Finding, ...]


def finding(where: str, message: str, root: Path | None = None) -> Finding:
    if root is not None and where.startswith(str(root)):
        where = where[len(str(root)):].lstrip("/")
    m = _WHERE.fullmatch(where)
    file, line, path = (m.group("file"), int(m.group("line") or 0), m.group("path") or "") if m else (where, 0, "")
    if not line:
        y = _YAML_LINE.search(message)
        line = int(y.group(1)) if y else 0
    return Finding(file, line, path, message)


def is_text(path: str) -> bool:
    return path.lower().endswith(TEXT_SUFFIXES)


class Workspace:
    def __init__(self, root: Path, versions: Versions) -> None:
        self.root = Path(root)
        self.versions = versions
        self._lock = threading.Lock()
        self._templates: OrderedDict[str, Template] = OrderedDict()  # the last TEMPLATES_KEPT loaded, by digest

    def folder(self, version: VersionRow) -> Path:
        """The version's files as a template folder (made on first use)."""
        folder = self.root / "versions" / version.digest / version.template
        if not folder.is_dir():
            parent = folder.parent
            parent.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent.parent))
            for path, data in self.versions.files(version).items():
                target = tmp / version.template / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            try:
                tmp.rename(parent)
            except OSError:  # another request exported it first: same bytes
                shutil.rmtree(tmp, ignore_errors=True)
        return folder

    def check(self, version: VersionRow) -> Check:
        """What ``tailorcast validate`` says about the version (kept by digest: a version never changes)."""
        with _CHECKED_LOCK:
            known = _CHECKED.get(version.digest)
        if known is not None:
            return known
        folder = self.folder(version)
        try:
            template = load_template(folder)
            check_template(template)
        except TemplateError as exc:
            result = Check(False, tuple(finding(p.where, p.message, folder) for p in exc.problems))
        else:
            result = Check(True, ())
            self._keep(version.digest, template)
        with _CHECKED_LOCK:
            _CHECKED[version.digest] = result
            while len(_CHECKED) > 256:
                _CHECKED.pop(next(iter(_CHECKED)))
        return result

    def check_draft(self, base: VersionRow, path: str, content: bytes) -> Check:
        """The check of ``base`` with one file changed, in a throw-away folder (an editor asking as one types)."""
        with tempfile.TemporaryDirectory(prefix="draft-", dir=self._drafts()) as tmp:
            folder = Path(tmp) / base.template
            shutil.copytree(self.folder(base), folder)
            (folder / path).write_bytes(content)
            try:
                check_template(load_template(folder))
            except TemplateError as exc:
                return Check(False, tuple(finding(p.where, p.message, folder) for p in exc.problems))
            return Check(True, ())

    def _drafts(self) -> Path:
        folder = self.root / "drafts"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def template(self, version: VersionRow) -> Template:
        """The loaded template of a valid version; TemplateError otherwise."""
        with self._lock:
            if version.digest in self._templates:
                self._templates.move_to_end(version.digest)
                return self._templates[version.digest]
        template = load_template(self.folder(version))
        self._keep(version.digest, template)
        return template

    def _keep(self, digest: str, template: Template) -> None:
        with self._lock:
            self._templates[digest] = template
            self._templates.move_to_end(digest)
            while len(self._templates) > TEMPLATES_KEPT:
                self._templates.popitem(last=False)

    def import_folder(self, templates_dir: Path, at: dt.datetime) -> list[str]:
        """Each template folder the store has no version of becomes its first version (a draft by 'import')."""
        made = []
        for folder in sorted(Path(templates_dir).iterdir()) if Path(templates_dir).is_dir() else []:
            if (folder / "template.yaml").is_file() and self.versions.latest(folder.name) is None:
                self.versions.save(folder.name, read_folder(folder), IMPORT_AUTHOR, at, note=f"imported from {folder.name}/")
                made.append(folder.name)
        return made


def read_folder(folder: Path) -> dict[str, bytes]:
    """A template folder's files that a version keeps (data only: no code, no hidden files)."""
    files = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and check_path(rel) is None:
            files[rel] = path.read_bytes()
    return files
