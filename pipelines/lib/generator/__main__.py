"""python -m pipelines.lib.generator --out DIR --enterprises N --first 2006Q1 --last 2010Q4 --seed S"""

from __future__ import annotations

import time
from pathlib import Path

import click

from pipelines.lib.generator.config import GeneratorConfig, clean_config, demo_config
from pipelines.lib.generator.core import generate


def config_from_args(
    enterprises: int | None = None, groups: int | None = None, first: str | None = None, last: str | None = None,
    seed: int | None = None, clean: bool = False, workers: int | None = None,
) -> GeneratorConfig:
    """The demo config with whatever the caller overrides (shared with the sasac-skills CLI)."""
    cfg = clean_config(**vars(demo_config())) if clean else demo_config()
    if enterprises is not None:
        cfg.n_enterprises = enterprises
        if enterprises > 50:  # beyond the demo: the contract's full range of enterprise sizes
            cfg.employees_range = GeneratorConfig().employees_range
    if groups is not None:
        cfg.n_groups = groups
    elif enterprises is not None:
        cfg.n_groups = max(1, min(enterprises, round(enterprises / 4)))
    for name, value in (("first", first), ("last", last), ("seed", seed), ("workers", workers)):
        if value is not None:
            setattr(cfg, name, value)
    cfg.__post_init__()
    return cfg


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("data/raw"), show_default=True)
@click.option("--enterprises", type=int, default=None, help="number of enterprises (demo: 12)")
@click.option("--groups", type=int, default=None, help="number of groups (default: demo 3, else n/4)")
@click.option("--first", default=None, help="first period, e.g. 2006Q1")
@click.option("--last", default=None, help="last period, e.g. 2010Q4")
@click.option("--seed", type=int, default=None)
@click.option("--clean", is_flag=True, help="no defects, variants or violations")
@click.option("--workers", type=int, default=None, help="processes writing files (default 0 = auto)")
def main(out_dir, enterprises, groups, first, last, seed, clean, workers) -> None:
    cfg = config_from_args(enterprises, groups, first, last, seed, clean, workers)
    started = time.perf_counter()
    truth = generate(out_dir, cfg)
    took = time.perf_counter() - started
    click.echo(f"{cfg.n_enterprises} 家企业 × {cfg.first}–{cfg.last} -> {out_dir}：{len(truth.rows)} 条真值记录，"
               f"用时 {took:.1f} 秒")


if __name__ == "__main__":
    main()
