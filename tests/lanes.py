"""`make test`: the whole suite in two pytest processes at once, the browser tests beside the rest.

The browser tests spend most of their time waiting on Chromium (videos play in real time, pages settle frame by
frame) while the others mostly compute (Ray runs, real video): side by side on 2 cores the suite took 532 s
instead of 787 s one after the other (bench/README.md has no figure for it: it is the test suite's own time).
Each lane has its own temp folder, Ray instance, PostgreSQL server and Chromium (all on free ports). The rest
lane prints as it goes; the browser lane's output follows when both have ended; the exit status is the first
lane's that is not 0.

With arguments (``make test PYTEST_ARGS='-k spec'``) it runs one plain pytest with them instead: a ``-m``, a
``-k`` or test paths of one's own would not mix with the lanes' marks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LANES = {"browser": "browser", "the rest": "not browser"}  # name: the -m expression; together, every test once


def pytest(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytest", *args], **popen)


def main(argv: list[str]) -> int:
    if argv:
        return pytest(*argv).wait()
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="tailorcast-lanes-"))
    (name_b, mark_b), (name_r, mark_r) = LANES.items()
    log_path = base / "browser.log"
    with open(log_path, "wb") as log:
        browser = pytest("-m", mark_b, f"--basetemp={base / 'browser'}", stdout=log, stderr=subprocess.STDOUT)
        print(f"== lane '{name_b}' (-m '{mark_b}') runs beside this one; its output follows at the end ({log_path})", flush=True)
        print(f"== lane '{name_r}' (-m '{mark_r}')", flush=True)
        try:
            rest = pytest("-m", mark_r, f"--basetemp={base / 'rest'}").wait()
            code_b = browser.wait()
        except BaseException:
            browser.terminate()
            raise
    print(f"\n== lane '{name_b}' (-m '{mark_b}'): exit status {code_b}", flush=True)
    sys.stdout.buffer.write(log_path.read_bytes())
    print(f"\n== lanes: '{name_r}' exit status {rest}, '{name_b}' exit status {code_b}; {time.monotonic() - started:.0f} s", flush=True)
    if rest == code_b == 0:
        shutil.rmtree(base, ignore_errors=True)  # kept when a lane failed, for its temp files
    return next((code for code in (rest, code_b) if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
