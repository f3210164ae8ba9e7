import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.benefits.models import RaiseRule
from shebao.benefits.tests.factories import enroll, make_person, make_user
from shebao.payroll.models import PayrollRun
from shebao.payroll.tests.helpers import make_user as payroll_user

pytestmark = pytest.mark.django_db


def test_compute_approve_and_refusals(capsys, tmp_path):
    # --as is checked (a user with no role used to compute): the clerk also reviews here, so that the
    # service's maker-checker refusal is what stops them approving their own run
    clerk = payroll_user("clerk1", "accounts.review", roles=("clerk",))
    payroll_user("rev1", roles=("reviewer",))
    enroll(make_person(), user=clerk)
    call_command("payroll", "compute", "--scheme", "ZG", "--period", "2026-03", "--as", "clerk1", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out | {"run": 0} == {"run": 0, "scheme": "ZG", "period": "2026-03", "kind": "regular", "state": "computed",
                                "line_count": 1, "gross": "2150.00", "deductions": "0.00", "net": "2150.00"}
    with pytest.raises(CommandError, match="月度结算已存在"):
        call_command("payroll", "compute", "--scheme", "ZG", "--period", "2026-03", "--as", "clerk1")
    with pytest.raises(CommandError, match="同一人"):
        call_command("payroll", "approve", str(out["run"]), "--as", "clerk1")
    call_command("payroll", "approve", str(out["run"]), "--as", "rev1")
    assert PayrollRun.objects.get(pk=out["run"]).state == "approved"



def test_raise_dry_run_and_apply(capsys, tmp_path):
    clerk = make_user("clerk1", perms=["self_managed.manage_zg"])  # `benefits raise --as` needs 待遇经办
    enroll(make_person(), user=clerk, start="2025-01", items={"basic": "2000.00"})
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"name": "2026调待", "scheme": "ZG", "item": "basic", "effective_month": "2026-01",
                                "fixed": "50.00"}), encoding="utf-8")
    call_command("benefits", "raise", str(rule), "--apply-month", "2026-07", "--as", "clerk1", "--dry-run", "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["persons"], out["monthly_total"], out["arrears_total"], out["rule_id"]) == (1, "50.00", "300.00", None)
    assert not RaiseRule.objects.exists()
    call_command("benefits", "raise", str(rule), "--apply-month", "2026-07", "--as", "clerk1")
    assert RaiseRule.objects.count() == 1
    with pytest.raises(CommandError, match="已执行过"):
        call_command("benefits", "raise", str(rule), "--apply-month", "2026-07", "--as", "clerk1")
