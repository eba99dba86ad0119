"""What a running public server holds, and how its views reach it."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from flask import current_app

from store.store import Store
from tailorcast.tokens import is_issued

from .config import PublicConfig
from .ratelimit import FixedWindowLimiter
from .validation import ApiError

log = logging.getLogger("tailorcast.public")
EXTENSION = "tailorcast.public"


@dataclass(frozen=True)
class PublicState:
    """What a running app holds (``app.extensions['tailorcast.public']``), for its views, tests and the CLI."""

    config: PublicConfig
    store: Store
    limiter: FixedWindowLimiter
    clock: Callable[[], float]

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), tz=dt.timezone.utc)

    def limit(self, scope: str, key: str, per_minute: int, whose: str = "for this page") -> None:
        """Count one ``scope`` request for ``key``; over the limit, refuse it with 429 and Retry-After."""
        wait = self.limiter.hit((scope, key), per_minute, self.clock())
        if wait:
            log.info("rate limit reached for %s", scope)
            raise ApiError(429, f"too many {scope} requests {whose}: at most {per_minute} a minute; retry in {wait} s",
                           {"Retry-After": str(wait)})

    def admit(self, client: str) -> None:
        """Every request counts against its client's limit, then the server's: one address cannot use up the
        server, and many addresses together cannot either."""
        self.limit("client", client, self.config.client_per_minute, "from this address")
        self.limit("server", "", self.config.total_per_minute, "to this server")

    def issued(self, token: str, where: str) -> str:
        """``token`` if a run issued it (its tag holds under the runs' secret), else 404: nothing is stored for it."""
        if not is_issued(token, self.config.token_key):
            raise ApiError(404, f"{where}: no page has this token; use the link of a published page "
                                "(a server with another TAILORCAST_SECRET than the runs' refuses every token)")
        return token


def public_state() -> PublicState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
