"""Where a billing run's tasks run: Ray (the default) or this process (unit tests, no Ray).

The run needs four things from an executor: put a value every task shares,
submit a task (its arguments may be handles of earlier tasks or values), wait
for at least one of some handles, and get a handle's value, which raises the
task's exception. A task whose argument is a failed handle fails with that
exception, as in Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

TASK_OPTIONS = {"num_cpus": 1, "max_retries": 2}  # one CPU per task; a crashed worker is retried twice


class Executor(Protocol):
    def put(self, value: Any) -> Any: ...

    def submit(self, fn: Callable, *args: Any) -> Any: ...

    def wait(self, handles: Iterable[Any]) -> list:
        """At least one handle that is done (never blocks when one is)."""
        ...

    def get(self, handle: Any) -> Any: ...

    def capacity(self) -> int:
        """How many tasks may be in flight; re-read as the cluster grows."""
        ...

    def close(self) -> None: ...


class RayExecutor:
    """Tasks as Ray remote functions; ``owned``: this run started Ray and shuts it down at the end."""

    def __init__(self, ray, owned: bool = False) -> None:
        self.ray = ray
        self.owned = owned
        self._remote: dict[Callable, Any] = {}

    def put(self, value: Any) -> Any:
        return self.ray.put(value)

    def submit(self, fn: Callable, *args: Any) -> Any:
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(**TASK_OPTIONS)(fn)
        return self._remote[fn].remote(*args)

    def wait(self, handles: Iterable[Any]) -> list:
        ready, _ = self.ray.wait(list(handles), num_returns=1)
        return ready

    def get(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def capacity(self) -> int:
        return max(4, 4 * int(self.ray.cluster_resources().get("CPU", 1)))  # four tasks queued per CPU

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


@dataclass(frozen=True, eq=False)
class Done:
    """A task run in this process: its value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


class InProcessExecutor:
    """Runs each task when it is submitted, in this process: no Ray, same results, for unit tests."""

    def put(self, value: Any) -> Done:
        return Done(value)

    def submit(self, fn: Callable, *args: Any) -> Done:
        try:
            return Done(fn(*(self.get(a) if isinstance(a, Done) else a for a in args)))
        except Exception as exc:  # kept in the handle, raised by get(), like a failed Ray task
            return Done(error=exc)

    def wait(self, handles: Iterable[Any]) -> list:
        return list(handles)[:1]

    def get(self, handle: Done) -> Any:
        if handle.error is not None:
            raise handle.error
        return handle.value

    def capacity(self) -> int:
        return 1

    def close(self) -> None:
        pass
