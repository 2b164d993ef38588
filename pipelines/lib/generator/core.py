"""generate(): registry, simulation, files, arrivals log and ground truth for one inbox."""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pipelines.lib.domain import contract
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import thresholds_for
from pipelines.lib.domain.rule_text import percent_text
from pipelines.lib.generator.config import VIOLATION_KINDS, GeneratorConfig
from pipelines.lib.generator.flows import FLOWS_FILE, write_flows
from pipelines.lib.generator.ground_truth import GROUND_TRUTH_FILE, GroundTruth, TruthRow
from pipelines.lib.generator.plan import Plan, load_reference, make_plan
from pipelines.lib.generator.registry import build_enterprises, write_registry
from pipelines.lib.generator.render import Rendered, WriteTask, render, write_task
from pipelines.lib.generator.simulate import QuarterData, Simulation

REGISTRY_FILE = contract.REGISTRY_FILE
_PERIOD_DIR = re.compile(r"^\d{4}Q[1-4]$")


def _clear(out_dir: Path) -> None:
    """Remove only what a previous run of the generator wrote."""
    for name in (REGISTRY_FILE, GROUND_TRUTH_FILE, FLOWS_FILE):
        (out_dir / name).unlink(missing_ok=True)
    for child in out_dir.iterdir():
        if child.is_dir() and _PERIOD_DIR.match(child.name):
            shutil.rmtree(child)


def _write_chunk(args: tuple[Path, list[WriteTask]]) -> None:
    out_dir, tasks = args
    for task in tasks:
        write_task(out_dir, task)


def _workers(requested: int, n_tasks: int) -> int:
    if requested > 0:
        return requested
    # Auto: processes only pay off for big periods: starting one (its imports) costs more than a small period's work.
    return min(4, os.cpu_count() or 1) if n_tasks >= 200 else 1


def _write_all(out_dir: Path, tasks: list[WriteTask], workers: int) -> None:
    workers = _workers(workers, len(tasks))
    if workers <= 1:
        _write_chunk((out_dir, tasks))
        return
    size = max(1, len(tasks) // (workers * 4))
    chunks = [(out_dir, tasks[i: i + size]) for i in range(0, len(tasks), size)]
    # The platform's default start method (fork on Linux): spawn would re-import the caller's
    # __main__, which breaks for stdin scripts and notebooks. Workers only write files.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_write_chunk, chunks))


def _write_arrivals(out_dir: Path, period: Period, tasks: list[WriteTask]) -> None:
    folder = out_dir / str(period)
    folder.mkdir(parents=True, exist_ok=True)
    entries = sorted((t.arrived_at, t.rel_path.split("/", 1)[1]) for t in tasks)
    with (folder / contract.ARRIVALS_FILE).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([c.header for c in contract.ARRIVALS_COLUMNS])
        for arrived, name in entries:
            writer.writerow([name, f"{arrived:%Y-%m-%d %H:%M:%S}"])


def _roster_row(rendered: Rendered, id_number: str) -> int | None:
    """Excel row of a person in the version that counts (header row 1, or 2 under a title row)."""
    for task in rendered.tasks:
        if f"{task.rel_path}" != rendered.current_file:
            continue
        rows = task.submission[contract.ROSTER.name]
        offset = 3 if contract.ROSTER.name in task.layout.title_row_sheets else 2
        for i, r in enumerate(rows):
            if r["id_number"].strip() == id_number:
                return i + offset
    return None


def _violation_truth(plan: Plan, sim: Simulation, slots: dict[tuple[str, Period], tuple[QuarterData, Rendered]],
                     truth: GroundTruth) -> None:
    def add(rule: str, org: str, period: Period, label: str, **kw) -> None:
        _, rendered = slots[(org, period)]
        truth.rows.append(TruthRow(kind="violation", period=label, org_code=org, file=rendered.current_file,
                                   rule_id=rule, defect=VIOLATION_KINDS[rule][0], **kw))

    for (org, year), rules in sorted(plan.year_violations.items()):
        end = plan.last_loaded(org, year)
        if end is None or year not in plan.full_years():
            continue
        qd, rendered = slots[(org, end)]
        label = f"{year}Q4"
        for rule in sorted(rules):
            if rule != "C01":
                add(rule, org, end, label, detail=f"{year}年（年末数据取自 {end}）")
                continue
            for id_number in qd.untrained_ids:
                add("C01", org, end, label, sheet=contract.ROSTER.name, row=_roster_row(rendered, id_number),
                    id_number=id_number, detail=f"{year}年末在册高技能人才，全年未参加培训")
                add("C02", org, end, label, detail=f"{year}年高技能人才培训覆盖率低于"
                                                         f"{percent_text(thresholds_for(end)['coverage_min'])}")
    for org, period in sorted(plan.quarter_violations):
        qd, rendered = slots[(org, period)]
        for id_number in qd.no_account_ids:
            add("C12", org, period, str(period), sheet=contract.ROSTER.name, row=_roster_row(rendered, id_number),
                id_number=id_number, detail="重点培养对象未设立个人培训账户")
    for e in sim.enterprises:
        if e.org_code not in sim.base:
            continue
        base_period, base_share, base_count = sim.base[e.org_code]
        # The baseline quarter has no line yet, whatever follows: it is judged against the Beijing average
        # (无基期 below it), so a verdict never changes when later quarters arrive.
        average = sim.ref.benchmark.get(base_period.year)
        if average is not None and base_share < average and plan.loaded(e.org_code, base_period):
            add("C05", e.org_code, base_period, str(base_period),
                detail=f"基期占比 {base_share:.4f} 低于{base_period.year}年北京市平均水平 {average:.4f}（无基期）")
        if not e.lagging:
            continue
        for p in plan.periods:
            if p <= base_period or not plan.loaded(e.org_code, p):
                continue
            qd, _ = slots[(e.org_code, p)]
            share = base_count / qd.profile["skilled_workers"]
            add("C05", e.org_code, p, str(p),
                detail=f"占比 {share:.4f} 低于进度线 {sim.trajectory(e.org_code, p):.4f}（基期 {base_share:.4f}）")


def generate(out_dir: Path, config: GeneratorConfig | None = None) -> GroundTruth:
    """Write a complete inbox (contract §4) into ``out_dir`` and return what was planted in it."""
    config = config or GeneratorConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear(out_dir)
    ref = load_reference()
    enterprises = build_enterprises(config, random.Random(f"{config.seed}-registry"))
    plan = make_plan(config, enterprises, ref, random.Random(f"{config.seed}-plan"))
    sim = Simulation(enterprises, plan, ref, random.Random(f"{config.seed}-people"))
    write_registry(out_dir / REGISTRY_FILE, enterprises, config)

    truth = GroundTruth()
    slots: dict[tuple[str, Period], tuple[QuarterData, Rendered]] = {}
    for quarter in sim.run():
        tasks: list[WriteTask] = []
        for qd in quarter:
            key = (qd.org_code, qd.period)
            rng = random.Random(f"{config.seed}-render-{qd.org_code}-{qd.period}")
            rendered = render(qd, plan.kind(*key), plan.arrivals[key], config.csv_rate, rng)
            tasks += rendered.tasks
            truth.rows += rendered.truth
            # Keep what the violation rows need, not the bulky rows, for big runs.
            slots[key] = (qd, rendered)
        period = quarter[0].period
        _write_all(out_dir, tasks, config.workers)
        _write_arrivals(out_dir, period, tasks)
    _violation_truth(plan, sim, slots, truth)
    truth = truth.sorted()
    truth.write(out_dir)
    write_flows(out_dir, sim.flows)
    return truth
