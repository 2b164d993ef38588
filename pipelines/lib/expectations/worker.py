"""The GX suites in a child process started ahead of time, so GX's ~2.5 s of imports are paid on the core the
dbt build leaves free instead of inside the GX step.

A run that executes every step in one process (the CLI's ``run``) starts the worker when the core dbt build
starts; the GX step then hands it ``run_expectations``'s arguments and waits for the ``ExpectationRun``.
In-process imports on a thread did not pay: dbt now runs in the step's process and holds the GIL (measured
at 1,000 enterprises: core build + GX step 16.7/16.1 s with the thread, 16.1/15.7 s without).

The child reads the marts and writes the flags exactly as the step would; should it die, the step runs
the suites itself. It dies with the thread that started it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pipelines.lib import children
from pipelines.lib.children import job_pipes, receive, send


def main() -> None:
    jobs, out = job_pipes()  # the child's stderr is the run's: its log
    from pipelines.lib.expectations.runner import import_gx, run_expectations

    import_gx()
    try:
        args, kwargs = receive(jobs)
    except EOFError:  # not needed after all (the run stopped before the GX step)
        return
    try:
        send(out, ("ok", run_expectations(*args, **kwargs)))
    except Exception as exc:  # noqa: BLE001 - raised again in the step
        send(out, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class ExpectationWorker:
    """One prepared child; ``run`` once, or ``close`` if the run never gets to the suites."""

    def __init__(self) -> None:
        self.proc = children.start("pipelines.lib.expectations.worker")

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """``run_expectations(*args, **kwargs)`` in the child; EOFError when the child died."""
        try:
            send(self.proc.stdin, (args, kwargs))
            status, value = receive(self.proc.stdout)
        except (OSError, EOFError) as exc:
            self.close()
            raise EOFError("the GX worker died") from exc
        self.close()
        if status != "ok":
            raise value
        return value

    def close(self, *, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        for fh in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                fh.close()
        self.proc.wait()


# The worker started for a run, by run id: the core dbt step starts it, the GX step takes it.
_started: dict[str, ExpectationWorker] = {}


def start_for_run(run_id: str) -> None:
    for worker in _started.values():  # a long-lived process (tests) keeps none from an earlier run
        worker.close(kill=True)
    _started.clear()
    _started[run_id] = ExpectationWorker()


def take_for_run(run_id: str) -> ExpectationWorker | None:
    return _started.pop(run_id, None)


if __name__ == "__main__":
    main()
