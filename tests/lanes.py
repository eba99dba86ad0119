"""`make test` and `make test-fast`: the suite in two pytest processes at once.

`make test`: the browser tests beside the rest. The browser tests spend most of their time waiting on Chromium
(videos play in real time, pages settle frame by frame) while the others mostly compute (Ray runs, real video):
side by side on 2 cores the suite took 494-532 s instead of 787 s one after the other.

`make test-fast` (``--fast``): the unit tier (``-m "not e2e and not browser"``), its test files dealt
alternately to two lanes: it computes, and two processes use both cores.

Each lane has its own temp folder (and, where its tests need them, its own Ray instance, PostgreSQL server
and Chromium, all on free ports). The first lane prints as it goes; the second's output follows when both
have ended; the exit status is the first lane's that is not 0.

Lighthouse's performance score depends on how busy the machine is (its docs/variability.md: client resource
contention, high impact; it failed CI at 0.77 beside the other lane): in ``make test`` the browser lane runs the
Lighthouse tests last, once the first lane has ended (``LANE_DONE``: a file the first lane's end creates).

With other arguments (``make test PYTEST_ARGS='-k spec'``) it runs one plain pytest with them instead: a
``-m``, a ``-k`` or test paths of one's own would not mix with the lanes' selections.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
UNIT = "not e2e and not browser"  # make test-fast's tier
LANE_DONE = "TAILORCAST_FIRST_LANE_DONE"  # env: the file that exists once the first lane has ended


def whole_suite() -> list[tuple[str, list[str]]]:
    """The rest, then the browser tests: ``-m`` expressions that together select every test once."""
    return [("the rest", ["-m", "not browser"]), ("browser", ["-m", "browser"])]


def unit_tier() -> list[tuple[str, list[str]]]:
    """The unit tier's test files dealt alternately (sorted by name) to two lanes."""
    files = sorted(str(p.relative_to(TESTS.parent)) for p in TESTS.glob("test_*.py"))
    return [(f"unit {n + 1} of 2", ["-m", UNIT, *files[n::2]]) for n in range(2)]


def pytest(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytest", *args], **popen)


def run_lanes(lanes: list[tuple[str, list[str]]]) -> int:
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="tailorcast-lanes-"))
    (first, first_args), (second, second_args) = lanes
    log_path, done = base / "second.log", base / "first-lane-done"
    with open(log_path, "wb") as log:
        other = pytest(*second_args, f"--basetemp={base / 'second'}", stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, LANE_DONE: str(done)})
        print(f"== lane '{second}' runs beside this one; its output follows at the end ({log_path})", flush=True)
        print(f"== lane '{first}'", flush=True)
        try:
            code_first = pytest(*first_args, f"--basetemp={base / 'first'}").wait()
            done.touch()
            code_second = other.wait()
        except BaseException:
            other.terminate()
            raise
    print(f"\n== lane '{second}': exit status {code_second}", flush=True)
    sys.stdout.buffer.write(log_path.read_bytes())
    print(f"\n== lanes: '{first}' exit status {code_first}, '{second}' exit status {code_second}; "
          f"{time.monotonic() - started:.0f} s", flush=True)
    if code_first == code_second == 0:
        shutil.rmtree(base, ignore_errors=True)  # kept when a lane failed, for its temp files
    return next((code for code in (code_first, code_second) if code != 0), 0)


def main(argv: list[str]) -> int:
    if argv == ["--fast"]:
        return run_lanes(unit_tier())
    if argv:
        return pytest(*argv).wait()
    return run_lanes(whole_suite())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
