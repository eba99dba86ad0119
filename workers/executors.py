"""Where a billing run's tasks run: Ray (the default) or this process (unit tests, no Ray).

The run needs a few things from an executor: put a value every task shares,
submit a task (its arguments may be handles of earlier tasks or values), wait
for at least one of some handles, and get a handle's value, which raises the
task's exception. A task whose argument is a failed handle fails with that
exception, as in Ray. ``transient`` tells a failure worth another try (a
crashed worker process, a lost node) from one that would fail again, and
``request`` asks the autoscaler for the CPUs the run can use.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import Any, Callable, Iterable, Protocol

from tailorcast.errors import TransientError

log = logging.getLogger("tailorcast.executor")
TASK_OPTIONS = {"num_cpus": 1, "max_retries": 3}  # one CPU per task; Ray reruns a task whose worker or node died, 3 times


class Executor(Protocol):
    def put(self, value: Any) -> Any: ...

    def submit(self, fn: Callable, *args: Any, retries: int | None = None) -> Any:
        """``retries``: how often the executor itself reruns the task when its worker dies (default TASK_OPTIONS);
        0 when the caller retries, with backoff, and wants to know each failure."""
        ...

    def wait(self, handles: Iterable[Any], timeout: float | None = None) -> list:
        """The handles that are done: at least one, unless ``timeout`` seconds passed first."""
        ...

    def get(self, handle: Any) -> Any: ...

    def capacity(self) -> int:
        """How many tasks may be in flight; re-read as the cluster grows."""
        ...

    def cpus(self) -> int:
        """CPUs the tasks can use now."""
        ...

    def transient(self, exc: BaseException) -> bool:
        """Whether a task that raised ``exc`` may succeed when submitted again."""
        ...

    def request(self, cpus: int) -> None:
        """Ask the autoscaler for ``cpus`` CPUs in all (0: the run needs nothing more)."""
        ...

    def close(self) -> None: ...


class RayExecutor:
    """Tasks as Ray remote functions; ``owned``: this run started Ray and shuts it down at the end."""

    def __init__(self, ray, owned: bool = False, local: bool = False) -> None:
        """``local``: a local instance this run started (no autoscaler to ask)."""
        self.ray = ray
        self.owned = owned
        self.local = local
        self._remote: dict[tuple, Any] = {}

    def put(self, value: Any) -> Any:
        return self.ray.put(value)

    def submit(self, fn: Callable, *args: Any, retries: int | None = None) -> Any:
        options = TASK_OPTIONS if retries is None else {**TASK_OPTIONS, "max_retries": retries}
        key = (fn, options["max_retries"])
        if key not in self._remote:
            self._remote[key] = self.ray.remote(**options)(fn)
        return self._remote[key].remote(*args)

    def wait(self, handles: Iterable[Any], timeout: float | None = None) -> list:
        ready, _ = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        return ready

    def get(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def capacity(self) -> int:
        # two tasks per CPU: one running, one queued behind it, so a CPU never waits for the driver; the
        # queued ones are also the pending work an autoscaler sees
        return max(4, 2 * self.cpus())

    def transient(self, exc: BaseException) -> bool:
        errors = self.ray.exceptions
        if isinstance(exc, errors.RayTaskError):
            return isinstance(exc, TransientError)  # the task's own exception: only our transient kind
        system = tuple(getattr(errors, name) for name in ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "LocalRayletDiedError",
                                                          "RaySystemError", "OwnerDiedError", "ObjectFetchTimedOutError", "OutOfMemoryError",
                                                          "ObjectReconstructionFailedError") if hasattr(errors, name))
        return isinstance(exc, system + (TransientError,))

    def request(self, cpus: int) -> None:
        if self.local:
            return  # a local instance has no autoscaler
        from ray.autoscaler.sdk import request_resources

        try:
            request_resources(num_cpus=max(0, int(cpus)))
        except Exception as exc:  # a cluster without an autoscaler: the run goes on with what is there
            log.debug("request_resources(num_cpus=%s) failed: %s", cpus, exc)

    def close(self) -> None:
        if not self.local:
            self.request(0)
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

    def submit(self, fn: Callable, *args: Any, retries: int | None = None) -> Done:
        try:
            return Done(fn(*(self.get(a) if isinstance(a, Done) else a for a in args)))
        except Exception as exc:  # kept in the handle, raised by get(), like a failed Ray task
            return Done(error=exc)

    def wait(self, handles: Iterable[Any], timeout: float | None = None) -> list:
        return list(handles)[:1]

    def get(self, handle: Done) -> Any:
        if handle.error is not None:
            raise handle.error
        return handle.value

    def capacity(self) -> int:
        return 1

    def cpus(self) -> int:
        return 1

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, TransientError)

    def request(self, cpus: int) -> None:
        pass

    def close(self) -> None:
        pass
