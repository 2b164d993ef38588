"""The inbox: the registry, the period folders and what arrived in them, and when."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.lib.domain import codes, names
from pipelines.lib.domain import contract as c
from pipelines.lib.domain.periods import Period, is_period
from pipelines.lib.intake.limits import EMPTY_REASON, LIMITS, too_big_reason
from pipelines.lib.intake.readers import ReadError, classify, decode_text
from pipelines.lib.intake.values import normalize_header, normalized, parse_code

log = logging.getLogger(__name__)

REGISTRY_FILE = c.REGISTRY_FILE
_FILE_CODE_RE = re.compile(r"^([0-9A-Za-z]{8}-?[0-9Xx])(?:[_\-\s]|$)")


class InboxError(Exception):
    """The inbox itself is unusable (missing folder, missing or broken registry)."""


@dataclass(frozen=True)
class Arrival:
    period: Period
    path: Path
    fmt: str
    sha256: str
    size_bytes: int
    arrived_at: dt.datetime
    payload: bytes | None  # what is archived: the file, or a deterministic zip of a CSV folder; None = nothing
    problem: str | None = None  # why the entry is rejected before anything reads it (Chinese, for the clerk)
    ignored: str | None = None  # why the entry is OS debris and not a submission (Chinese)
    notes: tuple[tuple[int, str], ...] = field(default=())  # (line, message) of the arrivals log about it
    recorded_id: str | None = None  # a held file read again from the archive keeps the id it was given

    @property
    def submission_id(self) -> str:
        if self.recorded_id:
            return self.recorded_id
        # The name's own bytes: two names that differ only in undecodable bytes look alike once displayed.
        raw = f"{self.period}/".encode() + os.fsencode(self.path.name) + f"/{self.sha256}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def name(self) -> str:
        """The entry's name as it can be stored and shown (undecodable bytes and control characters replaced)."""
        return display_name(self.path.name)

    @property
    def original_name(self) -> str:
        """The entry's name exactly as the file system holds it, for the audit (never shown raw)."""
        return names.original(self.path.name)

    @property
    def file_org_code(self) -> str | None:
        m = _FILE_CODE_RE.match(self.name)
        return codes.normalize_org_code(m.group(1)) if m else None


def display_name(name: str) -> str:
    """How an entry's name is stored for display and shown (pipelines.lib.domain.names)."""
    return names.shown_file_name(name)


def _registry_text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise InboxError(f"名录 {path} 是空文件，请按 {'、'.join(c_.header for c_ in c.REGISTRY_COLUMNS)} 各列填写")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InboxError(f"名录 {path} 是UTF-16编码，请在Excel中另存为“CSV UTF-8”或GB18030编码的CSV")
    try:
        return decode_text(data)
    except ReadError:
        raise InboxError(f"名录 {path} 的编码无法识别，请另存为UTF-8或GB18030编码的CSV") from None


def read_registry(inbox: Path) -> pl.DataFrame:
    """The 名录. Any error is one InboxError line naming the file, the line and what to fix."""
    if not inbox.is_dir():
        raise InboxError(f"收件箱 {inbox} 不存在，请用 --inbox 或 SASAC_INBOX 指定收件箱文件夹")
    path = inbox / REGISTRY_FILE
    if not path.is_file():
        raise InboxError(f"收件箱 {inbox} 中没有名录文件 {REGISTRY_FILE}")
    reader = csv.reader(io.StringIO(_registry_text(path), newline=""), strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error:
        raise InboxError(f"名录 {path} 第{reader.line_num}行格式错误（引号不配对或多余的引号），请更正该行") from None
    rows = [(n, r) for n, r in rows if any(v.strip() for v in r)]
    if not rows:
        raise InboxError(f"名录 {path} 是空文件，请按 {'、'.join(c_.header for c_ in c.REGISTRY_COLUMNS)} 各列填写")
    (_, header), body = rows[0], rows[1:]
    by_header = {normalize_header(h): i for i, h in enumerate(header)}
    missing = [col.header for col in c.REGISTRY_COLUMNS if col.required and normalize_header(col.header) not in by_header]
    if missing:
        raise InboxError(f"名录 {path} 第1行（表头）缺少列：{'、'.join(missing)}，请补上")
    index = {col.key: by_header.get(normalize_header(col.header)) for col in c.REGISTRY_COLUMNS}
    grid = pl.DataFrame(
        {"line": [n for n, _ in body],
         **{key: [(r[i] if i is not None and i < len(r) else None) for _, r in body] for key, i in index.items()}},
        schema={"line": pl.Int64, **{col.key: pl.Utf8 for col in c.REGISTRY_COLUMNS}},
    )
    cols = [pl.col("line")]
    for col in c.REGISTRY_COLUMNS:
        expr = normalized(pl.col(col.key))
        if col.type == c.CODE9:
            expr = parse_code(expr)
        elif col.type == c.PERIOD:
            expr = expr.str.to_uppercase()
        cols.append(expr.alias(col.key))
    registry = grid.select(cols).filter(pl.col("org_code").is_not_null())
    seen: dict[str, int] = {}
    for line, code, active_from in registry.select("line", "org_code", "active_from").iter_rows():
        problem = codes.org_code_problem(code)
        if problem:
            raise InboxError(f"名录 {path} 第{line}行：组织机构代码“{code}”{problem}，请更正")
        if code in seen:
            raise InboxError(f"名录 {path} 第{line}行：组织机构代码{code}与第{seen[code]}行重复，请删除或合并其中一行")
        seen[code] = line
        if not active_from or not is_period(active_from):
            raise InboxError(f"名录 {path} 第{line}行：起始报告期“{active_from or ''}”应为YYYYQn，如2008Q2")
    return registry.drop("line").sort("org_code")


def inbox_periods(inbox: Path) -> list[Period]:
    if not inbox.is_dir():
        raise InboxError(f"收件箱 {inbox} 不存在")
    return sorted(Period.parse(p.name) for p in inbox.iterdir()
                  if is_period(p.name) and not p.is_symlink() and p.is_dir())


# --- the arrivals log ------------------------------------------------------------------------------


@dataclass
class ArrivalsLog:
    times: dict[str, dt.datetime]  # file name -> when it was received
    notes: dict[str, list[tuple[int, str]]]  # file name -> (line, problem) of lines about it that do not count


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def _parse_time(text: str) -> dt.datetime | None:
    text = text.strip().replace("/", "-")
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def read_arrivals_log(folder: Path) -> ArrivalsLog:
    """收件登记.csv, line by line: a bad line is noted against the file it names; the rest still counts.

    Nothing of a line's content is logged (a clerk may have pasted anything into it), only its number.
    """
    out = ArrivalsLog({}, {})
    path = folder / c.ARRIVALS_FILE
    try:
        if path.is_symlink() or not path.is_file():
            return out
        text = decode_text(path.read_bytes())
    except (OSError, ReadError):
        log.warning("%s/%s: unreadable or undecodable; file times are used instead", folder.name, c.ARRIVALS_FILE)
        return out
    name_h, time_h = (normalize_header(c_.header) for c_ in c.ARRIVALS_COLUMNS)
    lines = text.splitlines()
    header = [normalize_header(h) for h in next(csv.reader(lines[:1]), [])]
    if name_h not in header or time_h not in header:
        log.warning("%s/%s: header lacks 文件名/收到时间; file times are used instead", folder.name, c.ARRIVALS_FILE)
        return out
    i_name, i_time = header.index(name_h), header.index(time_h)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            row = next(csv.reader([line], strict=True))
        except (csv.Error, StopIteration):
            row = []
        name = row[i_name].strip() if len(row) > max(i_name, i_time) else None
        when = _parse_time(row[i_time]) if name else None
        if name and when:
            if name in out.times:
                out.notes.setdefault(name, []).append(
                    (number, f"收件登记第{number}行重复登记了该文件，以第一次登记的收到时间为准"))
            else:
                out.times[name] = when
            continue
        if name:
            out.notes.setdefault(name, []).append(
                (number, f"收件登记第{number}行的收到时间无法识别（应为YYYY-MM-DD HH:MM:SS），按文件修改时间计"))
        else:
            log.warning("%s/%s line %d: not a 文件名,收到时间 pair; ignored", folder.name, c.ARRIVALS_FILE, number)
    return out


# --- the entries of a period folder ----------------------------------------------------------------

# Files an operating system or office program leaves beside the real ones: recorded as ignored, never read.
_DEBRIS = (
    (re.compile(r"^~\$"), "Office打开文件时生成的临时锁定文件"),
    (re.compile(r"^\.~lock\..*#$"), "LibreOffice/WPS打开文件时生成的临时锁定文件"),
    (re.compile(r"^\.DS_Store$"), "macOS系统文件"),
    (re.compile(r"^\._"), "macOS系统生成的附属文件"),
    (re.compile(r"^__MACOSX$"), "macOS压缩时生成的系统文件夹"),
    (re.compile(r"^(?i:thumbs\.db|desktop\.ini)$"), "Windows系统文件"),
)

SYMLINK_REASON = "是符号链接（快捷方式），出于安全原因不予读取，请直接报送文件本身"
SPECIAL_REASON = "不是普通文件（管道、设备或套接字），无法作为报表读取"
UNREADABLE_REASON = "文件无法读取（没有读取权限或读取出错），请检查文件后重新报送"


def debris_reason(name: str) -> str | None:
    for pattern, reason in _DEBRIS:
        if pattern.search(name):
            return f"{reason}，不是报表，已忽略"
    return None


def _read_regular(path: Path) -> bytes:
    """The file's bytes, never through a symlink swapped in since it was looked at."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError("not a regular file")
        return fh.read(LIMITS.max_file_bytes + 1)


def _streamed_sha256(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _folder_zip(folder: Path) -> bytes:
    """A byte-stable zip of a CSV folder: sorted names, fixed timestamps, contents unchanged.

    Raises ValueError (Chinese) for anything in it that is not a plain readable file, or too much of it.
    """
    buf = io.BytesIO()
    total = count = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                p = Path(root) / name
                rel = display_name(p.relative_to(folder).as_posix())
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    raise ValueError(f"文件夹中的“{rel}”{SYMLINK_REASON}")
                if not stat.S_ISREG(st.st_mode):
                    raise ValueError(f"文件夹中的“{rel}”{SPECIAL_REASON}")
                total += st.st_size
                count += 1
                if count > LIMITS.max_members:
                    raise ValueError(f"文件夹中的文件超过{LIMITS.max_members}个，请只报送报表本身")
                if total > LIMITS.max_file_bytes:
                    raise ValueError(f"文件夹总大小超过上限{LIMITS.max_file_bytes // (1024 * 1024)}MB，请删除无关内容后重新报送")
                try:
                    data = _read_regular(p)
                except OSError:
                    raise ValueError(f"文件夹中的“{rel}”{UNREADABLE_REASON}") from None
                info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                info.flag_bits |= 0x800
                zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _mtime(st: os.stat_result) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(st.st_mtime).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):  # a file time nobody could have typed
        return dt.datetime.now().replace(microsecond=0)


def _entry(period: Period, path: Path, log_: ArrivalsLog) -> Arrival:
    """One entry of a period folder, whatever it is; never raises for what the entry is or holds."""
    name = display_name(path.name)
    notes = tuple(log_.notes.get(name, ()))

    def made(fmt: str, payload: bytes | None, st: os.stat_result | None, problem: str | None = None,
             ignored: str | None = None, digest: str | None = None) -> Arrival:
        digest = digest or hashlib.sha256(payload if payload is not None else b"").hexdigest()
        arrived = log_.times.get(name) or (_mtime(st) if st else dt.datetime.now().replace(microsecond=0))
        size = len(payload) if payload is not None else (st.st_size if st else 0)
        return Arrival(period, path, fmt, digest, size, arrived, payload, problem, ignored, notes)

    try:
        st = os.lstat(path)
    except OSError:
        return made("other", None, None, UNREADABLE_REASON)
    reason = debris_reason(name)
    if reason:
        return made("ignored", None, st, ignored=reason)
    if stat.S_ISLNK(st.st_mode):
        return made("symlink", None, st, SYMLINK_REASON)
    if stat.S_ISDIR(st.st_mode):
        try:
            return made("csv_dir", _folder_zip(path), st)
        except ValueError as exc:
            return made("csv_dir", None, st, str(exc))
        except OSError:
            return made("csv_dir", None, st, UNREADABLE_REASON)
    if not stat.S_ISREG(st.st_mode):
        return made("special", None, st, SPECIAL_REASON)
    fmt = classify(path).fmt
    if st.st_size > LIMITS.max_file_bytes:
        # Hashed as it streams by and recorded, but not copied: the archive must not be a way to fill the disk.
        try:
            digest = _streamed_sha256(path)
        except OSError:
            return made(fmt, None, st, UNREADABLE_REASON)
        return made(fmt, None, st, too_big_reason(st.st_size), digest=digest)
    try:
        payload = _read_regular(path)
    except OSError:
        return made(fmt, None, st, UNREADABLE_REASON)
    return made(fmt, payload, st, archived_problem(len(payload)))


def archived_problem(size: int) -> str | None:
    """What the door says of a kept file before any reader opens it — the same at arrival and at a re-check
    from the archive (the other problems an entry can have leave nothing in the archive)."""
    return EMPTY_REASON if size == 0 else None


def scan_period(inbox: Path, period: Period) -> list[Arrival]:
    """Every entry of the period folder but the arrivals log, each as one Arrival (see :func:`_entry`)."""
    return list(open_period(inbox, period)[1])


def open_period(inbox: Path, period: Period) -> tuple[int, Iterator[Arrival]]:
    """How many entries the period folder holds (the arrivals log aside), and their Arrivals in name order,
    each read and hashed only when it is reached (the intake reads a batch while the next is scanned)."""
    folder = inbox / str(period)
    if folder.is_symlink() or not folder.is_dir():
        return 0, iter(())
    log_ = read_arrivals_log(folder)
    try:
        names = [n for n in sorted(os.listdir(folder)) if n != c.ARRIVALS_FILE]
    except OSError:
        log.warning("%s: period folder cannot be listed", period)
        return 0, iter(())
    return len(names), (_entry(period, folder / name, log_) for name in names)
