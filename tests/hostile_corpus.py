"""A hostile inbox: one quarter holding every kind of bad, odd and malicious entry we know of, one registered
enterprise each, with what the intake must make of it.

Every file carries canaries (a name and a valid ID number that appear nowhere else) in the cells a reader
could leak; the tests look for them in everything a run prints, logs and publishes. ``build`` writes the
inbox and returns the expected outcome of each entry by its name.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.forms.submission_writer import Layout, write_csv_dir, write_csv_zip, write_xlsx
from tests.factories import GROUP, clean_submission, org, person_id, registry_csv

PERIOD = "2008Q2"
CANARY_NAME = "金丝雀测试员"
CANARY_ID = person_id("11010119850505987")
CLEAN_ROWS = 10  # rows of clean_submission() over its seven sheets (5 single-row + 3 roster + 2 training)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Expect:
    outcome: str  # accepted / rejected / ignored
    reason: str | None = None  # a part of the fatal finding's (or the ignore) message
    rows: int | None = None  # for accepted files: rows loaded, all of them
    copies: int = 1  # entries whose names read the same once undecodable bytes are replaced


def _canaried(code: str) -> dict[str, list[dict]]:
    sub = clean_submission(code, PERIOD)
    sub["基本情况"][0]["enterprise_name"] = f"企业{code}"
    sub["人才信息库"][0]["name"] = CANARY_NAME
    sub["人才信息库"][0]["id_number"] = CANARY_ID
    sub["培训记录"][0]["id_number"] = CANARY_ID
    return sub


# What a hostile name may hide, and how it is shown (pipelines.lib.domain.names).
BIDI_TAIL = "_\u202excod.exe\n.xlsx"
BIDI_TAIL_SHOWN = "_\\u202Excod.exe\\u000A.xlsx"


def _name(code: str, ext: str = ".xlsx") -> str:
    return f"{format_org_code(code)}_{PERIOD}{ext}"


def _rezip(src: bytes, patch: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None) -> bytes:
    """The same zip with members rewritten by ``patch`` (None drops the member) and ``extra`` added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = patch(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return out.getvalue()


def _xlsx_bytes(sub: dict, tmp: Path) -> bytes:
    path = tmp / "x.xlsx"
    write_xlsx(path, sub)
    data = path.read_bytes()
    path.unlink()
    return data


def _roster_sheet(member: str) -> bool:
    return member == "xl/worksheets/sheet6.xml"


def _with_far_cell(data: bytes, row_tag: bytes = b'<row r="1048576">', cell_tag: bytes = b'<c r="XFD1048576"'
                   ) -> bytes:
    """One cell at XFD1048576: calamine would allocate the whole 17-billion-cell grid."""
    def patch(member: str, body: bytes) -> bytes:
        if _roster_sheet(member):
            body = body.replace(b"</sheetData>", row_tag + cell_tag + b' t="inlineStr"><is><t>'
                                + CANARY_NAME.encode() + b"</t></is></c></row></sheetData>")
        return body
    return _rezip(data, patch)


def _with_dimension(data: bytes, ref: str) -> bytes:
    def patch(member: str, body: bytes) -> bytes:
        if _roster_sheet(member):
            body = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>'.encode(), body)
        return body
    return _rezip(data, patch)


def _with_shared_string(data: bytes, size: int, uses: int) -> bytes:
    """A shared string of ``size`` bytes referenced by ``uses`` cells of the roster."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        index = int(re.search(rb'uniqueCount="(\d+)"', zf.read("xl/sharedStrings.xml")).group(1))

    def patch(member: str, body: bytes) -> bytes:
        if member == "xl/sharedStrings.xml":
            body = re.sub(rb'uniqueCount="\d+"', f'uniqueCount="{index + 1}"'.encode(), body)
            body = body.replace(b"</sst>", b"<si><t>" + b"A" * size + b"</t></si></sst>")
        elif _roster_sheet(member):
            rows = b"".join(  # 100 cells a row, from row 500 down
                f'<row r="{500 + r}">'.encode()
                + b"".join(f'<c r="{_col(k)}{500 + r}" t="s"><v>{index}</v></c>'.encode()
                           for k in range(1, min(100, uses - 100 * r) + 1)) + b"</row>"
                for r in range((uses + 99) // 100))
            body = body.replace(b"</sheetData>", rows + b"</sheetData>")
        return body
    return _rezip(data, patch)


def _col(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _with_extra_profile(sub: dict, tmp: Path, name: str, hidden: bool, decoy_code: str) -> bytes:
    """A second 基本情况 sheet (named ``name``, placed first), claiming ``decoy_code``."""
    path = tmp / "x.xlsx"
    write_xlsx(path, sub)
    wb = openpyxl.load_workbook(path)
    copy = wb.copy_worksheet(wb["基本情况"])
    copy.title = name
    copy["A2"] = format_org_code(decoy_code)
    wb.move_sheet(copy, offset=-(len(wb.sheetnames) - 1))
    if hidden:
        copy.sheet_state = "hidden"
    wb.active = 1
    wb.save(path)
    data = path.read_bytes()
    path.unlink()
    return data


def _ole(stream_name: str) -> bytes:
    return _OLE + b"\0" * 504 + stream_name.encode("utf-16-le") + b"\0" * 2048 + CANARY_ID.encode()


def _csv_text(sub: dict, tmp: Path) -> dict[str, bytes]:
    folder = tmp / "csvtmp"
    write_csv_dir(folder, sub)
    out = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return out


def build(root: Path) -> tuple[Path, dict[str, Expect], Path]:
    """Write the hostile inbox under ``root``; returns (inbox, expected outcome by entry name, outside file).

    The outside file is what a symlink points at: it must never be read or archived.
    """
    inbox = root / "inbox"
    folder = inbox / PERIOD
    folder.mkdir(parents=True)
    tmp = root / "build"
    tmp.mkdir()
    outside = root / "outside" / "secret.xlsx"
    outside.parent.mkdir()
    expected: dict[str, Expect] = {}
    codes: list[tuple[str, str]] = [(GROUP, "北京测试集团")]
    counter = iter(range(1, 1000))
    root_is_superuser = os.geteuid() == 0

    def enterprise() -> str:
        code = org(f"MA{next(counter):05d}Z")
        codes.append((code, f"企业{code}"))
        return code

    def put(name: str, data: bytes, expect: Expect) -> None:
        (folder / name).write_bytes(data)
        expected[name] = expect

    # --- good files: accepted, every row loaded -------------------------------------------------------
    code = enterprise()
    write_xlsx(folder / _name(code), _canaried(code))
    expected[_name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()
    write_csv_dir(folder / _name(code, ""), _canaried(code))
    expected[_name(code, "")] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()
    write_csv_dir(folder / f"{format_org_code(code)}_{PERIOD}_gbk", _canaried(code), encoding="gb18030")
    expected[f"{format_org_code(code)}_{PERIOD}_gbk"] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()
    write_csv_zip(folder / _name(code, ".zip"), _canaried(code))
    expected[_name(code, ".zip")] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # a hidden decoy 基本情况 (trailing space) before the visible one
    put(_name(code), _with_extra_profile(_canaried(code), tmp, "基本情况 ", True, enterprise()),
        Expect("accepted", rows=CLEAN_ROWS))
    code = enterprise()  # names starting with . or _ are files like any other
    write_xlsx(folder / f".{_name(code)}", _canaried(code))
    expected[f".{_name(code)}"] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()
    write_xlsx(folder / f"_{_name(code)}", _canaried(code))
    expected[f"_{_name(code)}"] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # an absurd payroll: a finding, kept out of totals, the file still counts
    sub = _canaried(code)
    sub["经费情况"][0]["payroll"] = 1e308
    write_xlsx(folder / _name(code), sub)
    expected[_name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # numbers no column can hold: findings; the quarter's vectorised checks must not choke
    sub = _canaried(code)
    sub["基本情况"][0].update(employees_total="1e30", frontline_workers="NaN", skilled_workers="inf")
    sub["激励情况"][0]["model_workers_total"] = "9223372036854775807"
    sub["经费情况"][0].update(fund_spent="9" * 400, fund_extracted="1e400")
    sub["培训记录"][0].update(hours="1e30", start_date="9999-12-31")
    sub["人才信息库"][0]["birth_date"] = "0000-00-00"
    write_xlsx(folder / _name(code), sub)
    expected[_name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # a file name naming an unregistered enterprise: the sheet counts (contract §1)
    write_xlsx(folder / f"{format_org_code(org('ZZ99999Z'))}_{PERIOD}.xlsx", _canaried(code))
    expected[f"{format_org_code(org('ZZ99999Z'))}_{PERIOD}.xlsx"] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # a name with control characters and bytes that are not UTF-8
    raw_name = b"\xff\x01" + _name(code).encode()
    write_xlsx(tmp / "odd.xlsx", _canaried(code))
    os.rename(tmp / "odd.xlsx", os.path.join(os.fsencode(folder), raw_name))
    expected["\ufffd\\u0001" + _name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    # another name with the same bytes inside, differing in an undecodable byte and a control character: shown
    # with the control character escaped, the two read differently
    shutil.copyfile(os.path.join(os.fsencode(folder), raw_name),
                    os.path.join(os.fsencode(folder), b"\xfe\x02" + _name(code).encode()))
    expected["\ufffd\\u0002" + _name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # a right-to-left override and a newline: shown escaped, kept exactly for the audit
    write_xlsx(tmp / "bidi.xlsx", _canaried(code))
    os.rename(tmp / "bidi.xlsx", folder / (_name(code, "") + BIDI_TAIL))
    expected[_name(code, "") + BIDI_TAIL_SHOWN] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # formulas, a bad ID, a negative count: findings, not a rejection
    sub = _canaried(code)
    sub["基本情况"][0]["preparer"] = '=HYPERLINK("http://example.com","点我")'
    sub["人才信息库"][1]["id_number"] = "110101197502020021"
    sub["激励情况"][0]["cadres_from_high_skill"] = -1
    write_xlsx(folder / _name(code), sub)
    expected[_name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    code = enterprise()  # its arrivals-log line is broken: a finding on that line, the file still counts
    write_xlsx(folder / _name(code), _canaried(code))
    expected[_name(code)] = Expect("accepted", rows=CLEAN_ROWS)
    late_logged = _name(code)
    log_lines = [f"{_name(code)},昨天下午", f'"{CANARY_NAME},2008-07-01 10:00:00', "没有这个文件.xlsx,2008-07-01 10:00:00"]
    if root_is_superuser:  # mode 000 does not stop root: then it is simply a good file
        code = enterprise()
        write_xlsx(folder / _name(code), _canaried(code))
        os.chmod(folder / _name(code), 0)
        expected[_name(code)] = Expect("accepted", rows=CLEAN_ROWS)

    # --- refused before parsing: limits and what the file really is -----------------------------------
    clean = _xlsx_bytes(_canaried(enterprise()), tmp)
    code = enterprise()
    put(_name(code), _with_far_cell(_xlsx_bytes(_canaried(code), tmp)), Expect("rejected", "1048576行，超过上限"))
    code = enterprise()  # the same, spelt as XML also allows (a tab, single quotes), and only the cell
    put(_name(code), _with_far_cell(_xlsx_bytes(_canaried(code), tmp), b"<row>", b"<c\tr = 'XFD1048576'"),
        Expect("rejected", "1048576行，超过上限"))
    code = enterprise()
    put(_name(code), _with_dimension(_xlsx_bytes(_canaried(code), tmp), "A1:L300000"),
        Expect("rejected", "300000行，超过上限"))
    code = enterprise()
    put(_name(code), _with_dimension(_xlsx_bytes(_canaried(code), tmp), "A1:IZ10"), Expect("rejected", "列，超过上限"))
    code = enterprise()
    put(_name(code), _with_dimension(_xlsx_bytes(_canaried(code), tmp), "A1:CV60000"),
        Expect("rejected", "个单元格"))
    code = enterprise()  # the shared-strings bomb: one 20 MiB string used by 100 cells
    put(_name(code), _with_shared_string(_xlsx_bytes(_canaried(code), tmp), 20 * 1024 * 1024, 100),
        Expect("rejected", "压缩比"))
    code = enterprise()  # a single cell longer than Excel allows, compressed modestly
    put(_name(code), _with_shared_string(_xlsx_bytes(_canaried(code), tmp), 200_000, 1),
        Expect("rejected", "32767个字符"))
    code = enterprise()  # a string under Excel's cell limit, used by 10,000 cells: 1 GB once expanded
    put(_name(code), _with_shared_string(_xlsx_bytes(_canaried(code), tmp), 100_000, 10_000),
        Expect("rejected", "展开的文字将超过上限"))
    code = enterprise()  # 160 MB of zeros inside
    put(_name(code), _rezip(_xlsx_bytes(_canaried(code), tmp), lambda m, b: b,
                            {"xl/media/zeros.bin": b"\0" * (160 * 1024 * 1024)}), Expect("rejected", "解压后大小"))
    code = enterprise()
    put(_name(code), _ole("EncryptedPackage"), Expect("rejected", "请取消密码保护后重新报送"))
    code = enterprise()
    put(_name(code), _ole("Workbook"), Expect("rejected", "另存为 .xlsx"))
    code = enterprise()
    put(_name(code, ".xls"), _ole("Workbook"), Expect("rejected", "另存为 .xlsx"))
    code = enterprise()
    put(_name(code), b"%PDF-1.4\n" + CANARY_ID.encode() + b"\n%%EOF\n", Expect("rejected", "不是Excel(.xlsx)工作簿"))
    code = enterprise()
    put(_name(code), clean[: len(clean) // 2], Expect("rejected", "已损坏"))
    code = enterprise()
    put(_name(code), _rezip(clean, lambda m, b: None if m == "xl/workbook.xml" else b), Expect("rejected", "缺少工作簿结构"))
    code = enterprise()
    put(_name(code), b"", Expect("rejected", "空的（0字节）"))
    # Active content: a VBA project declared as such; the same part renamed but declared by content type; an
    # ActiveX control, an embedded OLE object, an external link and a data connection added to a clean workbook.
    macro = "请另存为不含宏和外部链接的 .xlsx 后重新上传"

    def declaring(content_type: str, part: str):
        override = f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'.encode()
        return lambda m, b: b.replace(b"</Types>", override) if m == "[Content_Types].xml" else b

    for part, content_type, label in (
            ("xl/vbaProject.bin", "application/vnd.ms-office.vbaProject", "宏（VBA 工程）"),
            ("xl/media/image9.bin", "application/vnd.ms-office.vbaProject", "宏（VBA 工程）"),
            ("xl/activeX/activeX1.xml", "application/vnd.ms-office.activeX+xml", "ActiveX 控件"),
            ("xl/embeddings/oleObject1.bin", "application/vnd.openxmlformats-officedocument.oleObject", "嵌入的 OLE 对象"),
            ("xl/externalLinks/externalLink1.xml",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml", "外部链接"),
            ("xl/connections.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.connections+xml",
             "数据连接")):
        code = enterprise()
        put(_name(code), _rezip(clean, declaring(content_type, part), {part: b"<x/>"}),
            Expect("rejected", f"{label}，平台不接收含有可执行内容或外部链接的文件，{macro}"))
    code = enterprise()
    put(_name(code, ".xlsm"), _rezip(clean, lambda m, b: b.replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml") if m == "[Content_Types].xml" else b),
        Expect("rejected", macro))
    code = enterprise()
    with open(folder / _name(code), "wb") as fh:  # 51 MB, sparse: never read into memory
        fh.truncate(51 * 1024 * 1024)
    expected[_name(code)] = Expect("rejected", "超过上限50MB")
    code = enterprise()
    put(_name(code, ".pdf"), b"%PDF-1.4\n%%EOF\n", Expect("rejected", "不支持的文件类型"))
    code = enterprise()
    put(_name(code, ".csv"), _csv_text(_canaried(code), tmp)["基本情况.csv"], Expect("rejected", "不支持的文件类型"))
    if not root_is_superuser:
        code = enterprise()
        put(_name(code), clean, Expect("rejected", "无法读取"))
        os.chmod(folder / _name(code), 0)

    # --- not files at all -----------------------------------------------------------------------------
    write_xlsx(outside, _canaried(enterprise()))
    code = enterprise()
    os.symlink(outside, folder / _name(code))
    expected[_name(code)] = Expect("rejected", "符号链接")
    code = enterprise()
    os.symlink(root / "nowhere.xlsx", folder / _name(code))
    expected[_name(code)] = Expect("rejected", "符号链接")
    code = enterprise()
    os.symlink(outside.parent, folder / _name(code, ""))
    expected[_name(code, "")] = Expect("rejected", "符号链接")
    code = enterprise()
    os.mkfifo(folder / _name(code))
    expected[_name(code)] = Expect("rejected", "不是普通文件")
    code = enterprise()
    short = Path(tempfile.mkdtemp(prefix="s", dir="/tmp")) / "s"  # a socket path must be short
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(short))
    sock.close()
    shutil.move(str(short), folder / _name(code, ".sock"))
    short.parent.rmdir()
    expected[_name(code, ".sock")] = Expect("rejected", "不是普通文件")
    code = enterprise()
    (folder / _name(code, "")).mkdir()
    expected[_name(code, "")] = Expect("rejected", "没有CSV文件")
    code = enterprise()
    write_csv_dir(folder / _name(code, ""), _canaried(code))
    os.symlink(outside, folder / _name(code, "") / "人才信息库附件.csv")
    expected[_name(code, "")] = Expect("rejected", "符号链接")

    # --- CSV that breaks readers ----------------------------------------------------------------------
    code = enterprise()
    members = _csv_text(_canaried(code), tmp)
    members["人才信息库.csv"] = members["人才信息库.csv"].replace(CANARY_NAME.encode(), b'"' + CANARY_NAME.encode(), 1)
    (folder / _name(code, "")).mkdir()
    for name, data in members.items():
        (folder / _name(code, "") / name).write_bytes(data)
    expected[_name(code, "")] = Expect("rejected", "引号不配对")
    code = enterprise()
    members = _csv_text(_canaried(code), tmp)
    members["基本情况.csv"] = bytes(range(128, 256)) * 4
    (folder / _name(code, "")).mkdir()
    for name, data in members.items():
        (folder / _name(code, "") / name).write_bytes(data)
    expected[_name(code, "")] = Expect("rejected", "编码无法识别")
    code = enterprise()
    put(_name(code, ".zip"), b"PK\x03\x04" + b"\0" * 40 + CANARY_ID.encode(), Expect("rejected", "压缩包已损坏"))
    code = enterprise()
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("基本情况.csv", b"\0" * (60 * 1024 * 1024))
    put(_name(code, ".zip"), zbuf.getvalue(), Expect("rejected", "压缩比"))

    # --- content that must not be believed ------------------------------------------------------------
    code = enterprise()  # a path in the code cell: must never become a receipt's file name
    sub = _canaried(code)
    sub["基本情况"][0]["org_code"] = "../../../"
    write_xlsx(folder / _name(code), sub)
    expected[_name(code)] = Expect("rejected", "组织机构代码")
    code, victim = enterprise(), enterprise()  # named for one registered enterprise, says another
    write_xlsx(folder / _name(code), _canaried(victim))
    expected[_name(code)] = Expect("rejected", "两家不同的企业")
    code = enterprise()  # two visible candidates for 基本情况
    put(_name(code), _with_extra_profile(_canaried(code), tmp, "基本情况 ", False, code),
        Expect("rejected", "无法确定以哪个为准"))
    code = enterprise()
    write_xlsx(folder / _name(code), _canaried(code), Layout(omit_sheets=frozenset({"经费情况"})))
    expected[_name(code)] = Expect("rejected", "缺少必填工作表")
    code = enterprise()
    write_xlsx(folder / _name(code), _canaried(code), Layout(omit_columns={"人才信息库": frozenset({"skill_level"})}))
    expected[_name(code)] = Expect("rejected", "缺少必填列")
    code = enterprise()
    sub = _canaried(code)
    sub["基本情况"][0]["period"] = "2008Q1"
    write_xlsx(folder / _name(code), sub)
    expected[_name(code)] = Expect("rejected", "报告期填为")
    code = enterprise()
    sub = _canaried(code)
    sub["基本情况"].append(dict(sub["基本情况"][0]))
    write_xlsx(folder / _name(code), sub)
    expected[_name(code)] = Expect("rejected", "应有且仅有1行")
    code = enterprise()  # a valid code nobody registered, in the name and in the sheet
    stranger = org("ZZ88888Z")
    write_xlsx(folder / f"{format_org_code(stranger)}_{PERIOD}.xlsx", _canaried(stranger))
    expected[f"{format_org_code(stranger)}_{PERIOD}.xlsx"] = Expect("rejected", "不在报送名录中")

    # --- operating-system debris: recorded, ignored -----------------------------------------------------
    put(f"~${_name(enterprise())}", b"\0" * 165, Expect("ignored", "临时锁定文件"))
    put(".DS_Store", b"\0\0\0\1Bud1" + CANARY_NAME.encode(), Expect("ignored", "macOS系统文件"))
    put("Thumbs.db", _OLE + b"\0" * 100, Expect("ignored", "Windows系统文件"))
    put(f"._{_name(enterprise())}", b"\0\5\x16\7" + b"\0" * 60, Expect("ignored", "附属文件"))
    put(f".~lock.{_name(enterprise())}#", b"user,host", Expect("ignored", "临时锁定文件"))

    lines = ["文件名,收到时间", *(f"{n},2008-07-10 09:00:00" for n in sorted(expected) if n.isprintable()
                                  and "," not in n and n != late_logged), *log_lines]
    (folder / "收件登记.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    registry_csv(inbox / "registry.csv", codes)
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    return inbox, expected, outside
