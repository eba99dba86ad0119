"""Staff passwords: scrypt (memory-hard, in the standard library), salted, with its parameters in the stored text.

Stored as ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be raised later
without locking anybody out: a hash made with older parameters still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1  # OWASP's scrypt floor: 16 MiB of memory per hash
MIN_LENGTH = 10
MAX_LENGTH = 1024  # a longer "password" is a denial of service, not a secret


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def check_strength(password: str) -> str | None:
    """Why ``password`` cannot be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password has {len(password)} characters; use at least {MIN_LENGTH}"
    if len(password) > MAX_LENGTH:
        return f"the password has more than {MAX_LENGTH} characters"
    return None


def hash_password(password: str, n: int = N) -> str:
    """``n``: scrypt's cost (a power of two); the stored text keeps it, so raising it later locks nobody out."""
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, n, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches; compared in constant time; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_LENGTH:
            return False
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


# A hash to verify against when the user does not exist, so both answers take the same time.
DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
