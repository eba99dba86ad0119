"""One JSON object per log line, for schedulers and log collectors (``tailorcast run --log-format json``).

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, when the line is about
a run or a row, ``run_id`` and ``row`` (passed as ``extra=``). Lines are what the text log shows, so
personal data appears only at debug level, as there.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

FIELDS = ("run_id", "row", "event")  # extra= attributes copied into the line when a record has them


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if getattr(record, name, None) is not None:
                line[name] = getattr(record, name)
        if record.exc_info and record.levelno <= logging.DEBUG:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def json_line(event: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one event line (progress, summary) in the same shape as the log lines."""
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "info", "event": event, **fields}
    print(json.dumps(line, ensure_ascii=False), file=stream or sys.stderr, flush=True)


def use_json_logs(level: int, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one that writes JSON lines to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
