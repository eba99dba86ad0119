"""What the public server is told: :class:`PublicConfig`, checked once, and :func:`public_config` to build it from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store.database import database_url as settings_database_url
from tailorcast.errors import ConfigError
from tailorcast.payments.links import derive_key
from tailorcast.tokens import token_key

MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class PublicConfig:
    """Everything the public server needs, passed in (never read from the environment here)."""

    database_url: str
    link_secret: bytes = field(repr=False)  # verifies signed payment links (demo checkout)
    webhook_secret: bytes = field(repr=False)  # verifies Tailorcast-Signature on webhooks
    token_key: bytes = field(repr=False)  # checks that a run issued a token (tailorcast.tokens.token_key of the runs' secret)
    webhook_tolerance: int = 300  # seconds a signed webhook stays acceptable
    events_per_minute: int = 60  # per token
    status_per_minute: int = 120  # per token
    instalments_per_minute: int = 3  # per token
    checkout_per_minute: int = 20  # per token (or invoice reference when the link has no token)
    client_per_minute: int = 600  # per client address, every endpoint together
    total_per_minute: int = 20000  # the whole server (this process), every endpoint together
    proxy_hops: int = 0  # reverse proxies in front that append to X-Forwarded-For (the client's address comes from there)
    max_body_bytes: int = 16 * 1024
    instalment_choices: tuple[int, ...] = (2, 3, 6)
    thanks_url: str = "/c/{token}/#instalments-thanks"  # 303 target after an instalment request (same origin)
    return_url: str = "/c/{token}/"  # "back to your bill" after a demo payment
    demo_checkout: bool = False  # local demos only: anyone holding a signed link can mark it paid

    def __post_init__(self) -> None:
        for name in ("link_secret", "webhook_secret", "token_key"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) < MIN_SECRET_BYTES:
                raise ConfigError(f"public server: {name} must be at least {MIN_SECRET_BYTES} bytes; derive it with "
                                  f"tailorcast.payments.links.derive_key(settings.secret, ...) or pass the provider's secret")
        for name in ("webhook_tolerance", "events_per_minute", "status_per_minute", "instalments_per_minute",
                     "checkout_per_minute", "client_per_minute", "total_per_minute", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"public server: {name} must be a positive integer, got {value!r}")
        if isinstance(self.proxy_hops, bool) or not isinstance(self.proxy_hops, int) or not 0 <= self.proxy_hops <= 5:
            raise ConfigError(f"public server: proxy_hops must be 0-5 (the reverse proxies in front of it), got {self.proxy_hops!r}")
        if not self.instalment_choices or any(isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 60 for n in self.instalment_choices):
            raise ConfigError(f"public server: instalment_choices must be whole numbers from 2 to 60, got {self.instalment_choices!r}")
        for name in ("thanks_url", "return_url"):
            url = getattr(self, name)
            try:
                ok = "{token}" in url and url.format(token="t").startswith("/") and not url.startswith("//")
            except (KeyError, IndexError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"public server: {name} {url!r} must be a path on this origin with {{token}} as its only placeholder, like '/c/{{token}}/'")


def public_config(settings: Any, *, database_url: str | None = None, webhook_secret: bytes | None = None, **overrides: Any) -> PublicConfig:
    """Config from :class:`tailorcast.settings.Settings`: its database (SQLite in the state folder unless
    TAILORCAST_DATABASE_URL names one), secrets derived from its secret: the same TAILORCAST_SECRET as the runs',
    or no token of theirs is accepted.

    Pass ``webhook_secret`` (or set TAILORCAST_WEBHOOK_SECRET) when a real provider signs the webhooks with its own secret.
    """
    return PublicConfig(database_url=database_url or settings_database_url(settings),
                        link_secret=derive_key(settings.secret, "pay-link"), token_key=token_key(settings.secret),
                        webhook_secret=webhook_secret or settings.webhook_secret or derive_key(settings.secret, "webhook"), **overrides)
