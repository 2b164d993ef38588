"""The README's commands must not rot: every make target and every sasac-skills option it shows exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CLI = str(Path(sys.executable).parent / "sasac-skills")


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    shown = set(re.findall(r"`?make ([a-z][a-z-]*)`?", README))
    assert {"run", "test"} <= shown
    assert shown <= targets, shown - targets


def test_every_cli_command_and_option_in_the_readme_exists() -> None:
    # join continuation lines, then take every `sasac-skills <command> …` invocation
    text = README.replace("\\\n", " ")
    calls = re.findall(r"sasac-skills (\w+)([^\n`#]*)", text)
    assert {c for c, _ in calls} >= {"run", "template", "generate"}
    for command, rest in calls:
        words = [command]
        sub = re.match(r"\s+([a-z][a-z-]*)", rest)  # a group's subcommand (`portal add-user`) has its own options
        if sub and subprocess.run([CLI, command, sub.group(1), "--help"], capture_output=True).returncode == 0:
            words.append(sub.group(1))
        help_text = subprocess.run([CLI, *words, "--help"], capture_output=True, text=True, check=True).stdout
        for option in re.findall(r"(--[a-z][a-z-]*)", rest):
            assert option in help_text, (command, option)


def test_ci_runs_the_readme_commands() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci and "make run" in ci
