"""Every bucket key Tailorcast writes is built here, and nowhere else.

Layout::

    c/<token>/index.html              the customer's microsite (short, private cache)
    c/<token>/video-<rendition>.mp4   baked personal video, one per rendition
    c/<token>/poster-<rendition>.jpg  video poster, one per rendition
    c/<token>/captions.<lang>.vtt     WebVTT captions (the same for every rendition)
    c/<token>/o/<rendition>.webp      live mode: the customer's live stills of a rendition, packed in one lossless
                                      WebP sheet (a second one, <rendition>.1.webp, only past WebP's 16383 px)
    shared/<kind>/<hash>.<ext>        content-addressed, immutable (css, js, img, seg = shared scene segments,
                                      video = live mode's base videos, img also their first-frame posters)
    runs/<run_id>/manifest.csv        private: one row per customer (also manifest.parquet)
    runs/<run_id>/errors.csv          private: rows that could not be used, and why
    runs/<run_id>/summary.json        private: counts and timings
    runs/<run_id>/journal/<part>.jsonl  private: the run's results as they come (resume reads them)
    runs/<run_id>/lease/<generation>.json  private: who writes the run id now, a run or a bake (workers/lease.py)

Only ``c/`` and ``shared/`` are public; ``runs/`` must never be exposed by the CDN.
No key contains a name, an id, an e-mail or an amount: customer folders are tokens.
"""

from __future__ import annotations

import re

PUBLIC_PREFIXES = ("c/", "shared/")
PAGE_NAME = "index.html"
LIVE_STILLS = "o/"  # the live stills' folder inside a customer's folder (their sheets)
IMMUTABLE = "public, max-age=31536000, immutable"
# A customer's files are personal data watched by one person: a shared cache (the CDN's edge included) gains
# almost nothing from keeping them, and without a copy there a deleted folder is gone at once (erasure).
PERSONAL = "private, max-age=300"
PRIVATE = "private, no-store"
# Response headers the CDN sends with every public object (README "Bucket layout and CDN rules"): the page's
# meta CSP cannot forbid framing, only a header can.
FRAME_CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": FRAME_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
_HASH = re.compile(r"[0-9a-f]{16,64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,40}")
_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".parquet": "application/vnd.apache.parquet",
    ".vtt": "text/vtt; charset=utf-8",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
}


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not allowed in a bucket key")
    return value


def customer_prefix(token: str) -> str:
    return f"c/{_check(_TOKEN, token, 'token')}/"


def customer_file(token: str, name: str) -> str:
    return customer_prefix(token) + _check(_NAME, name, "file name")


def customer_page(token: str) -> str:
    """The customer's microsite; uploaded last, so its presence means the folder is complete."""
    return customer_file(token, PAGE_NAME)


def video_name(rendition: str) -> str:
    return f"video-{_check(_NAME, rendition, 'rendition')}.mp4"


def poster_name(rendition: str) -> str:
    return f"poster-{_check(_NAME, rendition, 'rendition')}.jpg"


def captions_name(lang: str) -> str:
    return f"captions.{_check(_NAME, lang.lower(), 'language')}.vtt"


def built_with_the_page(name: str) -> bool:
    """Files of a customer's folder (``name`` relative to it) that only a page build writes, so a rebuilt page that
    did not write them has no use for them: live stills (``o/…``) and captions. Videos and posters are not:
    ``tailorcast bake`` writes them too, for a customer who asked for a file."""
    return name.startswith(LIVE_STILLS) or (name.startswith("captions.") and name.endswith(".vtt"))


def live_sheet_name(rendition: str, n: int = 0) -> str:
    """The ``n``-th sheet of a rendition's live stills (live mode): ``portrait.webp``, then ``portrait.1.webp``.

    A rendition's name has no dot (the template schema), so the names of two renditions' sheets never meet."""
    rendition = _check(_NAME, rendition, "rendition")
    if int(n) < 0:
        raise ValueError(f"sheet number {n!r} is not allowed in a bucket key")
    return f"{rendition}.webp" if int(n) == 0 else f"{rendition}.{int(n)}.webp"


def live_sheet_file(token: str, name: str) -> str:
    """A sheet of live stills in the customer's folder; the page links to it as ``o/<name>``."""
    return customer_prefix(token) + LIVE_STILLS + _check(_NAME, name, "file name")


def shared_object(kind: str, digest: str, ext: str) -> str:
    return f"shared/{_check(_NAME, kind, 'kind')}/{_check(_HASH, digest, 'hash')}.{_check(_NAME, ext, 'extension')}"


def base_poster(base_video: str) -> str:
    """The poster of a live base video: ``shared/video/<hash>.mp4`` → ``shared/img/<hash>.jpg``."""
    prefix, ext = "shared/video/", ".mp4"
    if not (base_video.startswith(prefix) and base_video.endswith(ext)):
        raise ValueError(f"{base_video!r} is not a base video key")
    return shared_object("img", base_video[len(prefix):-len(ext)], "jpg")


def run_file(run_id: str, name: str) -> str:
    return f"runs/{_check(_RUN, run_id, 'run id')}/{_check(_NAME, name, 'file name')}"


def journal_prefix(run_id: str) -> str:
    """Where a run's journal parts live; listing this prefix is how a rerun learns what is done."""
    return f"runs/{_check(_RUN, run_id, 'run id')}/journal/"


def journal_part(run_id: str, session_ms: int, seq: int) -> str:
    """One part of a run's journal: names sort in the order they were written (session start, then number)."""
    return f"{journal_prefix(run_id)}{int(session_ms):013d}-{int(seq):06d}.jsonl"


def lease_prefix(run_id: str) -> str:
    """Where a run id's lease objects live (workers/lease.py): one per holder, the highest generation is the current one."""
    return f"runs/{_check(_RUN, run_id, 'run id')}/lease/"


LEASE_GENERATIONS = 99_999_999  # 8 digits: names sort in generation order
_LEASE = re.compile(r"(\d{8})\.json")


def lease_object(run_id: str, generation: int) -> str:
    """The lease object of one generation: ``runs/<run-id>/lease/00000001.json``."""
    if not 1 <= int(generation) <= LEASE_GENERATIONS:
        raise ValueError(f"lease generation {generation!r} is not between 1 and {LEASE_GENERATIONS}")
    return f"{lease_prefix(run_id)}{int(generation):08d}.json"


def lease_generation(run_id: str, key: str) -> int | None:
    """The generation of a key under ``lease_prefix(run_id)``, or None for anything else there."""
    prefix = lease_prefix(run_id)
    m = _LEASE.fullmatch(key[len(prefix):]) if key.startswith(prefix) else None
    return int(m.group(1)) if m and int(m.group(1)) >= 1 else None


def content_type(key: str) -> str:
    for ext, ctype in CONTENT_TYPES.items():
        if key.endswith(ext):
            return ctype
    return "application/octet-stream"


def cache_control(key: str) -> str:
    if key.startswith("shared/"):
        return IMMUTABLE
    if key.startswith("c/"):
        return PERSONAL
    return PRIVATE


_PUBLIC_KEY = re.compile(
    rf"c/{_TOKEN.pattern}/(?:{LIVE_STILLS})?{_NAME.pattern}|shared/{_NAME.pattern}/{_HASH.pattern}\.{_NAME.pattern}")


def is_public(key: str) -> bool:
    """A key this module builds under a public prefix, and nothing else (no ``..``, no NUL, no over-long name)."""
    return isinstance(key, str) and _PUBLIC_KEY.fullmatch(key) is not None


def relative_url(from_key: str, to_key: str) -> str:
    """URL of ``to_key`` relative to the page at ``from_key`` (both in one bucket)."""
    depth = from_key.count("/")
    return "../" * depth + to_key
