"""The one roster engine (``shebao.registry.roster_import``) through the three imports that use it —
自管人员 花名册 (ZG), 养老保障 花名册 (BZ), 土保补贴人员 (TB):

- a row error anywhere (first row, last row) → nothing written at all, and the error names its row;
- the preview is what is applied: the dry run's plan, the page's stored preview and the confirmed plan
  are the same, the database then holds exactly that (a fresh check finds nothing left to change);
- the same file applied twice: the second time changes nothing and writes nothing;
- a service refusing in the middle of the apply step rolls the whole file back (no batch, no audit);
- the shared pieces themselves: rows by person, a person's columns over their rows, the export's format."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from django.core.management.base import CommandError

from shebao.benefits.models import BenefitAmount, Enrollment
from shebao.benefits.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.land_subsidy.importing import COLUMNS as TB_COLUMNS
from shebao.land_subsidy.models import SubsidyPerson, TbImport
from shebao.land_subsidy.services import TB_IMPORT
from shebao.land_subsidy.tests.factories import make_category
from shebao.pension_security.models import Member, PaidIn
from shebao.pension_security.models import RosterImport as BzImport
from shebao.pension_security.roster import COLUMNS as BZ_COLUMNS
from shebao.pension_security.roster import ROSTER as BZ_ROSTER
from shebao.registry import roster_import as engine
from shebao.registry.models import BankAccount, Person
from shebao.registry.tests.factories import id_number
from shebao.self_managed.models import RosterImport as ZgImport
from shebao.self_managed.roster import COLUMNS as ZG_COLUMNS
from shebao.self_managed.services import ROSTER as ZG_ROSTER

pytestmark = pytest.mark.django_db

A, B, C = id_number(dt.date(1950, 3, 12)), id_number(dt.date(1952, 7, 7), male=False), id_number(dt.date(1956, 9, 20))


def csv(columns: list[str], rows: list[list[str]]) -> bytes:
    return ("\r\n".join(",".join(r) for r in [columns, *rows]) + "\r\n").encode("utf-8-sig")


def zg_rows(bad: bool) -> list[list[str]]:
    return [
        [A, "胡阿毛", "基本养老金", "2350.00", "2024-01", "正常", "中国工商银行", "6222023901000012345", "胡阿毛", "32",
         "浒山街道", "13805741234", ""],
        [A, "", "统筹外补贴", "180.00", "2024-01", "", "", "", "", "", "", "", ""],
        [B, "孙雅琴", "基本养老金", "1980.50", "2025-03", "正常", "农行", "6228480329001234567", "孙雅琴", "28",
         "附海镇", "", "档案核对"],
        [C, "徐美娟", "基本养老金", "2100.00", "2024-06", "暂停", "建行", "6217001234567890123", "徐美娟", "30",
         "月球镇" if bad else "浒山街道", "", ""],
    ]


def bz_rows(bad: bool) -> list[list[str]]:
    return [
        [A, "胡阿毛", "被征地人员养老保障", "浒山街道", "13805741234", "工商银行", "6222020000001111", "胡阿毛", "缴费",
         "2020-01-01", "1000.00", ""],
        [A, "", "", "", "", "", "", "", "一次性趸缴", "2021-06-30", "15000.50", ""],
        [B, "孙雅琴", "老年农民生活补助", "附海镇", "", "", "", "", "", "", "", ""],
        [C, "徐美娟", "被征地人员养老保障", "浒山街道", "", "", "", "", "缴费", "2020-13-01" if bad else "2020-12-01",
         "800.00", ""],
    ]


def tb_rows(bad: bool) -> list[list[str]]:
    return [
        [A, "胡阿毛", "征地补贴一类", "2024-01", "浒山街道", "工商银行", "6222020000001234", "胡阿毛", "2019-05-20",
         "新城大道二期", "13805740001", ""],
        [B, "孙雅琴", "征地补贴一类", "2025-07", "附海镇", "农行", "6228480000005678", "孙雅琴", "", "", "", "村里核对"],
        [C, "徐美娟", "不存在的类别" if bad else "征地补贴一类", "2024-06", "浒山街道", "建行", "6217001234567890123",
         "徐美娟", "", "", "", ""],
    ]


SCHEMES = {
    "ZG": (ZG_ROSTER, ZG_COLUMNS, zg_rows, (Enrollment, BenefitAmount, ZgImport)),
    "BZ": (BZ_ROSTER, BZ_COLUMNS, bz_rows, (Member, PaidIn, BzImport)),
    "TB": (TB_IMPORT, TB_COLUMNS, tb_rows, (Enrollment, SubsidyPerson, TbImport)),
}


@pytest.fixture
def clerk(db):
    user = make_user("rosterclerk", perms=["self_managed.manage_zg", "pension_security.manage_bz",
                                           "land_subsidy.manage_tb"])
    make_category("A", "征地补贴一类", user=user)
    return user


def written(models) -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Person, BankAccount, AuditEvent, *models))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("where", ["last", "first"])
def test_a_row_error_anywhere_writes_nothing(clerk, scheme, where):
    importer, columns, rows, models = SCHEMES[scheme]
    lines = rows(bad=True)
    if where == "first":
        lines = lines[-1:] + lines[:-1]
    bad_row = 2 if where == "first" else len(lines) + 1
    before = written(models)
    result = importer.run(file_name="bad.csv", data=csv(columns, lines), user=clerk)
    assert not result.applied and result.batch is None and result.changed == 0
    assert {e.row for e in result.plan.errors} == {bad_row}, [e.as_text() for e in result.plan.errors]
    assert written(models) == before
    # the page: the file kept as a refused batch, and its confirm refused with the scheme's words
    batch = importer.upload(file_name="bad.csv", data=csv(columns, lines), user=clerk)
    assert (batch.state, batch.error_count) == ("refused", len(result.plan.errors))
    with pytest.raises(importer.error, match="不能导入"):
        importer.confirm(batch=batch, user=clerk)
    assert written(models)[:3] == before[:3]  # the batch record only


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_preview_is_what_is_applied(clerk, scheme):
    importer, columns, rows, models = SCHEMES[scheme]
    data = csv(columns, rows(bad=False))
    before = written(models)
    dry = importer.run(file_name="r.csv", data=data, user=clerk, dry_run=True)
    assert dry.plan.ok and not dry.applied and len(dry.plan.changed) == 3
    assert written(models) == before
    batch = importer.upload(file_name="r.csv", data=data, user=clerk)
    assert batch.state == "previewed" and batch.preview == importer.preview(dry.plan)
    assert batch.changed_count == len(dry.plan.changed)
    result = importer.confirm(batch=batch, user=clerk)
    assert result.applied and result.batch.pk == batch.pk and result.changed == 3
    assert result.plan.summary() == dry.plan.summary() and importer.preview(result.plan) == batch.preview
    batch.refresh_from_db()
    assert (batch.state, batch.changed_count, batch.error_count) == ("applied", 3, 0)
    summary = dry.plan.summary()
    new_persons = summary["new_persons"]
    assert Person.objects.count() == before[0] + new_persons == before[0] + 3
    assert set(Person.objects.filter(id_number__in=[A, B, C]).values_list("name", flat=True)) == {
        "胡阿毛", "孙雅琴", "徐美娟"}
    audit = AuditEvent.objects.get(action=importer.audit_action)
    assert audit.object_id == str(batch.pk) and audit.summary.endswith(dry.plan.summary_text())
    # everything the preview announced is in the database: a fresh check finds nothing left to change
    again = importer.run(file_name="r.csv", data=data, user=clerk, dry_run=True)
    assert again.plan.ok and again.plan.changed == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_same_file_twice_changes_nothing(clerk, scheme):
    importer, columns, rows, models = SCHEMES[scheme]
    data = csv(columns, rows(bad=False))
    first = importer.run(file_name="r.csv", data=data, user=clerk)
    assert first.applied and first.changed == 3 and first.batch is not None
    after_first = written(models)
    second = importer.run(file_name="r.csv", data=data, user=clerk)
    assert second.applied and second.changed == 0 and second.batch is None and second.plan.changed == []
    assert written(models) == after_first
    # through the page: the batch is recorded as applied (with its audit event), nothing else is written
    batch = importer.upload(file_name="r.csv", data=data, user=clerk)
    assert batch.changed_count == 0
    importer.confirm(batch=batch, user=clerk)
    batch.refresh_from_db()
    assert (batch.state, batch.changed_count) == ("applied", 0)
    persons, accounts, audits, *rest = written(models)
    assert (persons, accounts, audits - 1, *rest[:-1]) == after_first[:-1] and rest[-1] == after_first[-1] + 1
    with pytest.raises(importer.error, match="已导入"):
        importer.confirm(batch=batch, user=clerk)  # a second confirm (double click) is refused


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_refusal_inside_the_apply_step_rolls_the_whole_file_back(clerk, scheme):
    importer, columns, rows, models = SCHEMES[scheme]

    def apply_then_refuse(plan, todo, **kw):
        importer.apply(plan, todo, **kw)
        assert Person.objects.filter(id_number=C).exists()  # written inside the transaction…
        raise importer.error("第 5 行（徐美娟）：服务拒绝")

    failing = dataclasses.replace(importer, apply=apply_then_refuse)
    before = written(models)
    with pytest.raises(importer.error, match="服务拒绝"):
        failing.run(file_name="r.csv", data=csv(columns, rows(bad=False)), user=clerk)
    assert written(models) == before  # …and rolled back with the batch and the audit event


def test_an_import_without_a_user_is_refused_and_writes_nothing(clerk):
    before = written(SCHEMES["TB"][3])
    with pytest.raises(TB_IMPORT.error, match="导入须指定经办人"):
        TB_IMPORT.run(file_name="r.csv", data=csv(TB_COLUMNS, tb_rows(bad=False)), user=None)
    assert written(SCHEMES["TB"][3]) == before


def test_rows_by_person_and_a_persons_columns():
    plan = engine.ImportPlan()
    cell = engine.cell_reader({"身份证号": 0, "姓名": 1, "镇街道": 2})
    data = [[A, "甲", "浒山街道"], ["", " ", ""], ["123", "乙", ""], [B, "丙", ""], [A, "", "附海镇"], [A, "甲", ""]]
    order, groups = engine.person_rows(plan, data, cell)
    assert plan.rows == 5 and order == [A, B] and [n for n, _ in groups[A]] == [2, 6, 7]
    assert [(e.row, e.column) for e in plan.errors] == [(4, "身份证号")]
    values = engine.PersonValues(plan, groups[A], cell, ["姓名", "镇街道"])
    assert (values("姓名"), values.row("姓名"), values("镇街道"), values.row("镇街道")) == ("甲", 2, "浒山街道", 2)
    assert plan.errors[-1].as_text() == "第 6 行 [镇街道]：“附海镇”与第 2 行的“浒山街道”不一致"
    one = engine.ImportPlan()
    order, _ = engine.person_rows(one, data, cell, one_per_person=True)
    assert order == [A, B] and [(e.row, e.message) for e in one.errors if e.row != 4] == [
        (6, "与第 2 行重复（每人一行）"), (7, "与第 2 行重复（每人一行）")]


def test_the_export_format_is_the_extension(tmp_path):
    class Cmd:
        stdout = io.StringIO()

    def write(fh, rows, *, fmt):
        fh.write(f"{fmt}:{len(rows)}".encode())

    with pytest.raises(CommandError, match=r"^导出文件的扩展名应为 \.xlsx$"):
        engine.export_command(Cmd, str(tmp_path / "a.csv"), rows=list, write=write, formats=("xlsx",),
                              done=lambda rows, path: "")
    engine.export_command(Cmd, str(tmp_path / "a.CSV"), rows=lambda: [[1], [2]], write=write,
                          done=lambda rows, path: f"已导出 {len(rows)} 行")
    assert (tmp_path / "a.CSV").read_bytes() == b"csv:2" and Cmd.stdout.getvalue() == "已导出 2 行"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_new_persons_15_digit_number_is_kept_beside_the_18_digits(clerk, scheme):
    """A row written with the old 15-digit number registers the person under the 18 digits AND keeps the 15
    (``Person.id_number_original``, what a search by the old number and the legacy archive match on). The
    roster engine used to hand the registry the upgraded number only, and the 15 digits were lost."""
    importer, columns, rows, _models = SCHEMES[scheme]
    short = A[:6] + A[8:17]
    lines = [[short if c == A else c for c in r] for r in rows(bad=False)]
    result = importer.run(file_name="r.csv", data=csv(columns, lines), user=clerk)
    assert result.applied and result.changed == 3
    assert Person.objects.get(id_number=A).id_number_original == short
    assert Person.objects.get(id_number=B).id_number_original == ""
