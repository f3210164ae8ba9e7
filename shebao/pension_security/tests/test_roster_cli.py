"""``shebao bz import/export/convert``: per-row errors write nothing; a clean file is applied; export →
import changes nothing; ``convert --json`` lists the 身份证号 converted, and nothing the second time."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.benefits.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.pension_security.models import Category, Member, PaidIn
from shebao.pension_security.services import member_register, proposal_approve, proposal_create
from shebao.registry.models import Person
from shebao.registry.tests.factories import id_number
from shebao.web.tests.helpers import make_person

pytestmark = pytest.mark.django_db
HEADER = "身份证号,姓名,类别,镇街道,联系电话,开户银行,银行账号,户名,缴费方式,缴费日期,缴费金额,备注\n"


@pytest.fixture
def clerk(db):
    return make_user("bzclerk", perms=("pension_security.manage_bz", "pension_security.view_bz"))


def run(*args):
    out = io.StringIO()
    call_command("bz", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_errors_write_nothing_then_clean_file_and_round_trip(clerk, tmp_path):
    a, b = id_number(dt.date(1970, 1, 1)), id_number(dt.date(1972, 5, 5), male=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"{a},王甲,被征地人员养老保障,浒山街道,,,,,缴费,2020-01-01,1000.00,\n"
                   f"{b},李乙,不存在的类别,浒山街道,,,,,趸缴,2020-13-01,-5,\n", encoding="utf-8")
    audits = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="整个文件未导入"):
        run("import", str(bad), "--as", clerk.username)
    assert (AuditEvent.objects.count(), Person.objects.filter(id_number__in=[a, b]).count()) == (audits, 0)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("bz", "import", str(bad), "--dry-run", "--json", stdout=out)
    errors = json.loads(out.getvalue())["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "类别"), (3, "缴费日期")]

    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"{a},王甲,被征地人员养老保障,浒山街道,13800000000,工商银行,6222020000001111,王甲,缴费,2020-01-01,1000.00,\n"
                    f"{a},,,,,,,,一次性趸缴,2021-06-30,15000.50,\n"
                    f"{b},李乙,老年农民生活补助,附海镇,,,,,,,,\n", encoding="utf-8")
    assert "检查通过（未写入）" in run("import", str(good), "--dry-run")
    assert Member.objects.count() == 0
    assert "2 changed" in run("import", str(good), "--as", clerk.username)
    m = Member.objects.get(person__id_number=a)
    assert sorted(PaidIn.objects.filter(member=m).values_list("kind", "amount")) == [
        ("contribution", pytest.approx(1000)), ("lump_sum", pytest.approx(15000.50))]
    assert "0 changed" in run("import", str(good), "--as", clerk.username)
    exported = tmp_path / "out.csv"
    run("export", str(exported))
    assert "0 changed" in run("import", str(exported), "--as", clerk.username)


def test_convert_json_lists_id_numbers_once(clerk):
    reviewer = make_user("bzrev", reviewer=True)
    p = make_person("转换甲", number=id_number(dt.date(1966, 1, 31)))
    m = member_register(user=clerk, category=Category.objects.get(code="land"), person=p)
    proposal_approve(proposal=proposal_create(member=m, user=clerk, start_month="2025-01"), user=reviewer)
    first = json.loads(run("convert", "--month", "2026-02", "--as", clerk.username, "--json"))
    assert first["converted"] == [p.id_number]
    assert json.loads(run("convert", "--month", "2026-02", "--as", clerk.username, "--json"))["converted"] == []


def test_roster_page_preview_then_confirm_once(client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shebao.pension_security.models import RosterImport
    from shebao.web.tests.helpers import make_user as web_user
    from shebao.web.tests.helpers import once

    user = web_user("bzweb", roles=("clerk",), all_regions=True)
    client.force_login(user)
    a = id_number(dt.date(1969, 9, 9))
    content = (HEADER + f"{a},赵丙,被征地人员养老保障,浒山街道,,,,,一次性趸缴,2019-05-05,8000.00,\n").encode()
    r = client.post("/bz/roster/", once({"file": SimpleUploadedFile("r.csv", content, content_type="text/csv")}))
    batch = RosterImport.objects.get()
    assert r.status_code == 302 and batch.state == "previewed" and not Member.objects.exists()
    page = client.get(f"/bz/roster/{batch.pk}/").content.decode()
    assert "赵丙" in page and "新增缴费记录 1" in page
    data = once()
    client.post(f"/bz/roster/{batch.pk}/confirm/", data)
    client.post(f"/bz/roster/{batch.pk}/confirm/", data)  # the same form again: nothing more
    assert Member.objects.count() == 1 and PaidIn.objects.count() == 1
    batch.refresh_from_db()
    assert batch.state == "applied"
