"""/api/v1/bank: files sent (list, detail, download audited), returns (list, import) — with Bearer
tokens; a refused return writes nothing; county-wide and scheme rules."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shebao.accounts.tests.factories import make_user
from shebao.api.bank import DOWNLOAD
from shebao.api.permissions import MESSAGES
from shebao.api.tests.world import bearer, build_world
from shebao.bank.models import ReturnFile, ReturnLine
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine, PayrollRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def clerk(db):
    return make_user("api_clerk", roles=("clerk",), all_regions=True)


def upload(data: bytes, name: str = "return.txt") -> dict:
    return {"file": SimpleUploadedFile(name, data, content_type="text/plain")}


def written() -> tuple:
    """Everything a return import writes."""
    return (ReturnFile.objects.count(), ReturnLine.objects.count(),
            list(PayrollLine.objects.order_by("pk").values_list("pk", "status", "paid_amount", "fail_reason")),
            list(PayrollRun.objects.order_by("pk").values_list("pk", "state")), AuditEvent.objects.count())


def test_files_list_and_detail(world, clerk):
    client = bearer(clerk)
    data = client.get("/api/v1/bank/files").json()
    assert data["count"] == 1
    [item] = data["items"]
    assert (item["id"], item["batch_no"], item["bank"], item["bank_label"]) == (
        world.bank_file.pk, world.bank_file.batch_no, "ICBC", "中国工商银行")
    assert (item["line_count"], item["total"], item["run_ids"]) == (2, "4200.00", [world.run_exported.pk])
    assert (item["return_count"], item["ok_count"], item["ok_total"]) == (0, 0, None)
    assert item["file_date"] == "2026-02-20" and item["sha256"] == world.bank_file.sha256
    assert client.get("/api/v1/bank/files?bank=ABC").json()["count"] == 0
    assert client.get(f"/api/v1/bank/files?run={world.run_computed.pk}").json()["count"] == 0
    detail = client.get(f"/api/v1/bank/files/{world.bank_file.pk}").json()
    assert detail["runs"] == [{"id": world.run_exported.pk, "scheme": "ZG", "period": "2026-02", "kind": "regular",
                               "state": "exported"}]
    assert detail["returns"] == []
    assert client.get("/api/v1/bank/files/999999").json() == {"detail": "报盘文件不存在"}


def test_files_of_another_scheme_are_hidden_and_refused(world):
    nb_clerk = bearer(make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"]))
    assert nb_clerk.get("/api/v1/bank/files").json()["count"] == 0
    refused = nb_clerk.get(f"/api/v1/bank/files/{world.bank_file.pk}")
    assert refused.status_code == 403 and refused.json() == {"detail": "您没有ZG险种的权限"}
    assert nb_clerk.get(f"/api/v1/bank/files/{world.bank_file.pk}/download").status_code == 403
    nobody = bearer(make_user("api_nobody", roles=(), all_regions=True))
    assert nobody.get("/api/v1/bank/files").json() == {"detail": "您没有此功能的权限"}
    assert Client().get("/api/v1/bank/files").status_code == 401


def test_download_gives_the_kept_bytes_and_is_audited(world, clerk):
    response = bearer(clerk).get(f"/api/v1/bank/files/{world.bank_file.pk}/download")
    assert response.status_code == 200
    assert response.content == bytes(world.bank_file.content)
    assert response["X-Content-SHA256"] == world.bank_file.sha256
    assert world.bank_file.file_name in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="bank_file_download")
    assert (event.username, event.object_type, event.object_id) == ("api_clerk", "bank.bankfile",
                                                                    str(world.bank_file.pk))
    assert event.after["batch_no"] == world.bank_file.batch_no and event.after["via"] == "api"
    assert event.summary == f"下载报盘文件 {world.bank_file.batch_no}（2 笔，4200.00 元）"


def test_download_needs_the_export_right_and_the_whole_county(world):
    reviewer = bearer(make_user("api_rev", roles=("reviewer",), all_regions=True))
    town_clerk = bearer(make_user("api_town", roles=("clerk",), towns=["浒山街道"]))
    audits = AuditEvent.objects.count()
    refused = reviewer.get(f"/api/v1/bank/files/{world.bank_file.pk}/download")
    assert refused.status_code == 403
    assert refused.json() == {"detail": MESSAGES[DOWNLOAD.perms[0]]}  # 下载报盘文件 (or 报盘、回盘 before it exists)
    county = town_clerk.get(f"/api/v1/bank/files/{world.bank_file.pk}/download")
    assert county.status_code == 403
    assert county.json() == {"detail": "此操作涉及全市数据，须由全市范围的用户办理"}
    assert AuditEvent.objects.count() == audits
    # the town clerk still reads the file's summary, as on the page
    assert town_clerk.get(f"/api/v1/bank/files/{world.bank_file.pk}").status_code == 200


def test_return_import_applies_the_bank_answer(world, clerk):
    client = bearer(clerk)
    response = client.post("/api/v1/bank/returns", upload(world.return_ok, "icbc_return.txt"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["created"] is True
    assert data["note"] == "成功 2 笔 4200.00，失败 0 笔 0.00"
    rf = data["return_file"]
    assert (rf["batch_no"], rf["file_name"], rf["line_count"], rf["ok_count"], rf["ok_total"], rf["failed_count"],
            rf["failed_total"], rf["imported_by"]) == (world.bank_file.batch_no, "icbc_return.txt", 2, 2, "4200.00",
                                                       0, "0.00", "测试api_clerk")
    assert data["runs"] == [{"run_id": world.run_exported.pk, "state": "completed", "paid": 2, "failed": 0}]
    assert list(PayrollLine.objects.filter(run=world.run_exported).order_by("seq")
                .values_list("status", "paid_amount")) == [("paid", 2150), ("paid", 2050)]
    listed = client.get("/api/v1/bank/returns").json()
    assert [r["id"] for r in listed["items"]] == [rf["id"]]
    assert client.get(f"/api/v1/bank/files/{world.bank_file.pk}").json()["ok_total"] == "4200.00"
    before = written()
    again = client.post("/api/v1/bank/returns", upload(world.return_ok, "again.txt"))
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["return_file"]["id"] == rf["id"]
    assert again.json()["note"].startswith("该回盘文件已于 ") and "本次未做任何更改" in again.json()["note"]
    assert written() == before


def test_a_return_imported_by_another_request_meanwhile_is_already_there(world, clerk, monkeypatch):
    """Another request imports the same bytes between this one's look-up and its check: the check then
    refuses the lines as returned before, and the answer is the other import (200), not a 400."""
    from shebao.api import bank as api_bank
    from shebao.bank.services import bank_return_check, bank_return_import

    def check_after_the_other_import(*, data, template=None):
        bank_return_import(data=data, filename="other.txt", user=clerk)
        return bank_return_check(data=data, template=template)

    monkeypatch.setattr(api_bank, "bank_return_check", check_after_the_other_import)
    response = bearer(clerk).post("/api/v1/bank/returns", upload(world.return_ok))
    assert response.status_code == 200, response.content
    assert response.json()["created"] is False
    assert response.json()["return_file"]["file_name"] == "other.txt"
    assert ReturnFile.objects.count() == 1 and ReturnLine.objects.count() == 2


def test_a_refused_return_writes_nothing(world, clerk):
    client = bearer(clerk)
    before = written()
    wrong_amount = world.return_ok.replace(b"2150.00", b"2150.01")
    response = client.post("/api/v1/bank/returns", upload(wrong_amount))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("回盘文件被拒绝（") and "金额" in detail
    assert written() == before
    garbage = client.post("/api/v1/bank/returns", upload("不是回盘文件\n".encode()))
    assert garbage.status_code == 400
    assert "无法从文件中读出批次号" in garbage.json()["detail"]
    for junk in (b"", bytes(range(256)) * 4, b"PK\x03\x04" + bytes(200)):  # empty, binary, a broken xlsx
        refused = client.post("/api/v1/bank/returns", upload(junk, "junk.xlsx"))
        assert refused.status_code == 400, junk[:8]
        assert refused.json()["detail"].startswith("回盘文件被拒绝")
    unknown = client.post("/api/v1/bank/returns", {**upload(world.return_ok), "template": "nosuch"})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("请求数据有误：template：")
    assert client.post("/api/v1/bank/returns", {}).status_code == 422
    assert written() == before


def test_return_import_is_county_wide_and_in_the_files_scheme(world):
    town_clerk = bearer(make_user("api_town", roles=("clerk",), towns=["浒山街道"]))
    nb_clerk = bearer(make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"]))
    reviewer = bearer(make_user("api_rev", roles=("reviewer",), all_regions=True))
    before = written()
    county = town_clerk.post("/api/v1/bank/returns", upload(world.return_ok))
    assert county.status_code == 403
    assert county.json() == {"detail": "此操作涉及全市数据，须由全市范围的用户办理"}
    scheme = nb_clerk.post("/api/v1/bank/returns", upload(world.return_ok))
    assert scheme.status_code == 403 and scheme.json() == {"detail": "您没有ZG险种的权限"}
    no_right = reviewer.post("/api/v1/bank/returns", upload(world.return_ok))
    assert no_right.status_code == 403 and no_right.json() == {"detail": "您没有报盘、回盘的权限"}
    assert written() == before
    assert nb_clerk.get("/api/v1/bank/returns").json()["count"] == 0


def test_session_clients_import_with_the_csrf_token_only(world, clerk):
    """The web UI's session is held to CSRF for an upload; a Bearer token needs none."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    before = written()
    assert client.post("/api/v1/bank/returns", upload(world.return_ok)).status_code == 403
    assert written() == before
    strict_bearer = bearer(clerk)
    strict_bearer.handler.enforce_csrf_checks = True
    assert strict_bearer.post("/api/v1/bank/returns", upload(world.return_ok)).status_code == 201


def test_lists_never_read_the_files_bytes(world, clerk):
    """A return row names its payment file; the file's bytes (66 MB at 800,000 lines) are not read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = bearer(clerk)
    assert client.post("/api/v1/bank/returns", upload(world.return_ok)).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/bank/returns").status_code == 200
        assert client.get("/api/v1/bank/files").status_code == 200
        assert client.get(f"/api/v1/bank/files/{world.bank_file.pk}").status_code == 200
    read = [q["sql"] for q in queries.captured_queries if '"bank_bankfile"."content"' in q["sql"]]
    assert read == []


def test_a_file_paying_runs_of_two_schemes(world, clerk):
    """Listed and readable by a clerk of either scheme (as on the pages); its bytes — every payee's full
    numbers — only for a clerk of both."""
    import datetime as dt

    from shebao.bank.selectors import bank_template_get
    from shebao.bank.services import bank_export
    from shebao.benefits.models import Scheme
    from shebao.payroll.services import payroll_oneoff_create, payroll_run_approve

    runs = []
    for code, person in (("ZG", world.zhang), ("NB", world.li)):
        run = payroll_oneoff_create(scheme=Scheme.objects.get(code=code), items=[(person, "100.00", "")],
                                    user=world.maker, period="2026-03")
        runs.append(payroll_run_approve(run=run, user=world.checker).pk)
    [mixed] = bank_export(runs=runs, template=bank_template_get("standard"), user=world.maker, on=dt.date(2026, 3, 20))
    zg_clerk = bearer(make_user("api_zg", roles=("clerk",), all_regions=True, schemes=["ZG"]))
    nb_clerk = bearer(make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"]))
    for client in (zg_clerk, nb_clerk):
        assert mixed.pk in [f["id"] for f in client.get("/api/v1/bank/files").json()["items"]]
        detail = client.get(f"/api/v1/bank/files/{mixed.pk}").json()
        assert (detail["total"], [r["scheme"] for r in detail["runs"]]) == ("200.00", ["ZG", "NB"])
    assert zg_clerk.get(f"/api/v1/bank/files/{mixed.pk}/download").json() == {"detail": "您没有NB险种的权限"}
    assert nb_clerk.get(f"/api/v1/bank/files/{mixed.pk}/download").json() == {"detail": "您没有ZG险种的权限"}
    assert bearer(clerk).get(f"/api/v1/bank/files/{mixed.pk}/download").status_code == 200
    assert [f["id"] for f in nb_clerk.get("/api/v1/bank/files").json()["items"]] == [mixed.pk]
