"""Billing runs published to a local folder, their manifests, and a clean-decode check of what they wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, NamedTuple


class Published(NamedTuple):
    """A billing run published to a local folder: ``out, summary = run`` still unpacks it."""

    out: Path
    summary: Any

    def rows(self) -> list[dict]:
        """The run's manifest rows, in input order."""
        return read_csv(self.out / self.summary.manifest)

    def by_id(self) -> dict[str, dict]:
        return {r["customer_id"]: r for r in self.rows()}


def publish(template, customers: Path, settings, out: Path, **options) -> Published:
    """A billing run (real Ray, or the executor ``options`` name) of ``customers`` into the folder ``out``."""
    from tailorcast.bucket import LocalBucket
    from workers.run import run_billing

    return Published(out, run_billing(template, customers, LocalBucket(out), settings, **options))


def read_csv(path: Path) -> list[dict]:
    """The rows of a CSV the project wrote, with the spreadsheet guard undone (a token may start with '-')."""
    from tailorcast.csvfile import read_rows

    return list(read_rows(path.read_text()))


def ffmpeg_decode_errors(path: Path) -> str:
    """Full decode of every stream; ffmpeg -v error prints nothing for a clean file."""
    from renderer.encode import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return (proc.stderr + ("" if proc.returncode == 0 else f"\nexit {proc.returncode}")).strip()
