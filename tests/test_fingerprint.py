"""The run fingerprint notices every change of the inbox that a run would see, and survives what a hostile inbox
holds (names that are not UTF-8, links, unlistable folders) without following or opening anything."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.lib.domain.fingerprint import inbox_digest
from pipelines.lib.domain.periods import Period

Q = Period(2008, 2)


def test_any_change_of_an_entry_changes_the_digest_and_nothing_else_does(tmp_path: Path) -> None:
    (tmp_path / "registry.csv").write_text("a\n", encoding="utf-8")
    folder = tmp_path / "2008Q2"
    folder.mkdir()
    (folder / "a.xlsx").write_bytes(b"x")
    (folder / "csv_dir").mkdir()
    (folder / "csv_dir" / "基本情况.csv").write_bytes(b"y")
    first = inbox_digest(tmp_path, [Q])
    assert inbox_digest(tmp_path, [Q]) == first
    (tmp_path / "2008Q3").mkdir()  # a quarter the run does not cover
    (tmp_path / "说明.txt").write_text("an operator's note beside the registry", encoding="utf-8")
    assert inbox_digest(tmp_path, [Q]) == first, "only what the intake reads counts"

    seen = {first}
    for change in (lambda: (folder / "b.xlsx").write_bytes(b"z"),
                   lambda: (folder / "a.xlsx").write_bytes(b"xx"),
                   lambda: os.utime(folder / "a.xlsx", ns=(1, 1)),
                   lambda: (folder / "csv_dir" / "基本情况.csv").write_bytes(b"yy"),
                   lambda: (tmp_path / "registry.csv").write_text("b\n", encoding="utf-8")):
        change()
        digest = inbox_digest(tmp_path, [Q])
        assert digest not in seen
        seen.add(digest)


def test_hostile_entries_are_stamped_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "2008Q2"
    folder.mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}_outside.txt"
    outside.write_text("secret", encoding="utf-8")
    os.symlink(outside, folder / "link.xlsx")
    os.symlink(folder / "missing", folder / "dangling.xlsx")
    (folder / os.fsdecode(b"\xfe\xff_2008Q2.xlsx")).write_bytes(b"x")
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        first = inbox_digest(tmp_path, [Q])
        outside.write_text("changed secret", encoding="utf-8")
        assert inbox_digest(tmp_path, [Q]) == first, "a link's target is never looked at"
    finally:
        locked.chmod(0o700)
