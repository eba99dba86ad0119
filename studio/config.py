"""What the studio is told: :class:`StudioConfig`, checked once, and :func:`studio_config` to build it from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.database import database_url as settings_database_url
from tailorcast.errors import ConfigError
from tailorcast.paths import PROJECT_DIR
from tailorcast.payments.links import derive_key

MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class StudioConfig:
    """Everything the studio needs, passed in (the factory reads no environment)."""

    database_url: str
    state_dir: Path  # the studio keeps exported versions, previews and run folders under <state>/studio/
    session_secret: bytes = field(repr=False)  # signs the session cookie
    review_secret: bytes = field(repr=False)  # signs review links
    templates_dir: Path | None = None  # template folders imported as first versions when the store has none of that name
    ray_address: str | None = None  # runs join this cluster; None: each run starts a local Ray
    endpoint_url: str | None = None  # S3-compatible endpoint of runs' s3:// input and output (MinIO, R2); None: AWS
    run_workers: int | None = None  # --workers for local runs
    default_out: str = "public/"  # where runs publish unless the operator says otherwise
    secure_cookies: bool = False  # True behind HTTPS
    review_link_hours: int = 72
    login_failures: int = 5  # per user name and per address, in login_window seconds
    login_window: int = 300
    max_upload_bytes: int = 64 * 1024 * 1024
    python: str = ""  # interpreter for run processes; default: this one

    def __post_init__(self) -> None:
        for name in ("session_secret", "review_secret"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) < MIN_SECRET_BYTES:
                raise ConfigError(f"studio: {name} must be at least {MIN_SECRET_BYTES} bytes; derive it with derive_key(settings.secret, ...)")
        for name in ("review_link_hours", "login_failures", "login_window", "max_upload_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"studio: {name} must be a positive integer, got {value!r}")

    @property
    def work_dir(self) -> Path:
        return Path(self.state_dir) / "studio"


def studio_config(settings: Any, *, database_url: str | None = None, **overrides: Any) -> StudioConfig:
    """Config from :class:`tailorcast.settings.Settings`: the servers' database, secrets derived from the token secret,
    the project's templates/ folder as the first versions."""
    overrides.setdefault("templates_dir", PROJECT_DIR / "templates")
    return StudioConfig(database_url=database_url or settings_database_url(settings), state_dir=Path(settings.state_dir),
                        session_secret=derive_key(settings.secret, "studio-session"),
                        review_secret=derive_key(settings.secret, "studio-review"), **overrides)
