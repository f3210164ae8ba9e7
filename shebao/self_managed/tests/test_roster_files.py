"""The 花名册 through the one safe reader and the one writer: bombs, NUL, long cells, formula
injection in 备注 and 户名, bad account numbers, and a batch page that never re-reads its file."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal as D

import pytest
from python_calamine import CalamineWorkbook

from shebao.benefits.models import Enrollment
from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person
from shebao.self_managed.models import RosterImport
from shebao.self_managed.roster import COLUMNS
from shebao.web.tests.helpers import make_user, once

HEADER = ",".join(COLUMNS)
ROW = "330282195001010011,王某,基本养老金,1200.50,2026-01,正常,工行,6222021234567890123,王某,12,浒山街道,,{note}"


@pytest.fixture
def clerk(db):
    return make_user("zg_files", roles=["clerk"], all_regions=True, sensitive=True)


def _upload(client, data: bytes, name: str = "r.csv"):
    f = io.BytesIO(data)
    f.name = name
    return client.post("/zg/roster/", once({"file": f}))


def _nothing_written(before):
    assert (Person.objects.count(), BankAccount.objects.count(), Enrollment.objects.count()) == before


@pytest.mark.parametrize(("data", "name", "message"), [
    ((HEADER + "\n" + ROW.format(note="备\x00注") + "\n").encode(), "r.csv", "第 2 行含有空字符（NUL）"),
    ((HEADER + "\n" + ROW.format(note="长" * 600) + "\n").encode(), "r.csv", "第 2 行有一个单元格长 600 个字符，超过上限 500"),
    (b"\xff\xfe\x00\x00garbage" * 3, "r.csv", "空字符"),
])
def test_bad_files_refused_with_a_message(client, clerk, data, name, message):
    client.force_login(clerk)
    before = (Person.objects.count(), BankAccount.objects.count(), Enrollment.objects.count())
    page = _upload(client, data, name).content.decode()
    assert message in page
    assert RosterImport.objects.count() == 0
    _nothing_written(before)


def test_zip_bomb_refused_before_parsing(client, clerk):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b"<row/>" * (1 << 20)
            for _ in range(160):  # about 1 GB inflated
                f.write(block)
    data = buf.getvalue()
    assert len(data) < 3 << 20
    client.force_login(clerk)
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    page = _upload(client, data, "bomb.xlsx").content.decode()
    assert "疑似压缩炸弹" in page or "解压后超过" in page
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200 * 1024  # KiB: no GB spent
    assert RosterImport.objects.count() == 0


@pytest.mark.parametrize(("account", "holder", "column", "message"), [
    ("6222\x0502123456789\x18", "王某", "银行账号", "银行账号只能包含数字 0-9（含有 '\\x05'）"),
    ("62220212", "王某", "银行账号", "中国工商银行账号应为 16–19 位数字，实际 8 位"),
    ("6222021234567890123", "王某|2|999", "户名", "户名不能含有字符“|”"),
])
def test_bad_account_or_holder_refused_at_import(client, clerk, account, holder, column, message):
    client.force_login(clerk)
    row = ROW.format(note="").replace("6222021234567890123", account).replace("工行,6222", "工行,6222")
    row = row.replace(",王某,12,", f",{holder},12,")
    response = _upload(client, (HEADER + "\n" + row + "\n").encode())
    batch = RosterImport.objects.get()
    assert batch.state == "refused"
    page = client.get(response.url).content.decode()
    from django.utils.html import escape

    assert escape(message) in page and "确认导入" not in page
    assert not BankAccount.objects.exists()


def test_batch_page_uses_the_stored_check(client, clerk, monkeypatch):
    client.force_login(clerk)
    response = _upload(client, (HEADER + "\n" + ROW.format(note="=HYPERLINK(\"http://x\",\"点我\")") + "\n").encode())
    batch = RosterImport.objects.get()
    assert batch.preview["changed_count"] == 1 and batch.preview["changed"][0]["items"] == [
        {"item": "基本养老金", "amount": "1200.50", "old_amount": None, "from_month": "2026-01"}]
    import shebao.common.safefile as safefile
    import shebao.self_managed.roster as roster

    def never(*a, **k):
        raise AssertionError("the batch page parsed the file again")

    monkeypatch.setattr(roster, "read_table", never)
    monkeypatch.setattr(safefile, "read_table", never)
    monkeypatch.setattr(roster, "roster_plan", never)
    for _ in range(6):
        page = client.get(response.url).content.decode()
        assert "检查通过" in page and "确认导入 1 人的变动" in page and "1,200.50" in page


def test_export_neutralises_formulas_in_xlsx_and_csv(client, clerk):
    client.force_login(clerk)
    note = "=cmd|' /C calc'!A0"
    response = _upload(client, (HEADER + "\n" + ROW.format(note=note) + "\n").encode())
    client.post(f"{response.url}confirm/", once())
    assert Enrollment.objects.get().note == note
    xlsx = client.get("/zg/roster/export/").getvalue()
    sheet = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and ' s="5" t="inlineStr"><is><t xml:space="preserve">=cmd|' in sheet
    rows = CalamineWorkbook.from_filelike(io.BytesIO(xlsx)).get_sheet_by_index(0).to_python()
    assert rows[1][3] == 1200.5 and rows[1][12] == note
    assert "<v>1200.50</v>" in sheet
    csv_text = client.get("/zg/roster/export/?format=csv").getvalue().decode("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in csv_text and ",=cmd" not in csv_text and ",1200.50," in csv_text
    # the csv goes back in unchanged: the apostrophe is the writer's, not the data's
    audits = AuditEvent.objects.count()
    again = _upload(client, csv_text.encode("utf-8-sig"))
    batch = RosterImport.objects.latest("id")
    assert batch.state == "previewed" and batch.changed_count == 0, batch.preview
    assert again.status_code == 302 and AuditEvent.objects.count() == audits
    assert Enrollment.objects.get().note == note and D("1200.50") == D(str(rows[1][3]))


def test_confirm_of_a_stored_batch_with_nul_is_a_message(client, clerk):
    """A batch uploaded before the reader refused NUL: confirming it is a message, nothing written."""
    client.force_login(clerk)
    data = (HEADER + "\n" + ROW.format(note="备\x00注") + "\n").encode()
    batch = RosterImport.objects.create(file_name="old.csv", sha256="0" * 64, content=data, state="previewed",
                                        created_by=clerk, created_by_name=clerk.username)
    before = (Person.objects.count(), BankAccount.objects.count(), Enrollment.objects.count())
    page = client.post(f"/zg/roster/{batch.pk}/confirm/", once(), follow=True).content.decode()
    assert "第 2 行含有空字符（NUL）" in page
    _nothing_written(before)
    batch.refresh_from_db()
    assert batch.state == "previewed"
