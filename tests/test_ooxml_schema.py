"""Every kind of workbook the project writes is valid Office Open XML: each XML part of the package validates
against the ECMA-376 schema for it (what Excel's "repair" prompt is about), and openpyxl reads it back.

The schemas are the transitional ones published with ECMA-376, copied unmodified from the brief's
``../shared/ooxml/`` into ``tests/ooxml/`` so that a fresh clone's ``make test`` has them (their README says which
part validates against which schema). They import each other by relative path, and lxml loads them with network
access off, so nothing is fetched from the web.
"""

from __future__ import annotations

import functools
import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from pipelines.lib.exports.receipts import write_receipts
from pipelines.lib.exports.workbook import REVISIONS_SHEET, write_tracking_workbook
from pipelines.lib.forms.template import write_template
from tests.marts_fixture import build_marts_fixture, make_code, with_revisions

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "tests" / "ooxml"
PERIOD = "2007Q4"
ACCEPTED_ORG, MISSING_ORG, REJECTED_ORG = make_code(0), make_code(3), make_code(4)

# Parts that are not checked, and why.
NO_SCHEMA = {
    # opc-coreProperties.xsd imports the Dublin Core schemas (dc, dcterms) from the web by URL: no offline copy
    "docProps/core.xml": "core properties: schema imports Dublin Core from the web",
}


def schema_name(part: str) -> str | None:
    """The schema of a package part (tests/ooxml/README.md); None for a part with no usable schema."""
    if part in NO_SCHEMA or part.endswith(".vml"):  # VML has no schema
        return None
    if part == "[Content_Types].xml":
        return "opc-contentTypes.xsd"
    if part.endswith(".rels"):
        return "opc-relationships.xsd"
    if part.startswith("xl/theme/"):
        return "dml-main.xsd"
    if part == "docProps/app.xml":
        return "shared-documentPropertiesExtended.xsd"
    if part == "docProps/custom.xml":
        return "shared-documentPropertiesCustom.xsd"
    if part.startswith("xl/") and part.endswith(".xml"):
        return "sml.xsd"
    raise AssertionError(f"a part no schema is known for: {part}")


@functools.cache
def schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def schema_errors(package: bytes | Path) -> tuple[dict[str, list[str]], int]:
    """{part: schema errors} of the parts that have a schema, and how many parts were validated."""
    data = package.read_bytes() if isinstance(package, Path) else package
    errors: dict[str, list[str]] = {}
    checked = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for part in zf.namelist():
            name = schema_name(part)
            if name is None:
                continue
            checked += 1
            xsd = schema(name)
            doc = etree.fromstring(zf.read(part), etree.XMLParser(no_network=True, resolve_entities=False))
            if not xsd.validate(doc):
                errors[part] = [f"{e.line}: {e.message}" for e in xsd.error_log][:5]
    return errors, checked


def cells_read_back(path: Path) -> int:
    """The cells openpyxl reads from every sheet (it raises on a package it cannot read)."""
    wb = openpyxl.load_workbook(path)
    return sum(1 for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None)


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ooxml")
    db = build_marts_fixture(root / "warehouse.duckdb")
    receipts = {p.stem.replace("-", ""): p for p in write_receipts(db, PERIOD, root / "receipts").paths}
    template = root / "template.xlsx"
    write_template(template)
    return {
        "tracking workbook": write_tracking_workbook(db, root / "target_tracking.xlsx"),
        "tracking workbook, revised": write_tracking_workbook(
            with_revisions(Path(shutil.copy(db, root / "revised.duckdb")), root / "work.duckdb", PERIOD),
            root / "revised.xlsx"),
        "receipt, accepted": receipts[ACCEPTED_ORG],
        "receipt, rejected": receipts[REJECTED_ORG],
        "receipt, missing filing": receipts[MISSING_ORG],
        "blank template": template,
    }


def test_the_schemas_are_there_and_load_offline():
    assert SCHEMAS.is_dir(), f"ECMA-376 schemas expected in {SCHEMAS}"
    for name in ("sml.xsd", "dml-main.xsd", "opc-contentTypes.xsd", "opc-relationships.xsd",
                 "shared-documentPropertiesExtended.xsd", "shared-documentPropertiesCustom.xsd"):
        assert isinstance(schema(name), etree.XMLSchema)


@pytest.mark.parametrize("kind", ["tracking workbook", "tracking workbook, revised", "receipt, accepted", "receipt, rejected",
                                  "receipt, missing filing", "blank template"])
def test_every_part_of_every_workbook_kind_is_valid_and_reads_back(workbooks, kind):
    path = workbooks[kind]
    errors, checked = schema_errors(path)
    assert errors == {}
    with zipfile.ZipFile(path) as zf:
        parts = zf.namelist()
    assert checked >= 8 and "xl/worksheets/sheet1.xml" in parts and "xl/styles.xml" in parts
    assert cells_read_back(path) > 0


def test_the_kinds_checked_differ_where_they_should(workbooks):
    revised = openpyxl.load_workbook(workbooks["tracking workbook, revised"], read_only=True)
    assert REVISIONS_SHEET in revised.sheetnames and REVISIONS_SHEET not in openpyxl.load_workbook(
        workbooks["tracking workbook"], read_only=True).sheetnames
    assert len(list(revised[REVISIONS_SHEET].iter_rows(values_only=True))) == 3  # header, the re-check of 2 quarters
    """The receipts checked are three different receipts; the template has comments (VML, not checked)."""
    texts = {k: openpyxl.load_workbook(p).active["C9"].value for k, p in workbooks.items() if k.startswith("receipt")}
    assert len(set(texts.values())) == 3, texts
    with zipfile.ZipFile(workbooks["blank template"]) as zf:
        assert any(n.endswith(".vml") for n in zf.namelist()) and any("comments" in n for n in zf.namelist())


def test_a_planted_defect_fails_validation(workbooks):
    """An element the schema does not allow, inserted into a copy of a receipt's sheet XML, is found."""
    source = workbooks["receipt, accepted"].read_bytes()
    planted = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as zin, zipfile.ZipFile(planted, "w", zipfile.ZIP_DEFLATED) as zout:
        for part in zin.namelist():
            data = zin.read(part)
            if part == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData><bogus/>", 1)
            zout.writestr(part, data)
    errors, _ = schema_errors(planted.getvalue())
    assert list(errors) == ["xl/worksheets/sheet1.xml"]
    assert "bogus" in errors["xl/worksheets/sheet1.xml"][0]
