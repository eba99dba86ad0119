"""What a running studio holds, and how its views reach it."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app, g

from store.audit import Audit
from store.runs import Runs
from store.store import Store
from store.users import Users
from store.versions import Versions

from .config import StudioConfig
from .ratelimit import FailureLimiter

log = logging.getLogger("tailorcast.studio")
EXTENSION = "tailorcast.studio"


@dataclass(frozen=True)
class StudioState:
    """``app.extensions['tailorcast.studio']``: for the views, the tests and the CLI."""

    config: StudioConfig
    store: Store
    users: Users
    versions: Versions
    runs: Runs
    audit: Audit
    logins: FailureLimiter
    clock: Callable[[], float]
    workspace: Any  # studio.workspace.Workspace
    previews: Any  # studio.previewer.Previewer
    renders: Any  # studio.renders.Renders
    launcher: Any  # studio.launcher.Launcher

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), tz=dt.timezone.utc)

    def record(self, action: str, target: str, detail: str = "") -> None:
        """One audit entry by the signed-in user."""
        user = g.user.name if getattr(g, "user", None) else "(review link)"
        self.audit.add(self.now(), user, action, target, detail)
        log.info("%s %s %s", user, action, target)


def studio_state() -> StudioState:
    return current_app.extensions[EXTENSION]
