"""Who may do what in payroll and the bank interface, and how far it reaches (the findings of the
trust review): ``--as`` is checked; a town-scoped user sees and writes off only their towns' lines and
does no county-wide act; a scheme-scoped user works only in their schemes; ``next`` stays on the site;
the bank file download is a right of its own and audited; a return without lines or with another
holder name is refused whole."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.accounts.models import User
from shebao.accounts.roles import ROLE_PERMISSIONS
from shebao.accounts.tests import factories
from shebao.bank.formats import BankFileError, ReturnRecord, Template
from shebao.bank.models import BankFile, ReturnFile, ReturnLine
from shebao.bank.services import bank_return_check, bank_return_import
from shebao.bank.tests.helpers import (
    DAY,
    FOREIGN_ACCOUNT,
    HOME_ACCOUNT,
    approved_run,
    bank_answer,
    make_person,
    paybank_world,
)
from shebao.common.models import AuditEvent, Job
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.tests.helpers import once

pytestmark = pytest.mark.django_db


def user(name: str, *, roles=("clerk",), towns=(), schemes=(), sensitive=False) -> User:
    u = factories.make_user(name, roles=roles, towns=towns, all_regions=not towns, sensitive=sensitive)
    if schemes:
        User.objects.filter(pk=u.pk).update(all_schemes=False, schemes=list(schemes))
    return User.objects.get(pk=u.pk)


@pytest.fixture
def world(clerk, reviewer):
    return paybank_world(clerk, reviewer)


def snapshot() -> tuple:
    """Everything a payroll or bank act could write."""
    return (PayrollRun.objects.count(), BankFile.objects.count(), ReturnFile.objects.count(),
            ReturnLine.objects.count(), Job.objects.count(), AuditEvent.objects.count(),
            sorted(PayrollLine.objects.values_list("pk", "status")),
            sorted(PayrollRun.objects.values_list("pk", "state")))


def xlsx_text(response) -> str:
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None)


# --------------------------------------------------------------------------------------------------
# 1 and 3: --as is checked (rights, scheme, county-wide, town)


def test_command_as_without_rights_is_refused_and_writes_nothing(world, tmp_path):
    user("noroles", roles=())
    pending = approved_run([(make_person("待报", "6222020000009993"), "10.00")], world.clerk, world.reviewer,
                           period="2026-05")
    return_file = tmp_path / "return.txt"
    return_file.write_bytes(world.return_bytes)
    before = snapshot()
    calls = [
        ("payroll", "compute", "--scheme", "ZG", "--period", "2026-05", "--as", "noroles"),
        ("payroll", "compute", "--scheme", "ZG", "--period", "2026-04", "--recompute", "--as", "noroles"),
        ("payroll", "approve", str(world.computed_run.pk), "--as", "noroles"),
        ("bank", "export", str(pending.pk), "--template", "standard", "--out", str(tmp_path), "--as", "noroles"),
        ("bank", "import-return", str(return_file), "--as", "noroles"),
        ("bank", "reissue", str(world.run.pk), "--as", "noroles"),
        ("bank", "write-off", str(world.foreign_line.pk), "--reason", "x", "--as", "noroles"),
    ]
    for argv in calls:
        with pytest.raises(CommandError, match="用户 noroles：您没有此功能的权限"):
            call_command(*argv, stdout=io.StringIO())
    assert snapshot() == before
    assert not list(tmp_path.glob("*ICBC*"))  # no bank file written


def test_command_scheme_county_and_town_scope(world, tmp_path):
    user("nb_clerk", schemes=("NB",))
    user("nb_reviewer", roles=("reviewer",), schemes=("NB",))
    user("town_clerk", towns=("浒山街道",))
    user("town_reviewer", roles=("reviewer",), towns=("浒山街道",))
    pending = approved_run([(make_person("待报", "6222020000009993"), "10.00")], world.clerk, world.reviewer,
                           period="2026-05")
    before = snapshot()
    refusals = [
        (("payroll", "compute", "--scheme", "ZG", "--period", "2026-05", "--as", "nb_clerk"), "您没有ZG险种的权限"),
        (("payroll", "approve", str(world.computed_run.pk), "--as", "nb_reviewer"), "您没有ZG险种的权限"),
        (("bank", "export", str(pending.pk), "--template", "standard", "--out", str(tmp_path), "--as", "nb_clerk"),
         "您没有ZG险种的权限"),
        (("bank", "reissue", str(world.run.pk), "--as", "nb_clerk"), "您没有ZG险种的权限"),
        (("payroll", "compute", "--scheme", "ZG", "--period", "2026-05", "--as", "town_clerk"), "全市范围"),
        (("payroll", "approve", str(world.computed_run.pk), "--as", "town_reviewer"), "全市范围"),
        (("bank", "export", str(pending.pk), "--template", "standard", "--out", str(tmp_path), "--as", "town_clerk"),
         "全市范围"),
        (("bank", "reissue", str(world.run.pk), "--as", "town_clerk"), "全市范围"),
        (("bank", "write-off", str(world.foreign_line.pk), "--reason", "x", "--as", "town_reviewer"),
         "该人员不在您的管辖范围内"),
    ]
    for argv, message in refusals:
        with pytest.raises(CommandError, match=message):
            call_command(*argv, stdout=io.StringIO())
    assert snapshot() == before
    # the return's file is of a ZG run: an NB-only clerk may not import it (refused by the job, nothing written)
    return_file = tmp_path / "again.txt"
    return_file.write_bytes(world.return_bytes.replace(b"\r\n", b"\n"))  # not the same bytes as imported
    with pytest.raises(CommandError, match="您没有ZG险种的权限"):
        call_command("bank", "import-return", str(return_file), "--as", "nb_clerk", stdout=io.StringIO())
    assert snapshot() == before
    # a town reviewer writes off a line of their own town
    out = io.StringIO()
    call_command("bank", "write-off", str(world.home_line.pk), "--reason", "本人已故", "--as", "town_reviewer",
                 stdout=out)
    assert "已核销" in out.getvalue()
    world.home_line.refresh_from_db()
    assert world.home_line.status == "written_off"


def test_bank_export_without_as_is_the_console_operator(world, tmp_path):
    pending = approved_run([(make_person("待报", "6222020000009993"), "10.00")], world.clerk, world.reviewer,
                           period="2026-05")
    out = io.StringIO()
    call_command("bank", "export", str(pending.pk), "--template", "standard", "--out", str(tmp_path), stdout=out)
    assert "1 笔  10.00 元" in out.getvalue()
    assert BankFile.objects.count() == 2


def test_job_rechecks_the_scheme_when_it_runs(world):
    from shebao.common.jobs import JobError, job_run_here

    nb = user("nb_clerk", schemes=("NB",))
    before = snapshot()
    with pytest.raises(JobError, match="您没有ZG险种的权限"):
        job_run_here("payroll_recompute", {"run_id": world.computed_run.pk}, user=nb)
    with pytest.raises(JobError, match="您没有ZG险种的权限"):
        job_run_here("payroll_compute", {"scheme": "ZG", "period": "2026-05"}, user=nb)
    assert snapshot() == before


# --------------------------------------------------------------------------------------------------
# 2: town scope on every payroll and bank page


def test_town_clerk_sees_only_their_towns_lines(client, world):
    town_clerk = user("town_clerk", towns=("浒山街道",), sensitive=True)  # sees full numbers: of their town only
    client.force_login(town_clerk)
    foreign, home = world.foreign, world.home
    pages = [f"/payroll/{world.run.pk}/", f"/bank/files/{world.bank_file.pk}/",
             f"/bank/returns/{world.return_file.pk}/", "/bank/lines/", "/bank/failed/"]
    for url in pages:
        text = client.get(url).content.decode()
        assert home.id_number in text and HOME_ACCOUNT in text, url
        assert foreign.id_number not in text and FOREIGN_ACCOUNT not in text and foreign.name not in text, url
        sheet = xlsx_text(client.get(url, {"export": "xlsx"}))
        assert home.id_number in sheet and foreign.id_number not in sheet and foreign.name not in sheet, url
    run_page = client.get(f"/payroll/{world.run.pk}/").content.decode()
    assert "合计为全市合计" in run_page and "失败待发 1 笔 200.00 元" in run_page  # the county total, labelled
    assert client.get(f"/payroll/lines/{world.foreign_line.pk}/").status_code == 404
    assert client.get(f"/payroll/lines/{world.home_line.pk}/").status_code == 200
    before = AuditEvent.objects.count()
    assert client.get(f"/bank/files/{world.bank_file.pk}/download/").status_code == 403  # every town's numbers
    assert AuditEvent.objects.count() == before
    # acts over a whole run or file are county-wide
    for url in (f"/payroll/{world.run.pk}/reissue/", f"/payroll/{world.computed_run.pk}/recompute/",
                "/payroll/compute/", "/bank/export/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/bank/returns/", {"confirm": "1", "job": "1"}).status_code == 403


def test_town_reviewer_writes_off_only_their_towns_line_and_approves_nothing(client, world):
    town_reviewer = user("town_reviewer", roles=("reviewer",), towns=("浒山街道",))
    client.force_login(town_reviewer)
    before = snapshot()
    wrote = client.post(f"/payroll/lines/{world.foreign_line.pk}/write-off/", {"reason": "查无此人", **once()})
    assert wrote.status_code == 404
    approve = client.post(f"/payroll/{world.computed_run.pk}/approve/", {"confirm": "1"})
    assert approve.status_code == 403
    assert snapshot() == before
    done = client.post(f"/payroll/lines/{world.home_line.pk}/write-off/", {"reason": "本人已故", **once()})
    assert done.status_code == 302
    world.home_line.refresh_from_db()
    assert world.home_line.status == "written_off"


# --------------------------------------------------------------------------------------------------
# 3: scheme scope


def test_nb_clerk_neither_computes_nor_sees_zg(client, world):
    nb = user("nb_clerk", schemes=("NB",))
    client.force_login(nb)
    before = snapshot()
    refused = client.post("/payroll/compute/", {"scheme": "ZG", "period": "2026-05", "confirm": "1"})
    assert refused.status_code == 403
    refused = client.post("/payroll/oneoff/", {"scheme": "ZG", "period": "2026-05", "person": [world.home.pk],
                                               "amount": ["10.00"], "memo": [""], "confirm": "1", **once()})
    assert refused.status_code == 403
    refused = client.post("/bank/export/", {"runs": [world.run.pk], "bank": "*", "template": "standard",
                                            "confirm": "1"})
    assert refused.status_code == 403
    assert snapshot() == before
    form = client.get("/payroll/compute/").content.decode()
    assert 'value="NB"' in form and 'value="ZG"' not in form
    for url in (f"/payroll/{world.run.pk}/", f"/payroll/lines/{world.home_line.pk}/",
                f"/bank/files/{world.bank_file.pk}/", f"/bank/returns/{world.return_file.pk}/",
                f"/payroll/jobs/{world.compute_job.pk}/", f"/bank/jobs/{world.export_job.pk}/"):
        assert client.get(url).status_code == 404, url
    assert client.get("/payroll/stats/", {"scheme": "ZG"}).status_code == 403
    for url in ("/payroll/", "/bank/", "/bank/returns/", "/bank/lines/", "/bank/failed/"):
        text = client.get(url).content.decode()
        assert "共 0 条" in text and world.bank_file.batch_no not in text, url


# --------------------------------------------------------------------------------------------------
# 4: next stays on the site


def test_write_off_next_off_site_is_ignored(client, world):
    client.force_login(world.reviewer)
    form = client.get(f"/payroll/lines/{world.foreign_line.pk}/write-off/", {"next": "https://evil.example/x"})
    assert 'name="next" value=""' in form.content.decode()
    done = client.post(f"/payroll/lines/{world.foreign_line.pk}/write-off/",
                       {"reason": "查无此人", "next": "https://evil.example/x", **once()})
    assert done.status_code == 302 and done.url == f"/payroll/lines/{world.foreign_line.pk}/"
    done = client.post(f"/payroll/lines/{world.home_line.pk}/write-off/",
                       {"reason": "查无此人", "next": "/bank/failed/", **once()})
    assert done.url == "/bank/failed/"


def test_safe_next_requires_https_on_a_secure_request(rf):
    from shebao.web.redirects import safe_next

    request = rf.post("/x/", {"next": "http://testserver/bank/"}, secure=True)
    assert safe_next(request, "/home/") == "/home/"
    assert safe_next(rf.post("/x/", {"next": "//evil.example/x"}), "/home/") == "/home/"
    assert safe_next(rf.post("/x/", {"next": "https://testserver/bank/"}, secure=True), "/home/") == \
        "https://testserver/bank/"


# --------------------------------------------------------------------------------------------------
# 5: downloading a bank file is a right of its own, and audited


def test_download_needs_its_permission_and_is_audited(client, world):
    assert "bank.download_file" in ROLE_PERMISSIONS["clerk"]
    assert all("bank.download_file" not in perms for role, perms in ROLE_PERMISSIONS.items() if role != "clerk")
    client.force_login(world.reviewer)  # reads the file page, may not take the full numbers
    page = client.get(f"/bank/files/{world.bank_file.pk}/").content.decode()
    assert "download-file" not in page
    before = AuditEvent.objects.count()
    assert client.get(f"/bank/files/{world.bank_file.pk}/download/").status_code == 403
    assert AuditEvent.objects.count() == before
    client.force_login(world.clerk)
    got = client.get(f"/bank/files/{world.bank_file.pk}/download/")
    assert got.status_code == 200 and got.content == bytes(world.bank_file.content)
    event = AuditEvent.objects.filter(action="bank_file_download").get()
    assert event.username == world.clerk.username and event.object_id == str(world.bank_file.pk)
    assert event.after["sha256"] == world.bank_file.sha256 and event.after["size"] == len(got.content)
    assert event.after["batch_no"] == world.bank_file.batch_no


# --------------------------------------------------------------------------------------------------
# 6: a return without lines, or with another holder name, is refused whole


def _return(bank_file: BankFile, records) -> bytes:
    return Template(bank_file.definition).render_return(batch_no=bank_file.batch_no, date=DAY, records=records)


@pytest.fixture
def sent(clerk, reviewer):
    from shebao.bank.selectors import bank_template_get
    from shebao.bank.services import bank_export

    run = approved_run([(make_person("王五", "6222020000001111"), "1000.00"),
                        (make_person("赵六", "6222020000002222"), "200.50")], clerk, reviewer)
    [bank_file] = bank_export(runs=[run.pk], template=bank_template_get("standard"), user=clerk, on=DAY)
    return bank_file


def _refused(data: bytes, user, *messages) -> None:
    before = snapshot()
    for call in (lambda: bank_return_check(data=data), lambda: bank_return_import(data=data, filename="r.txt",
                                                                                  user=user)):
        with pytest.raises(BankFileError) as exc:
            call()
        for message in messages:
            assert message in str(exc.value)
    assert snapshot() == before


def test_header_only_return_is_refused(sent, clerk):
    _refused(_return(sent, []), clerk, "回盘文件被拒绝", "没有任何明细")
    assert set(PayrollLine.objects.values_list("status", flat=True)) == {"sent"}


def test_return_with_another_holder_name_is_refused(sent, clerk):
    records = []
    for line in sent.lines.order_by("seq"):
        holder = "李鬼" if line.name == "赵六" else line.holder_name
        records.append(ReturnRecord(seq=line.seq, account_no=line.account_number, holder_name=holder,
                                    amount=line.amount, processed_amount=line.amount, ok=True))
    seq = sent.lines.get(name="赵六").seq
    _refused(_return(sent, records), clerk, "回盘文件被拒绝", f"序号 {seq} 的户名“李鬼”与报盘户名“赵六”不符")
    assert set(PayrollLine.objects.values_list("status", flat=True)) == {"sent"}
    bank_return_import(data=bank_answer(sent), filename="r.txt", user=clerk)  # the right names pass
    assert set(PayrollLine.objects.values_list("status", flat=True)) == {"paid"}


def test_fixed_width_return_with_a_cut_holder_name_passes(clerk, reviewer):
    from shebao.bank.selectors import bank_template_get
    from shebao.bank.services import bank_export

    long_name = "欧阳长长长长长长长长名字"  # 24 bytes in GB18030: cut to 20 in the fixed layout
    run = approved_run([(make_person(long_name, "6222020000001111"), "10.00")], clerk, reviewer)
    [bank_file] = bank_export(runs=[run.pk], template=bank_template_get("fixed_fen"), user=clerk, on=DAY)
    result = bank_return_import(data=bank_answer(bank_file), filename="r.txt", user=clerk)
    assert result.created and result.return_file.ok_count == 1


def test_nb_clerk_upload_of_a_zg_return_is_refused_by_its_check(client, world, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(user("nb_clerk", schemes=("NB",)))
    data = world.return_bytes.replace(b"\r\n", b"\n")  # not the bytes imported before
    before = snapshot()
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", data)})
    assert started.status_code == 302 and started.url.startswith("/bank/jobs/")
    from shebao.common.jobs import job_run

    job = job_run(int(started.url.split("/")[-2]))
    assert job.state == "failed" and "您没有ZG险种的权限" in job.message
    after = snapshot()
    assert after[:4] == before[:4] and after[6:] == before[6:]  # only the job row was written
    assert not list((media / "bank_returns").glob("*"))  # the refused upload is not kept
