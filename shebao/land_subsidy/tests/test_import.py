"""``shebao tb import FILE --as USER [--dry-run] [--json]``: every row checked first, per-row errors in
Chinese, nothing written on any error; a clean file applied once (the same file again changes nothing);
xlsx, xls-free csv (UTF-8 and GB18030) through the safe reader; the web upload → preview → confirm."""

import datetime as dt
import io
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from shebao.benefits.models import Enrollment
from shebao.common.models import AuditEvent
from shebao.common.sheets import XlsxWriter
from shebao.land_subsidy.importing import COLUMNS
from shebao.land_subsidy.models import SubsidyPerson, TbImport
from shebao.land_subsidy.tests.factories import make_category, make_tb, make_user
from shebao.registry.models import BankAccount, Person
from shebao.registry.tests.factories import id_number

pytestmark = pytest.mark.django_db

NEW1 = id_number(dt.date(1958, 4, 12))
NEW2 = id_number(dt.date(1966, 9, 30), male=False)


@pytest.fixture
def clerk(db):
    user = make_user("tbclerk")
    make_category("A", "征地补贴一类", user=user)
    make_category("B", "征地补贴二类", user=user)
    return user


def written():
    return (Person.objects.count(), Enrollment.objects.count(), SubsidyPerson.objects.count(),
            BankAccount.objects.count(), AuditEvent.objects.count(), TbImport.objects.count())


def csv_file(tmp_path, rows, *, name="tb.csv", encoding="utf-8-sig", header=COLUMNS):
    path = tmp_path / name
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def good_rows():
    return [
        [NEW1, "王大福", "征地补贴一类", "2024-01", "浒山街道", "工商银行", "6222020000001234", "王大福", "2019-05-20",
         "新城大道二期", "13805740001", ""],
        [NEW2, "李小梅", "B", "2025-07", "附海镇", "农行", "6228480000005678", "李小梅", "", "", "", "村里核对"],
    ]


def run(*args, user=None):
    out, err = StringIO(), StringIO()
    extra = ["--as", user.username] if user else []
    call_command("tb", "import", *args, *extra, stdout=out, stderr=err)
    return out.getvalue()


def test_a_clean_file_is_imported_once(clerk, tmp_path):
    path = csv_file(tmp_path, good_rows())
    before = written()
    out = run(str(path), "--dry-run", user=clerk)
    assert "检查通过（未写入）：共 2 行：变动 2 人（新增人员 2，新纳入 2" in out
    assert "第 2 行 王大福：新增人员；纳入土保补贴（征地补贴一类，2024-01 起）；账户登记" in out
    assert written() == before
    out = run(str(path), "--json", user=clerk)
    result = json.loads(out)
    assert (result["ok"], result["applied"], result["summary"]["new_enrollments"], result["errors"]) == (
        True, True, 2, [])
    a = SubsidyPerson.objects.select_related("person", "category", "enrollment").get(person__id_number=NEW1)
    assert (a.person.name, a.person.town.name, a.person.mobile, a.category.code, a.enrollment.start_month,
            a.enrollment.payment_status, a.land_date, a.land_project) == (
        "王大福", "浒山街道", "13805740001", "A", dt.date(2024, 1, 1), "active", dt.date(2019, 5, 20), "新城大道二期")
    assert BankAccount.objects.get(person=a.person, valid_to__isnull=True).account_number == "6222020000001234"
    assert AuditEvent.objects.filter(action="create", object_type="land_subsidy.subsidyperson").count() == 2
    assert AuditEvent.objects.filter(action="tb_import").count() == 1
    # the same file again: nothing changes, nothing is written
    before = written()
    assert json.loads(run(str(path), "--json", user=clerk))["summary"]["changed"] == 0
    assert written() == before
    # a changed category and project: the record changes, audited with the reason
    rows = good_rows()
    rows[0][2], rows[0][9] = "B", "新城大道三期"
    out = run(str(csv_file(tmp_path, rows, name="tb2.csv", encoding="gb18030")), user=clerk)
    assert "补贴信息变更 1" in out and "1 changed" in out
    a.refresh_from_db()
    assert (a.category.code, a.land_project) == ("B", "新城大道三期")
    event = AuditEvent.objects.filter(action="update", object_type="land_subsidy.subsidyperson").get()
    assert (event.reason, event.after) == ("土保补贴人员导入 tb2.csv", {"category_id": a.category_id,
                                                                 "land_project": "新城大道三期"})


def test_any_row_error_refuses_the_whole_file(clerk, tmp_path):
    existing = make_tb("赵六", user=clerk, category=make_category("C", "三类", user=clerk))
    rows = good_rows() + [
        ["330282195001011234", "错号", "A", "2024-01", "浒山街道", "工行", "6222020000001111", "错号", "", "", "", ""],
        [NEW1, "重复", "A", "2024-01", "浒山街道", "工行", "6222020000001111", "重复", "", "", "", ""],
        [existing.person.id_number, "赵七", "A", "2019-03", "", "", "", "", "", "", "", ""],
        [id_number(dt.date(1960, 1, 1)), "孙八", "丙类", "2024-13", "月亮镇", "火星银行", "123", "孙八", "2030-01-01",
         "", "", ""],
        [id_number(dt.date(1961, 1, 1)), "周九", "A", "2024-01", "浒山街道", "", "", "", "", "", "", ""],
    ]
    path = csv_file(tmp_path, rows)
    before = written()
    with pytest.raises(CommandError, match="文件有 10 处错误，整个文件未导入，没有写入任何数据"):
        run(str(path), user=clerk)
    assert written() == before
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("tb", "import", str(path), "--json", "--as", clerk.username, stdout=out, stderr=StringIO())
    errors = [(e["row"], e["column"], e["message"]) for e in json.loads(out.getvalue())["errors"]]
    assert errors == [
        (4, "身份证号", errors[0][2]),
        (5, "身份证号", "与第 2 行重复（每人一行）"),
        (6, "姓名", "“赵七”与系统中该身份证号的姓名“赵六”不一致"),
        (6, "开始年月", "2019-03 与系统中的开始年月 2020-01 不一致"),
        (7, "补贴类别", "未知的补贴类别“丙类”（可用：三类、征地补贴一类、征地补贴二类）"),
        (7, "开始年月", "“2024-13”不是有效年月（应为 YYYY-MM）"),
        (7, "镇街道", "未知的镇街道“月亮镇”"),
        (7, "开户银行", "未知的开户银行“火星银行”"),
        (7, "征地时间", "征地时间 2030-01-01 不合理"),
        (8, "开户银行", "新纳入人员须有发放账户（开户银行、银行账号、户名）"),
    ]
    assert "校验" in errors[0][2]
    assert written() == before


def test_the_file_itself_refused(clerk, tmp_path):
    reviewer = make_user("tbrev", roles=("reviewer",))
    before = written()
    with pytest.raises(CommandError, match="表头缺少列：补贴类别"):
        run(str(csv_file(tmp_path, good_rows(), header=[c if c != "补贴类别" else "类型" for c in COLUMNS])), user=clerk)
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CommandError):
        run(str(bad), user=clerk)
    with pytest.raises(CommandError, match="导入须用 --as 指定经办人"):
        run(str(csv_file(tmp_path, good_rows())))
    with pytest.raises(CommandError, match="用户 tbrev：您没有此功能的权限"):
        run(str(csv_file(tmp_path, good_rows())), user=reviewer)
    assert written() == before


def test_an_xlsx_file_and_a_town_clerks_scope(clerk, tmp_path):
    path = tmp_path / "tb.xlsx"
    with path.open("wb") as fh, XlsxWriter(fh, headers=COLUMNS) as w:
        for r in good_rows():
            w.write_row(r)
    town_clerk = make_user("tbtown", towns=("浒山街道",))
    before = written()
    with pytest.raises(CommandError, match="1 处错误"):
        run(str(path), user=town_clerk)  # 李小梅 of 附海镇 is outside 浒山街道
    assert written() == before
    assert "已导入" in run(str(path), user=clerk)
    assert SubsidyPerson.objects.count() == 2


def test_the_web_upload_preview_and_confirm(clerk, tmp_path, client):
    from shebao.web.tests.helpers import once

    client.force_login(clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    data = csv_file(tmp_path, good_rows()).read_bytes()
    before = written()
    response = client.post("/tb/import/", once({"file": io.BytesIO(data)}) | {"file": _upload("tb.csv", data)})
    batch = TbImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tb/import/{batch.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "确认导入 2 人的变动" in page and "纳入土保补贴（征地补贴一类，2024-01 起）" in page
    assert written()[:5] == before[:5]
    done = client.post(f"/tb/import/{batch.pk}/confirm/", once(), follow=True).content.decode()
    assert "已导入：共 2 行：变动 2 人" in done
    assert SubsidyPerson.objects.count() == 2
    again = client.post(f"/tb/import/{batch.pk}/confirm/", once(), follow=True).content.decode()
    assert "该批次已导入，不能导入" in again
    assert SubsidyPerson.objects.count() == 2


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")
