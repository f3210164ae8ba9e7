"""/api/v1/payroll: runs, compute, approve, lines with components, one line explained — with Bearer
tokens, exact amounts, masking both ways, town and scheme scope, and nothing written on a refusal."""

from __future__ import annotations

import pytest
from django.test import Client

from shebao.accounts.tests.factories import make_user
from shebao.api.tests.world import LI_ACCOUNT, LI_ID, ZHANG_ID, bearer, build_world
from shebao.common.models import AuditEvent, Job
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def clerk(db):
    return make_user("api_clerk", roles=("clerk",), all_regions=True)


def snapshot() -> tuple:
    """What a refused write must leave as it was."""
    runs = list(PayrollRun.objects.order_by("pk").values_list("pk", "state", "gross", "deductions", "net",
                                                                "approved_by_id", "computed_at"))
    lines = list(PayrollLine.objects.order_by("pk").values_list("pk", "gross", "deductions", "net", "status"))
    return runs, lines, PayrollComponent.objects.count(), AuditEvent.objects.count(), Job.objects.count()


# --------------------------------------------------------------------------------------------------
# runs


def test_runs_list_with_a_bearer_token_gives_exact_totals_as_strings(world, clerk):
    client = bearer(clerk)
    data = client.get("/api/v1/payroll/runs").json()
    assert data["count"] == 2
    march, february = data["items"]
    assert (march["id"], march["period"], march["state"], march["kind"]) == (
        world.run_computed.pk, "2026-03", "computed", "regular")
    assert (march["gross"], march["deductions"], march["net"], march["line_count"]) == ("4300.00", "100.00",
                                                                                       "4200.00", 2)
    assert march["scheme"] == {"code": "ZG", "name": "自管人员"}
    assert march["state_label"] == "已计算" and march["created_by"] == "测试w_maker"
    assert (february["period"], february["state"], february["approved_by"]) == ("2026-02", "exported",
                                                                                "测试w_checker")
    only = client.get("/api/v1/payroll/runs?period=2026-02").json()
    assert [r["id"] for r in only["items"]] == [world.run_exported.pk]
    assert [r["id"] for r in client.get("/api/v1/payroll/runs?state=computed").json()["items"]] == [
        world.run_computed.pk]
    bad = client.get("/api/v1/payroll/runs?period=2026-13")
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("请求数据有误：period：年月")
    assert client.get("/api/v1/payroll/runs?state=nonsense").status_code == 422


def test_runs_list_holds_only_the_callers_schemes(world):
    nb_clerk = make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"])
    client = bearer(nb_clerk)
    assert client.get("/api/v1/payroll/runs").json()["count"] == 0
    refused = client.get("/api/v1/payroll/runs?scheme=ZG")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "您没有ZG险种的权限"}


def test_run_detail_counts_lines_and_refuses_another_scheme(world, clerk):
    data = bearer(clerk).get(f"/api/v1/payroll/runs/{world.run_exported.pk}").json()
    assert data["lines_by_status"] == {"sent": 2}
    assert data["net"] == "4200.00"
    nb_clerk = make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"])
    refused = bearer(nb_clerk).get(f"/api/v1/payroll/runs/{world.run_exported.pk}")
    assert refused.status_code == 403 and refused.json() == {"detail": "您没有ZG险种的权限"}
    missing = bearer(clerk).get("/api/v1/payroll/runs/999999")
    assert missing.status_code == 404 and missing.json() == {"detail": "结算批次不存在"}


def test_no_right_is_403_and_no_login_is_401(world):
    nobody = make_user("api_nobody", roles=(), all_regions=True)
    for path in ("/api/v1/payroll/runs", f"/api/v1/payroll/runs/{world.run_computed.pk}",
                 f"/api/v1/payroll/runs/{world.run_computed.pk}/lines",
                 f"/api/v1/payroll/lines/{world.home_line.pk}"):
        response = bearer(nobody).get(path)
        assert response.status_code == 403, path
        assert response.json() == {"detail": "您没有此功能的权限"}
        assert Client().get(path).status_code == 401


# --------------------------------------------------------------------------------------------------
# lines


def test_run_lines_have_their_components_and_are_masked(world, clerk):
    data = bearer(clerk).get(f"/api/v1/payroll/runs/{world.run_computed.pk}/lines").json()
    assert data["count"] == 2
    by_name = {item["name"]: item for item in data["items"]}
    li = by_name["李四"]
    assert (li["gross"], li["deductions"], li["net"], li["status"]) == ("2150.00", "100.00", "2050.00", "pending")
    assert [(c["kind"], c["item_code"], c["amount"]) for c in li["components"]] == [
        ("item", "basic", "2000.00"), ("item", "extra", "150.00"), ("deduction", None, "100.00")]
    assert li["components"][2]["kind_label"] == "扣减"
    assert li["id_number"] == LI_ID[:6] + "********" + LI_ID[-4:]
    assert li["account_number"] == LI_ACCOUNT[:4] + "*" * (len(LI_ACCOUNT) - 8) + LI_ACCOUNT[-4:]
    assert LI_ID not in str(data) and LI_ACCOUNT not in str(data)
    assert by_name["张三"]["net"] == "2150.00"
    assert [c["amount"] for c in by_name["张三"]["components"]] == ["2000.00", "150.00"]
    filtered = bearer(clerk).get(f"/api/v1/payroll/runs/{world.run_computed.pk}/lines?q=李").json()
    assert [i["name"] for i in filtered["items"]] == ["李四"]


def test_run_lines_in_full_for_the_sensitive_right(world):
    sensitive = make_user("api_sens", roles=("clerk",), all_regions=True, sensitive=True)
    data = bearer(sensitive).get(f"/api/v1/payroll/runs/{world.run_computed.pk}/lines").json()
    li = next(i for i in data["items"] if i["name"] == "李四")
    assert (li["id_number"], li["account_number"]) == (LI_ID, LI_ACCOUNT)


def test_a_town_clerk_sees_only_the_lines_of_their_town(world):
    town_clerk = make_user("api_town", roles=("clerk",), towns=["浒山街道"])
    client = bearer(town_clerk)
    data = client.get(f"/api/v1/payroll/runs/{world.run_computed.pk}/lines").json()
    assert [i["name"] for i in data["items"]] == ["张三"] and data["count"] == 1
    foreign = client.get(f"/api/v1/payroll/lines/{world.foreign_line.pk}")
    assert foreign.status_code == 404
    assert foreign.json() == {"detail": "结算明细不存在或不在您的管辖范围内"}
    home = client.get(f"/api/v1/payroll/lines/{world.home_line.pk}")
    assert home.status_code == 200 and home.json()["id_number"] == ZHANG_ID[:6] + "********" + ZHANG_ID[-4:]


def test_a_line_explains_its_amount(world, clerk):
    data = bearer(clerk).get(f"/api/v1/payroll/lines/{world.foreign_line.pk}").json()
    assert (data["gross"], data["deductions"], data["net"]) == ("2150.00", "100.00", "2050.00")
    assert data["run"]["id"] == world.run_computed.pk and data["run"]["period"] == "2026-03"
    explained = data["explanation"]
    assert explained["consistent"] is True
    assert (explained["components_gross"], explained["components_deductions"]) == ("2150.00", "100.00")
    assert [(p["kind"], p["item"], p["amount"]) for p in explained["components"]] == [
        ("item", "基本养老金", "2000.00"), ("item", "统筹外补贴", "150.00"), ("deduction", "", "100.00")]
    deduction = explained["components"][2]
    assert (deduction["adjustment_total"], deduction["adjustment_reason"], deduction["adjustment_source"]) == (
        "300.00", "多发追回", "2025-12 死亡后多发")
    assert explained["origin_chain"] == []


# --------------------------------------------------------------------------------------------------
# compute


def test_compute_runs_the_job_handler_and_answers_with_the_run(world, clerk):
    client = bearer(clerk)
    response = client.post("/api/v1/payroll/runs/compute", {"scheme": "zg", "period": "2026-04"},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    run = PayrollRun.objects.get(period="2026-04-01")
    assert data["run"]["id"] == run.pk and run.created_by == clerk
    # 张三 2150.00; 李四 2150.00 less 100.00 of the 200.00 still to recover
    assert (data["run"]["gross"], data["run"]["deductions"], data["run"]["net"]) == ("4300.00", "100.00", "4200.00")
    assert data["message"] == ("已计算 自管人员 2026-04：2 笔，应发 4,300.00 元，扣减 100.00 元，实发 4,200.00 元。"
                               "请交另一位审核员审核。")
    assert not Job.objects.exists()  # run here, not queued
    before = snapshot()
    again = client.post("/api/v1/payroll/runs/compute", {"scheme": "ZG", "period": "2026-04"},
                        content_type="application/json")
    assert again.status_code == 409
    assert again.json() == {"detail": f"自管人员 2026-04 的月度结算已存在（批次 {run.pk}，已计算），如需重算请使用“重新计算”"}
    assert snapshot() == before
    redo = client.post("/api/v1/payroll/runs/compute", {"scheme": "ZG", "period": "2026-04", "recompute": True},
                       content_type="application/json")
    assert redo.status_code == 200 and redo.json()["run"]["id"] == run.pk
    assert redo.json()["message"].startswith(f"已重新计算 月度结算 2026-04 #{run.pk}：")


def test_compute_refusals_write_nothing(world, clerk):
    town_clerk = bearer(make_user("api_town", roles=("clerk",), towns=["浒山街道"]))
    nb_clerk = bearer(make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"]))
    reviewer = bearer(make_user("api_rev", roles=("reviewer",), all_regions=True))
    clerk = bearer(clerk)
    before = snapshot()  # after the tokens were issued (each issue is audited)
    cases = [
        (town_clerk, {"scheme": "ZG", "period": "2026-04"}, 403, "此操作涉及全市数据，须由全市范围的用户办理"),
        (nb_clerk, {"scheme": "ZG", "period": "2026-04"}, 403, "您没有ZG险种的权限"),
        (reviewer, {"scheme": "ZG", "period": "2026-04"}, 403, "您没有结算的权限"),
        (clerk, {"scheme": "XX", "period": "2026-04"}, 422, "请求数据有误：scheme：险种代码 XX 不存在（ZG/NB/BZ/TB）"),
        (clerk, {"scheme": "ZG", "period": "2026/13"}, 422, None),
        (clerk, {"scheme": "ZG", "period": "2026-05", "recompute": True}, 404,
         "自管人员 2026-05 还没有月度结算，无需重新计算"),
        (clerk, {"scheme": "ZG", "period": "2026-02", "recompute": True}, 409,
         f"自管人员 2026-02 月度结算（批次 {world.run_exported.pk}） 已报盘，不能重新计算"),
    ]
    for client, body, status, detail in cases:
        response = client.post("/api/v1/payroll/runs/compute", body, content_type="application/json")
        assert response.status_code == status, (body, response.content)
        if detail:
            assert response.json() == {"detail": detail}
        else:
            assert response.json()["detail"].startswith("请求数据有误：period：")
    assert snapshot() == before


# --------------------------------------------------------------------------------------------------
# approve


def test_approve_by_a_county_reviewer(world):
    reviewer = make_user("api_rev", roles=("reviewer",), all_regions=True)
    client = bearer(reviewer)
    response = client.post(f"/api/v1/payroll/runs/{world.run_computed.pk}/approve")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["run"]["state"], data["run"]["approved_by"], data["run"]["net"]) == ("approved", "测试api_rev",
                                                                                     "4200.00")
    assert data["message"].startswith(f"已审核 月度结算 2026-03 #{world.run_computed.pk}：2 笔")
    before = snapshot()
    again = client.post(f"/api/v1/payroll/runs/{world.run_computed.pk}/approve")
    assert again.status_code == 409
    assert again.json() == {"detail": f"审核被拒绝：自管人员 2026-03 月度结算（批次 {world.run_computed.pk}） 已审核，不能再次审核"}
    assert snapshot() == before


def test_approve_refusals_write_nothing(world, clerk):
    maker_checker = make_user("api_both", roles=("clerk", "reviewer"), all_regions=True)
    client = bearer(maker_checker)
    made = client.post("/api/v1/payroll/runs/compute", {"scheme": "ZG", "period": "2026-04"},
                       content_type="application/json").json()["run"]["id"]
    town_reviewer = bearer(make_user("api_town_rev", roles=("reviewer",), towns=["浒山街道"]))
    nb_reviewer = bearer(make_user("api_nb_rev", roles=("reviewer",), all_regions=True, schemes=["NB"]))
    clerk = bearer(clerk)
    before = snapshot()  # after the tokens were issued (each issue is audited)
    own = client.post(f"/api/v1/payroll/runs/{made}/approve")
    assert own.status_code == 409 and own.json() == {"detail": "审核被拒绝：审核人不能与经办人为同一人"}
    county = town_reviewer.post(f"/api/v1/payroll/runs/{world.run_computed.pk}/approve")
    assert county.status_code == 403
    assert county.json() == {"detail": "此操作涉及全市数据，须由全市范围的用户办理"}
    no_right = clerk.post(f"/api/v1/payroll/runs/{world.run_computed.pk}/approve")
    assert no_right.status_code == 403 and no_right.json() == {"detail": "您没有审核的权限"}
    scheme = nb_reviewer.post(f"/api/v1/payroll/runs/{world.run_computed.pk}/approve")
    assert scheme.status_code == 403 and scheme.json() == {"detail": "您没有ZG险种的权限"}
    assert nb_reviewer.post("/api/v1/payroll/runs/999999/approve").status_code == 404
    assert snapshot() == before


def test_the_openapi_document_has_the_work_routes_and_money_as_strings():
    doc = Client().get("/api/v1/openapi.json").json()
    for path in ("/api/v1/payroll/runs", "/api/v1/payroll/runs/compute", "/api/v1/payroll/runs/{run_id}/approve",
                 "/api/v1/payroll/runs/{run_id}/lines", "/api/v1/payroll/lines/{line_id}",
                 "/api/v1/bank/files/{file_id}/download", "/api/v1/bank/returns", "/api/v1/zg/persons/{person_id}",
                 "/api/v1/nb/accounts/{account_id}/years", "/api/v1/nb/accounts/{account_id}/refund-quote"):
        assert path in doc["paths"], path
    net = doc["components"]["schemas"]["RunOut"]["properties"]["net"]
    assert (net["type"], net["pattern"]) == ("string", r"^-?\d+\.\d{2}$")
    upload = doc["paths"]["/api/v1/bank/returns"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]
    assert doc["paths"]["/api/v1/bank/returns"]["post"]["security"] == [{"BearerTokenAuth": []},
                                                                        {"SessionCsrfAuth": []}]


def test_control_characters_and_impossible_months_are_422_not_500(world, clerk):
    """A NUL cannot reach PostgreSQL (it refuses it in text: a 500 before); year 0 matches YYYY-MM but is
    no date. Both are the caller's mistake: 422 in Chinese, nothing written."""
    client = bearer(clerk)
    client.raise_request_exception = False
    runs = PayrollRun.objects.count()
    # a NUL anywhere is refused by the input-safety middleware before the API sees it (400); another
    # control character by the API's own validation (422)
    for path in ("/api/v1/payroll/runs?scheme=Z%00G", f"/api/v1/payroll/runs/{world.run_computed.pk}/lines?q=%00",
                 "/api/v1/bank/files?bank=%00", "/api/v1/zg/persons?q=%00"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (400, {"detail": "输入含有空字符（NUL），已拒绝"}), path
    for path in ("/api/v1/nb/accounts?q=%01", "/api/v1/zg/persons?q=%01", "/api/v1/payroll/runs?scheme=Z%01G"):
        response = client.get(path)
        assert response.status_code == 422, path
        assert response.json()["detail"].startswith("请求数据有误：")
    response = client.post("/api/v1/payroll/runs/compute", {"scheme": "Z\x00G", "period": "2026-04"},
                           content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"detail": "输入含有空字符（NUL），已拒绝"})
    for body in ({"scheme": "Z\x01G", "period": "2026-04"}, {"scheme": "ZG", "period": "0000-04"}):
        response = client.post("/api/v1/payroll/runs/compute", body, content_type="application/json")
        assert response.status_code == 422, body
        assert response.json()["detail"].startswith("请求数据有误：")
    assert client.get("/api/v1/payroll/runs?period=0000-01").json() == {
        "detail": "请求数据有误：period：年月 '0000-01' 超出范围"}
    assert PayrollRun.objects.count() == runs


def test_a_reissue_line_names_the_failed_line_it_repays_masked_or_in_full(world):
    from shebao.bank.services import bank_return_import
    from shebao.bank.tests.helpers import bank_answer
    from shebao.payroll.services import payroll_reissue_create

    li_seq = world.bank_file.lines.get(name="李四").seq
    bank_return_import(data=bank_answer(world.bank_file, {li_seq: "账户已销户"}), filename="r.txt", user=world.maker)
    reissue = payroll_reissue_create(run=world.run_exported, user=world.maker)
    line = world.line(reissue, world.li)
    failed = world.line(world.run_exported, world.li)
    clerk = bearer(make_user("api_clerk2", roles=("clerk",), all_regions=True))
    data = clerk.get(f"/api/v1/payroll/lines/{line.pk}").json()
    assert (data["net"], data["origin_line_id"], data["run"]["kind"]) == ("2050.00", failed.pk, "reissue")
    assert data["explanation"]["origin_chain"] == [
        {"line_id": failed.pk, "run_id": world.run_exported.pk, "seq": failed.seq, "status": "reissued",
         "account_number": LI_ACCOUNT[:4] + "********" + LI_ACCOUNT[-4:], "fail_reason": "账户已销户"}]
    sensitive = bearer(make_user("api_sens2", roles=("clerk",), all_regions=True, sensitive=True))
    chain = sensitive.get(f"/api/v1/payroll/lines/{line.pk}").json()["explanation"]["origin_chain"]
    assert chain[0]["account_number"] == LI_ACCOUNT
