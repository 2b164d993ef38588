"""Run logs in the working area for the runs the daemon and the UI launch, as the CLI writes its own.

Dagster keeps a run's events in its own storage; an operator looks in ``<workdir>/logs`` first, where every CLI
run leaves ``run-<time>.log``. deploy/dagster.yaml attaches this handler to Dagster's run loggers
(``python_logs.dagster_handler_config``), so each run a run worker executes gets ``run-<time>-<run id>.log``
beside them, and the same pruning keeps the newest.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TextIO


def _workdir() -> Path:
    from pipelines.defs.resources import PlatformConfig

    return Path(PlatformConfig.from_env().workdir)


class RunLogHandler(logging.Handler):
    """One file per run id, opened at the run's first record."""

    def __init__(self, level: int | str = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self._streams: dict[str, TextIO] = {}

    def _stream(self, run_id: str) -> TextIO:
        stream = self._streams.get(run_id)
        if stream is None:
            from pipelines.console import LOGS_KEPT, new_log_path, prune_logs

            path = new_log_path(_workdir())
            path = path.with_name(f"{path.stem}-{run_id[:8]}.log")
            path.parent.mkdir(parents=True, exist_ok=True)
            prune_logs(path.parent, LOGS_KEPT - 1)
            stream = self._streams[run_id] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            os.chmod(path, 0o640)  # the working area is restricted; its logs are too
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        run_id = (getattr(record, "dagster_meta", None) or {}).get("run_id")
        if not run_id:
            return
        try:
            stream = self._stream(run_id)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # a log that cannot be written must not fail the run
            self.handleError(record)

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
        super().close()
