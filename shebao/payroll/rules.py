"""Who may do what with payroll runs (``shebao.common.policy`` rules): the payroll pages' and the bank
pages' (which take these), kept outside the views so no app's views import another's. The compute
and approve rules are the jobs' (``shebao.payroll.jobs``: the worker checks them again)."""

from __future__ import annotations

from shebao.common.policy import rule

VIEW_PERM = "payroll.view_payrollrun"
CLERK_PERM = "payroll.compute_run"
EXPORT_PERM = "payroll.export_run"
REVIEW_PERM = "accounts.review"

VIEW_RULE = rule(VIEW_PERM, CLERK_PERM, EXPORT_PERM, REVIEW_PERM, note="查看结算（经办、审核、财务）")
ONEOFF_RULE = rule(CLERK_PERM, note="经办；所选人员须在其管辖镇街道，须有所选险种")
REISSUE_RULE = rule(CLERK_PERM, county=True, note="经办（二次报盘整批失败明细），全市范围，须有该批次的险种")
WRITE_OFF_RULE = rule(REVIEW_PERM, note="审核员；该笔的人员须在其管辖镇街道，须有该批次的险种")
EXPORT_RULE = rule(EXPORT_PERM, county=True, note="报盘/回盘：经办，全市范围")
RELEASE_RULE = rule(REVIEW_PERM, note="审核员放行风险明细；该笔的人员须在其管辖镇街道，须有该批次的险种")
