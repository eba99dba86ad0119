"""Settings are passed in, never read at import time.

``load_settings`` is the one place that looks at the environment:

- ``TAILORCAST_SECRET``: the token secret (hex or any string of ≥ 32 characters).
  Without it a random one is generated once and kept in ``<state>/secret``.
- ``TAILORCAST_STATE``: the local state folder (default ``.tailorcast``), holding
  the secret and the segment cache. Git ignores it.
- ``TAILORCAST_DATABASE_URL``: the public server's database (SQLAlchemy URL;
  default SQLite in the state folder, ``postgresql+psycopg://…`` in production).
- ``TAILORCAST_WEBHOOK_SECRET``: the payment provider's webhook signing secret
  (default: derived from the token secret, for the local demo).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    secret: bytes
    num_cpus: int | None = None  # None: let Ray count
    ffmpeg_threads: int = 1  # threads per x264 process; customers run in parallel instead
    database_url: str | None = None  # public server; default SQLite in the state folder
    webhook_secret: bytes | None = None  # the payment provider's webhook signing secret

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def _secret_from_file(path: Path) -> bytes:
    if path.exists():
        text = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
    if len(text) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"the secret in {path} is {len(text)} characters long; it needs at least "
            f"{MIN_SECRET_CHARS}. Delete the file to have a new one generated."
        )
    return text.encode()


def load_settings(env: Mapping[str, str] | None = None, state_dir: Path | None = None) -> Settings:
    env = os.environ if env is None else env
    state = Path(state_dir or env.get("TAILORCAST_STATE") or ".tailorcast").resolve()
    raw = env.get("TAILORCAST_SECRET")
    if raw is not None:
        if len(raw) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"TAILORCAST_SECRET is {len(raw)} characters long; it needs at least "
                f"{MIN_SECRET_CHARS} (for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        secret = raw.encode()
    else:
        secret = _secret_from_file(state / "secret")
    webhook = env.get("TAILORCAST_WEBHOOK_SECRET")
    return Settings(state_dir=state, secret=secret, database_url=env.get("TAILORCAST_DATABASE_URL") or None,
                    webhook_secret=webhook.encode() if webhook else None)
