"""What the terminal shows during ``sasac-skills run``: one progress line per stage, every log in a file.

Dagster, dbt (which dagster-dbt echoes to stdout) and the intake's readers all write to file descriptors 1
and 2; for the run's length both point at a pipe whose reader writes every line to the run's log file in
the working area (colour codes removed), reads the progress out of it, and — with ``--verbose`` — passes
it on to the terminal. Catching the descriptors rather than Python's loggers is what also catches the
child processes. The progress comes from the lines themselves: Dagster's step events, the assets' own
``n/m files read`` style messages, and dbt's ``n of m OK …`` node results (dagster-dbt streams one line
per node).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

LOGS_DIRNAME = "logs"
# Run logs kept in the working area (the newest; a run a quarter, so years of them).
LOGS_KEPT = 40

# Steps as the terminal names them, in the order the job runs them; check steps fold into their asset's.
STAGES: dict[str, tuple[str, str]] = {
    "raw_submissions": ("收件", "个文件"),
    "dbt_core_models": ("dbt 核心模型", "个节点"),
    "flags__expectation_flags": ("GX 规则检查", "个规则组"),
    "dbt_flag_models": ("dbt 问题集市", "个节点"),
    "published__warehouse": ("发布数据库", ""),
    "published_exports": ("跟踪表、报告、检查页、回执", "个季度"),
}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_STEP_EVENT = re.compile(r" - (?P<step>\w+) - (?P<event>STEP_START|STEP_SUCCESS|STEP_FAILURE) - ")
_STEP_LOG = re.compile(r" - [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} - (?:\d+ - )?(?P<step>\w+) - ")
_COUNTED = re.compile(r"\b(?P<done>\d+)/(?P<total>\d+) (?:files read|suites validated|quarters exported)\b")
_DBT_NODE_DONE = re.compile(r"^\s*(?:\d\d:\d\d:\d\d\s+)?\d+ of (?P<total>\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")
_RECEIPTS = re.compile(r"receipts (?P<written>\d+) written, (?P<unchanged>\d+) unchanged")


@dataclass
class Stage:
    step: str
    label: str
    unit: str
    started: float
    done: int = 0
    total: int | None = None
    ended: float | None = None
    failed: bool = False
    note: str = ""

    def line(self, now: float | None = None) -> str:
        """The stage as one plain line: what the non-TTY terminal prints when the stage ends."""
        seconds = (self.ended or now or time.monotonic()) - self.started
        mark = "✗" if self.failed else "✓"
        parts = [f"{mark} {pad(self.label, 18)}", pad(self.count, 16), f"{seconds:6.1f} s"]
        if self.failed:
            parts.append("失败")
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)

    @property
    def count(self) -> str:
        return f"{self.done}/{self.total} {self.unit}" if self.total else ""


def pad(text: str, cells: int) -> str:
    """Left-justify in terminal cells: a Chinese character takes two."""
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, cells - width)


@dataclass
class ProgressParser:
    """Stages and their counts, read from the run's log lines (a pure consumer: ``feed`` one line at a time)."""

    stages: dict[str, Stage] = field(default_factory=dict)
    current: str | None = None
    clock: object = time.monotonic

    def feed(self, line: str) -> Stage | None:
        """Take one log line; return the stage it moved, if any."""
        text = _ANSI.sub("", line)
        m = _STEP_EVENT.search(text)
        if m:
            return self._step_event(m.group("step"), m.group("event"))
        m = _STEP_LOG.search(text)
        if m and m.group("step") in STAGES:
            self.current = m.group("step")
        stage = self.stages.get(self.current) if self.current else None
        if stage is None or stage.ended is not None:
            return None
        m = _COUNTED.search(text)
        if m:
            stage.done, stage.total = int(m.group("done")), int(m.group("total"))
            return stage
        m = _DBT_NODE_DONE.match(text)
        if m and stage.step.startswith("dbt_"):
            total = int(m.group("total"))
            if stage.total != total:  # a second dbt invocation in the same step counts afresh
                stage.done, stage.total = 0, total
            stage.done = min(stage.done + 1, total)
            return stage
        m = _RECEIPTS.search(text)
        if m:
            stage.note = f"回执 新写入 {m.group('written')} 份，未变 {m.group('unchanged')} 份"
            return stage
        return None

    def _step_event(self, step: str, event: str) -> Stage | None:
        if step not in STAGES:
            return None
        now = self.clock()
        if event == "STEP_START":
            label, unit = STAGES[step]
            self.stages[step] = Stage(step, label, unit, started=now)
            self.current = step
            return self.stages[step]
        stage = self.stages.get(step)
        if stage is None:
            return None
        stage.ended, stage.failed = now, event == "STEP_FAILURE"
        return stage


class _Display:
    """Where the progress goes: a live rich line per stage on a TTY, a plain line per finished stage
    elsewhere (pipes, CI logs), nothing when quiet. Colour only on a TTY."""

    def __init__(self, terminal: TextIO, mode: str) -> None:
        self.mode = mode
        self.terminal = terminal
        self.live = mode == "progress" and terminal.isatty()
        self.progress = None
        self.tasks: dict[str, int] = {}
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(file=terminal, force_terminal=True, highlight=False)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30),
                                     TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
                                     TextColumn("{task.fields[note]}"), console=console, transient=False,
                                     # rich would swap sys.stdout/err for its own, and the logs would be back
                                     # on the terminal: they stay on the descriptors, i.e. in the log file.
                                     redirect_stdout=False, redirect_stderr=False)
            self.progress.start()

    def update(self, stage: Stage) -> None:
        if self.mode == "quiet":
            return
        if self.progress is not None:
            count = stage.count
            description = f"[red]✗ {pad(stage.label, 18)}" if stage.failed else pad(stage.label, 18)
            if stage.step not in self.tasks:
                self.tasks[stage.step] = self.progress.add_task(description, total=None, count=count,
                                                                note=stage.note)
            task = self.tasks[stage.step]
            finished = stage.ended is not None
            self.progress.update(task, description=description, count=count, note=stage.note,
                                 total=(stage.total or 1) if (stage.total or finished) else None,
                                 completed=(stage.total or 1) if finished and not stage.failed else stage.done)
            if finished:
                self.progress.stop_task(task)
        elif stage.ended is not None:
            self.terminal.write(stage.line() + "\n")
            self.terminal.flush()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@dataclass
class RunOutput:
    """The log file of one run and what became of its progress (the CLI prints the path at the end)."""

    log_file: Path
    parser: ProgressParser
    drained: bool = False  # the log holds everything written in the block (its end marker was read)


def new_log_path(workdir: Path, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return workdir / LOGS_DIRNAME / f"run-{stamp}.log"


def prune_logs(logs_dir: Path, keep: int = LOGS_KEPT) -> list[Path]:
    """Remove all but the ``keep`` newest run logs (their names sort by time); return what was removed."""
    old = sorted(logs_dir.glob("run-*.log"))[:-keep] if keep else sorted(logs_dir.glob("run-*.log"))
    for path in old:
        path.unlink(missing_ok=True)
    return old


@contextlib.contextmanager
def routed_output(workdir: Path, mode: str = "progress") -> Iterator[RunOutput]:
    """Send fds 1 and 2 to the run's log file for the block; ``mode``: progress | verbose | quiet.

    The terminal keeps what is written after the block (the summary, a one-line error).
    """
    path = new_log_path(workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    prune_logs(path.parent, LOGS_KEPT - 1)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", encoding="utf-8", errors="replace", buffering=1)
    display = _Display(terminal, mode)
    parser = ProgressParser()
    read_fd, write_fd = os.pipe()
    log = open(path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by the reader thread

    output = RunOutput(path, parser)
    end = f"\x00end of run {os.getpid()} {time.time_ns()}\n"

    def pump() -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as pipe, log:
            for line in pipe:
                if line.endswith(end):  # after a last line that had no newline of its own, too
                    log.write(_ANSI.sub("", line[:-len(end)]))
                    output.drained = True
                    return
                log.write(_ANSI.sub("", line))
                log.flush()
                if mode == "verbose":
                    terminal.write(line)
                stage = parser.feed(line)
                if stage is not None:
                    display.update(stage)

    reader = threading.Thread(target=pump, name="run-log", daemon=True)
    reader.start()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield output
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # The pipe's end is not a sign the block is over: a child that outlives it keeps a copy of the
        # descriptors (multiprocessing's resource tracker lives as long as this process did), and waiting for
        # its end would hold every run that long. A marker line ends the log instead.
        os.write(1, end.encode())
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        # Bounded all the same: the marker cannot be read if the pump thread died.
        reader.join(timeout=10)
        display.close()
        terminal.close()
