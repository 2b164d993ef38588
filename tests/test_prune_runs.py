"""``sasac-skills prune-runs``: finished runs of a real DAGSTER_HOME older than the cutoff are deleted, the rest stay."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import REPO
from tests.test_cli import cli, one_line_error


@dg.op
def _succeed() -> int:
    return 1


@dg.op
def _fail() -> int:
    raise RuntimeError("planned failure")


def _runs(home: Path) -> list[tuple[str, str]]:
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        return sorted((r.dagster_run.job_name, r.dagster_run.status.value) for r in instance.get_run_records())


def test_prune_runs_deletes_finished_runs_before_the_cutoff_only(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")  # the production settings load
    monkeypatch.setenv("SASAC_WORKDIR", str(tmp_path / "work"))  # where its run-log handler writes
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        dg.GraphDefinition("ok_job", node_defs=[_succeed]).to_job().execute_in_process(instance=instance)
        dg.GraphDefinition("failing_job", node_defs=[_fail]).to_job().execute_in_process(
            instance=instance, raise_on_error=False)
    assert _runs(home) == [("failing_job", "FAILURE"), ("ok_job", "SUCCESS")]
    env = {"DAGSTER_HOME": str(home)}

    kept = cli("prune-runs", env=env)  # default 400 days: runs of today stay
    assert kept.returncode == 0 and "已删除 deleted 0 次运行" in kept.stdout, kept.stderr
    counted = cli("prune-runs", "--older-than-days", "0", "--dry-run", env=env)
    assert counted.returncode == 0 and "将删除 would delete 2 次运行" in counted.stdout, counted.stderr
    assert len(_runs(home)) == 2

    pruned = cli("prune-runs", "--older-than-days", "0", env=env)
    assert pruned.returncode == 0 and "已删除 deleted 2 次运行" in pruned.stdout, pruned.stderr
    assert _runs(home) == []


def test_prune_runs_without_dagster_home_is_one_line(tmp_path: Path) -> None:
    result = cli("prune-runs", env={"DAGSTER_HOME": str(tmp_path / "nowhere")})
    assert result.returncode == 1 and "DAGSTER_HOME" in one_line_error(result)
