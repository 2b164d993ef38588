"""The run's terminal: progress read from the log lines, every log (children's too) in the run's log file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipelines.console import ProgressParser, Stage, pad, prune_logs

RUN_ID = "3028b62d-fbd7-4ff1-b980-04a4254c05ca"


def dagster(step: str, message: str, event: str | None = None) -> str:
    head = f"2026-11-29 17:33:10 +0000 - dagster - INFO - quarterly_run - {RUN_ID}"
    return f"{head} - 4242 - {step} - {event} - {message}" if event else f"{head} - {step} - {message}"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stages_and_counts_come_from_the_step_events_and_the_assets_messages() -> None:
    clock = Clock()
    parser = ProgressParser(clock=clock)
    assert parser.feed(dagster("raw_submissions", 'Started execution of step "raw_submissions".', "STEP_START"))
    parser.feed(dagster("raw_submissions", "intake: 100/240 files read"))
    assert (parser.stages["raw_submissions"].done, parser.stages["raw_submissions"].total) == (100, 240)
    parser.feed(dagster("raw_submissions", "intake: 240/240 files read"))
    clock.now = 103.5
    parser.feed(dagster("raw_submissions", 'Finished execution of step "raw_submissions".', "STEP_SUCCESS"))
    intake = parser.stages["raw_submissions"]
    assert intake.ended == 103.5 and not intake.failed
    assert intake.line().startswith("✓ 收件") and "240/240 个文件" in intake.line() and "3.5 s" in intake.line()

    # dbt: dagster-dbt echoes one line per node, colour codes and all; finished nodes count, starts do not
    parser.feed(dagster("dbt_core_models", "", "STEP_START"))
    parser.feed(dagster("dbt_core_models", "Running dbt command: `dbt build`."))
    parser.feed("1 of 3 START sql view model staging.stg_raw__findings ........ [RUN]")
    parser.feed("2 of 3 OK created sql view model staging.stg_raw__funds ...... [\x1b[32mOK\x1b[0m in 0.24s]")
    parser.feed("1 of 3 OK created sql view model staging.stg_raw__findings ... [\x1b[32mOK\x1b[0m in 0.25s]")
    dbt = parser.stages["dbt_core_models"]
    assert (dbt.done, dbt.total) == (2, 3)
    parser.feed("3 of 3 PASS not_null_ref_tones_tone ......................... [\x1b[32mPASS\x1b[0m in 0.20s]")
    parser.feed("Done. PASS=1 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=3")
    assert (dbt.done, dbt.total) == (3, 3)
    parser.feed(dagster("dbt_core_models", "", "STEP_FAILURE"))
    assert dbt.failed and "失败" in dbt.line()

    parser.feed(dagster("flags__expectation_flags", "", "STEP_START"))
    parser.feed(dagster("flags__expectation_flags", "expectations: 9/9 suites validated, 40 flags"))
    assert parser.stages["flags__expectation_flags"].count == "9/9 个规则组"

    parser.feed(dagster("published_exports", "", "STEP_START"))
    parser.feed(dagster("published_exports", "exports: 20/20 quarters exported"))
    parser.feed(dagster("published_exports", "exported 20 quarters (…): receipts 240 written, 0 unchanged, "
                                               "0 removed"))
    exports = parser.stages["published_exports"]
    assert exports.count == "20/20 个季度" and "240" in exports.note
    # check steps and unknown steps are not stages of their own
    assert parser.feed(dagster("suite_checks", "", "STEP_START")) is None
    assert list(parser.stages) == ["raw_submissions", "dbt_core_models", "flags__expectation_flags",
                                   "published_exports"]


def test_a_chinese_label_is_padded_by_terminal_cells() -> None:
    assert pad("收件", 6) == "收件  " and pad("dbt", 6) == "dbt   "
    a = Stage("a", "收件", "个文件", 0.0, 1, 1, 1.0).line()
    b = Stage("b", "dbt 问题集市", "个节点", 0.0, 13, 13, 1.0).line()
    width = [sum(2 if ord(c) > 0x2E80 else 1 for c in line[:line.index("  1.0 s")]) for line in (a, b)]
    assert width[0] == width[1]


_ROUTED = r"""
import os, subprocess, sys
from pathlib import Path
from pipelines.console import routed_output
with routed_output(Path(sys.argv[1]), sys.argv[2]) as out:
    print("python stdout line", flush=True)
    print("python stderr line", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-c", "print('a child process line')"], check=True)
print("after", out.log_file)
"""


def _routed(tmp_path: Path, mode: str) -> tuple[str, Path]:
    result = subprocess.run([sys.executable, "-c", _ROUTED, str(tmp_path / mode), mode], capture_output=True,
                            text=True, timeout=60, check=True)
    terminal = result.stdout + result.stderr
    log = Path(terminal.split("after ", 1)[1].strip())
    return terminal, log


def test_everything_written_during_the_run_goes_to_the_log_file_not_the_terminal(tmp_path: Path) -> None:
    terminal, log = _routed(tmp_path, "progress")
    assert log.parent == tmp_path / "progress" / "logs" and log.name.startswith("run-")
    text = log.read_text(encoding="utf-8")
    for line in ("python stdout line", "python stderr line", "a child process line"):
        assert line in text and line not in terminal
    assert terminal.startswith("after ")  # what is printed after the run reaches the terminal again


def test_verbose_streams_the_logs_and_keeps_the_file(tmp_path: Path) -> None:
    terminal, log = _routed(tmp_path, "verbose")
    for line in ("python stdout line", "python stderr line", "a child process line"):
        assert line in terminal and line in log.read_text(encoding="utf-8")
    assert "\x1b[" not in terminal  # not a TTY: no colour codes


_OUTLIVED = r"""
import subprocess, sys
from pathlib import Path
from pipelines.console import routed_output
with routed_output(Path(sys.argv[1]), "quiet") as out:
    # Like multiprocessing's resource tracker: a child that keeps the block's descriptors after the block.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print("last line without a newline", end="", flush=True)
print("drained", out.drained, "child alive", child.poll() is None, out.log_file)
child.kill()
"""


def test_a_child_that_outlives_the_block_does_not_hold_up_its_end(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _OUTLIVED, str(tmp_path)], capture_output=True, text=True,
                            timeout=60, check=True)
    words = result.stdout.split()
    # Drained while the child still holds the pipe: the block ended on its marker, not on the pipe's end.
    assert words[:5] == ["drained", "True", "child", "alive", "True"], result.stdout
    log = Path(words[5]).read_text(encoding="utf-8")
    assert log.endswith("last line without a newline") and "end of run" not in log


_ROUTED_TTY = r"""
import sys
from pathlib import Path
from pipelines.console import routed_output
sys.path.insert(0, sys.argv[2])
from tests.test_console import dagster
with routed_output(Path(sys.argv[1]), "progress"):
    print(dagster("raw_submissions", "", "STEP_START"), flush=True)
    print("python stdout line", flush=True)
    print(dagster("raw_submissions", "intake: 3/3 files read"), file=sys.stderr, flush=True)
    print(dagster("raw_submissions", "", "STEP_SUCCESS"), flush=True)
print("after")
"""


def test_on_a_terminal_the_progress_is_live_and_coloured_and_the_logs_still_stay_in_the_file(tmp_path: Path) -> None:
    import os
    import pty

    repo = Path(__file__).resolve().parents[1]
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", _ROUTED_TTY, str(tmp_path), str(repo)], stdin=follower,
                            stdout=follower, stderr=follower, cwd=repo)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    terminal = b"".join(chunks).decode("utf-8", errors="replace")
    assert proc.returncode == 0, terminal
    assert "收件" in terminal and "3/3 个文件" in terminal and "after" in terminal
    assert "python stdout line" not in terminal and "STEP_START" not in terminal
    assert "\x1b[" in terminal  # a TTY: rich draws (and colours) the line
    log = next((tmp_path / "logs").glob("run-*.log")).read_text(encoding="utf-8")
    assert "python stdout line" in log and "STEP_SUCCESS" in log


def test_only_the_newest_run_logs_are_kept(tmp_path: Path) -> None:
    names = [f"run-2026112{d}-0{h}0000.log" for d in range(1, 4) for h in range(1, 4)]
    for name in reversed(names):
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("kept", encoding="utf-8")
    removed = prune_logs(tmp_path, keep=4)
    assert [p.name for p in removed] == names[:5]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[5:], "notes.txt"])
