"""Generated inboxes the benchmarks measure, cached so a second `make bench` does not generate again.

An inbox is keyed by (enterprises, first–last period, seed, clean) and by a digest of the generator's
own source: a changed generator makes other files, so an inbox it did not write is never reused.
Generation runs in a child process (`sasac-skills generate`) so its memory never counts in a
benchmark's figures; it writes to a temporary folder renamed into place when complete, so an
interrupted generation leaves nothing that looks cached.

Cache folder: ``--cache DIR`` of the benchmarks, else ``$SASAC_BENCH_CACHE``, else
``$XDG_CACHE_HOME/sasac-bench``, else ``/tmp/sasac-bench-cache``. Delete it to regenerate.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PERIOD = "2008Q2"
SEED = 7
REPO = Path(__file__).resolve().parents[1]


def default_cache() -> Path:
    if os.environ.get("SASAC_BENCH_CACHE"):
        return Path(os.environ["SASAC_BENCH_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "sasac-bench"
    return Path("/tmp/sasac-bench-cache")


def _generator_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((REPO / "pipelines" / "lib" / "generator").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def cli_command() -> list[str]:
    """The installed `sasac-skills` beside this interpreter (the venv's), else the module."""
    script = Path(sys.executable).parent / "sasac-skills"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]


def cached_inbox(enterprises: int, first: str = PERIOD, last: str | None = None, *, seed: int = SEED,
                 clean: bool = True, cache: Path | None = None) -> Path:
    """The inbox `sasac-skills generate` writes for these settings: from the cache, or generated into it."""
    last = last or first
    cache = cache or default_cache()
    name = f"n{enterprises}_{first}-{last}_seed{seed}_{'clean' if clean else 'demo'}_gen{_generator_digest()}"
    inbox = cache / name
    if (inbox / "registry.csv").exists():
        print(f"inbox: reusing {inbox} ({enterprises} enterprises × {first}–{last}, seed {seed}, "
              f"{'clean' if clean else 'with defects'})", flush=True)
        return inbox
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [*cli_command(), "generate", "--out", str(tmp), "--enterprises", str(enterprises), "--first", first,
           "--last", last, "--seed", str(seed), *(["--clean"] if clean else [])]
    started = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    except BaseException:  # interrupted or failed: leave no half inbox behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(inbox)
    except OSError:  # another bench generated the same inbox meanwhile: keep theirs
        if not (inbox / "registry.csv").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"inbox: generated {enterprises} enterprises × {first}–{last} (seed {seed}, "
          f"{'clean' if clean else 'with defects'}) in {time.perf_counter() - started:.1f} s -> {inbox}", flush=True)
    return inbox


def _resave_with_openpyxl(paths: list[str]) -> None:
    import openpyxl  # the benchmark's dependency only, in the child that uses it

    for path in paths:
        openpyxl.load_workbook(path).save(path)


def resaved_inbox(inbox: Path) -> Path:
    """The same inbox with every workbook opened and saved again by openpyxl: contract workbooks that
    another tool wrote (its own shared strings, styles, dimension and zip layout), same cells and values.

    Cached beside ``inbox`` as ``<inbox>_openpyxl``; CSV folders and the registry are hard links.
    """
    import concurrent.futures

    out = inbox.with_name(f"{inbox.name}_openpyxl")
    if (out / "registry.csv").exists():
        print(f"inbox: reusing {out} (re-saved by openpyxl)", flush=True)
        return out
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.perf_counter()
    try:
        shutil.copytree(inbox, tmp, copy_function=shutil.copy2)
        books = sorted(str(p) for p in tmp.rglob("*.xlsx"))
        workers = os.cpu_count() or 1
        chunks = [books[i::workers * 8] for i in range(workers * 8)]
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            list(pool.map(_resave_with_openpyxl, chunks))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"inbox: re-saved {len(books)} workbooks with openpyxl in {time.perf_counter() - started:.1f} s -> {out}",
          flush=True)
    return out


def quarter_inbox(enterprises: int, reuse: Path | None = None, cache: Path | None = None,
                  clean: bool = False) -> Path:
    """``reuse`` when given (an inbox generated earlier), else N enterprises × PERIOD from the cache."""
    if reuse is not None:
        return reuse
    return cached_inbox(enterprises, PERIOD, PERIOD, clean=clean, cache=cache)
