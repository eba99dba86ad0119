"""Template folders in and out as zip files. An upload is hostile: its names, sizes and counts are bounded.

Refused: names that are absolute, hold ``..`` or a backslash, symlinks, encrypted
entries, more than :data:`MAX_FILES` files, a file over :data:`MAX_FILE_BYTES`
(as read, not as declared), more than :data:`MAX_TOTAL_BYTES` in all, files of a
kind a template does not hold (no code).
"""

from __future__ import annotations

import io
import lzma
import stat
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import Mapping

from tailorcast.errors import StudioRefused

MAX_FILES = 200
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
# what reading an entry raises for a bad CRC, a cut or corrupt stream, a compression method zipfile lacks
UNREADABLE = (zipfile.BadZipFile, NotImplementedError, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, RuntimeError)
SUFFIXES = frozenset({".yaml", ".yml", ".html", ".css", ".csv", ".jsonl", ".json", ".txt", ".md", ".png", ".jpg", ".jpeg",
                      ".webp", ".gif", ".woff2", ".ttf", ".otf", ".mp3", ".m4a", ".aac", ".wav", ".mp4", ".webm", ".vtt"})


def check_path(name: str) -> str | None:
    """Why ``name`` cannot be a file of a template folder, or None."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in parts):
        return "a path that climbs out of the folder ('..')"
    if any(p.startswith(".") for p in parts):
        return "a hidden file"
    if len(name) > 200 or len(parts) > 6:
        return "a path that is too long or too deep"
    if PurePosixPath(name).suffix.lower() not in SUFFIXES:
        return f"a kind of file a template does not hold (use {', '.join(sorted(SUFFIXES))})"
    return None


def read_zip(data: bytes) -> dict[str, bytes]:
    """{path: bytes} of a zipped template folder (one top folder is dropped); StudioRefused names the first bad entry."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise StudioRefused("upload", f"not a zip file ({exc}); zip the template folder and upload that") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_FILES:
        raise StudioRefused("upload", f"{len(infos)} files; a template holds at most {MAX_FILES}")
    for info in infos:
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise StudioRefused("upload", f"'{info.filename}' is a symbolic link; zip the files themselves")
        if info.flag_bits & 0x1:
            raise StudioRefused("upload", f"'{info.filename}' is encrypted")
        reason = check_path(info.filename)
        if reason and reason != "a hidden file" and "kind of file" not in reason:
            raise StudioRefused("upload", f"'{info.filename}' is {reason}; zip the template folder as it is")
    tops = {PurePosixPath(i.filename).parts[0] for i in infos}
    strip = len(tops) == 1 and all(len(PurePosixPath(i.filename).parts) > 1 for i in infos)
    files: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = "/".join(PurePosixPath(info.filename).parts[1:]) if strip else info.filename
        reason = check_path(name)
        if reason == "a hidden file" or name.startswith("__MACOSX/"):
            continue
        if reason:
            raise StudioRefused("upload", f"'{info.filename}' is {reason}")
        if name in files:  # a zip may hold a name twice: which one is the template would be a guess
            raise StudioRefused("upload", f"'{info.filename}' is in the zip twice; zip the template folder again")
        if info.file_size > MAX_FILE_BYTES:
            raise StudioRefused("upload", f"'{info.filename}' is {info.file_size} bytes; at most {MAX_FILE_BYTES} per file")
        try:
            with archive.open(info) as fh:
                body = fh.read(MAX_FILE_BYTES + 1)  # the declared size may lie
        except UNREADABLE as exc:
            raise StudioRefused("upload", f"'{info.filename}' cannot be read ({exc}); zip the template folder again "
                                          "(plain deflate) and upload that") from None
        if len(body) > MAX_FILE_BYTES:
            raise StudioRefused("upload", f"'{info.filename}' is larger than {MAX_FILE_BYTES} bytes")
        total += len(body)
        if total > MAX_TOTAL_BYTES:
            raise StudioRefused("upload", f"the files add up to more than {MAX_TOTAL_BYTES} bytes")
        files[name] = body
    if "template.yaml" not in files:
        raise StudioRefused("upload", "no template.yaml at the top of the zip; zip the template folder itself")
    return files


def write_zip(name: str, files: Mapping[str, bytes]) -> bytes:
    """The files under one top folder ``name``, with fixed times so the same version gives the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"{name}/{path}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buf.getvalue()
