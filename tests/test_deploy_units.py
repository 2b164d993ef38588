"""The systemd units, the environment file and the logrotate file in deploy/ name commands that exist, and every
variable the platform reads is documented (docs/operations.md, "Services")."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

UNITS = REPO / "deploy" / "systemd"
ENV_EXAMPLE = REPO / "deploy" / "sasac.env.example"
OPERATIONS = REPO / "docs" / "operations.md"
LOGROTATE = REPO / "deploy" / "logrotate" / "sasac"
INSTALLED_BIN = "/opt/sasac/.venv/bin/"  # the production checkout's venv, as the units name it
VENV_BIN = Path(sys.executable).parent
SERVICES = sorted(UNITS.glob("*.service"))
TIMERS = sorted(UNITS.glob("*.timer"))
LONG_RUNNING = {"sasac-code-server", "sasac-daemon", "sasac-webserver", "sasac-portal"}


class _Repeated(dict):
    """A section's keys where a key given again adds a value, as systemd reads list settings (EnvironmentFile=,
    ReadWritePaths=): configparser keeps a key's lines in a list while it reads, then joins them by newlines."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and isinstance(self.get(key), list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    parser = configparser.RawConfigParser(strict=False, dict_type=_Repeated, interpolation=None,
                                          empty_lines_in_values=False, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return {section: {key: value.split("\n") for key, value in parser.items(section)}
            for section in parser.sections()}


def exec_start(unit: dict) -> list[str]:
    (line,) = unit["Service"]["ExecStart"]
    return shlex.split(line)


def test_every_file_is_a_unit_or_a_timer_with_a_description() -> None:
    assert SERVICES and TIMERS
    assert sorted(UNITS.iterdir()) == sorted([*SERVICES, *TIMERS])
    for path in [*SERVICES, *TIMERS]:
        assert parse_unit(path)["Unit"]["Description"], path.name


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.stem)
def test_a_service_runs_a_venv_program_as_sasac_with_the_env_file_and_hardening(path: Path) -> None:
    unit = parse_unit(path)
    service = unit["Service"]
    program = exec_start(unit)[0]
    assert program.startswith(INSTALLED_BIN), program
    local = VENV_BIN / program.removeprefix(INSTALLED_BIN)
    assert local.is_file() and os.access(local, os.X_OK), f"{program}: no {local}"
    assert service["User"] == ["sasac"] and service["WorkingDirectory"] == ["/opt/sasac"]
    assert "/etc/sasac/sasac.env" in service["EnvironmentFile"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}.items():
        assert service[key] == [value], (path.name, key)
    rw_paths = " ".join(service["ReadWritePaths"]).split()
    assert rw_paths and all(p.startswith("/srv/") for p in rw_paths)
    if path.stem in LONG_RUNNING:
        assert service["Restart"] == ["on-failure"] and unit["Install"]["WantedBy"] == ["multi-user.target"]
    else:
        assert service["Type"] == ["oneshot"] and (UNITS / f"{path.stem}.timer").is_file()


def test_the_key_reaches_exactly_the_services_that_pseudonymise_or_record_its_check() -> None:
    with_key = {p.stem for p in SERVICES if "/etc/sasac/hmac.env" in parse_unit(p)["Service"]["EnvironmentFile"]}
    assert with_key == {"sasac-code-server", "sasac-portal", "sasac-backup"}


def test_the_daemon_and_the_webserver_use_the_code_server() -> None:
    daemon = parse_unit(UNITS / "sasac-daemon.service")["Unit"]
    assert daemon["Requires"] == ["sasac-code-server.service"] and daemon["After"] == ["sasac-code-server.service"]
    code_server = exec_start(parse_unit(UNITS / "sasac-code-server.service"))
    port = code_server[code_server.index("-p") + 1]
    workspace = (REPO / "deploy" / "workspace.yaml").read_text(encoding="utf-8")
    assert re.search(rf"port:\s*{port}\b", workspace) and "grpc_server" in workspace
    for name in ("sasac-daemon", "sasac-webserver"):
        args = exec_start(parse_unit(UNITS / f"{name}.service"))
        assert args[args.index("-w") + 1] == "${DAGSTER_HOME}/workspace.yaml"


def _subcommand(args: list[str]) -> list[str]:
    words = []
    for word in args[1:]:
        if word.startswith("-"):
            break
        words.append(word)
    return words


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.stem)
def test_each_command_and_option_a_service_names_exists(path: Path) -> None:
    """``<program> <subcommand> --help`` succeeds and lists every option the unit passes: a renamed command or
    option breaks here, not on the server."""
    args = exec_start(parse_unit(path))
    program = VENV_BIN / args[0].removeprefix(INSTALLED_BIN)
    help_run = subprocess.run([str(program), *_subcommand(args), "--help"], capture_output=True, text=True,
                              timeout=120, check=False, env={**os.environ, "SASAC_DEMO": "1"})
    assert help_run.returncode == 0, help_run.stderr
    for option in (a.split("=", 1)[0] for a in args if a.startswith("-")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_run.stdout), (path.name, option)


@pytest.mark.parametrize("path", TIMERS, ids=lambda p: p.stem)
def test_a_timer_starts_its_service(path: Path) -> None:
    timer = parse_unit(path)
    assert (UNITS / f"{path.stem}.service").is_file()
    assert "Unit" not in timer["Timer"]  # the service of the same name
    assert timer["Timer"].keys() & {"OnCalendar", "OnUnitActiveSec"}
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def _documented() -> str:
    return ENV_EXAMPLE.read_text(encoding="utf-8") + OPERATIONS.read_text(encoding="utf-8")


def test_every_sasac_variable_the_platform_or_a_unit_reads_is_documented() -> None:
    read = set()
    for path in (REPO / "pipelines").rglob("*.py"):
        read |= set(re.findall(r"""["'](SASAC_[A-Z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    for path in SERVICES:
        read |= set(re.findall(r"\$\{?(SASAC_[A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    assert {"SASAC_INBOX", "SASAC_HMAC_KEY", "SASAC_PORTAL_DB"} <= read
    documented = set(re.findall(r"SASAC_[A-Z0-9_]+", _documented()))
    assert read - documented == set()


def test_every_variable_a_unit_expands_is_set_in_the_env_example() -> None:
    env = ENV_EXAMPLE.read_text(encoding="utf-8")
    set_here = set(re.findall(r"^([A-Z][A-Z0-9_]*)=\S", env, flags=re.M))
    for path in SERVICES:
        for name in re.findall(r"\$\{([A-Z0-9_]+)\}", path.read_text(encoding="utf-8")):
            assert name in set_here, (path.name, name)
    assert {"DAGSTER_HOME", "SASAC_INBOX", "SASAC_WAREHOUSE", "SASAC_WORKDIR", "DO_NOT_TRACK"} <= set_here
    assert re.search(r"^SASAC_AUTOMATION=on$", env, flags=re.M)
    assert not re.search(r"^(SASAC_HMAC_KEY|SASAC_DEMO)=", env, flags=re.M)  # never in the shared file


def test_the_paths_the_units_may_write_are_those_of_the_env_example() -> None:
    env = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S+)", ENV_EXAMPLE.read_text(encoding="utf-8"), flags=re.M))
    allowed = {env["DAGSTER_HOME"], env["SASAC_INBOX"], env["SASAC_WORKDIR"], env["SASAC_BACKUP_DIR"],
               str(Path(env["SASAC_WAREHOUSE"]).parent)}
    root = os.path.commonpath(sorted(allowed - {env["SASAC_BACKUP_DIR"]}))
    for path in SERVICES:
        for rw in " ".join(parse_unit(path)["Service"]["ReadWritePaths"]).split():
            assert rw in allowed or rw == root, (path.name, rw)
    assert f"{env['SASAC_WORKDIR']}/logs/alerts.jsonl" in LOGROTATE.read_text(encoding="utf-8")


def test_logrotate_keeps_half_a_year_of_alerts_without_losing_a_line() -> None:
    text = LOGROTATE.read_text(encoding="utf-8")
    block = re.search(r"alerts\.jsonl \{(.*?)\}", text, flags=re.S).group(1).split()
    assert {"weekly", "compress", "copytruncate", "missingok"} <= set(block)
    assert block[block.index("rotate") + 1] == "26"


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on copies whose /opt/sasac is this checkout (where the programs exist). Where the
    machine has no systemd-analyze, the checks above are all there is."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    for path in [*SERVICES, *TIMERS]:
        text = path.read_text(encoding="utf-8").replace(INSTALLED_BIN, f"{VENV_BIN}/").replace("/opt/sasac", str(REPO))
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    result = subprocess.run([analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert not re.search(r"Unknown|ignoring|not executable", result.stderr + result.stdout), result.stderr
