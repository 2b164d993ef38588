"""What a submission may be before anything parses it: the one definition of the intake's resource limits.

calamine allocates the grid a sheet claims and materialises every shared string per cell, so a 24 KB
workbook can ask for terabytes. Every file is inspected here first with bounded reads (the zip's central
directory, then each XML member streamed through a capped decompressor), and a file over a limit is
rejected with a Chinese reason that names the limit. A later web upload portal checks uploads with the
same function (:func:`inspect_upload`), so the two cannot disagree.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 50 * MB  # what arrives (a .xlsx, a .zip, a CSV folder in total)
    # All members of a zip together, as really decompressed: a 200,000-row roster is ~110 MB of sheet XML.
    max_uncompressed_bytes: int = 150 * MB
    max_member_bytes: int = 150 * MB  # any one member
    max_compression_ratio: float = 200.0  # uncompressed / compressed, over the whole zip
    max_members: int = 1_000
    max_rows: int = 200_000  # per sheet, as claimed by <dimension> or present in the cells
    max_columns: int = 200  # per sheet
    max_cells: int = 5_000_000  # rows x columns of the grid a reader would allocate, per sheet
    max_shared_strings_bytes: int = 40 * MB
    # Excel itself stores at most 32,767 characters in a cell; 4 bytes each covers any UTF-8 and entities.
    max_cell_text_bytes: int = 32_767 * 4
    # A reader copies a shared string into every cell that uses it: (cells using shared strings) x (longest
    # shared string) bounds the text it would materialise. A 100,000-row roster needs ~30 MB of it.
    max_materialised_text_bytes: int = 256 * MB


LIMITS = Limits()

# Files read, checked and committed together by the intake and the re-check. It bounds the intake's memory
# whatever the inbox holds (read at once, all of a big quarter's files would be in memory together); each batch
# is one transaction, and since a file already held is never read again, a run stopped between batches resumes
# where it stopped. The next batch is read while one is checked (read_ahead): 250 files keep both busy from the
# first quarter of a 1,000-file quarter on, and checking in batches of 250 costs no more CPU than in one batch.
BATCH_FILES = 250

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 * MB


class LimitError(Exception):
    """The file is refused before parsing; the message is Chinese, for the clerk."""


@dataclass(frozen=True)
class XlsxInfo:
    visible_sheets: tuple[str, ...]  # in workbook order
    hidden_sheets: tuple[str, ...]


def _mb(n: float) -> str:
    return f"{n / MB:.0f}MB"


EMPTY_REASON = "文件是空的（0字节），请重新报送"


def too_big_reason(size: int, limits: Limits = LIMITS) -> str:
    return f"文件大小{_mb(size)}超过上限{_mb(limits.max_file_bytes)}，请删除无关内容后重新报送"


def sniff(head: bytes) -> str:
    """What the first bytes say the file is: zip / ole / other."""
    if head.startswith(_ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    return "other"


def ole_reason(path: Path) -> str:
    """An OLE file named .xlsx is either a password-protected workbook or an old .xls."""
    with open(path, "rb") as fh:
        head = fh.read(1 * MB)
    if "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head:
        return "工作簿设置了打开密码，无法读取，请取消密码保护后重新报送"
    return "文件是旧版Excel 97-2003（.xls）格式，请在Excel中另存为 .xlsx 工作簿后重新报送"


def check_zip_directory(zf: zipfile.ZipFile, size_bytes: int, limits: Limits = LIMITS) -> None:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise LimitError(f"压缩包内文件数{len(infos)}超过上限{limits.max_members}个，请只报送报表本身")
    claimed = sum(i.file_size for i in infos)
    if claimed > limits.max_uncompressed_bytes:
        raise LimitError(f"解压后大小{_mb(claimed)}超过上限{_mb(limits.max_uncompressed_bytes)}，请删除无关内容后重新报送")
    for i in infos:
        if i.file_size > limits.max_member_bytes:
            raise LimitError(f"其中“{_safe_name(i.filename)}”解压后{_mb(i.file_size)}，超过单个文件上限"
                             f"{_mb(limits.max_member_bytes)}")
    if size_bytes and claimed / max(size_bytes, 1) > limits.max_compression_ratio:
        raise LimitError(f"压缩比{claimed / size_bytes:.0f}倍超过上限{limits.max_compression_ratio:.0f}倍"
                         "（疑似压缩炸弹），请重新导出后报送")


def _safe_name(name: str) -> str:
    """A zip member name for a message: clipped, without control characters (it is typed by a stranger)."""
    return re.sub(r"[\x00-\x1f\x7f]", "", name)[-60:]


class _Budget:
    """Real decompressed bytes across the zip (the directory's sizes can lie)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0

    def stream(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo):
        seen = 0
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                seen += len(chunk)
                self.total += len(chunk)
                if seen > self.limits.max_member_bytes:
                    raise LimitError(f"其中“{_safe_name(info.filename)}”解压后超过单个文件上限"
                                     f"{_mb(self.limits.max_member_bytes)}")
                if self.total > self.limits.max_uncompressed_bytes:
                    raise LimitError(f"解压后大小超过上限{_mb(self.limits.max_uncompressed_bytes)}，请删除无关内容后重新报送")
                yield chunk


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Za-z$]*)(\d*)(?::([A-Za-z$]*)(\d*))?"')
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper().replace("$", ""):
        n = n * 26 + ord(ch) - 64
    return n


# The r attribute of a row (r="12") or a cell (r="B12"), in every spelling XML allows (tabs, newlines, single
# quotes, spaces around "="): one pattern for all of them, one scan where a literal pattern for what Excel
# writes would need eight more scans for anything else.
_REF_ANY = re.compile(rb"""\sr\s*=\s*["']([A-Za-z$]*)(\d+)""")
_COLUMN, _ROW = operator.itemgetter(0), operator.itemgetter(1)
_XML_SPACE = frozenset(b" \t\n\r\f\v")  # what \s is in a bytes pattern
_WIDEST = {0: 0, 1: 26, 2: 702, 3: 18_278}  # the largest column number with that many letters


@functools.cache
def _past_small(limits: Limits) -> re.Pattern[bytes]:
    """A pattern found (as an r attribute, see _may_exceed) wherever the exact scan would find a reference with
    more column letters or row digits than any reference may have while the sheet stays within ``limits``.

    It starts with a literal, so the engine jumps from one "r" to the next, where the exact scan (_REF_ANY)
    has to try every whitespace at every position: the cheap scan runs on every chunk, the exact one only from
    the first chunk where a limit may be reached (_sheet_extent)."""
    letters = max(n for n, widest in _WIDEST.items() if widest <= limits.max_columns)
    digits = 0
    while (10 ** (digits + 1) - 1 <= limits.max_rows
           and (10 ** (digits + 1) - 1) * _WIDEST[letters] <= limits.max_cells):
        digits += 1
    return re.compile(rb"""r\s*=\s*["'](?:\$*(?:[A-Za-z]\$*){%d}|[A-Za-z$]*\d{%d})""" % (letters + 1, digits + 1))


def _may_exceed(data: bytes, limits: Limits) -> bool:
    """Whether ``data`` may hold a reference past the limits: a match of _past_small where _REF_ANY could start
    one (after whitespace). No: every reference in it is small enough that no limit can be reached."""
    return any(m.start() and data[m.start() - 1] in _XML_SPACE for m in _past_small(limits).finditer(data))


def _extent(data: bytes, max_row: int, max_col: int) -> tuple[int, int]:
    """The largest row and column referenced in ``data`` and before (``max_row``, ``max_col``)."""
    refs = _REF_ANY.findall(data)
    # distinct values first, in C (map / itemgetter / set): ~100 rows and ~20 columns of an ordinary sheet
    # are converted, not each of its cells
    max_row = max(max_row, max(map(int, set(map(_ROW, refs))), default=0))
    max_col = max(max_col, max(map(column_number_bytes, set(map(_COLUMN, refs)) - {b""}), default=0))
    return max_row, max_col


def _windows(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """Each chunk, and what is scanned with it: the chunk after the last 256 bytes before it (a tag cut by the
    chunk boundary is seen whole)."""
    tail = b""
    for chunk in chunks:
        data = tail + chunk
        yield chunk, data
        tail = data[-256:]


def _sheet_extent(chunks, limits: Limits, sheet: str, again: Callable[[], Iterator[bytes]]) -> int:
    """<dimension> and the largest row / column present, streamed; raises on the first over the limit.
    Returns how many cells use a shared string.

    A sheet is scanned for references that could reach a limit (_may_exceed); only from the first chunk that
    has one on are the rows and columns counted, after those of the chunks before it (``again`` streams the
    sheet from its start once more). The chunks before could not reach a limit, so the same error comes
    from the same chunk as if every chunk were counted."""
    max_row = max_col = 0
    shared_refs = 0
    counting = False
    for i, (chunk, data) in enumerate(_windows(chunks)):
        shared_refs += chunk.count(b't="s"')
        if i == 0 and (m := _DIMENSION.search(data[:4096])):
            end_col, end_row = (m.group(3), m.group(4)) if m.group(3) is not None else (m.group(1), m.group(2))
            _check_extent(int(end_row or 0), column_number(end_col.decode()), limits, sheet)
        if not counting and _may_exceed(data, limits):
            counting = True
            for _, earlier in itertools.islice(_windows(again()), i):  # the same chunks, seen the same way
                max_row, max_col = _extent(earlier, max_row, max_col)
        if counting:
            max_row, max_col = _extent(data, max_row, max_col)
            _check_extent(max_row, max_col, limits, sheet)
    return shared_refs


def column_number_bytes(letters: bytes) -> int:
    return column_number(letters.decode("ascii", "replace"))


def _check_extent(rows: int, cols: int, limits: Limits, sheet: str) -> None:
    if rows > limits.max_rows:
        raise LimitError(f"工作表“{sheet}”有{rows}行，超过上限{limits.max_rows}行，请删除多余的行后重新报送")
    if cols > limits.max_columns:
        raise LimitError(f"工作表“{sheet}”有{cols}列，超过上限{limits.max_columns}列，请删除多余的列后重新报送")
    if rows * cols > limits.max_cells:
        raise LimitError(f"工作表“{sheet}”的数据区域（{rows}行×{cols}列）超过上限{limits.max_cells}个单元格，"
                         "请删除远处的空白格式或多余内容后重新报送")


def _workbook_sheets(zf: zipfile.ZipFile, budget: _Budget) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(name, state, relationship id) of each sheet, and relationship id -> member path."""
    names = set(zf.namelist())
    if "xl/workbook.xml" not in names:
        raise LimitError("文件不是有效的Excel(.xlsx)工作簿（缺少工作簿结构），请用Excel重新导出后报送")
    xml = b"".join(budget.stream(zf, zf.getinfo("xl/workbook.xml")))
    sheets = []
    for m in _SHEET.finditer(xml):
        attrs = {k.split(b":")[-1].decode(): v.decode("utf-8", "replace") for k, v in _ATTR.findall(m.group(1))}
        sheets.append((_unescape(attrs.get("name", "")), attrs.get("state", "visible"), attrs.get("id", "")))
    rels: dict[str, str] = {}
    if "xl/_rels/workbook.xml.rels" in names:
        rel_xml = b"".join(budget.stream(zf, zf.getinfo("xl/_rels/workbook.xml.rels")))
        for m in re.finditer(rb"<(?:\w+:)?Relationship\b([^>]*)/?>", rel_xml):
            attrs = {k.decode(): v.decode("utf-8", "replace") for k, v in _ATTR.findall(m.group(1))}
            target = attrs.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            rels[attrs.get("Id", "")] = target
    return sheets, rels


# Parts that carry active content or reach outside the file (ECMA-376 part names; Excel's own for VBA): what
# each is called for the clerk. Checked by name and by declared content type, so a renamed part is caught too.
ACTIVE_PARTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^|/)vbaproject(signature)?\.bin$|(^|/)vbadata\.xml$"), "宏（VBA 工程）"),
    (re.compile(r"^xl/macrosheets/"), "宏表"),
    (re.compile(r"^customui/"), "自定义功能区（可调用宏）"),
    (re.compile(r"^xl/activex/"), "ActiveX 控件"),
    (re.compile(r"^xl/embeddings/"), "嵌入的 OLE 对象"),
    (re.compile(r"^xl/externallinks/"), "外部链接"),
    (re.compile(r"^xl/connections\.xml$"), "数据连接"),
)
ACTIVE_CONTENT_TYPES: tuple[tuple[str, str], ...] = (
    ("macroenabled", "宏（启用宏的工作簿）"),
    ("vbaproject", "宏（VBA 工程）"),
    ("ms-office.activex", "ActiveX 控件"),
    ("oleobject", "嵌入的 OLE 对象"),
    ("externallink", "外部链接"),
    ("spreadsheetml.connections", "数据连接"),
    ("macrosheet", "宏表"),
)
ACTIVE_CONTENT_ADVICE = "请另存为不含宏和外部链接的 .xlsx 后重新上传"


def active_content_reason(zf: zipfile.ZipFile, budget: _Budget) -> str | None:
    """Why a workbook is refused for active content (macros, ActiveX, OLE objects, external links, data
    connections), or None. Nothing of it is opened or run: the part names and the declared content types
    are enough."""
    found: list[str] = []
    for name in zf.namelist():
        lowered = name.lower()
        found += [label for pattern, label in ACTIVE_PARTS if pattern.search(lowered)]
    if "[Content_Types].xml" in zf.namelist():
        declared = b"".join(budget.stream(zf, zf.getinfo("[Content_Types].xml"))).decode("utf-8", "replace").lower()
        found += [label for marker, label in ACTIVE_CONTENT_TYPES if marker in declared]
    if not found:
        return None
    return f"工作簿含有{'、'.join(dict.fromkeys(found))}，平台不接收含有可执行内容或外部链接的文件，{ACTIVE_CONTENT_ADVICE}"


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


def inspect_xlsx(path: Path, limits: Limits = LIMITS) -> XlsxInfo:
    """Refuse a workbook over any limit (LimitError, Chinese) before a reader allocates anything."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitError(too_big_reason(size, limits))
    with open(path, "rb") as fh:
        kind = sniff(fh.read(8))
    if kind == "ole":
        raise LimitError(ole_reason(path))
    if kind != "zip":
        raise LimitError("文件不是Excel(.xlsx)工作簿（可能是改了扩展名的其他文件），请用Excel另存为 .xlsx 后重新报送")
    try:
        with zipfile.ZipFile(path) as zf:
            check_zip_directory(zf, size, limits)
            budget = _Budget(limits)
            active = active_content_reason(zf, budget)
            if active is not None:
                raise LimitError(active)
            sheets, rels = _workbook_sheets(zf, budget)
            members = set(zf.namelist())
            shared_refs = 0
            for name, _state, rid in sheets:
                member = rels.get(rid)
                if member in members:
                    info = zf.getinfo(member)
                    # read again (``again``) under a budget of its own: these bytes were bounded the first time
                    shared_refs += _sheet_extent(_bounded_text(budget.stream(zf, info), limits, f"工作表“{name}”"),
                                                 limits, name, again=lambda info=info: _Budget(limits).stream(zf, info))
            for member in sorted(members):
                if member.lower().endswith("sharedstrings.xml"):
                    info = zf.getinfo(member)
                    if info.file_size > limits.max_shared_strings_bytes:
                        raise LimitError(f"共享字符串表解压后{_mb(info.file_size)}，超过上限"
                                         f"{_mb(limits.max_shared_strings_bytes)}，请删除无关内容后重新报送")
                    longest = [0]
                    for _ in _bounded_text(budget.stream(zf, info), limits, "工作簿中", longest):
                        pass
                    if shared_refs * longest[0] > limits.max_materialised_text_bytes:
                        raise LimitError(f"共享字符串被{shared_refs}个单元格引用，最长的一条{longest[0]}字节，读取时"
                                         f"展开的文字将超过上限{_mb(limits.max_materialised_text_bytes)}，请检查后重新报送")
    except LimitError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, KeyError,
            ValueError) as exc:
        raise LimitError("文件已损坏或不是有效的Excel(.xlsx)工作簿，无法打开，请重新导出后报送") from exc
    return XlsxInfo(tuple(n for n, s, _ in sheets if s == "visible"), tuple(n for n, s, _ in sheets if s != "visible"))


_LONG_TEXT = re.compile(rb">[^<]{64,}")  # starts with a literal, so the engine skips ahead quickly


def _bounded_text(chunks, limits: Limits, where: str, longest: list[int] | None = None):
    """Pass chunks on while bounding the longest stretch of text after a tag: the longest cell text (shared
    or inline). ``longest[0]`` gets an upper bound of it (64 when nothing is longer; only long runs are
    looked at one by one, which keeps ordinary sheets fast)."""
    longest = longest if longest is not None else [0]
    longest[0] = max(longest[0], 64)
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = max(data.rfind(b">"), data.rfind(b"<"), 0)  # what follows may go on in the next chunk
        body, carry = data[:cut], data[cut:]
        run = max(map(len, _LONG_TEXT.findall(body)), default=0)
        longest[0] = max(longest[0], run, len(carry))
        if longest[0] > limits.max_cell_text_bytes:
            raise LimitError(f"{where}有单元格文字超过Excel允许的32767个字符，请检查后重新报送")
        yield chunk


def inspect_csv_zip(path: Path, limits: Limits = LIMITS) -> None:
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitError(too_big_reason(size, limits))
    with open(path, "rb") as fh:
        if sniff(fh.read(8)) != "zip":
            raise LimitError("文件不是有效的.zip压缩包，请把各工作表的CSV文件打包为.zip后重新报送")
    try:
        with zipfile.ZipFile(path) as zf:
            check_zip_directory(zf, size, limits)
    except zipfile.BadZipFile as exc:
        raise LimitError("压缩包已损坏，无法解压，请重新打包后报送") from exc


def inspect_upload(path: Path, limits: Limits = LIMITS) -> str | None:
    """None when a single uploaded file may go on to be read, else the Chinese reason it is refused."""
    try:
        size = path.stat().st_size
        if size == 0:
            return EMPTY_REASON
        if path.suffix.lower() == ".zip":
            inspect_csv_zip(path, limits)
        elif path.suffix.lower() in (".xlsx", ".xlsm"):
            inspect_xlsx(path, limits)
        elif size > limits.max_file_bytes:
            return too_big_reason(size, limits)
    except LimitError as exc:
        return str(exc)
    except OSError:
        return "文件无法读取，请重新上传"
    return None
