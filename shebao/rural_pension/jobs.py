"""Background jobs of 老农保 (run by the worker; started from pages with ``job_start``):

- ``rural_import``: params {"directory": str, "dry_run": bool}; the result holds the reconciliation,
  the counts created and the first 500 rejected rows (all of them are kept with the batch);
- ``rural_recompute``: rebuild every account's yearly table.

Both touch every account of scheme NB: their user must be 信息科 (``accounts.it_ops``) with 全市范围 and
scheme NB (checked when the job is started and again when the worker runs it).
"""

from __future__ import annotations

from shebao.common.jobs import JobOutcome, register_job
from shebao.common.policy import rule
from shebao.rural_pension.legacy_import import rural_import
from shebao.rural_pension.services import rural_years_recompute

IMPORT_RULE = rule("accounts.it_ops", scheme="NB", county=True, note="信息科、全市范围、老农保险种")
RECOMPUTE_RULE = rule("accounts.it_ops", scheme="NB", county=True, note="信息科、全市范围、老农保险种")


@register_job("rural_import", title="老农保原系统数据导入", rule=IMPORT_RULE)
def rural_import_job(*, params, progress, user) -> JobOutcome:
    result = rural_import(directory=params["directory"], user=user, dry_run=bool(params.get("dry_run")),
                          progress=progress, keep_rejected=500)
    created = "，".join(f"{k} {v:,}" for k, v in result.created.items())
    verb = "试运行（未写入）" if result.dry_run else f"已导入（批次 {result.batch.pk}）"
    return JobOutcome(
        message=f"{verb}：新增 {created}；拒绝 {result.rejected_count:,} 行",
        result={
            "batch_id": result.batch.pk if result.batch else None,
            "dry_run": result.dry_run,
            "created": result.created,
            "rejected_count": result.rejected_count,
            "rejected": [r.__dict__ for r in result.rejected],
            "reconciliation": [{k: str(v) for k, v in r.__dict__.items()} for r in result.reconciliation],
        },
    )


@register_job("rural_recompute", title="老农保年账户明细重算", rule=RECOMPUTE_RULE)
def rural_recompute_job(*, params, progress, user) -> JobOutcome:
    progress.start(1, "重算全部账户的年账户明细")
    written = rural_years_recompute()
    progress.advance()
    return JobOutcome(message=f"已重算 {written:,} 个账户年度", result={"written": written})
