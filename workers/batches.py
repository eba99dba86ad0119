"""Customers go to workers in batches, and what a run's batches share is loaded once per worker process.

A task per customer would cost Ray a task's metadata on the head (about 4-5 KB each, kept for every
attempt) and the per-task overhead for each customer; a batch of customers costs it once. The batch
size (``batch_size``) aims at about ``TARGET_S`` seconds of work per task, so Ray's own overhead
stays well under a percent (bench/bench_fanout.py, docs/cluster.md), while a run never has more
than ``MAX_TASKS`` tasks and small runs still spread over every CPU.

The run context (template, fonts, page inputs, the bucket and its client) is put in the object store
once; each task receives a ``Shared`` handle and unpickles the context only the first time a worker
process meets it, so a warm worker keeps its template and its S3 client from batch to batch.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

from renderer.cache import SegmentCache
from renderer.shared import seed_segments
from tailorcast.customers import Customer

from .executors import Done
from .job import CustomerResult, RunContext, render_customer

TARGET_S = 20.0  # seconds of rendering per task: Ray's overhead per task (milliseconds) is lost in it
MAX_TASKS = 50_000  # tasks per run at most: half the task attempts the GCS keeps by default (100k)
MAX_BATCH = 1000
_PROCESS: OrderedDict[str, Any] = OrderedDict()  # this worker process's shared values, by key (a few runs at most)
_KEEP = 2


@dataclass(frozen=True)
class Item:
    customer: Customer
    token: str


@dataclass(frozen=True)
class Batch:
    number: int
    items: tuple[Item, ...]


class Shared:
    """A value every task of a run uses, fetched and unpickled once per worker process.

    Holding the handle inside a list keeps Ray from resolving it for every task (Ray resolves only
    top-level arguments); ``value()`` resolves it on a process's first call and keeps it."""

    def __init__(self, key: str, handle: Any) -> None:
        self.key = key
        self._box = [handle]

    def value(self) -> Any:
        if self.key in _PROCESS:
            _PROCESS.move_to_end(self.key)
            return _PROCESS[self.key]
        value = _resolve(self._box[0])
        _PROCESS[self.key] = value
        while len(_PROCESS) > _KEEP:
            _PROCESS.popitem(last=False)
        return value


def _resolve(handle: Any) -> Any:
    if isinstance(handle, Done):
        return handle.value if handle.error is None else _raise(handle.error)
    if type(handle).__module__.startswith("ray"):
        import ray

        return ray.get(handle)
    return handle


def _raise(exc: BaseException):
    raise exc


def _node() -> str:
    """The Ray node this process runs on (first 12 hex digits of its id), or ``local``."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return ray.get_runtime_context().get_node_id()[:12]
    return "local"


def render_batch(run: Shared, batch: Batch, shared: Mapping[str, bytes], base_videos: Mapping[str, str] | None = None) -> list[CustomerResult]:
    """The task: every customer of one batch, one after the other (each job uploads before the next
    renders, so a slow bucket slows rendering instead of filling the disk)."""
    ctx: RunContext = run.value()
    seed_segments(SegmentCache(ctx.cache_root), shared)
    node = _node()
    out = []
    for item in batch.items:
        result = render_customer(ctx, item.customer, item.token, base_videos)
        result.node = node
        out.append(result)
    return out


def batch_size(total: int | None, cpus: int, seconds_per_customer: float) -> int:
    """Customers per task: about TARGET_S seconds of work, at least total / MAX_TASKS, and small enough
    that every CPU gets four tasks (a slow task at the end then keeps the others waiting less)."""
    by_time = TARGET_S / max(seconds_per_customer, 1e-3)
    if total is None:
        return int(min(MAX_BATCH, max(1, by_time)))
    by_tasks = math.ceil(total / MAX_TASKS)
    spread = math.ceil(total / (4 * max(1, cpus)))
    return int(min(MAX_BATCH, max(1, by_tasks, min(by_time, spread))))
