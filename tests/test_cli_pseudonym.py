"""``sasac-skills pseudonym``: the key holder turns 身份证号 into the warehouse's pseudonym, never the reverse,
and the ID is never echoed."""

from __future__ import annotations

import csv
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from pipelines.lib.generator.flows import FLOWS_FILE
from pipelines.lib.intake.pseudonym import DEMO_KEY, person_key
from tests.conftest import DEMO_INBOX

CLI = str(Path(sys.executable).parent / "sasac-skills")
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analyst-guide.md"
KEY = "a-real-key-kept-outside-the-repo-2008"


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SASAC_DEMO", "SASAC_HMAC_KEY")}
    return {**base, **extra}


def _run(text: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "pseudonym"], input=text, capture_output=True, text=True, env=_env(**env),
                          timeout=60, check=False)


def _demo_ids(n: int) -> list[str]:
    with (DEMO_INBOX / FLOWS_FILE).open(encoding="utf-8") as fh:
        return sorted({r["id_number"] for r in csv.DictReader(fh)})[:n]


def test_prints_only_the_pseudonym_of_each_line_with_the_intakes_key() -> None:
    ids = _demo_ids(3)
    legacy = "110105661120725"  # a 15-digit number: same person as its 18-digit form
    result = _run("\n".join([*ids, legacy]) + "\n", SASAC_HMAC_KEY=KEY)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [person_key(i, KEY.encode()) for i in [*ids, legacy]]
    assert lines[-1] == person_key("110105196611207255", KEY.encode())
    assert all(re.fullmatch(r"p_[0-9a-f]{20}", line) for line in lines)
    for i in ids:
        assert i not in result.stdout + result.stderr


def test_a_different_key_gives_different_pseudonyms_and_the_demo_key_the_warehouses() -> None:
    ids = _demo_ids(1)
    real = _run(ids[0], SASAC_HMAC_KEY=KEY).stdout.strip()
    demo = _run(ids[0], SASAC_DEMO="1").stdout.strip()
    assert demo == person_key(ids[0], DEMO_KEY) != real


def test_the_guides_example_pseudonym_is_a_demo_persons() -> None:
    """Analyst guide query 13 follows a pseudonym: it is what the command prints for one of the demo's people."""
    shown = set(re.findall(r"p_[0-9a-f]{20}", GUIDE.read_text(encoding="utf-8")))
    assert shown
    with (DEMO_INBOX / FLOWS_FILE).open(encoding="utf-8") as fh:
        ids = sorted({r["id_number"] for r in csv.DictReader(fh)})
    printed = set(_run("\n".join(ids), SASAC_DEMO="1").stdout.split())
    assert shown <= printed


def test_an_invalid_id_is_refused_without_echoing_it() -> None:
    bad = "11010519661120725X"  # wrong check character
    good = _demo_ids(1)[0]
    result = _run(f"{bad}\n{good}\n", SASAC_DEMO="1")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["-", person_key(good, DEMO_KEY)]
    assert "第1行" in result.stderr and bad not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_without_a_key_it_says_so_in_one_line() -> None:
    result = _run(_demo_ids(1)[0])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "SASAC_HMAC_KEY" in lines[0]
    assert result.stdout == ""


def test_at_a_terminal_the_id_is_typed_at_a_hidden_prompt() -> None:
    the_id = _demo_ids(1)[0]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on a terminal
        os.execve(CLI, [CLI, "pseudonym"], _env(SASAC_DEMO="1"))
    seen = b""

    def read_until(done: bytes, timeout: float = 30) -> None:
        nonlocal seen
        end = time.monotonic() + timeout
        while done not in seen and time.monotonic() < end:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    return

    read_until("输入不显示".encode())
    os.write(fd, the_id.encode() + b"\n")
    read_until(b"p_")
    read_until(b"\n", 5)
    _, status = os.waitpid(pid, 0)
    text = seen.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert person_key(the_id, DEMO_KEY) in text
    assert the_id not in text  # not echoed by the terminal
