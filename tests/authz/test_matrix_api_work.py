"""Authorization matrix of the API's work routes (/api/v1/payroll, /bank, /zg, /nb): one row per
operation, each requested as every identity of the harness (session clients; anonymous → 401).

The world (``shebao.api.tests.world``): the ZG runs of 2026-02 (approved, exported to one ICBC file)
and 2026-03 (computed), both with a line of 张三 (浒山街道, home) and of 李四 (附海镇, foreign); the
老农保 account of 王阿大 (附海镇). Rows naming one person's object take the foreign one, so town
identities are refused (404). Runs and files are not one person's: a town identity reads them (the
lines it lists are its town's), but acts on them — compute, approve, download, return import — only
with 全市范围."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from shebao.accounts import roles
from shebao.api.tests.world import build_world
from shebao.common.policy import rule
from tests.authz.harness import Entry, make_identities, run_api_row

PAYROLL_VIEW = rule("payroll.view_payrollrun", "payroll.compute_run", "payroll.export_run", "accounts.review")
PAYROLL_COMPUTE = rule("payroll.compute_run", county=True)
PAYROLL_APPROVE = rule("accounts.review", county=True)
# ``bank.download_file`` where the permission exists, the export right until then; 全市范围 either way
BANK_DOWNLOAD = rule(getattr(roles, "BANK_DOWNLOAD", "payroll.export_run"), county=True)
BANK_IMPORT = rule("payroll.export_run", county=True)
ZG_VIEW = rule("self_managed.view_zg", scheme="ZG")
NB_VIEW = rule("rural_pension.view_ruralaccount", "rural_pension.change_ruralaccount",
               "rural_pension.add_ruraldocument", "rural_pension.change_ruraldocument",
               "rural_pension.change_creditedrate", scheme="NB")
NB_QUOTE = rule("rural_pension.add_ruraldocument", scheme="NB")


def _return_file(world) -> dict:
    return {"file": SimpleUploadedFile("return.txt", world.return_ok, content_type="text/plain")}


ROWS = [
    # 月度结算
    Entry("api GET /api/v1/payroll/runs", PAYROLL_VIEW, note="仅本人有权的险种"),
    Entry("api GET /api/v1/payroll/runs/{run_id}", PAYROLL_VIEW, args=lambda w: {"run_id": w.run_computed.pk},
          scheme="ZG"),
    Entry("api POST /api/v1/payroll/runs/compute", PAYROLL_COMPUTE, method="POST", scheme="ZG",
          data=lambda w: {"scheme": "ZG", "period": "2026-04"}, allowed_status=(409,),
          note="第一个有权者计算，其后同月重复计算 409"),
    Entry("api POST /api/v1/payroll/runs/{run_id}/approve", PAYROLL_APPROVE, method="POST", scheme="ZG",
          args=lambda w: {"run_id": w.run_computed.pk}, allowed_status=(409,)),
    Entry("api GET /api/v1/payroll/runs/{run_id}/lines", PAYROLL_VIEW, args=lambda w: {"run_id": w.run_computed.pk},
          scheme="ZG", note="镇街道用户只列出本镇街道的明细"),
    Entry("api GET /api/v1/payroll/lines/{line_id}", PAYROLL_VIEW, args=lambda w: {"line_id": w.foreign_line.pk},
          scheme="ZG", town_scoped=True),
    # 银行专线接口
    Entry("api GET /api/v1/bank/files", PAYROLL_VIEW),
    Entry("api GET /api/v1/bank/files/{file_id}", PAYROLL_VIEW, args=lambda w: {"file_id": w.bank_file.pk},
          scheme="ZG"),
    Entry("api GET /api/v1/bank/files/{file_id}/download", BANK_DOWNLOAD, args=lambda w: {"file_id": w.bank_file.pk},
          scheme="ZG", note="完整号码；每次下载记入审计"),
    Entry("api GET /api/v1/bank/returns", PAYROLL_VIEW),
    Entry("api POST /api/v1/bank/returns", BANK_IMPORT, method="POST", scheme="ZG", data=_return_file,
          note="第一个有权者导入（201），其后同一文件 200 不作更改"),
    # 自管人员
    Entry("api GET /api/v1/zg/persons", ZG_VIEW),
    Entry("api GET /api/v1/zg/persons/{person_id}", ZG_VIEW, args=lambda w: {"person_id": w.li.pk},
          town_scoped=True),
    # 老农保
    Entry("api GET /api/v1/nb/accounts", NB_VIEW),
    Entry("api GET /api/v1/nb/accounts/{account_id}", NB_VIEW, args=lambda w: {"account_id": w.nb_account.pk},
          town_scoped=True),
    Entry("api GET /api/v1/nb/accounts/{account_id}/years", NB_VIEW,
          args=lambda w: {"account_id": w.nb_account.pk}, town_scoped=True),
    Entry("api GET /api/v1/nb/accounts/{account_id}/refund-quote", NB_QUOTE,
          args=lambda w: {"account_id": w.nb_account.pk}, query={"on": "2024-06-15"}, town_scoped=True),
]

PREFIXES = ("/api/v1/payroll/", "/api/v1/bank/", "/api/v1/zg/", "/api/v1/nb/")


def test_every_work_operation_has_exactly_one_row():
    from tests.authz.test_completeness import api_operations

    ours = sorted(op for op, _m, path in api_operations() if path.startswith(PREFIXES))
    assert sorted(r.name for r in ROWS) == ours


@pytest.fixture(scope="module")
def shared(django_db_setup, django_db_blocker):
    """The world and the identities, built once for the module inside a transaction that is rolled
    back at its end; each row's test runs in a savepoint inside it (pytest-django's per-test atomic),
    so what a row writes (a compute, an approval, a return) is undone before the next row."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world(), make_identities()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.mark.django_db
@pytest.mark.parametrize("entry", ROWS, ids=lambda e: e.name)
def test_api_work_row(entry, shared):
    world, users = shared
    assert run_api_row(entry, world, users) == []


@pytest.mark.django_db
def test_the_rows_left_nothing_behind(shared):
    """Each row's writes were undone: the world is as built (runs of 2026-02 and 2026-03 only, no
    return imported, the 2026-03 run still awaiting approval)."""
    from shebao.bank.models import ReturnFile
    from shebao.payroll.models import PayrollRun

    world, _users = shared
    assert sorted(PayrollRun.objects.values_list("period", "state")) == [
        (world.run_exported.period, "exported"), (world.run_computed.period, "computed")]
    assert not ReturnFile.objects.exists()
